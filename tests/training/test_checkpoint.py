import pickle

import pytest
import torch

from reconfair.training.checkpoint import load_checkpoint, save_checkpoint


def test_round_trip_is_bit_identical(tmp_path):
    state = {"w": torch.randn(3, 4, generator=torch.Generator().manual_seed(0)), "n": torch.tensor(5)}
    save_checkpoint(tmp_path / "m", state, {"kind": "x", "sizes": [1, 2]})
    loaded, meta = load_checkpoint(tmp_path / "m")
    assert torch.equal(loaded["w"], state["w"]) and torch.equal(loaded["n"], state["n"])
    assert meta == {"kind": "x", "sizes": [1, 2]}
    assert not list(tmp_path.glob("*.tmp"))


def test_pickled_weights_are_refused_with_the_file_named(tmp_path):
    (tmp_path / "m.safetensors").write_bytes(pickle.dumps({"w": torch.ones(2)}))
    (tmp_path / "m.json").write_text("{}")
    with pytest.raises(ValueError, match=r"m\.safetensors is not a valid safetensors file.*never unpickles"):
        load_checkpoint(tmp_path / "m")


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"nothing\.safetensors does not exist"):
        load_checkpoint(tmp_path / "nothing")
