"""What a verdict rests on: power, undefined changes, model sanity, families, bootstrap auto, replicates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from reconfair.metrics.bootstrap import paired_bootstrap, paired_replicates
from reconfair.metrics.families import families_table, family_notes
from reconfair.metrics.settings import EvaluationSettings
from reconfair.metrics.uncertainty import bootstrap_deltas, evaluate_with_uncertainty, resolve_bootstrap


def _table(scores: dict[str, np.ndarray], y: np.ndarray, groups: np.ndarray, *, n_val: int,
           target: str = "t") -> pd.DataFrame:
    """A classification table: the first ``n_val`` samples are val, the rest test; one patient per sample."""
    n = y.size
    frames = [pd.DataFrame({"sample_id": [f"s{i}" for i in range(n)], "patient_id": [f"p{i}" for i in range(n)],
                            "split": np.where(np.arange(n) < n_val, "val", "test"), "dataset": "d",
                            "task": "classification", "target": target, "condition": condition,
                            "y_true": y, "y_score": score, "attr_group": groups})
              for condition, score in scores.items()]
    return pd.concat(frames, ignore_index=True)


def test_minimum_detectable_change_matches_the_binomial_closed_form():
    """EOP of two groups: A's positives all found originally, each found with p = 0.7 after; B's never.

    EOP(original) = 1 and EOP(recon) = p_A, so SE = sqrt(p(1 - p) / n_A) and
    mdc = (z_0.975 + z_0.8) SE.
    """
    rng = np.random.default_rng(0)
    n_a = 400
    groups = np.r_[np.full(2 * n_a, "A"), np.full(2 * n_a, "B")]
    y = np.tile(np.r_[np.ones(n_a), np.zeros(n_a)], 2)
    original = np.where((groups == "A") & (y == 1), 0.9, 0.1)
    found = rng.random(groups.size) < 0.7
    recon = np.where((groups == "A") & (y == 1) & found, 0.9, 0.1)
    table = paired_bootstrap(y, original, recon, np.arange(y.size), groups={"g": groups}, threshold=0.5,
                             n_boot=4000, seed=1, min_group_size=10)
    eop = table.set_index("metric").loc["eop"]
    p_hat = float(found[(groups == "A") & (y == 1)].mean())
    assert eop["delta"] == pytest.approx(p_hat - 1.0, abs=1e-12)
    se = np.sqrt(p_hat * (1 - p_hat) / n_a)
    assert eop["se"] == pytest.approx(se, rel=0.05)
    samples = _table({"original": original, "recon": recon}, y, groups, n_val=0)
    boot = bootstrap_deltas(samples, EvaluationSettings(attributes=("group",), bootstrap=4000, threshold=0.5))
    row = boot.query("metric == 'eop'").iloc[0]
    closed_form = (norm.ppf(0.975) + norm.ppf(0.8)) * se
    assert row["mdc"] == pytest.approx(closed_form, rel=0.05)
    m = int(row["family_size"])
    assert row["mdc_family"] == pytest.approx((norm.ppf(1 - 0.05 / (2 * m)) + norm.ppf(0.8)) * se, rel=0.05)


def test_an_undefined_change_has_no_interval_test_or_mark():
    """A group attribute where only one group has its class members: every fairness delta is NaN."""
    rng = np.random.default_rng(1)
    n = 240
    y = (rng.random(n) < 0.5).astype(float)
    groups = np.where(np.arange(n) < 234, "big", "small")  # 'small': 6 samples, < 10 of anything
    clean = 0.5 * y + 0.5 * rng.random(n)
    samples = _table({"original": clean, "noisy": 0.6 * clean + 0.4 * rng.random(n)}, y, groups, n_val=80)
    tables = evaluate_with_uncertainty(samples, EvaluationSettings(attributes=("group",), bootstrap=200))
    noisy = tables.fairness.query("condition == 'noisy' and metric != 'auroc_gap' and metric != 'worst_group_auroc'")
    assert noisy["delta"].isna().all() and len(noisy) == 4
    for column in ("se", "ci_low", "ci_high", "p_value", "p_adjusted", "mdc"):
        assert noisy[column].isna().all(), column
    assert (~noisy["significant"]).all() and (noisy["uncertainty_reason"] == "delta undefined").all()
    assert (noisy["test"] == "").all() and (noisy["family_size"] == 0).all()
    auroc = tables.performance.query("condition == 'noisy' and metric == 'auroc' and target != 'macro'")
    assert auroc["p_value"].notna().all()  # the task change itself is defined and tested


def test_sanity_flags_a_constant_and_an_inverted_model_and_passes_a_good_one():
    rng = np.random.default_rng(2)
    n = 200
    y = (rng.random(n) < 0.5).astype(float)
    groups = np.where(np.arange(n) % 2 == 0, "F", "M")
    good = np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1)
    frames = []
    for target, score in (("constant", np.full(n, 0.4) + 0.001 * rng.random(n)), ("inverted", 1 - good),
                          ("good", good)):
        frames.append(_table({"original": score, "noisy": np.clip(score + 0.05 * rng.standard_normal(n), 0, 1)},
                             y, groups, n_val=100, target=target))
    dice = np.r_[np.full(50, 0.02), np.full(50, 0.09)]
    segmentation = pd.DataFrame({"sample_id": [f"m{i}" for i in range(100)], "split": "val", "dataset": "d",
                                 "task": "segmentation", "target": "tumor", "condition": "original", "dice": dice,
                                 "attr_group": "F"})
    samples = pd.concat([*frames, segmentation, segmentation.assign(split="test", sample_id=lambda f: "t" + f[
        "sample_id"])], ignore_index=True)
    tables = evaluate_with_uncertainty(samples, EvaluationSettings(attributes=("group",), bootstrap=0,
                                                                   min_group_size=5))
    models = tables.models.set_index("target")
    assert models.loc["good", "status"] == "ok" and models.loc["good", "reason"] == ""
    assert models.loc["constant", "status"] == "uninformative"
    assert models.loc["constant", "reason"].startswith("near-constant scores (sd 0.000")
    assert models.loc["inverted", "status"] == "uninformative"
    auc = models.loc["inverted", "val_value"]
    assert auc < 0.5 and "at or below chance" in models.loc["inverted", "reason"]
    assert models.loc["tumor", "status"] == "uninformative"
    assert models.loc["tumor", "reason"] == "validation Dice 0.055 < 0.1"
    assert len(tables.notes) == 3 and all("no verdict" in note for note in tables.notes)
    status = tables.fairness.drop_duplicates("target").set_index("target")["model_status"]
    assert status.to_dict() == {"constant": "uninformative", "good": "ok", "inverted": "uninformative",
                                "tumor": "uninformative"}
    val = tables.performance.query("metric == 'val_auroc'").set_index("target")["value"]
    from sklearn.metrics import roc_auc_score

    first = samples.query("split == 'val' and condition == 'original' and target == 'inverted'")
    assert val["inverted"] == pytest.approx(roc_auc_score(first["y_true"], first["y_score"]), abs=1e-12)


def _two_conditions(n: int = 200, seed: int = 3, targets: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    groups = np.where(np.arange(n) % 2 == 0, "F", "M")
    frames = []
    for t in range(targets):
        y = (rng.random(n) < 0.5).astype(float)
        clean = np.clip(0.4 * y + 0.6 * rng.random(n), 0, 1)
        frames.append(_table({"original": clean, "noisy": np.clip(clean + 0.1 * rng.standard_normal(n), 0, 1)},
                             y, groups, n_val=60, target=f"t{t}"))
    return pd.concat(frames, ignore_index=True)


def test_a_family_no_p_can_pass_is_reported_with_what_it_needs():
    samples = _two_conditions()
    settings = EvaluationSettings(attributes=("group",), bootstrap=50)  # floor 1/51 > 0.05/5
    boot = bootstrap_deltas(samples, settings)
    families = families_table(boot, settings).set_index("family")
    eodd = families.loc["d/classification/group/eodd"]
    assert eodd["n_tests"] == 5 and eodd["first_cut"] == pytest.approx(0.01)
    assert eodd["min_p_floor"] == pytest.approx(1 / 51) and not eodd["reachable"]
    assert eodd["needed_resamples"] == int(np.ceil(2 * 1 * 5 / 0.05)) - 1  # 1/(B+1) <= 0.05/(2 * 5)
    auroc = families.loc["d/classification/auroc"]
    assert auroc["needed_resamples"] == int(np.ceil(2 * 2 * 5 / 0.05)) - 1  # percentile floor 2/(B+1)
    notes = family_notes(families.reset_index(), settings)
    assert any("d/classification/group/eodd (5 tests, B = 50)" in note and "at least 199" in note for note in notes)
    assert not (boot["significant"]).any()


def test_bootstrap_auto_raises_b_to_the_need_and_respects_the_budget():
    samples = _two_conditions(targets=30)  # 30 tests per family: percentile needs 2 * 2 * 30 / 0.05 - 1 = 2399
    settings = EvaluationSettings(attributes=("group",), bootstrap="auto")
    boot, n_boot, notes = resolve_bootstrap(samples, settings)
    assert n_boot == 2399 and notes == [] and (boot["n_boot"] == 2399).all()
    tight = EvaluationSettings(attributes=("group",), bootstrap="auto", bootstrap_budget_s=1e-3)
    boot, n_boot, notes = resolve_bootstrap(samples, tight)
    assert n_boot == 1000 and len(notes) == 1 and "need B = 2399" in notes[0]


def _replicated(k: int, shift: float) -> pd.DataFrame:
    """K model replicates of one study: replicate r's reconstruction shifts the scores by r * shift."""
    rng = np.random.default_rng(4)
    n = 300
    y = (rng.random(n) < 0.5).astype(float)
    groups = np.where(np.arange(n) % 2 == 0, "F", "M")
    clean = np.clip(0.4 * y + 0.6 * rng.random(n), 0, 1)
    noise = rng.standard_normal(n)
    frames = []
    for r in range(k):
        noisy = np.clip(clean + 0.15 * noise + r * shift * y, 0, 1)
        frames.append(_table({"original": clean, "noisy": noisy}, y, groups, n_val=100).assign(replicate=r))
    return pd.concat(frames, ignore_index=True)


def test_identical_replicates_pool_to_the_single_replicate():
    one = _replicated(1, 0.0)
    three = _replicated(3, 0.0)
    settings = EvaluationSettings(attributes=("group",), bootstrap=300)
    columns = ["metric", "delta", "se", "ci_low", "ci_high", "p_value"]
    pd.testing.assert_frame_equal(bootstrap_deltas(three, settings)[columns],
                                  bootstrap_deltas(one, settings)[columns])


def test_pooled_replicates_against_a_direct_two_way_bootstrap():
    """Replicates whose changes differ: the pooled SE holds the between-replicate spread, as a direct loop says."""
    samples = _replicated(3, 0.08)
    settings = EvaluationSettings(attributes=("group",), bootstrap=2000, seed=5)
    boot = bootstrap_deltas(samples, settings).query("metric == 'auroc'").iloc[0]
    # reference: each replicate's paired bootstrap (public API, same seed: same patient draws), then
    # replicates drawn with replacement by our own generator
    test = samples.query("split == 'test'")
    per, points = [], []
    for r in range(3):
        rows = test.query("replicate == @r")
        original, noisy = rows.query("condition == 'original'"), rows.query("condition == 'noisy'")
        reps = paired_replicates(original["y_true"], original["y_score"], noisy["y_score"], original["patient_id"],
                                 groups={}, n_boot=2000, seed=5)
        per.append(reps.replicates[0, 1] - reps.replicates[0, 0])
        points.append(reps.estimates[0, 1] - reps.estimates[0, 0])
    per = np.array(per)  # (3, B)
    assert boot["delta"] == pytest.approx(np.mean(points), abs=1e-12)
    rng = np.random.default_rng(123)
    weights = rng.multinomial(3, [1 / 3] * 3, size=2000) / 3
    reference = np.sum(weights.T * per, axis=0)
    assert boot["se"] == pytest.approx(reference.std(ddof=1), rel=0.1)
    patients_only = per.mean(axis=0).std(ddof=1)
    assert boot["se"] > 1.2 * patients_only  # the spread between replicates is in the verdict
    assert int(boot["n_replicates"]) == 3


def test_replicated_tables_hold_the_method_and_each_replicate():
    samples = _replicated(2, 0.05)
    tables = evaluate_with_uncertainty(samples, EvaluationSettings(attributes=("group",), bootstrap=100))
    per = tables.replicates_fairness.query("condition == 'noisy' and metric == 'eodd'").sort_values("replicate")
    row = tables.fairness.query("condition == 'noisy' and metric == 'eodd'").iloc[0]
    assert per["replicate"].tolist() == [0, 1] and "replicate" not in tables.fairness.columns
    assert row["delta"] == pytest.approx(per["delta"].mean(), abs=1e-12)
    assert row["delta_sd_replicates"] == pytest.approx(per["delta"].std(ddof=1), abs=1e-12)
    assert row["n_replicates"] == 2 and np.isfinite(row["p_value"])
    assert sorted(tables.models["replicate"].tolist()) == [0, 1]


def test_a_gap_that_reverses_is_a_change_and_its_signed_gap_says_which_way():
    """Dice F 0.85 > M 0.78 on the original images, F 0.50 < M 0.60 after: |gap| 0.07 -> 0.10 hardly moves,
    the signed gap M - F moves by (0.60 - 0.50) - (0.78 - 0.85) = +0.17."""
    rng = np.random.default_rng(6)
    n = 200
    sex = np.where(np.arange(n) % 2 == 0, "F", "M")
    base = np.where(sex == "F", 0.85, 0.78) + 0.03 * rng.standard_normal(n)
    after = np.where(sex == "F", 0.50, 0.60) + 0.03 * rng.standard_normal(n)
    rows = pd.concat([pd.DataFrame({"sample_id": [f"s{i}" for i in range(n)], "split": "test", "dataset": "d",
                                    "task": "segmentation", "target": "tumor", "condition": c, "dice": d,
                                    "attr_sex": sex}) for c, d in (("original", base), ("noisy", after))])
    boot = bootstrap_deltas(rows, EvaluationSettings(attributes=("sex",), bootstrap=1000))
    gap = boot.query("metric == 'delta_dice'").iloc[0]
    means = {g: (base[sex == g].mean(), after[sex == g].mean()) for g in ("F", "M")}
    assert gap["delta"] == pytest.approx(abs(means["M"][1] - means["F"][1]) - abs(means["M"][0] - means["F"][0]))
    assert gap["gap"] == "dice M - F" and gap["test"] == "wald-gaps"
    signed = (means["M"][1] - means["F"][1]) - (means["M"][0] - means["F"][0])
    assert gap["gap_change"] == pytest.approx(signed, abs=1e-12) and 0.15 < signed < 0.19
    assert gap["gap_ci_low"] > 0.1 and gap["p_value"] == pytest.approx(1 / 1001)
    ser = boot.query("metric == 'ser'").iloc[0]
    assert ser["gap"] == "log(1 - dice) M - F"
    assert ser["gap_change"] == pytest.approx(np.log((1 - means["M"][1]) / (1 - means["F"][1]))
                                              - np.log((1 - means["M"][0]) / (1 - means["F"][0])), abs=1e-12)
