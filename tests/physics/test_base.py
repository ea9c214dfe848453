"""Chunked CPU degradation (reconfair.physics.base.DegradeMixin.degrade) gives the numbers of one call."""

from __future__ import annotations

import pytest
import torch

from reconfair.physics import base, make_degradation
from reconfair.seeding import sample_generators, torch_generator

CASES = [
    ("radiograph-lowdose", 1e4, {}),
    ("radiograph-lowdose", 30, {}),  # counts below 10: Poisson's multiplication branch
    ("radiograph-lowdose", 3e3, {"sigma_e": 2.0}),  # Poisson then Gaussian from the same generator
    ("mri-undersampling", 8, {}),
    ("mri-undersampling", 4, {"mask": "equispaced", "noise_std": 0.01}),
    ("ct-lowdose", 1e4, {}),
]


def _clean(n: int, size: int) -> torch.Tensor:
    return torch.rand(n, 1, size, size, generator=torch_generator(0, "clean", size)).mul_(0.9)


def _ids(n: int) -> list[str]:
    return [f"s{i:03d}" for i in range(n)]


@pytest.mark.parametrize(("name", "level", "params"), CASES)
def test_chunked_equals_one_call_and_the_per_sample_loop(name, level, params, monkeypatch):
    op = make_degradation(name, level, **params)
    n, size = 7, 16
    x, ids = _clean(n, size), _ids(n)
    monkeypatch.setattr(base, "CHUNK_PIXELS", 10**9)  # never split: today's single call
    whole = op.degrade(x, generator=sample_generators(0, "t", ids))
    monkeypatch.setattr(base, "CHUNK_PIXELS", 3 * size * size)  # chunks of 3, 3, 1 samples
    chunked = op.degrade(x, generator=sample_generators(0, "t", ids))
    loop = torch.cat([op.degrade(x[i : i + 1], generator=sample_generators(0, "t", [ids[i]])) for i in range(n)])
    assert chunked.dtype == torch.float32 and chunked.shape == x.shape
    assert torch.equal(chunked, whole)
    assert torch.equal(chunked, loop)
    assert not torch.equal(chunked, x)


def test_radiograph_default_chunks_at_64_equal_one_call(monkeypatch):
    op = make_degradation("radiograph-lowdose", 3e3)
    n = 2 * (base.CHUNK_PIXELS // 64**2) + 5  # two full chunks and a partial one
    x, ids = _clean(n, 64), _ids(n)
    chunked = op.degrade(x, generator=sample_generators(1, "t", ids))
    monkeypatch.setattr(base, "CHUNK_PIXELS", 10**9)
    assert torch.equal(chunked, op.degrade(x, generator=sample_generators(1, "t", ids)))


def test_one_generator_for_the_batch_is_not_chunked(monkeypatch):
    """One generator's stream runs over the whole batch, so splitting it would change the draws."""
    op = make_degradation("radiograph-lowdose", 1e4)
    x = _clean(5, 16)
    monkeypatch.setattr(base, "CHUNK_PIXELS", 16 * 16)
    once = op.degrade(x, generator=torch_generator(0, "batch"))
    expected = op.to_image(op.measure(x, generator=torch_generator(0, "batch")))
    assert torch.equal(once, expected)


def test_generator_count_mismatch_is_still_refused():
    op = make_degradation("radiograph-lowdose", 1e4)
    with pytest.raises(ValueError, match="got 2 generators for a batch of 5"):
        op.degrade(_clean(5, 64), generator=sample_generators(0, "t", _ids(2)))


def test_degrade_restores_the_callers_thread_count():
    before = torch.get_num_threads()
    make_degradation("radiograph-lowdose", 1e4).degrade(_clean(2, 16), generator=sample_generators(0, "t", _ids(2)))
    assert torch.get_num_threads() == before
