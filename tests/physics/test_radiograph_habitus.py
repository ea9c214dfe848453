"""Radiographs of the synthetic chest: habitus and breast tissue in the line integral, AEC (issue 17)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reconfair.data.habitus import HABITUS
from reconfair.data.synthetic_chest import make_synthetic_chest
from reconfair.physics import RadiographLowDose
from reconfair.physics.radiograph import AEC_REFERENCE_TRANSMISSION
from reconfair.seeding import sample_generators

MU = 4.0


@pytest.fixture(scope="module")
def chest():
    return make_synthetic_chest(n_patients=240, image_size=32, seed=11, images_per_patient=(1, 1))


def _mean_counts_behind_patient(op: RadiographLowDose, images: torch.Tensor, ids: list[str]) -> np.ndarray:
    counts = op.detected(images, generator=sample_generators(0, "aec", ids))
    region = op.patient_region(images)
    return ((counts * region).sum((1, 2, 3)) / region.sum((1, 2, 3))).numpy()


def test_aec_equalises_the_counts_behind_the_patient_across_habitus(chest):
    t, ids = chest.table, chest.table["sample_id"].tolist()
    groups = {g: (t["attr_habitus"] == g).to_numpy() for g in HABITUS}
    assert all(rows.sum() >= 40 for rows in groups.values())
    n0 = 3e3
    fixed = _mean_counts_behind_patient(RadiographLowDose(level=n0), chest.images, ids)
    aec = _mean_counts_behind_patient(RadiographLowDose(level=n0, aec=True), chest.images, ids)
    fixed_means = {g: fixed[rows].mean() for g, rows in groups.items()}
    aec_means = {g: aec[rows].mean() for g, rows in groups.items()}
    target = n0 * AEC_REFERENCE_TRANSMISSION
    assert all(abs(v / target - 1) < 0.02 for v in aec_means.values()), aec_means
    assert max(aec_means.values()) / min(aec_means.values()) < 1.02
    # without AEC a slim patient lets through far more photons than a large one
    assert fixed_means["slim"] > fixed_means["average"] > fixed_means["large"]
    assert fixed_means["slim"] / fixed_means["large"] > 1.15, fixed_means


def _breast_region(chest) -> tuple[torch.Tensor, torch.Tensor]:
    """A female patient's clean image and a mask of her breast tissue over the lungs (chord > 0.5)."""
    from reconfair.data import habitus, shapes

    t = chest.table
    row = int(np.flatnonzero((t["attr_sex"] == "F").to_numpy() & (t["attr_habitus"] == "large").to_numpy())[0])
    x, y = shapes.base_grid(32)
    one = torch.ones(1)
    chord = habitus.breast_chord(x[None], y[None], s=one, sy=one)[0]  # unposed: the pose moves it < 1 pixel
    return chest.images[row : row + 1], chord > 0.5


def test_breast_region_noise_variance_follows_the_delta_method(chest):
    image, region = _breast_region(chest)
    n0, draws = 1e4, 800
    op = RadiographLowDose(level=n0)
    batch = image.expand(draws, -1, -1, -1).contiguous()
    p_hat = MU * op.degrade(batch, generator=sample_generators(0, "breast", [f"d{i}" for i in range(draws)])).double()
    variance = p_hat[:, 0].var(0)  # per pixel, over the draws
    p = MU * image[0, 0].double()
    predicted = 1.0 / (n0 * torch.exp(-p))
    ratio = (variance[region] / predicted[region]).mean().item()
    assert region.sum() >= 20
    assert ratio == pytest.approx(1.0, rel=0.05)
    # the breast's extra line integral raises the noise there above that of the upper lungs
    upper_lung = torch.zeros_like(region)
    upper_lung[9:13, 6:10] = upper_lung[9:13, 22:26] = True
    assert variance[region].mean() > 1.2 * variance[upper_lung].mean()
