"""One conformance sweep over every registered reconstructor and both plug-in kinds.

In the spirit of deepinv's tests/test_physics.py and scikit-learn's
estimator checks: each case is built once (learned ones trained for one epoch
on a tiny set), then every check runs on every case.  A new registered
reconstructor joins the sweep by itself (``test_the_sweep_covers_the_registry``).
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch

from reconfair.physics import DEGRADATIONS, Degradation, make_degradation
from reconfair.recon import (
    RECONSTRUCTORS,
    Precomputed,
    Reconstructor,
    Trainable,
    load_reconstructor,
    make_learned,
    make_reconstructor,
    missing_samples,
    needs_sample_ids,
)
from reconfair.recon.plugins import FolderReconstructor, load_factory
from reconfair.seeding import sample_generators, torch_generator

SIZE, N = 32, 4
IDS = [f"s{i}" for i in range(N)]
LEVELS = {"radiograph-lowdose": 1e4, "radiograph-aec": 1e4, "ct-lowdose": 1e4, "mri-undersampling": 4}
# Each learned model on another operator kind; one epoch, few steps.
LEARNED = {
    "unet": ("radiograph-lowdose", {}),
    "pix2pix": ("ct-lowdose", {}),
    "irsde": ("mri-undersampling", {"sampling_steps": 3}),
}
STOCHASTIC = {"irsde"}
"""Cases whose output depends on the generators (the others ignore them)."""

FACTORY_MODULE = """
import torch

def make_smoother(*, width, degradation):
    net = torch.nn.Conv2d(1, 1, width, padding=width // 2, bias=False)
    torch.nn.init.constant_(net.weight, 1.0 / width**2)
    return net
"""


@dataclass
class Case:
    reconstructor: Reconstructor
    degradation: Degradation
    clean: torch.Tensor
    measured: torch.Tensor

    def run(self, seed: int = 0, batch: slice = slice(None)) -> torch.Tensor:
        ids = IDS[batch]
        options: dict[str, Any] = {"generator": sample_generators(seed, "conformance", ids)}
        if needs_sample_ids(self.reconstructor):
            options["sample_ids"] = ids
        return self.reconstructor.reconstruct(self.measured[batch], **options)


def _clean() -> torch.Tensor:
    g = torch_generator(0, "conformance-clean")
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, SIZE), torch.linspace(-1, 1, SIZE), indexing="ij")
    centre = torch.rand(N, 2, generator=g) - 0.5
    blob = torch.exp(-((xx - centre[:, 0, None, None]) ** 2 + (yy - centre[:, 1, None, None]) ** 2) / 0.2)
    return (0.1 + 0.8 * blob)[:, None].float()


def _operator_case(operator: str, make: Callable[[Degradation], Reconstructor]) -> Case:
    degradation = make_degradation(operator, LEVELS[operator])
    clean = _clean()
    measured = degradation.degrade(clean, generator=sample_generators(0, "conformance-degrade", IDS))
    return Case(make(degradation), degradation, clean, measured)


def _learned(model: str) -> Case:
    operator, settings = LEARNED[model]

    def make(degradation: Degradation) -> Reconstructor:
        return make_learned(model, epochs=1, batch_size=N, **settings)

    case = _operator_case(operator, make)
    case.reconstructor.fit((case.measured, case.clean), seed=0, progress=False)
    return case


def _folder(root) -> Case:
    def make(degradation: Degradation) -> Reconstructor:
        for sid, image in zip(IDS, _clean()):
            np.save(root / f"{sid}.npy", (image[0].numpy() * 1.2).astype(np.float32))  # 1.2: clipped on read
        return FolderReconstructor(root, name="precomputed")

    return _operator_case("mri-undersampling", make)


def _factory(root) -> Case:
    (root / "conformance_plugins.py").write_text(textwrap.dedent(FACTORY_MODULE))
    sys.path.insert(0, str(root))
    try:
        return _operator_case("radiograph-lowdose", lambda degradation: load_factory(
            "conformance_plugins:make_smoother", {"width": 3}, name="smoother", degradation=degradation))
    finally:
        sys.path.remove(str(root))


CASES = [f"baseline-{operator}" for operator in DEGRADATIONS.names()] + list(LEARNED) + ["factory", "folder"]


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> dict[str, Case]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        built = {f"baseline-{op}": _operator_case(op, lambda d: make_reconstructor("baseline", degradation=d))
                 for op in DEGRADATIONS.names()}
        built |= {model: _learned(model) for model in LEARNED}
        built["factory"] = _factory(tmp_path_factory.mktemp("factory"))
        built["folder"] = _folder(tmp_path_factory.mktemp("folder"))
    finally:
        torch.set_num_threads(threads)
    yield built
    sys.modules.pop("conformance_plugins", None)


def test_the_sweep_covers_the_registry():
    assert set(RECONSTRUCTORS.names()) == {"baseline", *LEARNED}
    assert set(LEVELS) == set(DEGRADATIONS.names())


@pytest.mark.parametrize("case", CASES)
def test_protocols(cases, case):
    recon = cases[case].reconstructor
    assert isinstance(recon, Reconstructor) and isinstance(recon.name, str) and recon.name
    assert isinstance(recon, Trainable) == (case in LEARNED)
    assert isinstance(recon, Precomputed) == needs_sample_ids(recon) == (case == "folder")
    if case.startswith("baseline-"):
        assert recon.name == cases[case].degradation.baseline


@pytest.mark.parametrize("case", CASES)
def test_output_is_an_image_batch_in_the_unit_interval(cases, case):
    c = cases[case]
    before = c.measured.clone()
    out = c.run()
    assert out.shape == c.clean.shape and out.dtype == torch.float32 and out.device == c.clean.device
    assert bool(torch.isfinite(out).all()) and out.min() >= 0 and out.max() <= 1
    assert torch.equal(c.measured, before)  # the input is not modified


@pytest.mark.parametrize("case", CASES)
def test_deterministic_under_a_seed(cases, case):
    c = cases[case]
    first = c.run(seed=1)
    assert torch.equal(first, c.run(seed=1))
    if case in STOCHASTIC:
        assert not torch.equal(first, c.run(seed=2))
    else:
        assert torch.equal(first, c.run(seed=2))


@pytest.mark.parametrize("case", CASES)
def test_a_sample_does_not_depend_on_its_batch(cases, case):
    c = cases[case]
    whole = c.run(seed=3)
    alone = torch.cat([c.run(seed=3, batch=slice(i, i + 1)) for i in range(N)])
    torch.testing.assert_close(alone, whole, rtol=0, atol=1e-5)


@pytest.mark.parametrize("case", [c for c in CASES if c in LEARNED])
def test_fit_and_save_load_round_trip(cases, case, tmp_path):
    c = cases[case]
    recon = c.reconstructor
    assert recon.fit_result is not None and len(recon.fit_result.history) == 1  # one epoch ran
    recon.save(tmp_path / case)
    loaded = load_reconstructor(tmp_path / case)
    assert isinstance(loaded, Trainable) and loaded.name == recon.name
    reloaded = Case(loaded, c.degradation, c.clean, c.measured)
    assert torch.equal(reloaded.run(seed=4), c.run(seed=4))


@pytest.mark.parametrize("case", CASES)
def test_precomputed_reconstructors_name_missing_samples(cases, case):
    recon = cases[case].reconstructor
    assert missing_samples(recon, [*IDS, "absent"]) == (["absent"] if case == "folder" else [])
    if case == "folder":
        with pytest.raises(ValueError, match="needs sample_ids"):
            recon.reconstruct(cases[case].measured)
