"""Saliency: Grad-CAM against the CAM closed form, and on a supplied CNN it finds planted lesions."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from reconfair.config.models import SuppliedModelConfig
from reconfair.diagnose import load_supplied, saliency_maps

_spec = importlib.util.spec_from_file_location("lesions", Path(__file__).with_name("lesions.py"))
lesions = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lesions)


def test_grad_cam_equals_cam_for_global_average_pooling():
    """With GAP then a linear head, ∂y/∂A_kij = w_k / (hw), so Grad-CAM is CAM: ReLU(Σ_k w_k A_k) / max."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(1, 4, 3, padding=1)
    head = torch.nn.Linear(4, 2)
    net = torch.nn.Sequential(conv, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), head).eval()
    x = torch.rand(3, 1, 12, 12)
    maps, method = saliency_maps(net, x, target=1)
    assert method == "grad-cam (layer 0)"
    activations = conv(x).detach().numpy()
    cam = np.maximum(np.einsum("k,nkij->nij", head.weight[1].detach().numpy(), activations), 0)
    cam /= cam.reshape(3, -1).max(1)[:, None, None]
    np.testing.assert_allclose(maps.astype(np.float32), cam, atol=2e-3)  # float16 maps


def test_grad_cam_on_a_supplied_cnn_peaks_on_the_planted_lesion(tmp_path, monkeypatch):
    net = lesions.train(lesions.SmallCNN())
    save_file(net.state_dict(), str(tmp_path / "cnn.safetensors"))
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    config = SuppliedModelConfig(factory="lesions:SmallCNN", weights=str(tmp_path / "cnn.safetensors"),
                                 targets=("lesion",))
    model = load_supplied(config, kind="classification", image_size=32)
    positives = [k for k in range(300, 400) if k % 2 == 0]  # unseen in training (100..219)
    images, _, centres = lesions.batch(positives)
    maps, method = saliency_maps(model.network, images, 0)
    assert method == "grad-cam (layer features.2)"  # the last convolution, found automatically
    peaks = [np.unravel_index(np.argmax(m.astype(np.float32)), m.shape) for m in maps]
    hits = [(r - c[0]) ** 2 + (q - c[1]) ** 2 <= lesions.RADIUS**2 for (r, q), c in zip(peaks, centres)]
    assert np.mean(hits) >= 0.8, np.mean(hits)
    named, method = saliency_maps(model.network, images[:2], 0, layer="features.0")
    assert method == "grad-cam (layer features.0)" and named.shape == (2, 32, 32)
    with pytest.raises(ValueError, match=r"saliency_layer: no layer 'features\.9'.*convolutions are features\.0, features\.2"):
        load_supplied(config.model_copy(update={"saliency_layer": "features.9"}), kind="classification", image_size=32)


def test_torchscript_falls_back_to_input_gradients_and_onnx_has_none(tmp_path):
    net = lesions.SmallCNN().eval()
    torch.jit.script(net).save(str(tmp_path / "cnn.pt"))
    model = load_supplied(SuppliedModelConfig(torchscript=str(tmp_path / "cnn.pt"), targets=("lesion",)),
                          kind="classification")
    x = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(3))
    maps, method = saliency_maps(model.network, x, 0)
    assert method == "input gradient (TorchScript: layers cannot be hooked)"
    x.requires_grad_(True)  # reference: autograd on the model itself
    (gradient,) = torch.autograd.grad(net(x)[:, 0].sum(), x)
    expected = (gradient.abs()[:, 0] / gradient.abs()[:, 0].flatten(1).amax(1)[:, None, None]).numpy()
    np.testing.assert_allclose(maps.astype(np.float32), expected, atol=2e-3)
    assert saliency_maps(None, x, 0) == (None, "none (ONNX model: no gradients)")


def test_the_default_layer_is_the_convolution_that_runs_last_not_the_last_declared():
    class Residual(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.main = torch.nn.Conv2d(1, 2, 3, padding=1)
            self.skip = torch.nn.Conv2d(1, 2, 1)  # declared last, run first (as in MONAI's ResidualUnit)
            self.head = torch.nn.Linear(2, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            skip = self.skip(x)
            return self.head((self.main(x) + skip).mean(dim=(2, 3)))

    _, method = saliency_maps(Residual(), torch.rand(2, 1, 8, 8), 0)
    assert method == "grad-cam (layer main)"
