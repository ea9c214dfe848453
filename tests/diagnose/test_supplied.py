"""Supplied diagnostic models: input mapping, output kinds, the four sources, fingerprints and every error.

References are hand computations and scipy (expit, softmax) on the same numbers.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from scipy.special import expit, softmax

from reconfair.config import parse_config
from reconfair.config.models import InputMapping, SuppliedModelConfig
from reconfair.diagnose import load_supplied, model_fingerprint
from reconfair.diagnose.supplied import InputMap
from reconfair.engine.validate import validate_study

_spec = importlib.util.spec_from_file_location("lesions", Path(__file__).with_name("lesions.py"))
lesions = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lesions)


class Columns(torch.nn.Module):
    """N x 1 x H x W -> N x K: column j is the mean of the image times (j + 1), minus 1 (a fixed 'model')."""

    def __init__(self, k: int = 3) -> None:
        super().__init__()
        self.k = k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(1, 2, 3))
        return torch.stack([mean * (j + 1) - 1.0 for j in range(self.k)], dim=1)


def module_file(tmp_path: Path, name: str, source: str, monkeypatch) -> str:
    (tmp_path / f"{name}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop(name, None)
    return name


@pytest.fixture
def columns_factory(tmp_path, monkeypatch):
    source = (
        "import torch\n"
        "class Columns(torch.nn.Module):\n"
        "    def __init__(self, k=3):\n"
        "        super().__init__(); self.k = k\n"
        "    def forward(self, x):\n"
        "        mean = x.mean(dim=(1, 2, 3))\n"
        "        return torch.stack([mean * (j + 1) - 1.0 for j in range(self.k)], dim=1)\n"
        "def build(k=3):\n"
        "    return Columns(k)\n"
        "def not_a_module():\n"
        "    return 'hello'\n"
    )
    return module_file(tmp_path, "userzoo", source, monkeypatch)


def test_input_mapping_matches_a_hand_computation():
    mapping = InputMapping(size=8, channels=3, range=(-1024.0, 1024.0), mean=(1.0, 2.0, 3.0), std=(2.0, 4.0, 8.0))
    x = torch.full((1, 1, 2, 2), 0.25)
    mapped = InputMap(mapping)(x)
    assert tuple(mapped.shape) == (1, 3, 8, 8)  # resized (bilinear of a constant is the constant), 3 channels
    expected = [(-512.0 - m) / s for m, s in ((1.0, 2.0), (2.0, 4.0), (3.0, 8.0))]  # 0.25 -> -1024 + 0.25 * 2048
    np.testing.assert_allclose(mapped[0, :, 0, 0].numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("output", ["logits", "probabilities", "softmax"])
def test_output_kinds_against_scipy(columns_factory, output):
    config = SuppliedModelConfig(factory=f"{columns_factory}:build", targets=("a", None, "c"), output=output)
    model = load_supplied(config, kind="classification", image_size=8)
    x = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    raw = Columns()(x).double().numpy()
    if output == "logits":
        expected = expit(raw)
    elif output == "probabilities":
        expected = raw
    else:
        expected = softmax(raw, axis=1)
    assert model.targets == ("a", "c")
    np.testing.assert_allclose(model.predict(x).numpy(), expected[:, [0, 2]], rtol=1e-5, atol=1e-6)
    if output != "probabilities":  # the logit network gives back the same probabilities through a sigmoid
        np.testing.assert_allclose(torch.sigmoid(model.network(x)).detach().numpy(), expected[:, [0, 2]],
                                   rtol=1e-4, atol=1e-6)


def test_segmentation_output_channel_softmax_and_resize(tmp_path, monkeypatch):
    source = (
        "import torch\n"
        "def build():\n"
        "    class Two(torch.nn.Module):\n"
        "        def forward(self, x):\n"
        "            return torch.cat([x * 0, (x - 0.5) * 8], dim=1)\n"  # background logit 0, foreground (x-0.5)*8
        "    return Two()\n"
    )
    name = module_file(tmp_path, "userseg", source, monkeypatch)
    config = SuppliedModelConfig(factory=f"{name}:build", output="softmax", channel=1, threshold=0.7)
    model = load_supplied(config, kind="segmentation", image_size=8)
    x = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    logits = np.stack([np.zeros_like(x.numpy()), (x.numpy() - 0.5) * 8], axis=1)[:, :, 0]
    np.testing.assert_allclose(model.predict(x)[:, 0].numpy(), softmax(logits, axis=1)[:, 1], rtol=1e-5)
    assert model.threshold == 0.7
    resized = load_supplied(config.model_copy(update={"input": InputMapping(size=16)}), kind="segmentation")
    assert tuple(resized.predict(x).shape) == (2, 1, 8, 8)  # back at the data's size


def test_torchscript_onnx_and_monai_weights_agree_with_the_model(tmp_path):
    net = lesions.SmallCNN().eval()
    x = torch.rand(4, 1, 32, 32, generator=torch.Generator().manual_seed(2))
    own = torch.sigmoid(net(x)).detach().numpy()
    torch.jit.script(net).save(str(tmp_path / "cnn.pt"))
    torch.onnx.export(net, (x,), str(tmp_path / "cnn.onnx"), dynamo=False, input_names=["x"],
                      dynamic_axes={"x": {0: "n"}})
    for form in ({"torchscript": str(tmp_path / "cnn.pt")}, {"onnx": str(tmp_path / "cnn.onnx")}):
        model = load_supplied(SuppliedModelConfig(**form, targets=("lesion",)), kind="classification", image_size=32)
        np.testing.assert_allclose(model.predict(x).numpy(), own, atol=1e-5 if "torchscript" in form else 1e-4)
    from monai.networks.nets import Classifier

    monai_net = Classifier(in_shape=(1, 32, 32), classes=2, channels=(4, 8), strides=(2, 2)).eval()
    save_file(monai_net.state_dict(), str(tmp_path / "w.safetensors"))
    config = SuppliedModelConfig(network="Classifier", weights=str(tmp_path / "w.safetensors"),
                                 params={"in_shape": [1, 32, 32], "classes": 2, "channels": [4, 8], "strides": [2, 2]},
                                 targets=("a", "b"))
    model = load_supplied(config, kind="classification", image_size=32)
    np.testing.assert_allclose(model.predict(x).numpy(), torch.sigmoid(monai_net(x)).detach().numpy(), atol=1e-6)
    assert all(not p.requires_grad for p in model.module.parameters())  # frozen


def test_fingerprint_follows_bytes_params_and_source(tmp_path, columns_factory):
    net = lesions.SmallCNN()
    torch.jit.script(net).save(str(tmp_path / "a.pt"))
    config = SuppliedModelConfig(torchscript=str(tmp_path / "a.pt"), targets=("x",))
    first = model_fingerprint(config)
    with torch.no_grad():
        net.head.bias += 1.0
    torch.jit.script(net).save(str(tmp_path / "a.pt"))
    assert model_fingerprint(config) != first  # new bytes
    factory = SuppliedModelConfig(factory=f"{columns_factory}:build", targets=("x", "y", "z"))
    other = factory.model_copy(update={"params": {"k": 3}})
    assert model_fingerprint(factory)["version"].startswith("source sha256 ")  # a plain module: its source
    assert model_fingerprint(factory) != model_fingerprint(other)
    installed = SuppliedModelConfig(factory="torch.nn:Flatten", targets=("x",))
    assert model_fingerprint(installed)["version"] == f"torch {torch.__version__}"


def test_errors_name_the_culprit(tmp_path, columns_factory):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a model at all")
    with pytest.raises(ValueError, match=r"garbage\.pt.*not a TorchScript file"):
        load_supplied(SuppliedModelConfig(torchscript=str(garbage), targets=("x",)), kind="classification")
    fake_onnx = tmp_path / "garbage.onnx"
    fake_onnx.write_bytes(b"\x00\x01 nope")
    with pytest.raises(ValueError, match=r"garbage\.onnx.*not an ONNX model"):
        load_supplied(SuppliedModelConfig(onnx=str(fake_onnx), targets=("x",)), kind="classification")
    with pytest.raises(FileNotFoundError, match=r"model\.torchscript: no such file .*absent\.pt"):
        load_supplied(SuppliedModelConfig(torchscript=str(tmp_path / "absent.pt"), targets=("x",)),
                      kind="classification")
    # wrong output shape: 3 columns, 2 targets
    with pytest.raises(ValueError, match=r"userzoo:build' returned shape \(2, 3\); expected \(N, 2\)"):
        load_supplied(SuppliedModelConfig(factory=f"{columns_factory}:build", targets=("x", "y")),
                      kind="classification", image_size=8)
    with pytest.raises(ValueError, match=r"userzoo:not_a_module' returned str; expected a torch.nn.Module"):
        load_supplied(SuppliedModelConfig(factory=f"{columns_factory}:not_a_module", targets=("x",)),
                      kind="classification")
    # input-size mismatch: a Linear over 32 x 32 pixels, given 16 x 16 images
    flat = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(32 * 32, 1))
    torch.jit.script(flat).save(str(tmp_path / "flat.pt"))
    with pytest.raises(ValueError, match=r"flat\.pt' failed on an input of shape \(2, 1, 16, 16\).*set model\.input"):
        load_supplied(SuppliedModelConfig(torchscript=str(tmp_path / "flat.pt"), targets=("x",)),
                      kind="classification", image_size=16)
    ok = load_supplied(SuppliedModelConfig(torchscript=str(tmp_path / "flat.pt"), targets=("x",),
                                           input=InputMapping(size=32)), kind="classification", image_size=16)
    assert tuple(ok.predict(torch.zeros(3, 1, 16, 16)).shape) == (3, 1)  # model.input.size fixes it
    x = torch.zeros(2, 1, 32, 32)
    torch.onnx.export(flat, (x,), str(tmp_path / "static.onnx"), dynamo=False, input_names=["img"])
    with pytest.raises(ValueError, match=r"static\.onnx.*input 'img' is 2×1×32×32, reconfair gives 2×1×16×16"):
        load_supplied(SuppliedModelConfig(onnx=str(tmp_path / "static.onnx"), targets=("x",)),
                      kind="classification", image_size=16)
    save_file({"weight": torch.zeros(2)}, str(tmp_path / "bad.safetensors"))
    with pytest.raises(ValueError, match=r"bad\.safetensors' do not fit network 'Classifier'.*missing keys"):
        load_supplied(SuppliedModelConfig(network="Classifier", weights=str(tmp_path / "bad.safetensors"),
                                          params={"in_shape": [1, 32, 32], "classes": 1, "channels": [4],
                                                  "strides": [2]}, targets=("x",)), kind="classification")
    (tmp_path / "text.safetensors").write_text("hello")
    with pytest.raises(ValueError, match=r"text\.safetensors': not a safetensors file"):
        load_supplied(SuppliedModelConfig(network="Classifier", weights=str(tmp_path / "text.safetensors"),
                                          params={"in_shape": [1, 32, 32], "classes": 1, "channels": [4],
                                                  "strides": [2]}, targets=("x",)), kind="classification")
    with pytest.raises(ValueError, match=r"'DenseNet12': not a network of monai.*did you mean DenseNet121"):
        load_supplied(SuppliedModelConfig(network="DenseNet12", weights=str(tmp_path / "bad.safetensors"),
                                          targets=("x",)), kind="classification")


def study(model: dict, **dataset) -> dict:
    return {"datasets": [{"name": "synthetic-chest", "tasks": [{"kind": "classification", "model": model}],
                          **dataset}]}


def test_validate_checks_files_factories_and_targets_without_running(tmp_path):
    config = parse_config(study({"torchscript": "absent.pt", "targets": ["nodule", "tumour", None]}),
                          base_dir=tmp_path)
    with pytest.raises(ValueError) as error:
        validate_study(config, source="s.yaml")
    message = str(error.value)
    assert f"datasets[0].tasks[0].model.torchscript: no such file '{tmp_path / 'absent.pt'}'" in message
    assert "'tumour' not among the data's labels" in message and "['nodule', 'tumour', None]" in message
    assert "labels are ['nodule', 'effusion', 'cardiomegaly']" in message
    config = parse_config(study({"factory": "no_such_module_xyz:build", "targets": ["nodule"]}))
    with pytest.raises(ValueError, match=r"tasks\[0\]\.model\.factory: .*cannot import module 'no_such_module_xyz'"):
        validate_study(config)
    config = parse_config(study({"network": "NotANet", "weights": "w.safetensors", "targets": ["nodule"]}),
                          base_dir=tmp_path)
    with pytest.raises(ValueError, match=r"model\.network: 'NotANet' is not a network of monai"):
        validate_study(config)


def test_schema_rules_for_supplied_models(tmp_path):
    config = parse_config(study({"onnx": "m.onnx", "targets": ["nodule"]}), base_dir=tmp_path)
    assert config.datasets[0].tasks[0].model.onnx == str(tmp_path / "m.onnx")  # against the config's folder
    for model, expected in (
        ({"onnx": "m.onnx", "epochs": 3, "targets": ["nodule"]}, "epochs cannot go with a supplied model"),
        ({"onnx": "m.onnx"}, "a supplied classifier needs targets"),
        ({"onnx": "m.onnx", "torchscript": "m.pt", "targets": ["a"]}, "exactly one of torchscript, onnx"),
        ({"torchscript": "m.pt", "targets": ["a"], "weights": "w.safetensors"}, "only a factory or a network"),
        ({"checkpoint": "m.pt"}, "unknown key 'checkpoint'.*torchscript, onnx, factory, network"),
    ):
        with pytest.raises(ValueError, match=expected):
            parse_config(study(model))
    with pytest.raises(ValueError, match="train fraction of 0 leaves nothing to train task classification"):
        parse_config({"datasets": [{"name": "synthetic-chest", "split_fractions": [0, 0.5, 0.5]}]})
    parse_config(study({"onnx": "m.onnx", "targets": ["nodule"]}, split_fractions=[0, 0.5, 0.5]))
