"""Synthetic brain MRI: masks, tumour labels and appearance, anatomy and planted effects."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import ndimage

from reconfair.data.effects import GroupEffect, PlantedEffects
from reconfair.data.synthetic import ATTRIBUTES, SYNTHETIC, dataset_facts
from reconfair.data.synthetic_brain import BASE_PREVALENCE, GRADE_GIVEN_OTHER, LABELS, make_synthetic_brain

SIZE = 64
INVISIBLE = PlantedEffects({"sex": {"F": GroupEffect(contrast=1e-9), "M": GroupEffect(contrast=1e-9)}})


def _tolerance(p: float, n: int) -> float:
    return 4.0 * np.sqrt(max(p * (1 - p), 1e-4) / n) + 1e-9


@pytest.fixture(scope="module")
def pair():
    """Tumours with planted effects, and the same patients with an invisible tumour.

    Planted: contrast x 0.5 for sex F; size x 0.7 for race R3.
    """
    kwargs = dict(n_patients=800, image_size=SIZE, seed=2)
    effects = PlantedEffects({"sex": {"F": GroupEffect(contrast=0.5)}, "race": {"R3": GroupEffect(size=0.7)}})
    invisible = PlantedEffects({**INVISIBLE.by_group, "race": {"R3": GroupEffect(size=0.7)}})
    return make_synthetic_brain(effects=effects, **kwargs), make_synthetic_brain(effects=invisible, **kwargs)


def test_contract_images_masks_and_table(pair):
    ss, _ = pair
    assert ss.name == "synthetic-brain" and len(ss) == 800
    assert ss.images.dtype == torch.float32 and ss.images.shape == (800, 1, SIZE, SIZE)
    assert float(ss.images.min()) >= 0.0 and float(ss.images.max()) <= 1.0
    assert ss.masks is not None and ss.masks.dtype == torch.float32 and ss.masks.shape == ss.images.shape
    assert bool(((ss.masks == 0) | (ss.masks == 1)).all())
    assert bool((ss.masks.sum((1, 2, 3)) > 0).all()), "every image has a tumour"
    assert ss.label_names == LABELS and ss.attribute_names == ATTRIBUTES
    t = ss.table
    assert t["sample_id"].is_unique and t["sample_id"].str.fullmatch(r"brain-p\d{5}-i0").all()
    assert set(t["split"]) == {"train", "val", "test"}
    assert isinstance(ss[0].target, torch.Tensor)  # segmentation target


def test_tumour_is_inside_the_head_and_brighter_than_brain(pair):
    ss, free = pair
    head = (free.images[:, 0] > 0.03).numpy()
    depth = np.stack([ndimage.distance_transform_edt(h) for h in head])  # pixels from the head outline
    assert depth[ss.masks[:, 0].numpy() > 0].min() >= 3.0, "tumour lies inside the skull"
    male = torch.as_tensor((ss.table["attr_sex"] == "M").to_numpy().copy())
    inside = (ss.images[male, 0] * ss.masks[male, 0]).sum() / ss.masks[male, 0].sum()
    brain = free.images[male, 0][free.images[male, 0] > 0.3].mean()
    assert float(inside) > float(brain) + 0.1


def test_grade_follows_type(pair):
    t = pair[0].table
    assert (t.loc[t["label_tumor_type"] == 1, "label_tumor_grade"] == 1).all()
    other = t.loc[t["label_tumor_type"] == 0, "label_tumor_grade"]
    assert abs(other.mean() - GRADE_GIVEN_OTHER) < _tolerance(GRADE_GIVEN_OTHER, len(other))


def test_glioblastoma_like_lesions_are_larger_and_necrotic(pair):
    ss, free = pair
    t = ss.table
    area = ss.masks.sum((1, 2, 3)).numpy()
    gbm = (t["label_tumor_type"] == 1).to_numpy()
    low = ((t["label_tumor_type"] == 0) & (t["label_tumor_grade"] == 0)).to_numpy()
    mid = ((t["label_tumor_type"] == 0) & (t["label_tumor_grade"] == 1)).to_numpy()
    assert area[gbm].mean() > 2.0 * area[~gbm].mean()
    assert area[low].mean() < area[mid].mean() < area[gbm].mean()
    # necrosis: dark pixels inside the tumour mask (below the surrounding tissue)
    dark = ((ss.images[:, 0] < 0.4) & (ss.masks[:, 0] > 0)).sum((1, 2)).numpy() / area
    male = (t["attr_sex"] == "M").to_numpy()  # full contrast
    assert dark[gbm & male].mean() > 0.1 > dark[low & male].mean()


def test_prevalence_of_type_follows_planted_effects():
    effects = PlantedEffects({"race": {"R2": GroupEffect(prevalence=2.0)}, "sex": {"M": GroupEffect(prevalence=0.5)}})
    ss = make_synthetic_brain(n_patients=3000, image_size=16, seed=3, effects=effects)
    t = ss.table
    expected = (BASE_PREVALENCE["tumor_type"] * np.where(t["attr_race"] == "R2", 2.0, 1.0)
                * np.where(t["attr_sex"] == "M", 0.5, 1.0))
    for value in np.unique(expected):
        rows = expected == value
        assert abs(t.loc[rows, "label_tumor_type"].mean() - value) < _tolerance(value, rows.sum()), value
        grade = value + (1 - value) * GRADE_GIVEN_OTHER
        assert abs(t.loc[rows, "label_tumor_grade"].mean() - grade) < _tolerance(grade, rows.sum()), value


def test_null_effects_no_group_difference():
    t = make_synthetic_brain(n_patients=3000, image_size=16, seed=4).table
    base = BASE_PREVALENCE["tumor_type"]
    for attribute in ("sex", "race", "age_group"):
        for group, rows in t.groupby(f"attr_{attribute}"):
            assert abs(rows["label_tumor_type"].mean() - base) < _tolerance(base, len(rows)), (attribute, group)


def test_contrast_and_size_effects_are_measurable(pair):
    ss, free = pair
    t = ss.table
    contrast = ((ss.images - free.images).abs() * ss.masks).sum((1, 2, 3)) / ss.masks.sum((1, 2, 3))
    contrast = contrast.numpy()
    female = (t["attr_sex"] == "F").to_numpy()
    small = (t["attr_race"] == "R3").to_numpy()
    assert contrast[female & ~small].mean() / contrast[~female & ~small].mean() == pytest.approx(0.5, abs=0.06)
    area = ss.masks.sum((1, 2, 3)).numpy()
    # size x 0.7 -> area x 0.49 (clipping by the brain outline and pixel rounding blur it a little)
    assert area[small].mean() / area[~small].mean() == pytest.approx(0.49, abs=0.12)
    assert np.array_equal(free.masks.numpy(), ss.masks.numpy()), "contrast does not change the mask"


def test_anatomy_ventricles_grow_with_age_and_head_size_with_sex(pair):
    _, free = pair  # tumour invisible
    t = free.table
    images = free.images[:, 0]
    age = t["attr_age"].astype(float).to_numpy()
    c = SIZE // 2
    ventricles = (images[:, c - 10:c + 10, c - 10:c + 10] < 0.3).sum((1, 2)).numpy().astype(float)
    assert np.corrcoef(age, ventricles)[0, 1] > 0.5
    head = (images > 0.05).sum((1, 2)).numpy().astype(float)
    male = (t["attr_sex"] == "M").to_numpy()
    assert head[male].mean() > 1.08 * head[~male].mean()


def test_deterministic_seeded_and_global_rng_untouched():
    random.seed(5)
    np.random.seed(5)
    torch.manual_seed(5)
    states = (random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state().clone())
    a = make_synthetic_brain(n_patients=10, image_size=32, seed=1, images_per_patient=(1, 2))
    b = make_synthetic_brain(n_patients=10, image_size=32, seed=1, images_per_patient=(1, 2))
    assert random.getstate() == states[0]
    assert np.array_equal(np.random.get_state()[1], states[1])
    assert torch.equal(torch.get_rng_state(), states[2])
    assert torch.equal(a.images, b.images) and torch.equal(a.masks, b.masks)
    pd.testing.assert_frame_equal(a.table, b.table)
    c = make_synthetic_brain(n_patients=10, image_size=32, seed=2, images_per_patient=(1, 2))
    assert not torch.equal(a.images[:3], c.images[:3])


def test_patient_k_does_not_depend_on_n_patients():
    small = make_synthetic_brain(n_patients=4, image_size=32, seed=9, age_cut=60)
    large = make_synthetic_brain(n_patients=40, image_size=32, seed=9, age_cut=60)
    cols = [c for c in small.table.columns if c != "split"]
    pd.testing.assert_frame_equal(small.table[cols], large.table[cols].iloc[:4])
    torch.testing.assert_close(small.images, large.images[:4], atol=1e-6, rtol=0)
    assert torch.equal(small.masks, large.masks[:4])


def test_repeat_images_share_the_tumour():
    ss = make_synthetic_brain(n_patients=20, image_size=SIZE, seed=1, images_per_patient=(2, 2))
    area = ss.masks.sum((1, 2, 3)).reshape(20, 2)
    assert bool(((area[:, 0] - area[:, 1]).abs() <= 0.2 * area.mean(1) + 3).all())
    assert (ss.table.groupby("patient_id")["label_tumor_type"].nunique() == 1).all()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_patients=-3), "n_patients must be an integer >= 1"),
        (dict(n_patients=2, image_size=65.0), "image_size"),
        (dict(n_patients=2, images_per_patient=[1, 2]), "images_per_patient"),
        (dict(n_patients=2, effects=PlantedEffects({"age_group": {"old": GroupEffect()}})),
         r"effects.by_group\['age_group'\]: unknown group 'old'"),
    ],
)
def test_invalid_arguments_name_the_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_synthetic_brain(**kwargs)


def test_info_and_registry():
    ss = make_synthetic_brain(n_patients=2, image_size=16, seed=3)
    assert ss.info["generator"] == "synthetic-brain" and ss.info["effects"] == {}
    assert ss.info["seed"] == 3 and ss.info["image_size"] == 16 and "age_cut" in ss.info
    assert SYNTHETIC["synthetic-brain"] is make_synthetic_brain
    facts = dataset_facts("synthetic-brain")
    assert facts["segmentation"] is True and facts["labels"] == LABELS
