"""bootstrap_deltas and attach_uncertainty on a small synthetic per-sample table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reconfair.metrics import evaluate
from reconfair.metrics.multiple_testing import adjust_p_values
from reconfair.metrics.settings import EvaluationSettings
from reconfair.metrics.uncertainty import UNCERTAINTY_COLUMNS, attach_uncertainty, bootstrap_deltas

ATTRS = ["sex", "sex×age"]


def settings(attributes=ATTRS, **overrides) -> EvaluationSettings:
    return EvaluationSettings(attributes=tuple(attributes), **overrides)


def _samples(n: int = 240, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    """Two targets, two images per patient, conditions original and noisy; 'noisy' hurts group M."""
    rng = np.random.default_rng(seed)
    sex = np.where(np.arange(n) // 2 % 2 == 0, "F", "M")
    age = np.where(np.arange(n) // 4 % 2 == 0, "young", "old")
    split = np.where(np.arange(n) < n // 3, "val", "test")
    frames = []
    for target in ("a", "b"):
        y = rng.integers(0, 2, n).astype(float)
        clean = 0.6 * y + 0.4 * rng.random(n)
        noisy = np.where(sex == "M", 0.5 + shift * (rng.random(n) - 0.5), clean)
        for condition, score in (("original", clean), ("noisy", noisy)):
            frames.append(pd.DataFrame({
                "sample_id": [f"s{i}" for i in range(n)], "patient_id": [f"p{i // 2}" for i in range(n)],
                "split": split, "dataset": "toy", "task": "classification", "target": target,
                "condition": condition, "y_true": y, "y_score": score, "attr_sex": sex, "attr_age": age,
            }))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def samples() -> pd.DataFrame:
    return _samples(shift=0.2)


@pytest.fixture(scope="module")
def boot(samples) -> pd.DataFrame:
    return bootstrap_deltas(samples, settings(bootstrap=150, seed=3))


def test_merged_delta_equals_point_estimate(samples, boot):
    tables = attach_uncertainty(evaluate(samples, attributes=ATTRS), boot)
    fair = tables.fairness.merge(boot, on=["dataset", "task", "target", "condition", "attribute", "metric"],
                                 suffixes=("", "_boot"))
    assert len(fair) == 2 * 2 * 4  # targets x attributes x (eodd, eodd_max, eop, dp)
    np.testing.assert_allclose(fair["delta_boot"], fair["delta"], atol=1e-12, rtol=0)
    np.testing.assert_allclose(fair["estimate_original"], fair["value_original"], atol=1e-12, rtol=0)
    for column in UNCERTAINTY_COLUMNS:
        assert column in tables.fairness.columns and column in tables.performance.columns
    original = tables.fairness["condition"] == "original"
    assert tables.fairness.loc[original, "p_value"].isna().all()
    group_auroc = tables.fairness.loc[~original & tables.fairness["metric"].isin(["auroc_gap", "worst_group_auroc"])]
    assert group_auroc["se"].isna().all()
    assert group_auroc["uncertainty_reason"].str.startswith("not bootstrapped: set evaluation.bootstrap_group_auroc").all()
    perf = tables.performance.query("metric == 'auroc' and condition == 'noisy' and target != 'macro'")
    assert perf["ci_low"].notna().all() and perf["n_boot_valid"].eq(150).all()
    auroc = boot.query("attribute == ''").set_index("target")["delta"]
    np.testing.assert_allclose(perf.set_index("target")["value"] - tables.performance.query(
        "metric == 'auroc' and condition == 'original' and target != 'macro'").set_index("target")["value"],
        auroc.loc[perf["target"]].to_numpy(), atol=1e-12)


def test_strong_signal_ci_contains_delta_and_excludes_zero(boot):
    auroc = boot.query("attribute == ''")
    assert (auroc["delta"] < -0.1).all()
    assert ((auroc["ci_low"] <= auroc["delta"]) & (auroc["delta"] <= auroc["ci_high"])).all()
    assert (auroc["ci_high"] < 0).all()
    # every resample below 0: the percentile p is at its floor 2 / (B + 1), never 0
    np.testing.assert_allclose(auroc["p_value"], 2 / 151)
    assert (auroc["p_floor"] == auroc["p_value"]).all() and (auroc["test"] == "percentile").all()
    fairness = boot.query("attribute != ''")
    tested = fairness["p_value"].notna()
    assert (fairness.loc[tested, "test"] == "wald-gaps").all() and (fairness.loc[tested, "p_value"] >= 1 / 151).all()
    # small intersection groups fall below min_group_size in some resamples: no CI or p, and why
    untested = fairness.loc[~tested]
    assert len(untested) > 0 and untested["ci_low"].isna().all() and (untested["test"] == "").all()
    assert untested["uncertainty_reason"].str.fullmatch(r"defined in \d+ of 150 resamples \(95 % needed\)").all()
    assert (untested["n_boot_valid"] < 0.95 * 150).all()


def test_same_seed_is_identical_and_seed_matters(samples, boot):
    pd.testing.assert_frame_equal(boot, bootstrap_deltas(samples, settings(bootstrap=150, seed=3)))
    other = bootstrap_deltas(samples, settings(bootstrap=150, seed=4))
    assert not np.allclose(other["se"], boot["se"], equal_nan=True)


@pytest.mark.parametrize("method", ["holm", "bh"])
def test_p_adjusted_over_the_whole_report_family(samples, method):
    table = bootstrap_deltas(samples, settings(bootstrap=150, seed=3, adjust=method, family="report"))
    expected = adjust_p_values(table["p_value"].to_numpy(float), method=method)
    np.testing.assert_array_equal(table["p_adjusted"].to_numpy(float), expected)
    finite = table["p_value"].notna()
    assert (table.loc[finite, "p_adjusted"] >= table.loc[finite, "p_value"]).all()
    assert table["p_value"].isna().eq(table["p_adjusted"].isna()).all()
    assert (table["family"] == "report").all() and (table["family_size"] == finite.sum()).all()
    assert table["significant"].eq(table["p_adjusted"] < 0.05).all()


def test_default_family_is_dataset_task_attribute_metric(samples, boot):
    """Holm within each dataset x task x attribute x metric: recomputed group by group."""
    assert boot["family"].nunique() == 1 + 2 * 4  # AUROC, and 2 attributes x 4 fairness metrics
    for (attribute, metric), part in boot.groupby(["attribute", "metric"]):
        expected = adjust_p_values(part["p_value"].to_numpy(float), method="holm")
        np.testing.assert_array_equal(part["p_adjusted"].to_numpy(float), expected)
        label = "/".join(v for v in ("toy", "classification", attribute, metric) if v)
        assert (part["family"] == label).all() and (part["family_size"] == part["p_value"].notna().sum()).all()
    from scipy.stats import norm
    z = norm.ppf(0.975) + norm.ppf(0.8)
    np.testing.assert_allclose(boot["mdc"], z * boot["se"])
    z_family = norm.ppf(1 - 0.05 / (2 * boot["family_size"])) + norm.ppf(0.8)
    np.testing.assert_allclose(boot["mdc_family"], z_family * boot["se"])


def test_numeric_threshold_matches_evaluate(samples):
    boot = bootstrap_deltas(samples, settings(["sex"], threshold=0.55, bootstrap=100))
    fair = evaluate(samples, attributes=["sex"], threshold=0.55).fairness
    merged = fair.merge(boot, on=["target", "condition", "attribute", "metric"], suffixes=("", "_boot"))
    assert len(merged) == 8
    np.testing.assert_allclose(merged["delta_boot"], merged["delta"], atol=1e-12, rtol=0)


def test_refit_uses_each_conditions_own_threshold(samples):
    attrs = ["sex", "sex×age"]
    boot = bootstrap_deltas(samples, settings(attrs, threshold="refit", bootstrap=100))
    fair = evaluate(samples, attributes=attrs, threshold="refit").fairness
    merged = fair.merge(boot, on=["target", "condition", "attribute", "metric"], suffixes=("", "_boot"))
    assert len(merged) == 16
    np.testing.assert_allclose(merged["delta_boot"], merged["delta"], atol=1e-12, rtol=0)
    fixed = bootstrap_deltas(samples, settings(attrs, bootstrap=100))
    assert not np.allclose(fixed.query("attribute != ''")["estimate"], boot.query("attribute != ''")["estimate"])


def test_missing_samples_are_dropped_and_counted(samples):
    gone = samples["sample_id"].isin(["s100", "s101", "s150"]) & (samples["condition"] == "noisy")
    boot = bootstrap_deltas(samples.loc[~gone], settings(["sex"], bootstrap=100))
    assert (boot["reason"] == "dropped 3 unpaired samples").all()
    n_test = int((samples.query("condition == 'original' and target == 'a'")["split"] == "test").sum())
    assert (boot["n_paired"] == n_test - 3).all()
    # the original estimate is on the paired samples only
    kept = samples.loc[~samples["sample_id"].isin(["s100", "s101", "s150"])]
    reference = bootstrap_deltas(kept, settings(["sex"], bootstrap=100))
    np.testing.assert_allclose(boot["estimate_original"], reference["estimate_original"], atol=1e-12)


def test_patient_fallback_is_sample_id(samples):
    boot = bootstrap_deltas(samples.drop(columns="patient_id"), settings(["sex"], bootstrap=50))
    assert boot["n_boot_valid"].gt(0).all()


def test_global_rng_untouched(samples):
    state = np.random.get_state()[1].copy()
    bootstrap_deltas(samples, settings(["sex"], bootstrap=20))
    np.testing.assert_array_equal(np.random.get_state()[1], state)


def test_errors_name_the_culprit(samples):
    with pytest.raises(ValueError, match="threshold: expected one of.*got 'median'"):
        settings(["sex"], threshold="median")
    with pytest.raises(ValueError, match="adjust: expected one of.*'bonferroni'"):
        settings(["sex"], adjust="bonferroni")
    with pytest.raises(ValueError, match="unknown attribute 'race'"):
        bootstrap_deltas(samples, settings(["race"]))
    with pytest.raises(ValueError, match="needs settings.bootstrap >= 1"):
        bootstrap_deltas(samples, settings(["sex"], bootstrap="auto"))
    flipped = samples.copy()
    row = flipped.index[(flipped["sample_id"] == "s200") & (flipped["condition"] == "noisy")
                        & (flipped["target"] == "b")]
    flipped.loc[row, "y_true"] = 1 - flipped.loc[row, "y_true"]
    with pytest.raises(ValueError, match="condition='noisy'.*sample_id 's200', target 'b': y_true differs"):
        bootstrap_deltas(flipped, settings(["sex"], bootstrap=10))
    no_original = samples.loc[(samples["condition"] != "original") | (samples["split"] == "val")]
    with pytest.raises(ValueError, match="dataset='toy'.*no rows with split == 'test' and condition == 'original'"):
        bootstrap_deltas(no_original, settings(["sex"], bootstrap=10))
    with pytest.raises(ValueError, match=r"boot lacks column\(s\) \['se'"):
        attach_uncertainty(evaluate(samples, attributes=["sex"]), pd.DataFrame(columns=["target", "attribute",
                                                                                        "metric"]))


def test_segmentation_without_reconstruction_gives_empty_table():
    table = pd.DataFrame({"sample_id": ["a", "b"], "split": "test", "dataset": "toy", "task": "segmentation",
                          "target": "mask", "condition": "original", "dice": [0.5, 0.7], "attr_sex": ["F", "M"]})
    boot = bootstrap_deltas(table, settings(["sex"], bootstrap=10))
    assert boot.empty and "p_adjusted" in boot.columns
    tables = attach_uncertainty(evaluate(table, attributes=["sex"], min_group_size=1), boot)
    assert tables.fairness["se"].isna().all()


def _segmentation(n: int = 160, seed: int = 0) -> pd.DataFrame:
    """Segmentation rows, two images per patient; 'noisy' lowers Dice of group F only."""
    rng = np.random.default_rng(seed)
    sex = np.where(np.arange(n) // 2 % 2 == 0, "F", "M")
    dice = rng.uniform(0.6, 0.95, n)
    noisy = np.clip(dice - np.where(sex == "F", 0.25, 0.0) + 0.02 * rng.standard_normal(n), 0, 1)
    return pd.concat([pd.DataFrame({
        "sample_id": [f"m{i}" for i in range(n)], "patient_id": [f"q{i // 2}" for i in range(n)],
        "split": "test", "dataset": "toy", "task": "segmentation", "target": "tumor", "condition": condition,
        "dice": values, "attr_sex": sex, "attr_age": np.where(np.arange(n) // 4 % 2 == 0, "young", "old"),
    }) for condition, values in (("original", dice), ("noisy", noisy))], ignore_index=True)


@pytest.fixture(scope="module")
def mixed() -> pd.DataFrame:
    return pd.concat([_samples(shift=0.2), _segmentation()], ignore_index=True)


def test_segmentation_rows_are_bootstrapped_and_attached(mixed):
    boot = bootstrap_deltas(mixed, settings(bootstrap=200, seed=3, min_group_size=5, family="report"))
    seg = boot.loc[boot["task"] == "segmentation"]
    assert sorted(map(tuple, seg[["attribute", "metric"]].values)) == [
        ("", "dice"), ("sex", "delta_dice"), ("sex", "ser"), ("sex×age", "delta_dice"), ("sex×age", "ser")]
    assert (seg["n_paired"] == 160).all() and (seg["n_boot_valid"] == 200).all()
    tables = attach_uncertainty(evaluate(mixed, attributes=ATTRS, min_group_size=5), boot)
    keys = ["dataset", "task", "target", "condition", "attribute", "metric"]
    fair = tables.fairness.query("task == 'segmentation' and condition == 'noisy'").merge(
        boot, on=keys, suffixes=("", "_boot"))
    assert len(fair) == 4 and fair["se"].notna().all() and fair["p_adjusted"].notna().all()
    np.testing.assert_allclose(fair["delta_boot"], fair["delta"], atol=1e-12, rtol=0)
    np.testing.assert_allclose(fair["estimate_original"], fair["value_original"], atol=1e-12, rtol=0)
    np.testing.assert_allclose(fair["estimate"], fair["value"], atol=1e-12, rtol=0)
    sex = fair.set_index(["attribute", "metric"]).loc["sex"]
    assert (sex["ci_low"] > 0).all()  # planted: noisy lowers Dice of F only -> larger gap and SER
    perf = tables.performance.query("task == 'segmentation' and metric == 'dice'").set_index("condition")
    assert perf.loc["noisy", "ci_high"] < 0 and np.isnan(perf.loc["original", "se"])
    row = boot.query("task == 'segmentation' and metric == 'dice'").iloc[0]
    assert row["estimate"] == pytest.approx(perf.loc["noisy", "value"], abs=1e-12)
    # family "report": p_adjusted over classification and segmentation together
    np.testing.assert_allclose(boot["p_adjusted"], adjust_p_values(boot["p_value"].to_numpy(), method="holm"))
    assert (boot["task"] == "classification").any()
    again = bootstrap_deltas(mixed, settings(bootstrap=200, seed=3, min_group_size=5, family="report"))
    pd.testing.assert_frame_equal(boot, again)
