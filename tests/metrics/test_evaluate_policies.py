"""Threshold policies and intersectional attributes of evaluate()."""

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, equal_opportunity_difference, false_positive_rate, true_positive_rate

from reconfair.metrics.evaluate import evaluate
from reconfair.metrics.threshold import equal_error_threshold


def _table(seed: int = 0, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n).astype(float)
    sex = rng.choice(["F", "M"], n)
    age = rng.choice(["<60", ">=60"], n)
    split = np.where(np.arange(n) < n // 2, "val", "test")
    clean = np.clip(0.5 * y + rng.normal(0.25, 0.2, n), 0, 1)
    noisy = np.clip(clean + 0.3 + rng.normal(0, 0.1, n), 0, 1)  # shifted scores: refit moves the threshold
    frames = []
    for condition, score in (("original", clean), ("noisy", noisy)):
        frames.append(pd.DataFrame({
            "sample_id": [f"s{i}" for i in range(n)], "split": split, "dataset": "toy",
            "task": "classification", "target": "finding", "condition": condition,
            "y_true": y, "y_score": score, "attr_sex": sex, "attr_age_group": age,
        }))
    return pd.concat(frames, ignore_index=True)


def _thresholds(tables) -> dict:
    perf = tables.performance.query("metric == 'auroc' and target == 'finding'")
    return dict(zip(perf["condition"], perf["threshold"]))


def test_fixed_validation_threshold_is_fitted_on_original_val_rows():
    table = _table()
    val = table.query("split == 'val' and condition == 'original'")
    expected = equal_error_threshold(val["y_true"], val["y_score"])
    assert _thresholds(evaluate(table, attributes=["sex"])) == {"noisy": expected, "original": expected}


def test_refit_uses_each_conditions_own_validation_rows():
    table = _table()
    got = _thresholds(evaluate(table, attributes=["sex"], threshold="refit"))
    for condition in ("original", "noisy"):
        val = table.query("split == 'val' and condition == @condition")
        assert got[condition] == equal_error_threshold(val["y_true"], val["y_score"])
    assert got["noisy"] != got["original"]


def test_numeric_threshold_is_used_everywhere_and_rates_follow_it():
    table = _table()
    tables = evaluate(table, attributes=["sex"], threshold=0.6)
    assert set(_thresholds(tables).values()) == {0.6}
    test = table.query("split == 'test' and condition == 'noisy'")
    groups = tables.groups.query("condition == 'noisy'").set_index("group")
    for sex, part in test.groupby("attr_sex"):
        positives = part[part["y_true"] == 1]
        assert groups.loc[sex, "tpr"] == pytest.approx((positives["y_score"] >= 0.6).mean(), abs=1e-12)


@pytest.mark.parametrize("bad", ["fixed", -0.1, 1.5, True])
def test_bad_threshold_policy_is_named(bad):
    with pytest.raises(ValueError, match="threshold: expected one of"):
        evaluate(_table(), attributes=["sex"], threshold=bad)


@pytest.mark.parametrize("spelling", ["sex×age_group", "sex*age_group", "attr_sex * attr_age_group"])
def test_intersection_matches_fairlearn_with_two_sensitive_features(spelling):
    table = _table(seed=1)
    tables = evaluate(table, attributes=[spelling], min_group_size=1)
    threshold = _thresholds(tables)["original"]
    test = table.query("split == 'test' and condition == 'noisy'")
    y_pred = (test["y_score"] >= threshold).astype(int)
    features = test[["attr_sex", "attr_age_group"]]
    frame = MetricFrame(metrics={"tpr": true_positive_rate, "fpr": false_positive_rate},
                        y_true=test["y_true"].astype(int), y_pred=y_pred, sensitive_features=features)
    groups = tables.groups.query("condition == 'noisy'").set_index("group")
    assert set(groups["attribute"]) == {"sex×age_group"}
    assert len(groups) == 4
    for (sex, age), row in frame.by_group.iterrows():
        assert groups.loc[f"{sex}×{age}", "tpr"] == pytest.approx(row["tpr"], abs=1e-12)
        assert groups.loc[f"{sex}×{age}", "fpr"] == pytest.approx(row["fpr"], abs=1e-12)
    eop = tables.fairness.query("condition == 'noisy' and metric == 'eop'")["value"].item()
    expected = equal_opportunity_difference(test["y_true"].astype(int), y_pred, sensitive_features=features)
    assert eop == pytest.approx(expected, abs=1e-12)


def test_unknown_attribute_in_an_intersection_is_named():
    with pytest.raises(ValueError, match="unknown attribute 'income' in 'sex×income'"):
        evaluate(_table(), attributes=["sex×income"])
