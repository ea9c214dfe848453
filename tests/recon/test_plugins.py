"""Bring-your-own reconstructions: files on disk, modules, callables, factories."""

from __future__ import annotations

import textwrap

import nibabel as nib
import numpy as np
import pytest
import torch
from PIL import Image

from reconfair.recon.plugins import (
    CallableReconstructor,
    FolderReconstructor,
    ModuleReconstructor,
    load_factory,
)

H, W = 3, 4


def _y(n: int = 1) -> torch.Tensor:
    return torch.zeros(n, 1, H, W)


def _ramp(dtype, top: int) -> np.ndarray:
    return (np.arange(H * W).reshape(H, W) * (top // (H * W - 1))).astype(dtype)


# ---------------------------------------------------------------- folder: formats


def test_png_8bit_is_divided_by_255(tmp_path):
    values = _ramp(np.uint8, 255)
    Image.fromarray(values).save(tmp_path / "a.png")
    out = FolderReconstructor(tmp_path, name="f").reconstruct(_y(), sample_ids=["a"])
    assert out.dtype == torch.float32 and out.shape == (1, 1, H, W)
    np.testing.assert_allclose(out[0, 0].numpy(), values / 255.0, atol=1e-7, rtol=0)
    assert out.max().item() > 0.9  # the ramp really spans the range


def test_png_16bit_is_divided_by_65535(tmp_path):
    values = _ramp(np.uint16, 65535)
    values[0, 0] = 1  # a value 8-bit scaling would lose
    Image.fromarray(values).save(tmp_path / "a.png")
    out = FolderReconstructor(tmp_path, name="f").reconstruct(_y(), sample_ids=["a"])
    np.testing.assert_allclose(out[0, 0].numpy(), values / 65535.0, atol=1e-7, rtol=0)


@pytest.mark.parametrize("shape", [(H, W), (1, H, W)])
def test_npy_floats_are_taken_as_is(tmp_path, shape):
    values = np.linspace(0.0, 1.0, H * W).reshape(shape)
    np.save(tmp_path / "a.npy", values)
    out = FolderReconstructor(tmp_path, name="f").reconstruct(_y(), sample_ids=["a"])
    np.testing.assert_allclose(out[0, 0].numpy(), values.reshape(H, W), atol=1e-7, rtol=0)


def test_npy_values_are_clipped(tmp_path):
    np.save(tmp_path / "a.npy", np.array([[-0.2, 1.3, 0.5, 0.0]] * H))
    out = FolderReconstructor(tmp_path, name="f").reconstruct(_y(), sample_ids=["a"])
    assert out[0, 0, 0].tolist() == [0.0, 1.0, 0.5, 0.0]


@pytest.mark.parametrize("ext", [".nii.gz", ".nii"])
@pytest.mark.parametrize("extra", [(), (1,)])
def test_nifti_is_read_with_axis0_as_rows(tmp_path, ext, extra):
    values = np.linspace(0.0, 1.0, H * W).reshape(H, W)
    nib.save(nib.Nifti1Image(values.reshape(H, W, *extra), np.eye(4)), tmp_path / f"a{ext}")
    out = FolderReconstructor(tmp_path, name="f").reconstruct(_y(), sample_ids=["a"])
    np.testing.assert_allclose(out[0, 0].numpy(), values, atol=1e-7, rtol=0)


def test_batch_follows_sample_id_order_and_device(tmp_path):
    np.save(tmp_path / "a.npy", np.full((H, W), 0.25))
    np.save(tmp_path / "b.npy", np.full((H, W), 0.75))
    out = FolderReconstructor(tmp_path, name="f").reconstruct(_y(2), sample_ids=["b", "a"])
    assert out[:, 0, 0, 0].tolist() == [0.75, 0.25]
    assert out.device == _y().device


def test_missing_lists_ids_without_files(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((H, W)))
    Image.fromarray(np.zeros((H, W), np.uint8)).save(tmp_path / "c.png")
    recon = FolderReconstructor(tmp_path, name="f")
    assert recon.missing(["a", "b", "c", "d"]) == ["b", "d"]
    assert FolderReconstructor(tmp_path / "nowhere", name="f").missing(["a"]) == ["a"]


# ---------------------------------------------------------------- folder: errors


def test_sample_ids_required_and_matching(tmp_path):
    recon = FolderReconstructor(tmp_path, name="f")
    with pytest.raises(ValueError, match="needs sample_ids; got None"):
        recon.reconstruct(_y())
    with pytest.raises(ValueError, match="got 1 sample_ids for a batch of 2"):
        recon.reconstruct(_y(2), sample_ids=["a"])


def test_colour_png_is_refused(tmp_path):
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(tmp_path / "a.png")
    with pytest.raises(ValueError, match=r"a\.png is a PNG in mode 'RGB'.*save grey images"):
        FolderReconstructor(tmp_path, name="f").reconstruct(_y(), sample_ids=["a"])


def test_integer_npy_is_refused(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((H, W), np.uint8))
    with pytest.raises(ValueError, match=r"a\.npy holds a uint8 array.*save floats in \[0, 1\]"):
        FolderReconstructor(tmp_path, name="f").reconstruct(_y(), sample_ids=["a"])


def test_non_finite_npy_is_refused(tmp_path):
    values = np.zeros((H, W))
    values[1, 2] = np.nan
    np.save(tmp_path / "a.npy", values)
    with pytest.raises(ValueError, match=r"a\.npy holds NaN or inf"):
        FolderReconstructor(tmp_path, name="f").reconstruct(_y(), sample_ids=["a"])


def test_wrong_shape_names_file_and_both_shapes(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((W, H)))
    with pytest.raises(ValueError, match=r"a\.npy has shape \(4, 3\); expected \(3, 4\)"):
        FolderReconstructor(tmp_path, name="f").reconstruct(_y(), sample_ids=["a"])


def test_two_files_for_one_sample_are_refused(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((H, W)))
    Image.fromarray(np.zeros((H, W), np.uint8)).save(tmp_path / "a.png")
    with pytest.raises(ValueError, match=r"sample 'a' has 2 files.*a\.npy, a\.png"):
        FolderReconstructor(tmp_path, name="f").reconstruct(_y(), sample_ids=["a"])


def test_missing_file_names_folder_id_extensions_and_existing_files(tmp_path):
    np.save(tmp_path / "other.npy", np.zeros((H, W)))
    with pytest.raises(FileNotFoundError) as info:
        FolderReconstructor(tmp_path, name="f").reconstruct(_y(), sample_ids=["s7"])
    message = str(info.value)
    for part in ["'s7'", str(tmp_path), "s7.npy", "s7.png", "s7.nii.gz", "s7.nii", "other.npy"]:
        assert part in message
    with pytest.raises(FileNotFoundError, match="does not exist"):
        FolderReconstructor(tmp_path / "nowhere", name="f").reconstruct(_y(), sample_ids=["s7"])


# ---------------------------------------------------------------- module and callable


def _conv() -> torch.nn.Conv2d:
    conv = torch.nn.Conv2d(1, 1, kernel_size=1)
    with torch.no_grad():
        conv.weight.fill_(2.0)
        conv.bias.fill_(-0.1)
    return conv.train()


def test_module_matches_hand_computation_in_eval_without_grad():
    y = torch.tensor([0.0, 0.2, 0.3, 0.7]).reshape(1, 1, 2, 2)
    recon = ModuleReconstructor(_conv(), name="conv")
    out = recon.reconstruct(y)
    expected = torch.tensor([0.0, 0.3, 0.5, 1.0]).reshape(1, 1, 2, 2)  # clip(2y - 0.1)
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)
    assert not recon.module.training and not out.requires_grad


def test_module_wrong_shape_names_plugin_and_shapes():
    recon = ModuleReconstructor(torch.nn.Conv2d(1, 2, 1), name="two-channels")
    with pytest.raises(ValueError, match=r"'two-channels' returned shape \(1, 2, 3, 4\); expected .*\(1, 1, 3, 4\)"):
        recon.reconstruct(_y())


def test_callable_returning_numpy_becomes_clipped_float32_tensor():
    recon = CallableReconstructor(lambda y: y.numpy().astype(np.float64) * 3 - 0.5, name="np")
    y = torch.tensor([0.0, 0.25, 0.4, 0.5]).reshape(1, 1, 2, 2)
    out = recon.reconstruct(y)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    assert out.flatten().tolist() == pytest.approx([0.0, 0.25, 0.7, 1.0], abs=1e-6)


def test_callable_errors_name_the_plugin():
    with pytest.raises(ValueError, match=r"'nan' returned 1 non-finite"):
        CallableReconstructor(lambda y: torch.where(y > 0, torch.nan, y), name="nan").reconstruct(
            torch.tensor([0.0, 1.0]).reshape(1, 1, 1, 2)
        )
    with pytest.raises(ValueError, match=r"'crop' returned shape \(1, 1, 2, 2\)"):
        CallableReconstructor(lambda y: y[..., :2, :2], name="crop").reconstruct(_y())
    with pytest.raises(TypeError, match="'listy' returned list"):
        CallableReconstructor(lambda y: y.tolist(), name="listy").reconstruct(_y())


# ---------------------------------------------------------------- factories

FACTORIES = """
import torch

def with_degradation(*, scale, degradation):
    return lambda y: y * scale + degradation

def without_degradation(*, scale):
    return torch.nn.Upsample(scale_factor=scale)

def with_kwargs(**kwargs):
    return lambda y: y + kwargs["degradation"]

class Custom:
    name = "custom"
    def reconstruct(self, y, *, generator=None, sample_ids=None):
        return y

def returns_int():
    return 3
"""


@pytest.fixture
def plugin_module(tmp_path, monkeypatch):
    (tmp_path / "my_plugins.py").write_text(textwrap.dedent(FACTORIES))
    monkeypatch.syspath_prepend(str(tmp_path))
    return "my_plugins"


def test_factory_receives_degradation_when_it_asks(plugin_module):
    recon = load_factory(f"{plugin_module}:with_degradation", {"scale": 0.5}, name="p", degradation=0.25)
    assert isinstance(recon, CallableReconstructor) and recon.name == "p"
    assert recon.reconstruct(torch.ones(1, 1, 1, 1)).item() == 0.75
    kwargs = load_factory(f"{plugin_module}:with_kwargs", {}, name="k", degradation=0.5)
    assert kwargs.reconstruct(torch.zeros(1, 1, 1, 1)).item() == 0.5


def test_factory_without_degradation_gets_only_params(plugin_module):
    recon = load_factory(f"{plugin_module}:without_degradation", {"scale": 1}, name="m", degradation=object())
    assert isinstance(recon, ModuleReconstructor) and recon.name == "m"
    assert recon.module.scale_factor == 1.0


def test_object_with_reconstruct_is_returned_as_is(plugin_module):
    recon = load_factory(f"{plugin_module}:Custom", {}, name="c")
    assert type(recon).__name__ == "Custom" and recon.name == "custom"


def test_factory_errors_name_the_culprit(plugin_module):
    with pytest.raises(TypeError, match=r"'my_plugins:returns_int' returned int"):
        load_factory(f"{plugin_module}:returns_int", {}, name="i")
    with pytest.raises(ValueError, match="cannot import module 'no_such_module_xyz'"):
        load_factory("no_such_module_xyz:make", {}, name="x")
    with pytest.raises(ValueError, match="has no attribute 'nope'"):
        load_factory(f"{plugin_module}:nope", {}, name="x")
    with pytest.raises(ValueError, match="unknown parameter 'scael'; allowed parameters: scale"):
        load_factory(f"{plugin_module}:without_degradation", {"scael": 2}, name="x")
    with pytest.raises(ValueError, match="'degradation' is passed by the engine"):
        load_factory(f"{plugin_module}:with_degradation", {"scale": 1, "degradation": 0}, name="x")
    with pytest.raises(ValueError, match="'my_plugins': expected 'package.module:attr'"):
        load_factory(plugin_module, {}, name="x")
