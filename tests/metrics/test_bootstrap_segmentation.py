"""Paired patient bootstrap of mean Dice, delta_dice and SER against explicit resampling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reconfair.metrics.bootstrap_kernels import patient_weights
from reconfair.metrics.bootstrap_segmentation import (
    dice_fairness,
    paired_dice_bootstrap,
    paired_dice_replicates,
    weighted_group_dice,
)
from reconfair.metrics.fairness import delta_dice, ser
from reconfair.metrics.groups import segmentation_groups


def _data(n: int = 60, seed: int = 0):
    rng = np.random.default_rng(seed)
    patients = np.arange(n) // 2
    sex = np.where(patients % 3 == 0, "F", "M")
    dice = rng.uniform(0.3, 0.95, n)
    recon = np.clip(dice - np.where(sex == "F", 0.2, 0.0) + 0.02 * rng.standard_normal(n), 0, 1)
    return dice, recon, patients, sex


def test_replicates_equal_explicit_resampling():
    dice, recon, patients, sex = _data()
    n_boot, min_size = 40, 16
    reps = paired_dice_replicates(dice, recon, patients, groups={"sex": sex}, n_boot=n_boot, seed=7,
                                  min_group_size=min_size, chunk_size=15)
    keys = {k[1:]: i for i, k in enumerate(reps.keys)}
    weights = np.concatenate(list(patient_weights(patients.max() + 1, n_boot=n_boot, seed=7)))
    patients, _ = pd.factorize(patients.astype(str), sort=True)  # weight columns: sorted patient ids
    n_excluded = 0
    for b in range(n_boot):
        take = np.repeat(np.arange(dice.size), weights[b, patients].astype(int))
        for c, values in enumerate((dice, recon)):
            frame = segmentation_groups(values[take], sex[take], min_group_size=min_size)
            means = weighted_group_dice(weights[b, patients], values, sex, min_group_size=min_size)[0]
            np.testing.assert_allclose(means, frame["dice_mean"], atol=1e-12, rtol=0)
            assert reps.replicates[keys[("", "dice")], c, b] == pytest.approx(values[take].mean(), abs=1e-12)
            for name, metric in (("delta_dice", delta_dice), ("ser", ser)):
                expected = metric(frame).value
                got = reps.replicates[keys[("sex", name)], c, b]
                if np.isnan(expected):
                    assert np.isnan(got)
                    n_excluded += 1
                else:
                    assert got == pytest.approx(expected, abs=1e-12, rel=1e-12)
    assert 0 < n_excluded < 2 * n_boot  # min_group_size bites in some resamples (the F group has 20 samples)


def test_estimates_are_the_full_data_values():
    dice, recon, patients, sex = _data()
    table = paired_dice_bootstrap(dice, recon, patients, groups={"sex": sex}, n_boot=20, min_group_size=5,
                                  target="tumor")
    for c, values in (("estimate_original", dice), ("estimate", recon)):
        frame = segmentation_groups(values, sex, min_group_size=5)
        got = table.set_index("metric")[c]
        assert got["dice"] == pytest.approx(values.mean(), abs=1e-12)
        assert got["delta_dice"] == pytest.approx(delta_dice(frame).value, abs=1e-12)
        assert got["ser"] == pytest.approx(ser(frame).value, abs=1e-12)
    assert table["target"].eq("tumor").all()


def test_seeded_and_planted_effect_excludes_zero():
    dice, recon, patients, sex = _data()
    first = paired_dice_bootstrap(dice, recon, patients, groups={"sex": sex}, n_boot=300, seed=1,
                                  min_group_size=5)
    again = paired_dice_bootstrap(dice, recon, patients, groups={"sex": sex}, n_boot=300, seed=1,
                                  min_group_size=5)
    other = paired_dice_bootstrap(dice, recon, patients, groups={"sex": sex}, n_boot=300, seed=2,
                                  min_group_size=5)
    pd.testing.assert_frame_equal(first, again)
    assert not first["ci_low"].equals(other["ci_low"])
    for metric in ("delta_dice", "ser"):
        row = first.set_index("metric").loc[metric]
        assert row["ci_low"] > 0 and row["p_value"] < 0.05 and row["n_boot_valid"] == 300
    dice_row = first.set_index("metric").loc["dice"]
    assert dice_row["ci_high"] < 0


def test_ser_conventions_follow_fairness():
    means = np.array([[0.8, 0.9], [0.5, 1.0], [1.0, 1.0], [0.7, np.nan], [np.nan, np.nan]])
    got = dice_fairness(means)
    for i, row in enumerate(means):
        frame = pd.DataFrame({"group": ["a", "b"], "dice_mean": row,
                              "dice_mean_reason": ["" if np.isfinite(v) else "too small" for v in row]})
        assert got["ser"][i] == pytest.approx(ser(frame).value, nan_ok=True)
        assert got["delta_dice"][i] == pytest.approx(delta_dice(frame).value, nan_ok=True)
    assert got["ser"][1] == np.inf and got["ser"][2] == 1.0 and np.isnan(got["ser"][3])


def test_infinite_ser_on_both_sides_is_not_a_valid_delta():
    dice = np.r_[np.ones(10), np.full(10, 0.5)]
    groups = {"g": np.repeat(["a", "b"], 10)}
    table = paired_dice_bootstrap(dice, dice, np.arange(20), groups=groups, n_boot=30, min_group_size=1)
    row = table.set_index("metric").loc["ser"]
    assert row["estimate"] == np.inf and row["n_boot_valid"] < 30
    assert np.isfinite(table.set_index("metric").loc["delta_dice", "se"])


def test_errors():
    dice, recon, patients, sex = _data()
    with pytest.raises(ValueError, match="non-finite"):
        paired_dice_bootstrap(np.r_[np.nan, dice[1:]], recon, patients, groups={})
    with pytest.raises(ValueError, match="dice_recon"):
        paired_dice_bootstrap(dice, recon[1:], patients, groups={})
    with pytest.raises(TypeError, match="mapping"):
        paired_dice_bootstrap(dice, recon, patients, groups=sex)
