"""One property test sweeping every registered degradation operator (DESIGN section 7.3)."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest
import torch

from reconfair.physics import DEGRADATIONS, Degradation, make_degradation
from reconfair.seeding import sample_generators, torch_generator

SIZE = 32
#: Non-default parameters swept as well (each with the operator's first two study levels).
OPTIONS = {"radiograph-lowdose": [{"aec": True}]}
CASES = [
    pytest.param(name, level, params, id=f"{name}-{level:g}" + "".join(f"-{k}={v}" for k, v in params.items()))
    for name in DEGRADATIONS.names()
    for params in [{}] + OPTIONS.get(name, [])
    for level in DEGRADATIONS.get(name).study_levels[:2]
]


def clean_batch(batch: int = 3) -> torch.Tensor:
    coords = torch.linspace(-1, 1, SIZE)
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    disk = ((yy**2 + xx**2) < 0.6).float() * 0.7
    noise = torch.rand(batch, 1, SIZE, SIZE, generator=torch_generator(0, "clean")) * 0.2
    return (disk + noise).clamp(0, 1)


def test_registry_lists_the_study_operators() -> None:
    assert {"radiograph-lowdose", "ct-lowdose", "mri-undersampling"} <= set(DEGRADATIONS.names())


@pytest.mark.parametrize(("name", "level", "params"), CASES)
def test_operator_contract(name: str, level: float, params: dict) -> None:
    op = make_degradation(name, level, **params)
    assert isinstance(op, Degradation)
    assert op.name == name and op.level == level
    assert op.modality in {"xray", "ct", "mri"} and isinstance(op.baseline, str)
    with pytest.raises(dataclasses.FrozenInstanceError):
        op.level = 1.0  # type: ignore[misc]

    x = clean_batch()
    y = op.degrade(x, generator=torch_generator(0, "op"))
    assert y.shape == x.shape and y.dtype == torch.float32 and y.device == x.device
    assert torch.isfinite(y).all() and y.min() >= 0 and y.max() <= 1
    assert torch.equal(y, op.to_image(op.measure(x, generator=torch_generator(0, "op"))))

    facts = op.describe()
    assert isinstance(facts, dict) and facts["name"] == name and facts["level"] == level


@pytest.mark.parametrize(("name", "level", "params"), CASES)
def test_seeding(name: str, level: float, params: dict) -> None:
    op = make_degradation(name, level, **params)
    x = clean_batch()
    a = op.degrade(x, generator=torch_generator(1, "seed"))
    assert torch.equal(a, op.degrade(x, generator=torch_generator(1, "seed")))
    assert not torch.equal(a, op.degrade(x, generator=torch_generator(2, "seed")))
    assert torch.equal(op.degrade(x), op.degrade(x))  # generator=None is a fixed, derived seed


@pytest.mark.parametrize(("name", "level", "params"), CASES)
def test_per_sample_generators_make_samples_batch_independent(name: str, level: float, params: dict) -> None:
    op = make_degradation(name, level, **params)
    x = clean_batch(3)
    ids = ["p1", "p2", "p3"]
    batched = op.degrade(x, generator=sample_generators(0, "degrade", ids))
    for i, sample_id in enumerate(ids):
        alone = op.degrade(x[i : i + 1], generator=sample_generators(0, "degrade", [sample_id]))
        assert torch.equal(batched[i : i + 1], alone)
    reordered = op.degrade(x.flip(0), generator=sample_generators(0, "degrade", ids[::-1]))
    assert torch.equal(reordered, batched.flip(0))
    with pytest.raises(ValueError, match="one generator per sample"):
        op.degrade(x, generator=sample_generators(0, "degrade", ids[:2]))


@pytest.mark.parametrize(("name", "level", "params"), CASES)
def test_global_rng_is_untouched(name: str, level: float, params: dict) -> None:
    op = make_degradation(name, level, **params)
    x = clean_batch(2)
    torch_state, numpy_state, python_state = torch.random.get_rng_state(), np.random.get_state(), random.getstate()
    op.degrade(x, generator=torch_generator(0, "g"))
    op.degrade(x, generator=sample_generators(0, "g", ["a", "b"]))
    op.degrade(x, generator=None)
    op.describe()
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    after = np.random.get_state()
    assert after[0] == numpy_state[0] and np.array_equal(after[1], numpy_state[1]) and after[2:] == numpy_state[2:]
    assert random.getstate() == python_state


@pytest.mark.parametrize("name", DEGRADATIONS.names())
def test_unknown_parameter_is_named(name: str) -> None:
    with pytest.raises(ValueError, match="unknown parameter 'typo'; allowed parameters: level"):
        make_degradation(name, DEGRADATIONS.get(name).study_levels[0], typo=1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize(("name", "level", "params"), CASES)
def test_runs_on_the_batch_device(name: str, level: float, params: dict) -> None:
    op = make_degradation(name, level, **params)
    x = clean_batch(2)
    gens = sample_generators(0, "cuda", ["a", "b"], device="cuda")
    cuda_state = torch.cuda.get_rng_state()
    y = op.degrade(x.cuda(), generator=gens)
    assert y.device.type == "cuda" and y.shape == x.shape
    assert torch.equal(torch.cuda.get_rng_state(), cuda_state)
    cpu = op.degrade(x, generator=sample_generators(0, "cuda", ["a", "b"]))
    assert (y.cpu() - cpu).abs().mean() < 0.2  # same physics, different random streams
    with pytest.raises(ValueError, match="generator is on 'cpu'"):
        op.degrade(x.cuda(), generator=torch_generator(0, "cpu"))
