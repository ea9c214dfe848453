"""Body habitus and breast tissue: the soft-tissue line integral by hand, the attribute, the rendered chest."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from reconfair.data import habitus, shapes
from reconfair.data.demographics import PatientStreams, draw_demographics, draw_pose, gather_params, make_cohort
from reconfair.data.habitus import CHEST_WALL, HABITUS, HABITUS_CUTS
from reconfair.data.synthetic_chest import _patient_params, _render, make_synthetic_chest

MU = 4.0


def test_line_integral_of_a_tiny_phantom_equals_the_hand_computation():
    # 8 x 8 grid, pixel centres at -0.875, -0.625, ..., 0.875; a body mask of ones;
    # patient: tissue 0.4, thickness t = 1.2, breast peak b = 0.1, thorax scales s = sy = 1
    x, y = shapes.base_grid(8)
    x, y = x[None], y[None]
    one = torch.ones(1)
    soft = habitus.soft_tissue(torch.ones(1, 8, 8), x, y, tissue=0.4 * one, thickness=1.2 * one,
                               breast=0.1 * one, s=one, sy=one)
    p = MU * soft[0].double()
    level = 0.4 + 0.25 * (1.2 - 1.0)  # tissue + chest wall * (t - 1), everywhere behind the body
    # row 5 (y = 0.375), column 6 (x = 0.625): u = (0.625 - 0.40) / 0.30, v = (0.375 - 0.30) / 0.24
    chord = math.sqrt(1 - 0.75**2 - 0.3125**2)
    assert p[5, 6].item() == pytest.approx(MU * (level + 0.1 * chord), rel=1e-6)
    assert p[5, 1].item() == pytest.approx(MU * (level + 0.1 * chord), rel=1e-6)  # mirror image, x = -0.625
    # row 4 (y = 0.125), column 5 (x = 0.375): u = -0.025 / 0.30, v = -0.175 / 0.24
    chord = math.sqrt(1 - (0.025 / 0.3) ** 2 - (0.175 / 0.24) ** 2)
    assert p[4, 5].item() == pytest.approx(MU * (level + 0.1 * chord), rel=1e-6)
    # outside both breasts (centre column, top row): soft tissue only
    assert p[4, 4].item() == pytest.approx(MU * level, rel=1e-6)  # x = 0.125: u = -0.9167, v = -0.729
    assert p[0, 0].item() == pytest.approx(MU * level, rel=1e-6)
    # a male patient (b = 0) of the reference habitus (t = 1): the baseline tissue alone
    plain = habitus.soft_tissue(torch.ones(1, 8, 8), x, y, tissue=0.4 * one, thickness=one,
                                breast=0 * one, s=one, sy=one)
    assert torch.allclose(plain, torch.full_like(plain, 0.4))


def _one_chest(seed: int = 0, size: int = 32):
    """Params of every patient of a small cohort (one image each), exposure offset set to 0."""
    streams = PatientStreams(seed, "synthetic-chest")
    cohort = make_cohort(streams, prefix="chest", n_patients=40, images_per_patient=(1, 1), age_cut=None)
    ones = {k: np.ones(cohort.n_patients) for k in ("prevalence", "contrast", "size")}
    patient, _ = _patient_params(streams, cohort, ones)
    pose = draw_pose(streams, cohort)
    pose["offset"] = np.zeros_like(pose["offset"])
    return cohort, gather_params(cohort, patient, pose, np.arange(cohort.n_patients))


def test_rendered_chest_adds_the_documented_soft_tissue():
    cohort, params = _one_chest()
    size = 32
    base = dict(params, thickness=torch.ones_like(params["s"]), breast=torch.zeros_like(params["s"]))
    reference = _render(dict(base), size)
    gain = params["gain"][:, None, None]
    # habitus alone: gain * CHEST_WALL * (t - 1) * body (t = 1.4 reads the body mask off the render)
    body = _render(dict(base, thickness=torch.full_like(params["s"], 1.4)), size).sub_(reference)
    body /= gain * CHEST_WALL * 0.4
    assert float(body.min()) > -1e-4 and float(body.max()) < 1 + 1e-4
    assert float(body[:, 8:24, 8:24].min()) > 0.9  # the chest is body (soft edges reach in a little)
    thick = _render(dict(base, thickness=params["thickness"]), size)
    expected = gain * CHEST_WALL * (params["thickness"] - 1.0)[:, None, None] * body
    assert torch.allclose(thick - reference, expected, atol=1e-5)
    # breast alone: gain * b * chord * body, with the same body mask
    x, y = shapes.posed_grid(size, shift_x=params["shift_x"], shift_y=params["shift_y"],
                             angle=params["angle"], scale=params["scale"])
    chord = habitus.breast_chord(x, y, s=params["s"], sy=params["sy"])
    breast = _render(dict(base, breast=params["breast"]), size)
    expected = gain * params["breast"][:, None, None] * chord * body
    assert torch.allclose(breast - reference, expected, atol=1e-5)
    female = torch.as_tensor(cohort.demographics.sex == "F")
    assert bool(((breast - reference).amax((1, 2)) > 0.02)[female].all())
    assert float((breast - reference)[~female].abs().max()) == 0.0
    # the whole render: both at once, still inside [0, 1]
    full = _render(dict(params), size)
    assert torch.allclose(full - reference, (thick - reference) + (breast - reference), atol=1e-5)


def test_breasts_lie_over_the_lower_lung_fields():
    x, y = shapes.base_grid(64)
    one = torch.ones(1)
    chord = habitus.breast_chord(x[None], y[None], s=one, sy=one)[0]
    rows = torch.arange(64, dtype=torch.float32)
    centroid = float((chord.sum(1) * rows).sum() / chord.sum())
    assert 0.55 * 64 < centroid < 0.75 * 64  # lower half: lung bases are at y = 0.4 (row 45)
    assert float(chord[:, :32].sum()) == pytest.approx(float(chord[:, 32:].sum()), rel=1e-6)


def test_thickness_depends_on_sex_age_and_the_individual():
    streams = PatientStreams(1, "habitus-test")
    demo = draw_demographics(streams, np.arange(20000))
    t = habitus.thickness_factor(streams, demo)
    male = demo.sex == "M"
    assert t[male].mean() - t[~male].mean() == pytest.approx(0.08, abs=0.01)
    middle, extreme = np.abs(demo.age - 55) < 10, np.abs(demo.age - 55) > 30
    assert t[middle].mean() > t[extreme].mean() + 0.07
    assert t.std() == pytest.approx(0.15, abs=0.01)  # mostly the individual factor (0.14)
    groups = habitus.habitus_groups(t)
    share = {g: float(np.mean(groups == g)) for g in HABITUS}
    assert all(0.27 < v < 0.40 for v in share.values()), share  # the fixed cuts are about tertiles
    assert (groups == "slim").tolist() == (t < HABITUS_CUTS[0]).tolist()
    assert (groups == "large").tolist() == (t >= HABITUS_CUTS[1]).tolist()
    b = habitus.breast_level(streams, demo, t)
    assert (b[male] == 0).all() and (b[~male] > 0).all()
    assert np.corrcoef(t[~male], b[~male])[0, 1] > 0.4  # larger patients, larger breasts


def test_habitus_attribute_is_per_patient_and_matches_the_rendered_tissue():
    ss = make_synthetic_chest(n_patients=300, image_size=32, seed=2)
    t = ss.table
    assert "habitus" in ss.attribute_names
    assert (t.groupby("patient_id")["attr_habitus"].nunique() == 1).all()
    # larger patients attenuate more: mean clean value over the body rises with habitus
    body = ss.images[:, 0] > 0.05
    level = ((ss.images[:, 0] * body).sum((1, 2)) / body.sum((1, 2))).numpy()
    means = [level[(t["attr_habitus"] == g).to_numpy()].mean() for g in HABITUS]
    assert means[0] < means[1] < means[2]
    assert float(ss.images.max()) < 1.0  # no clipping at p = mu


def test_a_study_may_group_and_mitigate_by_habitus():
    from reconfair.config import ConfigError
    from reconfair.engine.validate import parse_study

    chest = {"name": "synthetic-chest", "n_patients": 40, "image_size": 32,
             "degradations": [{"operator": "radiograph-lowdose", "levels": [3000], "params": {"aec": True}}],
             "reconstructors": ["baseline", "unet"],
             "mitigations": [{"kind": "reweighting", "attributes": ["habitus"]}]}
    config = parse_study({"attributes": ["sex", "habitus"], "datasets": [chest]})
    assert config.attributes == ("sex", "habitus")
    assert config.datasets[0].mitigations[0].attributes == ("habitus",)
    with pytest.raises(ConfigError, match="unknown attribute 'build' for data set synthetic-chest"):
        parse_study({"attributes": ["sex", "build"], "datasets": [{**chest, "mitigations": []}]})


def test_the_brain_records_habitus_but_its_images_do_not_depend_on_it():
    """A negative control for the MRI: the attribute is recorded, the images are those rendered without it.

    (A digest of the images would tie the test to one CPU: their float rounding differs between machines.)
    """
    from reconfair.data.synthetic_brain import make_synthetic_brain

    brain = make_synthetic_brain(n_patients=40, image_size=32, seed=0)
    thickness = habitus.thickness_factor
    with pytest.MonkeyPatch.context() as patch:  # no habitus at all: the same images
        patch.setattr(habitus, "habitus_attribute", lambda streams, cohort: {})
        without = make_synthetic_brain(n_patients=40, image_size=32, seed=0)
    with pytest.MonkeyPatch.context() as patch:  # other thicknesses, other groups: the same images
        patch.setattr(habitus, "thickness_factor", lambda *args: 1.5 * thickness(*args))
        shifted = make_synthetic_brain(n_patients=40, image_size=32, seed=0)
    assert "attr_habitus" not in without.table and torch.equal(brain.images, without.images)
    assert not shifted.table["attr_habitus"].equals(brain.table["attr_habitus"])
    assert torch.equal(shifted.images, brain.images)
    assert set(brain.table["attr_habitus"]) <= {"slim", "average", "large"}
    many = make_synthetic_brain(n_patients=400, image_size=32, seed=1, lazy=True).table
    slim = many.groupby("attr_sex")["attr_habitus"].apply(lambda g: (g == "slim").mean())
    assert slim["F"] > slim["M"] + 0.1  # the same thickness model as the chest (42 % vs 23 % slim)
