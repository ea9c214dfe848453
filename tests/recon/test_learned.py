"""The learned-reconstructor wrapper: specs, checkpoints, seeding, registry factories."""

from __future__ import annotations

import pickle

import pytest
import torch

from reconfair.training.checkpoint import save_checkpoint
from reconfair.recon.learned import (
    MODELS,
    default_spec,
    load_reconstructor,
    make_irsde,
    make_learned,
    make_pix2pix,
    make_unet,
)
from reconfair.seeding import sample_generators, torch_generator


def _batch(n: int = 2) -> torch.Tensor:
    return torch.rand(n, 1, 32, 32, generator=torch_generator(0, "learned-batch"))


@pytest.mark.parametrize("model", MODELS)
def test_checkpoint_round_trip_is_bit_identical(model, tmp_path):
    settings = {"sampling_steps": 3} if model == "irsde" else {}
    recon = make_learned(model, seed=7, **settings)
    y = _batch()
    stem = tmp_path / model
    recon.save(stem)
    loaded = load_reconstructor(stem)
    assert loaded.name == model and loaded.spec == recon.spec
    a = recon.reconstruct(y, generator=sample_generators(0, "r", ["a", "b"]))
    b = loaded.reconstruct(y, generator=sample_generators(0, "r", ["a", "b"]))
    assert torch.equal(a, b)
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in recon.state_dict().items())


def test_trained_checkpoint_keeps_history(tmp_path):
    x = _batch(2)
    recon = make_learned("unet", epochs=2, batch_size=2)
    recon.fit((x, x), seed=0, progress=False)
    recon.save(tmp_path / "u")
    import json

    meta = json.loads((tmp_path / "u.json").read_text())
    assert len(meta["fit"]["history"]) == 2 and meta["spec"]["model"] == "unet"


def test_pickled_checkpoint_is_refused(tmp_path):
    recon = make_learned("unet")
    recon.save(tmp_path / "m")
    (tmp_path / "m.safetensors").write_bytes(pickle.dumps({"network.x": torch.zeros(1)}))
    with pytest.raises(ValueError, match="never unpickles"):
        load_reconstructor(tmp_path / "m")


def test_foreign_or_mismatched_checkpoints_are_refused(tmp_path):
    save_checkpoint(tmp_path / "diag", {"w": torch.zeros(1)}, {"kind": "classification"})
    with pytest.raises(ValueError, match="not a reconfair reconstructor checkpoint"):
        load_reconstructor(tmp_path / "diag")
    recon = make_learned("unet")
    spec = dict(recon.spec, features=[4, 8, 8, 8, 8, 4])
    save_checkpoint(tmp_path / "bad", recon.state_dict(), {"kind": "reconstructor", "spec": spec})
    with pytest.raises(ValueError, match="do not match the spec"):
        load_reconstructor(tmp_path / "bad")
    recon.save(tmp_path / "u")
    with pytest.raises(ValueError, match="holds a 'unet' reconstructor"):
        make_pix2pix(checkpoint=str(tmp_path / "u"))


def test_specs_are_validated():
    with pytest.raises(ValueError, match="unknown setting 'lr'"):
        default_spec("unet", lr=1.0)
    with pytest.raises(ValueError, match="unknown learned reconstructor"):
        default_spec("vit")
    with pytest.raises(ValueError, match="preset 'huge'"):
        default_spec("irsde", "huge")
    assert default_spec("unet", "paper")["features"][:5] == [64, 128, 256, 512, 1024]
    assert default_spec("pix2pix")["lambda_l1"] == 100.0 and default_spec("pix2pix")["betas"] == [0.5, 0.999]
    paper = {m: default_spec(m, "paper") for m in ("unet", "pix2pix", "irsde")}
    assert paper["pix2pix"]["lambda_l1"] == 1000.0 and paper["unet"]["epochs"] == 20 and paper["irsde"]["T"] == 100
    assert paper["unet"]["learning_rate"] == 1e-4 and paper["pix2pix"]["learning_rate"] == 2e-4
    assert paper["irsde"]["prediction"] == "noise" and not paper["unet"]["residual"]
    assert (paper["irsde"]["sampler"], paper["irsde"]["loss"], paper["irsde"]["eps"]) == ("euler", "reverse", 0.005)
    demo = default_spec("irsde")
    assert (demo["prediction"], demo["sampler"], demo["loss"], demo["schedule_version"]) == ("x0", "posterior", "x0", 2)
    assert default_spec("irsde")["T"] == 100 and default_spec("irsde")["lam"] == pytest.approx(10 / 255)


def test_fit_depends_only_on_seed_and_leaves_global_rng_alone():
    x = _batch(2)
    before = torch.random.get_rng_state()
    outs = []
    for _ in range(2):
        recon = make_learned("irsde", epochs=2, batch_size=2, sampling_steps=2)
        recon.fit((x, x), seed=3, progress=False)
        outs.append(recon.reconstruct(x, generator=torch_generator(0, "g")))
    assert torch.equal(outs[0], outs[1])
    assert torch.equal(before, torch.random.get_rng_state())


def test_registry_factories():
    assert make_unet().name == "unet" and make_pix2pix().name == "pix2pix" and make_irsde().name == "irsde"
    assert make_unet(preset="paper").spec["preset"] == "paper"
