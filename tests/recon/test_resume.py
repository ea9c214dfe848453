"""Resuming ``fit`` mid-run is bit-identical for every learned reconstructor (loss state included)."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from reconfair.recon.learned import make_learned
from reconfair.seeding import seeded_torch_global
from reconfair.training import fit

SETTINGS = {
    "unet": {"features": [4, 4, 8, 8, 16, 4]},
    "pix2pix": {"features": [4, 4, 8, 8, 16, 4]},
    "irsde": {"channels": [4, 8], "norm_groups": 4},
}


def _train(model, pairs, epochs, stem):
    """A fresh method (same initial weights every time) trained by ``fit`` directly."""
    method = make_learned(model, **SETTINGS[model]).method
    y, x = pairs
    seed_parts = (0, "recon", model)
    with seeded_torch_global(*seed_parts, "train"):
        result = fit(method.trained, inputs=y, targets=x, loss=method.make_loss(seed_parts),
                     validate=lambda net: method.score(net, y, x), epochs=epochs, batch_size=2,
                     learning_rate=1e-3, patience=10, seed_parts=seed_parts, progress=False, resume=stem,
                     betas=tuple(method.spec.get("betas", (0.9, 0.999))))
    return result, method


@pytest.mark.parametrize("model", ["unet", "pix2pix", "irsde"])
def test_resumed_training_is_bit_identical(model, tiny_pairs, tmp_path):
    pairs = tiny_pairs(4)
    expected, whole = _train(model, pairs, 3, tmp_path / "whole")
    _train(model, pairs, 1, tmp_path / "part")
    result, resumed = _train(model, pairs, 3, tmp_path / "part")
    assert result == expected and len(result.history) == 3
    for role, module in whole.modules.items():  # Pix2Pix: the discriminator too
        other = resumed.modules[role].state_dict()
        assert all(torch.equal(value, other[key]) for key, value in module.state_dict().items()), role
    tensors = {stem: load_file(str(tmp_path / f"{stem}.safetensors")) for stem in ("whole", "part")}
    assert sorted(tensors["whole"]) == sorted(tensors["part"])
    differing = [k for k, v in tensors["whole"].items() if not torch.equal(v, tensors["part"][k])]
    assert differing == []
    meta = {stem: json.loads((tmp_path / f"{stem}.json").read_text()) for stem in ("whole", "part")}
    assert meta["whole"] == meta["part"]
    loss_keys = {k.split(".")[1] for k in tensors["whole"] if k.startswith("loss.")}
    assert loss_keys == {"unet": set(), "pix2pix": {"discriminator", "optimiser"}, "irsde": {"generator"}}[model]


def test_a_checkpoint_of_another_model_is_refused(tiny_pairs, tmp_path):
    pairs = tiny_pairs(2)
    _train("unet", pairs, 1, tmp_path / "run")
    with pytest.raises(ValueError, match=r"run\.safetensors: the checkpoint lacks loss state"):
        _train("irsde", pairs, 2, tmp_path / "run")
