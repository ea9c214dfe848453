"""Observer statistics by group: hand-computed d', sklearn AUC, the bootstrap against a loop, coverage, size, power."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from reconfair.metrics.bootstrap_kernels import patient_weights
from reconfair.metrics.observer_stats import (
    STATS_COLUMNS,
    d_prime_from_sums,
    group_gaps,
    observer_group_stats,
    patient_sums,
)
from reconfair.seeding import numpy_generator


def hand_d_prime(t1: np.ndarray, t0: np.ndarray) -> float:
    return (t1.mean() - t0.mean()) / math.sqrt((t1.var(ddof=1) + t0.var(ddof=1)) / 2)


def simulate(rng: np.random.Generator, *, n_patients: int = 100, per_patient: int = 2, separation: float = 2.0,
             separation_condition: float = 2.0, patient_sd: float = 0.4, image_sd: float = 0.4,
             noise_sd: float = 0.6) -> pd.DataFrame:
    """Decision variables of paired images: t = separation * present + patient + image + condition noise.

    Present and absent versions of an image share the patient and image (background) effects, and so
    do the two conditions (the same images, reconstructed twice).  True d' = separation / sqrt(sum of
    the three variances).
    """
    n = n_patients * per_patient
    patient = np.repeat(np.arange(n_patients), per_patient)
    shared = rng.normal(0, patient_sd, n_patients)[patient] + rng.normal(0, image_sd, n)
    parts = []
    for condition, separation_ in (("original", separation), ("recon", separation_condition)):
        for present in (1, 0):
            parts.append(pd.DataFrame({
                "sample_id": [f"s{i}" for i in range(n)], "patient_id": [f"p{p}" for p in patient],
                "condition": condition, "present": present,
                "t": separation_ * present + shared + rng.normal(0, noise_sd, n),
                "attr_sex": np.where(patient % 2 == 0, "F", "M"),
            }))
    return pd.concat(parts, ignore_index=True)


def tiny_frame() -> pd.DataFrame:
    rng = numpy_generator(0, "tiny")
    rows = []
    for i in range(24):
        for present in (1, 0):
            rows.append({"sample_id": f"s{i}", "patient_id": f"p{i // 2}", "condition": "original",
                         "present": present, "t": float(np.round(rng.normal(1.5 * present, 1.0), 1)),
                         "attr_sex": "FM"[(i // 2) % 2], "attr_age_group": "<60" if i < 12 else ">=60",
                         "dataset": "synthetic-chest", "observer": "cho"})
    frame = pd.DataFrame(rows)
    recon = frame.assign(condition="radiograph-lowdose@3000/identity", recon="identity", level=3000.0,
                         t=frame["t"] * 0.5 + rng.normal(0, 0.5, len(frame)))
    return pd.concat([frame.assign(recon="none", level=np.nan), recon], ignore_index=True)


def test_group_frame_matches_hand_computed_d_prime_and_sklearn_auc() -> None:
    frame = tiny_frame()
    stats = observer_group_stats(frame, attributes=["sex", "age_group"], n_boot=50, seed=0, min_group_size=3)
    assert list(stats.columns) == list(STATS_COLUMNS)
    assert stats["condition"].iloc[0] == "original"  # the reference first
    expected_groups = {("", "all"), ("sex", "F"), ("sex", "M"), ("age_group", "<60"), ("age_group", ">=60"),
                       *{("sex×age_group", f"{s}×{a}") for s in "FM" for a in ("<60", ">=60")}}
    assert {(a, g) for a, g in zip(stats.attribute, stats.group)} == expected_groups
    for row in stats.itertuples():
        part = frame[frame.condition == row.condition]
        if row.attribute:
            names = row.attribute.split("×")
            values = part[[f"attr_{n}" for n in names]].astype(str).agg("×".join, axis=1)
            part = part[values == row.group]
        t1, t0 = part.loc[part.present == 1, "t"].to_numpy(), part.loc[part.present == 0, "t"].to_numpy()
        assert row.d_prime == pytest.approx(hand_d_prime(t1, t0), rel=1e-12)
        assert row.auc == pytest.approx(roc_auc_score(part.present, part.t), abs=1e-12)
        assert row.n == len(part) and row.n_patients == part.patient_id.nunique() and row.reason == ""
        assert row.ci_low < row.d_prime < row.ci_high
    original = stats[stats.condition == "original"].set_index(["attribute", "group"])
    recon = stats[stats.condition != "original"].set_index(["attribute", "group"])
    np.testing.assert_allclose(recon.delta_d_prime, recon.d_prime - original.d_prime, rtol=1e-12)
    assert (original.delta_d_prime == 0).all() and (original.p_value == 1).all()  # Δ* = 0 in every resample
    assert (recon.recon == "identity").all() and (recon.level == 3000).all()


def test_small_groups_get_nan_with_a_reason() -> None:
    stats = observer_group_stats(tiny_frame(), attributes=["sex", "age_group"], n_boot=20, min_group_size=4)
    small = stats[stats.attribute == "sex×age_group"]  # 3 patients each
    assert small.d_prime.isna().all() and small.p_value.isna().all() and small.ci_low.isna().all()
    assert (small.reason == "n_patients=3 < min_group_size=4").all()
    assert (small.n_patients == 3).all()
    assert (stats.loc[stats.attribute != "sex×age_group", "reason"] == "").all()


def test_vectorised_bootstrap_equals_an_explicit_loop_over_resampled_patients() -> None:
    frame = tiny_frame()
    n_boot, seed = 200, 5
    stats = observer_group_stats(frame, attributes=[], n_boot=n_boot, seed=seed, min_group_size=3)
    patients = sorted(frame.patient_id.unique())
    weights = np.concatenate(list(patient_weights(len(patients), n_boot=n_boot, seed=seed)))
    replicates = {}
    for condition, part in frame.groupby("condition"):
        values = []
        for w in weights:  # the reference: rebuild each resample by repeating every patient's rows
            repeat = part.patient_id.map(dict(zip(patients, w.astype(int)))).to_numpy()
            t, present = np.repeat(part.t.to_numpy(), repeat), np.repeat(part.present.to_numpy(), repeat)
            values.append(hand_d_prime(t[present == 1], t[present == 0]))
        replicates[condition] = np.array(values)
    for row in stats.itertuples():
        low, high = np.quantile(replicates[row.condition], [0.025, 0.975])
        assert (row.ci_low, row.ci_high) == pytest.approx((low, high), rel=1e-9)
    delta = replicates["radiograph-lowdose@3000/identity"] - replicates["original"]
    k = min((delta <= 0).sum(), (delta >= 0).sum())
    assert stats.p_value.iloc[1] == pytest.approx(min(1.0, 2 * (k + 1) / (n_boot + 1)))
    assert stats.delta_ci_low.iloc[1] == pytest.approx(np.quantile(delta, 0.025), rel=1e-9)


def test_weighted_sums_give_the_d_prime_of_the_repeated_sample() -> None:
    rng = numpy_generator(1, "sums")
    t, present, patients = rng.normal(size=30), rng.random(30) < 0.5, rng.integers(0, 8, 30)
    sums = patient_sums(t, present, patients, 8)
    weights = np.array([0, 2, 1, 1, 3, 0, 1, 0], dtype=np.float64)
    repeat = weights[patients].astype(int)
    tt, pp = np.repeat(t, repeat), np.repeat(present, repeat)
    assert float(d_prime_from_sums(weights @ sums)) == pytest.approx(hand_d_prime(tt[pp], tt[~pp]), rel=1e-12)
    assert np.isnan(d_prime_from_sums(np.array([1.0, 1.0, 1.0, 5.0, 0.0, 1.0])))  # one present image: undefined


def test_percentile_ci_of_d_prime_covers_the_true_value_at_about_the_nominal_rate() -> None:
    true = 2.0 / math.sqrt(0.4**2 + 0.4**2 + 0.6**2)
    covered = []
    for replicate in range(200):
        frame = simulate(numpy_generator(replicate, "coverage"))
        stats = observer_group_stats(frame[frame.condition == "original"], n_boot=500, seed=replicate,
                                     min_group_size=5)
        covered.append(stats.ci_low[0] <= true <= stats.ci_high[0])
    assert 0.90 <= np.mean(covered) <= 0.99, np.mean(covered)


def test_paired_delta_p_value_has_its_size_under_the_null_and_power_under_a_planted_change() -> None:
    null, planted = [], []
    for replicate in range(200):
        rng = numpy_generator(replicate, "size")
        null.append(observer_group_stats(simulate(rng), n_boot=500, seed=replicate, min_group_size=5).p_value[1])
        changed = simulate(rng, separation_condition=1.6)  # d' 2.43 -> 1.94
        planted.append(observer_group_stats(changed, n_boot=500, seed=replicate, min_group_size=5).p_value[1])
    null, planted = np.array(null), np.array(planted)
    assert 0.01 <= np.mean(null <= 0.05) <= 0.09, np.mean(null <= 0.05)
    assert np.mean(planted <= 0.05) >= 0.8, np.mean(planted <= 0.05)
    assert null.min() >= 2 / 501  # never 0: the floor 2 / (B + 1)


def test_group_gaps_are_max_minus_min_over_groups() -> None:
    stats = observer_group_stats(tiny_frame(), attributes=["sex"], intersections=False, n_boot=20, min_group_size=3)
    gaps = group_gaps(stats)
    for row in gaps.itertuples():
        part = stats[(stats.condition == row.condition) & (stats.attribute == "sex")]
        assert row.d_prime_gap == pytest.approx(part.d_prime.max() - part.d_prime.min())
        assert row.worst_group == part.loc[part.d_prime.idxmin(), "group"]


@pytest.mark.parametrize(("change", "field"), [
    (lambda f: f.drop(columns="t"), r"\['t'\]"),
    (lambda f: f.assign(present=2), "'present'"),
    (lambda f: f.assign(t=np.inf), "'t'"),
    (lambda f: pd.concat([f, f.iloc[:1]]), "repeated rows"),
])
def test_bad_frames_name_the_column(change, field) -> None:
    with pytest.raises(ValueError, match=field):
        observer_group_stats(change(tiny_frame()), n_boot=10)


@pytest.mark.parametrize(("params", "field"), [
    ({"min_group_size": 0}, "'min_group_size'"),
    ({"n_boot": 1}, "'n_boot'"),
    ({"attributes": ["race"]}, "'race'"),
])
def test_bad_parameters_name_the_field(params, field) -> None:
    with pytest.raises(ValueError, match=field):
        observer_group_stats(tiny_frame(), **params)
