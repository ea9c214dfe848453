"""Paired patient bootstrap: exactness against resampled data, seeding, clustering, calibration."""

from __future__ import annotations

import random

import numpy as np
import pytest
from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate
from scipy import stats
from sklearn.metrics import roc_auc_score

from reconfair.metrics import auroc, classification_groups
from reconfair.metrics.bootstrap import (
    FAIRNESS_METRICS,
    paired_auroc_bootstrap,
    paired_bootstrap,
    paired_fairness_bootstrap,
    paired_replicates,
    patient_weights,
    summarize_delta,
    weighted_auroc,
    weighted_group_rates,
)
from reconfair.metrics.fairness import auroc_gap, dp, eodd, eodd_max, eop, worst_group_auroc

FAIRNESS = {"eodd": eodd, "eodd_max": eodd_max, "eop": eop, "dp": dp,
            "auroc_gap": auroc_gap, "worst_group_auroc": worst_group_auroc}


def _cohort(n_patients: int, seed: int, *, big: int = 0, n_groups: int = 3):
    """Patients with 1-3 images (patient 0 has ``big`` extra), labels, tied scores, groups."""
    rng = np.random.default_rng(seed)
    images = rng.integers(1, 4, n_patients)
    images[0] += big
    patients = np.repeat(np.arange(n_patients), images)
    n = patients.size
    y = (rng.random(n) < 0.4).astype(float)
    y[rng.random(n) < 0.05] = np.nan  # unknown labels are ignored
    common = y + rng.normal(0, 1, n)
    original = np.round(np.nan_to_num(common) + rng.normal(0, 0.3, n), 1)  # rounded: many ties
    recon = np.round(np.nan_to_num(common) + rng.normal(0, 0.6, n), 1)
    groups = np.array([f"g{k}" for k in rng.integers(0, n_groups, n_patients)])[patients]
    return y, original, recon, groups, np.array([f"p{p:04d}" for p in patients])


def _sample_weights(patient_ids: np.ndarray, n_boot: int, seed: int, chunk_size: int) -> np.ndarray:
    _, codes = np.unique(patient_ids, return_inverse=True)  # sorted, as the bootstrap factorises
    chunks = patient_weights(codes.max() + 1, n_boot=n_boot, seed=seed, chunk_size=chunk_size)
    return np.concatenate(list(chunks))[:, codes].astype(np.int64)


def test_weighted_group_rates_match_resampled_data_and_fairlearn() -> None:
    y, score, _, groups, patients = _cohort(150, seed=1)
    keep = ~np.isnan(y)
    y, score, groups, patients = y[keep], score[keep], groups[keep], patients[keep]
    pred = score >= 0.5
    weights = _sample_weights(patients, n_boot=4, seed=3, chunk_size=3)
    rates = weighted_group_rates(weights, y, pred, groups)
    for b, w in enumerate(weights):
        idx = np.repeat(np.arange(y.size), w)
        frame = classification_groups(y[idx], score[idx], groups[idx], threshold=0.5)
        for rate in ("tpr", "fpr", "selection_rate"):
            np.testing.assert_allclose(rates[rate][b], frame[rate], rtol=0, atol=1e-12)
        np.testing.assert_array_equal(rates["tp"][b], frame["tp"])
        mf = MetricFrame(metrics={"tpr": true_positive_rate, "fpr": false_positive_rate,
                                  "selection_rate": selection_rate},
                         y_true=y[idx], y_pred=pred[idx], sensitive_features=groups[idx])
        for rate in ("tpr", "fpr", "selection_rate"):
            np.testing.assert_allclose(rates[rate][b], mf.by_group[rate].to_numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("ties", [True, False])
def test_weighted_auroc_matches_sklearn_on_resampled_data(ties: bool) -> None:
    y, score, _, _, patients = _cohort(120, seed=2)
    if ties:
        assert np.unique(score).size < 0.5 * score.size  # plenty of ties
    else:
        score = score + np.random.default_rng(0).normal(0, 1e-3, score.size)
    weights = _sample_weights(patients, n_boot=6, seed=0, chunk_size=4)
    ours = weighted_auroc(y, score, weights)
    keep = ~np.isnan(y)
    for b, w in enumerate(weights):
        idx = np.repeat(np.flatnonzero(keep), w[keep])
        assert abs(ours[b] - roc_auc_score(y[idx], score[idx])) < 1e-12


def test_replicates_equal_recomputation_on_resampled_data() -> None:
    # small groups so that min_group_size excludes some groups in some resamples
    y, original, recon, groups, patients = _cohort(40, seed=4, big=15, n_groups=4)
    reps = paired_replicates(y, original, recon, patients, groups={"site": groups}, threshold=0.3,
                             n_boot=7, seed=5, min_group_size=15, group_auroc=True, chunk_size=3)
    weights = _sample_weights(patients, n_boot=7, seed=5, chunk_size=3)
    rows = {key[2]: k for k, key in enumerate(reps.keys)}
    # a resample uses only the groups of the point estimate (full data), where they have their class members
    full = classification_groups(y, original, groups, threshold=0.3, min_group_size=15).set_index("group")
    excluded = 0
    for b, w in enumerate(weights):
        idx = np.repeat(np.arange(y.size), w)
        for c, score in enumerate((original, recon)):
            np.testing.assert_allclose(reps.replicates[rows["auroc"], c, b], auroc(y[idx], score[idx]),
                                       rtol=0, atol=1e-12)
            frame = classification_groups(y[idx], score[idx], groups[idx], threshold=0.3,
                                          min_group_size=15)
            for rate in ("tpr", "fpr", "selection_rate", "auroc"):
                out = frame["group"].map(full[f"{rate}_reason"]).to_numpy() != ""
                frame.loc[out, rate] = np.nan
                frame.loc[out, f"{rate}_reason"] = "excluded from the point estimate"
            excluded += int((frame["tpr_reason"] != "").sum())
            for name, metric in FAIRNESS.items():
                np.testing.assert_allclose(reps.replicates[rows[name], c, b], metric(frame).value,
                                           rtol=0, atol=1e-12, equal_nan=True, err_msg=name)
    assert excluded > 0  # the exclusion rules were exercised


def test_estimates_equal_point_evaluation() -> None:
    y, original, recon, groups, patients = _cohort(200, seed=6)
    out = paired_fairness_bootstrap(y, original, recon, groups, patients, threshold=0.2, n_boot=20,
                                    group_auroc=True)
    for c, score in enumerate((original, recon)):
        frame = classification_groups(y, score, groups, threshold=0.2, min_group_size=10)
        for name, metric in FAIRNESS.items():
            estimate = out[name].estimate_original if c == 0 else out[name].estimate
            assert estimate == pytest.approx(metric(frame).value, abs=1e-12)
    result = paired_auroc_bootstrap(y, original, recon, patients, n_boot=20)
    assert result.estimate == pytest.approx(auroc(y, recon), abs=1e-12)
    assert result.delta == pytest.approx(auroc(y, recon) - auroc(y, original), abs=1e-12)


def test_seeding_is_reproducible_and_leaves_global_state_alone() -> None:
    y, original, recon, groups, patients = _cohort(100, seed=7)
    np_state, py_state = np.random.get_state(), random.getstate()
    kwargs = dict(groups={"g": groups}, threshold=0.2, n_boot=50)
    first = paired_bootstrap(y, original, recon, patients, seed=1, **kwargs)
    again = paired_bootstrap(y, original, recon, patients, seed=1, chunk_size=7, **kwargs)
    other = paired_bootstrap(y, original, recon, patients, seed=2, **kwargs)
    assert first.equals(again)
    assert not first["se"].equals(other["se"])
    assert first["estimate"].equals(other["estimate"])  # estimates do not depend on the seed
    assert random.getstate() == py_state
    after = np.random.get_state()
    assert after[0] == np_state[0] and np.array_equal(after[1], np_state[1]) and after[2:] == np_state[2:]


def test_patients_are_the_resampling_unit() -> None:
    # Copying every image of every patient 4 times changes nothing: weights are per patient.
    y, original, recon, groups, patients = _cohort(80, seed=8)
    keep = ~np.isnan(y)
    y, original, recon, groups, patients = (a[keep] for a in (y, original, recon, groups, patients))
    copies = [np.tile(a, 4) for a in (y, original, recon, groups, patients)]
    kwargs = dict(groups={"g": groups}, threshold=0.2, n_boot=40, min_group_size=1)
    once = paired_replicates(y, original, recon, patients, **kwargs)
    kwargs["groups"] = {"g": copies[3]}
    four = paired_replicates(copies[0], copies[1], copies[2], copies[4], **kwargs)
    np.testing.assert_allclose(once.replicates, four.replicates, rtol=0, atol=1e-12)


def test_one_patient_with_many_images_moves_as_one() -> None:
    # All 60 positives belong to patient "big"; 59 negative patients with one image each.
    # AUROC is undefined exactly in the resamples that miss "big": P = (1 - 1/60)^60 ~ 0.364.
    y = np.r_[np.ones(60), np.zeros(59)]
    score = np.r_[np.linspace(0.3, 1, 60), np.linspace(0, 0.7, 59)]
    patients = np.r_[["big"] * 60, [f"n{i}" for i in range(59)]]
    result = paired_auroc_bootstrap(y, score, score + 0.01, patients, n_boot=1000, seed=0)
    missing = 1 - result.n_boot_valid / 1000
    assert 0.31 < missing < 0.42  # image-level resampling would almost never miss all positives


def test_summary_definitions() -> None:
    original = np.zeros(8)
    recon = np.array([-1, 0, 1, 2, 3, 4, 5, 6], dtype=float)
    result = summarize_delta(original, recon, 0.0, 2.0)
    # k = 2 of B = 8 resamples at or below 0: p = 2 (k + 1) / (B + 1), never 0
    assert result.p_value == pytest.approx(2 * (2 + 1) / (8 + 1))
    assert result.p_floor == pytest.approx(2 / 9) and result.test == "percentile"
    far = summarize_delta(original, recon + 10, 0.0, 12.0)  # every resample above 0: k = 0
    assert far.p_value == pytest.approx(2 / 9) == far.p_floor
    assert result.se == pytest.approx(np.std(recon, ddof=1))
    assert (result.ci_low, result.ci_high) == tuple(np.quantile(recon, [0.025, 0.975]))
    assert summarize_delta([np.nan], [1.0], 0.0, 1.0).n_boot_valid == 0


def test_rejects_bad_arguments() -> None:
    y, original, recon, groups, patients = _cohort(30, seed=9)
    with pytest.raises(ValueError, match="threshold is required"):
        paired_bootstrap(y, original, recon, patients, groups={"g": groups})
    with pytest.raises(ValueError, match="score_recon has shape"):
        paired_bootstrap(y, original, recon[:-1], patients, groups={})
    with pytest.raises(ValueError, match="patient_ids needs"):
        paired_bootstrap(y, original, recon, patients[:-1], groups={})
    with pytest.raises(TypeError, match="groups must be a mapping"):
        paired_bootstrap(y, original, recon, patients, groups=groups, threshold=0.5)
    with pytest.raises(ValueError, match="threshold must be one finite number or one per target"):
        paired_bootstrap(y, original, recon, patients, groups={"g": groups}, threshold=[0.1, 0.2])
    with pytest.raises(ValueError, match="n_boot must be a positive integer"):
        paired_bootstrap(y, original, recon, patients, groups={}, n_boot=0)


def _simulate(seed: int, n_patients: int, *, gap: float, effect: float):
    """Two images per patient; the attribute is independent of the label.

    ``gap`` shifts group B's scores in both conditions (an inherent bias that
    reconstruction does not change); ``effect`` is the planted reconstruction
    effect: extra score noise of that SD in group B only.  Original and
    reconstructed scores are noisy versions of one common score.
    """
    rng = np.random.default_rng(seed)
    patients = np.repeat(np.arange(n_patients), 2)
    n = patients.size
    y = (rng.random(n) < 0.3).astype(float)
    groups = np.where(rng.random(n_patients) < 0.5, "A", "B")[patients]
    common = 1.5 * y + rng.normal(0, 1, n_patients)[patients] + rng.normal(0, 0.7, n) + gap * (groups == "B")
    original = common + rng.normal(0, 0.5, n)
    recon = common + rng.normal(0, 0.5, n) + effect * (groups == "B") * rng.normal(0, 1, n)
    return y, original, recon, groups, patients


def _eodd_results(n_sims: int, n_patients: int, *, gap: float, effect: float, offset: int = 0):
    results = []
    for sim in range(n_sims):
        y, original, recon, groups, patients = _simulate(offset + sim, n_patients, gap=gap, effect=effect)
        results.append(paired_fairness_bootstrap(y, original, recon, groups, patients, threshold=0.75,
                                                 n_boot=300, seed=sim)["eodd"])
    return results


def test_calibration_under_the_null() -> None:
    # 200 null data sets (300 patients x 2 images, B = 300), reconstruction changes nothing
    # systematically; the groups differ inherently (gap 1.0), so EODD is away from its kink at 0.
    results = _eodd_results(200, 300, gap=1.0, effect=0.0)
    coverage = np.mean([r.ci_low <= 0 <= r.ci_high for r in results])
    assert 0.90 <= coverage <= 0.99, coverage
    assert stats.kstest([r.p_value for r in results], "uniform").pvalue > 0.01


def test_null_without_any_group_difference_keeps_its_size() -> None:
    # Attribute independent of everything: the true EODD is 0, where max - min is not
    # differentiable and the percentile bootstrap of the delta over-covers (coverage ~1.0).
    # The Wald test of the signed gaps still has its size: it rejects about 5 %, not 0 %
    # (200 replicates: binomial sd 1.5 points; tests/metrics/test_calibration.py is finer).
    results = _eodd_results(200, 300, gap=0.0, effect=0.0)
    assert np.mean([r.ci_low <= 0 <= r.ci_high for r in results]) >= 0.95
    assert 0.01 <= np.mean([r.p_value < 0.05 for r in results]) <= 0.10
    assert all(r.test == "wald-gaps" and r.p_value >= 1 / 301 for r in results)


def test_power_against_a_planted_effect() -> None:
    # 1000 patients x 2 images, B = 300.  Reconstruction adds score noise (SD 2) to group B
    # only, which pulls its rates towards 1/2 and shrinks the inherent gap: mean delta EODD
    # is about -0.09 (at gap 0 the same noise gives +0.07 but only ~45 % power: the kink).
    results = _eodd_results(40, 1000, gap=1.0, effect=2.0, offset=1000)
    assert np.mean([r.p_value < 0.05 for r in results]) >= 0.9
    assert -0.3 < np.mean([r.delta for r in results]) < -0.03


def test_fairness_metric_names() -> None:
    y, original, recon, groups, patients = _cohort(60, seed=10)
    out = paired_fairness_bootstrap(y, original, recon, groups, patients, threshold=0.2, n_boot=5)
    assert tuple(out) == FAIRNESS_METRICS
