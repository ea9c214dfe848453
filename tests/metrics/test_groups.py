"""The by-group frame against fairlearn's MetricFrame and hand counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate
from sklearn.metrics import roc_auc_score

from reconfair.metrics import classification_groups, group_codes, segmentation_groups


def _data(n_groups: int, n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    groups = np.array([f"g{i}" for i in rng.integers(0, n_groups, n)], dtype=object)
    y = rng.integers(0, 2, n).astype(float)
    score = np.round(rng.random(n) * 0.7 + 0.3 * y, 2)
    return y, score, groups


@pytest.mark.parametrize("n_groups", [2, 3, 4])
def test_rates_match_fairlearn(n_groups: int) -> None:
    y, score, groups = _data(n_groups, seed=n_groups)
    threshold = 0.5
    frame = classification_groups(y, score, groups, threshold=threshold).set_index("group")
    y_pred = (score >= threshold).astype(int)
    reference = MetricFrame(
        metrics={"tpr": true_positive_rate, "fpr": false_positive_rate, "selection_rate": selection_rate},
        y_true=y.astype(int), y_pred=y_pred, sensitive_features=groups,
    ).by_group
    assert list(frame.index) == sorted(reference.index)
    for rate in ("tpr", "fpr", "selection_rate"):
        np.testing.assert_allclose(frame[rate], reference.loc[frame.index, rate], rtol=0, atol=1e-12)
    for group in frame.index:
        member = groups == group
        assert frame.loc[group, "auroc"] == pytest.approx(roc_auc_score(y[member], score[member]), abs=1e-12)
    assert (frame[["tpr_reason", "fpr_reason", "selection_rate_reason", "auroc_reason"]] == "").all().all()


def test_hand_counts_and_threshold_rule() -> None:
    y = [1, 1, 0, 0, 1, 0]
    score = [0.5, 0.2, 0.5, 0.1, 0.9, 0.7]  # 0.5 is exactly the threshold: positive
    frame = classification_groups(y, score, ["A", "A", "A", "A", "B", "B"], threshold=0.5)
    a = frame.iloc[0]
    assert (a["group"], a["n"], a["n_pos"], a["n_neg"]) == ("A", 4, 2, 2)
    assert (a["tp"], a["fp"], a["tn"], a["fn"]) == (1, 1, 1, 1)
    assert (a["tpr"], a["fpr"], a["selection_rate"]) == (0.5, 0.5, 0.5)
    b = frame.iloc[1]
    assert (b["tp"], b["fp"], b["tn"], b["fn"]) == (1, 1, 0, 0)


def test_nan_labels_are_dropped_and_counted() -> None:
    y = [1, np.nan, 0, np.nan, 1, 0]
    score = [0.9, np.nan, 0.2, 0.99, 0.8, 0.6]
    frame = classification_groups(y, score, ["a", "a", "a", "b", "b", "b"], threshold=0.5)
    assert frame["n_unlabelled"].tolist() == [1, 1]
    assert frame["n"].tolist() == [2, 2]
    assert frame["selection_rate"].tolist() == [0.5, 1.0]  # the unlabelled 0.99 is not counted


def test_group_without_positives_gets_nan_with_reason() -> None:
    y = [1, 0, 1, 0, 0, 0]
    score = [0.9, 0.1, 0.2, 0.3, 0.8, 0.1]
    frame = classification_groups(y, score, ["a", "a", "a", "b", "b", "b"], threshold=0.5).set_index("group")
    assert np.isnan(frame.loc["b", "tpr"]) and frame.loc["b", "tpr_reason"] == "no positive samples"
    assert frame.loc["b", "fpr"] == pytest.approx(1 / 3) and frame.loc["b", "fpr_reason"] == ""
    assert np.isnan(frame.loc["b", "auroc"]) and frame.loc["b", "auroc_reason"].startswith("only one class")
    assert frame.loc["b", "tp"] == 0 and frame.loc["b", "fn"] == 0  # counts still reported


def test_small_group_is_excluded_from_every_rate() -> None:
    y, score, groups = _data(2)
    groups = groups.copy()
    groups[:3] = "tiny"
    groups[3:] = np.where(groups[3:] == "tiny", "g0", groups[3:])
    frame = classification_groups(y, score, groups, threshold=0.5, min_group_size=10).set_index("group")
    n_pos = int(y[:3].sum())
    expected = {"tpr": f"n_pos={n_pos} < min_group_size=10" if n_pos else "no positive samples",
                "fpr": f"n_neg={3 - n_pos} < min_group_size=10" if n_pos < 3 else "no negative samples",
                "selection_rate": "n=3 < min_group_size=10"}
    for rate in ("tpr", "fpr", "selection_rate", "auroc"):
        assert np.isnan(frame.loc["tiny", rate])
        assert not np.isnan(frame.loc["g0", rate])
    for rate, reason in expected.items():
        assert frame.loc["tiny", f"{rate}_reason"] == reason
    assert frame.loc["tiny", "n"] == 3


def test_rates_need_class_members_counted_separately() -> None:
    """30 samples but 4 positives: no TPR (nor AUROC), yet FPR and the selection rate."""
    y = np.r_[np.ones(4), np.zeros(26), np.tile([1.0, 0.0], 20)]
    score = np.r_[np.full(4, 0.9), np.full(26, 0.1), np.tile([0.8, 0.3], 20)]
    groups = np.r_[np.full(30, "few_pos"), np.full(40, "other")]
    frame = classification_groups(y, score, groups, threshold=0.5, min_group_size=10).set_index("group")
    row = frame.loc["few_pos"]
    assert (row["n"], row["n_pos"], row["n_neg"]) == (30, 4, 26)
    assert np.isnan(row["tpr"]) and row["tpr_reason"] == "n_pos=4 < min_group_size=10"
    assert row["fpr"] == 0.0 and row["fpr_reason"] == ""
    assert row["selection_rate"] == pytest.approx(4 / 30) and row["selection_rate_reason"] == ""
    assert np.isnan(row["auroc"]) and row["auroc_reason"] == "n_pos=4 < min_group_size=10"
    assert (frame.loc["other", ["tpr", "fpr"]] == [1.0, 0.0]).all()


def test_all_unlabelled_group() -> None:
    frame = classification_groups([1, 0, np.nan], [0.6, 0.4, 0.5], ["a", "a", "b"], threshold=0.5)
    row = frame.set_index("group").loc["b"]
    assert row["n"] == 0 and row["n_unlabelled"] == 1
    assert np.isnan(row["selection_rate"]) and row["selection_rate_reason"] == "no labelled samples"


def test_groups_are_sorted_strings_and_missing_values_raise() -> None:
    values, codes = group_codes(np.array(["z", "a", "m", "a"], dtype=object))
    assert values.tolist() == ["a", "m", "z"] and codes.tolist() == [2, 0, 1, 0]
    assert group_codes(pd.Series([30, 4]))[0].tolist() == ["30", "4"]
    with pytest.raises(ValueError, match="missing values"):
        classification_groups([1, 0], [0.5, 0.5], ["a", None], threshold=0.5)
    with pytest.raises(ValueError, match="min_group_size"):
        classification_groups([1, 0], [0.5, 0.5], ["a", "b"], threshold=0.5, min_group_size=0)


def test_segmentation_groups_by_hand() -> None:
    frame = segmentation_groups([0.9, 0.7, 0.2, 1.0, 0.5], ["F", "F", "M", "M", "X"], min_group_size=2)
    assert frame["group"].tolist() == ["F", "M", "X"]
    assert frame["n"].tolist() == [2, 2, 1]
    assert frame["dice_mean"].tolist()[:2] == [pytest.approx(0.8), pytest.approx(0.6)]
    assert np.isnan(frame["dice_mean"].iloc[2])
    assert frame["dice_mean_reason"].tolist() == ["", "", "n=1 < min_group_size=2"]
    with pytest.raises(ValueError, match="non-finite"):
        segmentation_groups([np.nan], ["F"])
