"""Synthetic chest radiographs: contract, determinism, anatomy and planted effects measured from images."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest
import torch

from reconfair.data.demographics import RACE_PROPORTIONS
from reconfair.data.effects import GroupEffect, PlantedEffects
from reconfair.data.sample import SPLITS
from reconfair.data.synthetic import ATTRIBUTES, SYNTHETIC, dataset_facts
from reconfair.data.synthetic_chest import BASE_PREVALENCE, LABELS, make_synthetic_chest

SIZE = 64
NO_FINDINGS = PlantedEffects({"sex": {"F": GroupEffect(prevalence=1e-9), "M": GroupEffect(prevalence=1e-9)}})


def _tolerance(p: float, n: int) -> float:
    """Four binomial standard errors (false alarm about 1 in 16,000 per check)."""
    return 4.0 * np.sqrt(max(p * (1 - p), 1e-4) / n) + 1e-9


def _patients(ss) -> pd.DataFrame:
    return ss.table.drop_duplicates("patient_id").reset_index(drop=True)


@pytest.fixture(scope="module")
def chest():
    return make_synthetic_chest(n_patients=500, image_size=SIZE, seed=3)


@pytest.fixture(scope="module")
def single():
    """One image per patient, with and without findings (same anatomy and pose).

    Planted: contrast x 0.5 for sex F; size x 0.6 for races R2 and R3.
    """
    kwargs = dict(n_patients=1500, image_size=SIZE, seed=4, images_per_patient=(1, 1))
    effects = PlantedEffects({"sex": {"F": GroupEffect(contrast=0.5)},
                              "race": {"R2": GroupEffect(size=0.6), "R3": GroupEffect(size=0.6)}})
    return make_synthetic_chest(effects=effects, **kwargs), make_synthetic_chest(effects=NO_FINDINGS, **kwargs)


def _groups(ss, finding: str):
    """Masks: images with only ``finding``; female; in the size-effect group (R2, R3)."""
    t = ss.table
    others = [n for n in LABELS if n != finding]
    only = ((t[f"label_{finding}"] == 1) & (t[[f"label_{n}" for n in others]] == 0).all(axis=1)).to_numpy()
    return only, (t["attr_sex"] == "F").to_numpy(), t["attr_race"].isin(["R2", "R3"]).to_numpy()


def test_contract_shapes_range_and_columns(chest):
    assert chest.name == "synthetic-chest"
    assert chest.images.dtype == torch.float32 and chest.images.shape[1:] == (1, SIZE, SIZE)
    assert float(chest.images.min()) >= 0.0 and float(chest.images.max()) <= 1.0
    assert chest.masks is None
    t = chest.table
    assert list(t.columns[:3]) == ["sample_id", "patient_id", "split"]
    assert chest.attribute_names == ATTRIBUTES and ATTRIBUTES[-1] == "habitus"
    assert set(t["attr_habitus"]) == {"slim", "average", "large"}
    assert chest.label_names == LABELS
    assert t["sample_id"].is_unique
    assert t["sample_id"].str.fullmatch(r"chest-p\d{5}-i\d").all()
    assert (t["sample_id"].str.rsplit("-", n=1).str[0] == t["patient_id"]).all()
    assert set(t["split"]) <= set(SPLITS)
    assert (t.groupby("patient_id")["split"].nunique() == 1).all()
    assert t["attr_age"].map(type).eq(str).all() and t["attr_age"].str.fullmatch(r"\d+").all()
    for name in LABELS:
        assert t[f"label_{name}"].dtype == np.float64 and set(t[f"label_{name}"]) <= {0.0, 1.0}
    # attributes and labels are per patient
    per_patient = t.groupby("patient_id")[[c for c in t.columns if c.startswith(("attr_", "label_"))]].nunique()
    assert (per_patient == 1).all().all()


def test_each_patient_has_one_to_three_images(chest):
    counts = chest.table.groupby("patient_id").size()
    assert counts.min() == 1 and counts.max() == 3 and set(counts) == {1, 2, 3}
    assert len(chest.table["patient_id"].unique()) == 500
    repeat = chest.table["sample_id"].str.rsplit("-i", n=1).str[1].astype(int)
    assert (repeat.groupby(chest.table["patient_id"]).max() + 1 == counts).all()


def test_repeat_images_are_the_same_patient_with_small_pose_changes(chest):
    t = chest.table
    first = t.index[t["sample_id"].str.endswith("-i0")]
    second = t.index[t["sample_id"].str.endswith("-i1")]
    same = (chest.images[second] - chest.images[second - 1]).abs().mean()
    other = (chest.images[first[1:]] - chest.images[first[:-1]]).abs().mean()
    assert 0 < float(same) < 0.7 * float(other)


def test_demographics_distribution(chest):
    p = _patients(chest)
    n = len(p)
    assert abs((p["attr_sex"] == "F").mean() - 0.5) < _tolerance(0.5, n)
    for race, share in zip(("R1", "R2", "R3"), RACE_PROPORTIONS):
        assert abs((p["attr_race"] == race).mean() - share) < _tolerance(share, n)
    age = p["attr_age"].astype(int)
    assert age.min() >= 20 and age.max() <= 90
    cut = chest.info["age_cut"]
    assert cut == float(np.floor(np.median(age) + 0.5))
    expected = np.where(age < cut, f"<{int(cut)}", f">={int(cut)}")
    assert (p["attr_age_group"].to_numpy() == expected).all()


def test_null_effects_prevalence_matches_base_in_every_group():
    ss = make_synthetic_chest(n_patients=3000, image_size=16, seed=7, images_per_patient=(1, 1))
    p = _patients(ss)
    for name, base in BASE_PREVALENCE.items():
        for attribute in ("sex", "race", "age_group"):
            for group, rows in p.groupby(f"attr_{attribute}"):
                observed = rows[f"label_{name}"].mean()
                assert abs(observed - base) < _tolerance(base, len(rows)), (name, attribute, group)


def test_planted_prevalence_multiplies_and_combines_and_clips():
    effects = PlantedEffects({"sex": {"F": GroupEffect(prevalence=2.0)},
                              "race": {"R3": GroupEffect(prevalence=1.5), "R2": GroupEffect(prevalence=0.5)}})
    ss = make_synthetic_chest(n_patients=4000, image_size=16, seed=8, effects=effects, images_per_patient=(1, 1))
    p = _patients(ss)
    sex_mult = np.where(p["attr_sex"] == "F", 2.0, 1.0)
    race_mult = p["attr_race"].map({"R1": 1.0, "R2": 0.5, "R3": 1.5}).to_numpy()
    for name, base in BASE_PREVALENCE.items():
        expected = np.minimum(base * sex_mult * race_mult, 0.95)
        for value in np.unique(expected):
            rows = expected == value
            observed = p.loc[rows, f"label_{name}"].mean()
            assert abs(observed - value) < _tolerance(value, rows.sum()), (name, value)
    clipped = make_synthetic_chest(n_patients=800, image_size=16, seed=9, images_per_patient=(1, 1),
                                   effects=PlantedEffects({"sex": {"F": GroupEffect(prevalence=10.0)}}))
    f = _patients(clipped).query("attr_sex == 'F'")
    assert abs(f["label_nodule"].mean() - 0.95) < _tolerance(0.95, len(f))


def test_findings_appear_only_in_positive_images(single):
    ss, free = single
    assert np.array_equal(free.labels(), np.zeros_like(free.labels()))
    diff = (ss.images - free.images)[:, 0]
    negative = torch.as_tensor(~(ss.labels() > 0).any(1))
    assert float(diff[negative].abs().max()) == 0.0  # same anatomy and pose
    assert bool((diff[~negative].abs().amax((1, 2)) > 0.02).all())


def test_nodule_contrast_and_size_effects_are_measurable(single):
    ss, free = single
    diff = (ss.images - free.images)[:, 0]
    only, female, small = _groups(ss, "nodule")
    peak = diff.amax((1, 2)).numpy()
    base = only & ~female & ~small
    assert base.sum() > 40 and (only & female & ~small).sum() > 40 and (only & ~female & small).sum() > 25
    # configured nodule peak contrast: U(0.12, 0.22) x multiplier (x exposure gain ~1)
    assert np.mean(peak[base]) == pytest.approx(0.17, abs=0.015)
    assert np.mean(peak[only & female & ~small]) / np.mean(peak[base]) == pytest.approx(0.5, abs=0.06)
    # size: nodule area (pixels above half its peak) scales with size^2 = 0.36; contrast unchanged
    half = (diff > 0.5 * diff.amax((1, 2), keepdim=True)).sum((1, 2)).numpy().astype(float)
    assert half[only & ~female & small].mean() / half[base].mean() == pytest.approx(0.36, abs=0.1)
    assert np.mean(peak[only & ~female & small]) / np.mean(peak[base]) == pytest.approx(1.0, abs=0.1)


def test_effusion_is_basal_and_its_contrast_and_size_effects_are_measurable(single):
    ss, free = single
    diff = (ss.images - free.images)[:, 0]
    only, female, small = _groups(ss, "effusion")
    d = diff[torch.as_tensor(only.copy())]
    rows = torch.arange(SIZE, dtype=torch.float32)
    centroid_row = (d.sum(2) * rows).sum(1) / d.sum((1, 2))
    assert float(centroid_row.min()) > SIZE * 0.55, "effusion must fill the lung base (lower image half)"
    peak = diff.amax((1, 2)).numpy()
    base = only & ~female & ~small
    assert np.mean(peak[only & female & ~small]) / np.mean(peak[base]) == pytest.approx(0.5, abs=0.08)
    area = (diff > 0.02).sum((1, 2)).numpy().astype(float)
    assert area[only & ~female & small].mean() < 0.75 * area[base].mean()


def test_cardiomegaly_enlarges_the_heart_less_when_size_is_reduced():
    kwargs = dict(n_patients=800, image_size=SIZE, seed=6, images_per_patient=(1, 1))
    effects = PlantedEffects({"race": {"R2": GroupEffect(size=0.25), "R3": GroupEffect(size=0.25)}})
    ss, free = make_synthetic_chest(effects=effects, **kwargs), make_synthetic_chest(effects=NO_FINDINGS, **kwargs)
    diff = (ss.images - free.images)[:, 0]
    only, _, small = _groups(ss, "cardiomegaly")
    grown = (diff.abs() > 0.05).sum((1, 2)).numpy().astype(float)  # lung area covered by the enlarged heart
    assert bool((diff[torch.as_tensor(only.copy())].abs().amax((1, 2)) > 0).all())
    # heart area ~ CTR^2: ratio ~ (0.514^2 - 0.45^2) / (0.555^2 - 0.45^2) ~ 0.6 (excess x 0.25)
    assert grown[only & small].mean() / grown[only & ~small].mean() < 0.8


def test_anatomy_depends_on_sex_and_age(single):
    _, free = single
    t = free.table
    images = free.images[:, 0]
    age = t["attr_age"].astype(float).to_numpy()
    male = (t["attr_sex"] == "M").to_numpy()
    # thorax width: body pixels along the row through the lower lungs
    width = (images[:, int(SIZE * 0.6)] > 0.1).sum(1).numpy().astype(float)
    assert width[male].mean() > 1.05 * width[~male].mean()
    # bone brightness falls with age: the spine above the heart (two central columns)
    spine = images[:, int(SIZE * 0.2):int(SIZE * 0.4), SIZE // 2 - 1:SIZE // 2 + 1].mean((1, 2)).numpy()
    assert np.corrcoef(age, spine)[0, 1] < -0.3


def test_deterministic_seeded_and_global_rng_untouched():
    random.seed(123)
    np.random.seed(123)
    torch.manual_seed(123)
    states = (random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state().clone())
    a = make_synthetic_chest(n_patients=20, image_size=32, seed=5)
    b = make_synthetic_chest(n_patients=20, image_size=32, seed=5)
    assert random.getstate() == states[0]
    assert np.array_equal(np.random.get_state()[1], states[1])
    assert torch.equal(torch.get_rng_state(), states[2])
    assert torch.equal(a.images, b.images)
    pd.testing.assert_frame_equal(a.table, b.table)
    assert a.info == b.info
    c = make_synthetic_chest(n_patients=20, image_size=32, seed=6)
    assert not torch.equal(a.images[:5], c.images[:5]) or not a.table.equals(c.table)


def test_patient_k_does_not_depend_on_n_patients():
    small = make_synthetic_chest(n_patients=6, image_size=32, seed=2, age_cut=50)
    large = make_synthetic_chest(n_patients=60, image_size=32, seed=2, age_cut=50)
    n = len(small)
    same_cols = [c for c in small.table.columns if c != "split"]  # split ranks patients among each other
    pd.testing.assert_frame_equal(small.table[same_cols], large.table[same_cols].iloc[:n])
    torch.testing.assert_close(small.images, large.images[:n], atol=1e-6, rtol=0)


def test_info_records_the_settings():
    effects = PlantedEffects({"race": {"R3": GroupEffect(contrast=0.7)}})
    ss = make_synthetic_chest(n_patients=3, image_size=16, seed=1, effects=effects, age_cut=45)
    assert ss.info["n_patients"] == 3 and ss.info["image_size"] == 16 and ss.info["seed"] == 1
    assert ss.info["effects"] == effects.to_dict() and ss.info["age_cut"] == 45.0
    assert set(ss.table["attr_age_group"]) <= {"<45", ">=45"}
    assert PlantedEffects.from_dict(ss.info["effects"]) == effects


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_patients=0), "n_patients must be an integer >= 1"),
        (dict(n_patients=2.5), "n_patients"),
        (dict(n_patients=2, image_size=4), "image_size must be an integer >= 8"),
        (dict(n_patients=2, seed=-1), "seed must be a non-negative integer"),
        (dict(n_patients=2, images_per_patient=(3, 1)), "images_per_patient"),
        (dict(n_patients=2, images_per_patient=(0, 2)), "images_per_patient"),
        (dict(n_patients=2, age_cut=float("nan")), "age_cut"),
        (dict(n_patients=2, effects={"sex": {}}), "effects must be a PlantedEffects"),
        (dict(n_patients=4, age_cut=50,
              effects=PlantedEffects({"age_group": {"<60": GroupEffect(size=0.5)}})),
         r"effects.by_group\['age_group'\]: unknown group '<60'"),
    ],
)
def test_invalid_arguments_name_the_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_synthetic_chest(**kwargs)


def test_registry_and_facts():
    assert SYNTHETIC["synthetic-chest"] is make_synthetic_chest
    facts = dataset_facts("synthetic-chest")
    assert facts["labels"] == LABELS and facts["segmentation"] is False
    assert facts["attributes"] == ATTRIBUTES and facts["groups"]["sex"] == ("F", "M")
    assert facts["groups"]["habitus"] == ("slim", "average", "large")
    facts["base_prevalence"]["nodule"] = 0.0
    assert dataset_facts("synthetic-chest")["base_prevalence"]["nodule"] == BASE_PREVALENCE["nodule"]
    with pytest.raises(ValueError, match="unknown synthetic data set 'chest'.*synthetic-brain, synthetic-chest"):
        dataset_facts("chest")
