"""Fairness scalars against fairlearn and by hand; exclusions are recorded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    equal_opportunity_difference,
    equalized_odds_difference,
    false_positive_rate,
    true_positive_rate,
)
from sklearn.metrics import roc_auc_score

from reconfair.metrics import (
    FairnessResult,
    auroc_gap,
    classification_groups,
    delta_dice,
    dp,
    eodd,
    eodd_max,
    eop,
    segmentation_groups,
    ser,
    worst_group_auroc,
)


def _data(n_groups: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    groups = np.array([f"g{i}" for i in rng.integers(0, n_groups, 800)], dtype=object)
    shift = np.array([0.1 * int(g[1:]) for g in groups])
    y = (rng.random(800) < 0.4 + shift / 2).astype(float)
    score = np.clip(rng.normal(0.4 + 0.25 * y + shift / 3, 0.2), 0, 1)
    return y, score, groups


@pytest.mark.parametrize("n_groups", [2, 3, 4])
def test_matches_fairlearn(n_groups: int) -> None:
    y, score, groups = _data(n_groups, seed=n_groups)
    frame = classification_groups(y, score, groups, threshold=0.5)
    y_true, y_pred = y.astype(int), (score >= 0.5).astype(int)
    kw = {"sensitive_features": groups}
    assert eodd_max(frame).value == pytest.approx(equalized_odds_difference(y_true, y_pred, **kw), abs=1e-12)
    assert eop(frame).value == pytest.approx(equal_opportunity_difference(y_true, y_pred, **kw), abs=1e-12)
    assert dp(frame).value == pytest.approx(demographic_parity_difference(y_true, y_pred, **kw), abs=1e-12)
    mf = MetricFrame(metrics={"tpr": true_positive_rate, "fpr": false_positive_rate},
                     y_true=y_true, y_pred=y_pred, sensitive_features=groups)
    diff = mf.difference()
    assert eodd(frame).value == pytest.approx(0.5 * (diff["tpr"] + diff["fpr"]), abs=1e-12)
    aucs = [roc_auc_score(y[groups == g], score[groups == g]) for g in sorted(set(groups))]
    assert auroc_gap(frame).value == pytest.approx(max(aucs) - min(aucs), abs=1e-12)
    assert worst_group_auroc(frame).value == pytest.approx(min(aucs), abs=1e-12)
    for metric in (eodd, eodd_max, eop, dp, auroc_gap, worst_group_auroc):
        result = metric(frame)
        assert isinstance(result, FairnessResult)
        assert (result.n_groups, result.excluded, result.reason) == (n_groups, (), "")


def _frame(tpr: list[float], fpr: list[float], reasons: list[str] | None = None) -> pd.DataFrame:
    reasons = reasons or [""] * len(tpr)
    return pd.DataFrame({"group": [f"g{i}" for i in range(len(tpr))], "tpr": tpr, "fpr": fpr,
                         "tpr_reason": reasons, "fpr_reason": [""] * len(tpr)})


def test_eodd_by_hand() -> None:
    frame = _frame([0.9, 0.5, 0.7], [0.2, 0.1, 0.4])
    assert eodd(frame).value == pytest.approx(0.5 * (0.4 + 0.3), abs=1e-15)
    assert eodd_max(frame).value == pytest.approx(0.4, abs=1e-15)
    assert eop(frame).value == pytest.approx(0.4, abs=1e-15)


def test_group_without_positives_is_excluded_and_recorded() -> None:
    y = np.array([1, 0, 1, 0, 1, 0, 0, 0, 0])
    score = np.array([0.9, 0.1, 0.4, 0.6, 0.8, 0.2, 0.7, 0.3, 0.1])
    groups = np.array(["a", "a", "b", "b", "c", "c", "d", "d", "d"])
    frame = classification_groups(y, score, groups, threshold=0.5)
    result = eop(frame)
    assert result.excluded == ("d: no positive samples",)
    assert result.n_groups == 3 and result.value == pytest.approx(1.0)  # a, c: 1; b: 0
    assert eodd(frame).excluded == ("d: no positive samples",)  # same groups for both terms
    assert dp(frame).n_groups == 4 and dp(frame).excluded == ()  # selection rate needs no class
    assert (frame["fpr_reason"] == "").all()  # d has negatives: only TPR-based metrics drop it


def test_small_group_exclusion_and_fewer_than_two_groups() -> None:
    y, score, groups = _data(2, seed=9)
    groups = groups.copy()
    groups[:5] = "tiny"
    frame = classification_groups(y, score, groups, threshold=0.5, min_group_size=10)
    result = eodd(frame)
    n_pos = int(y[:5].sum())
    assert 0 < n_pos < 5  # the tiny group has both classes, each below 10
    assert result.excluded == (f"tiny: n_pos={n_pos} < min_group_size=10, n_neg={5 - n_pos} < min_group_size=10",)
    assert result.n_groups == 2 and np.isfinite(result.value)
    assert dp(frame).excluded == ("tiny: n=5 < min_group_size=10",)
    big = np.where(np.arange(40) < 30, "big", "small")
    y_one, s_one = np.r_[np.tile([1.0, 0.0], 15), np.tile([1.0, 0.0], 5)], np.linspace(0, 1, 40)
    only_one = classification_groups(y_one, s_one, big, threshold=0.5, min_group_size=10)
    for metric in (eodd, eodd_max, eop, auroc_gap, worst_group_auroc):  # each needs >= 10 positives
        result = metric(only_one)
        assert np.isnan(result.value) and result.n_groups == 1, metric
        assert result.reason.startswith("fewer than 2 groups")
    assert eop(only_one).excluded == ("small: n_pos=5 < min_group_size=10",)
    assert dp(only_one).n_groups == 2  # 10 samples suffice for a selection rate


def test_delta_dice_and_ser_by_hand() -> None:
    frame = segmentation_groups([0.9, 0.7, 0.6, 0.4, 0.8], ["F", "F", "M", "M", "X"])
    # means F 0.8, M 0.5, X 0.8
    assert delta_dice(frame).value == pytest.approx(0.3, abs=1e-12)
    assert ser(frame).value == pytest.approx((1 - 0.5) / (1 - 0.8), abs=1e-12)
    assert ser(frame).n_groups == 3


def test_ser_edge_cases() -> None:
    perfect = segmentation_groups([1.0, 1.0, 0.5], ["a", "b", "b"])  # max mean Dice 1
    assert ser(perfect).value == float("inf")
    all_perfect = segmentation_groups([1.0, 1.0], ["a", "b"])
    assert ser(all_perfect).value == 1.0 and delta_dice(all_perfect).value == 0.0
    small = segmentation_groups([0.5, 0.6, 0.7], ["a", "a", "b"], min_group_size=2)
    assert np.isnan(ser(small).value) and ser(small).excluded == ("b: n=1 < min_group_size=2",)


def test_wrong_frame_is_an_error() -> None:
    frame = segmentation_groups([0.5, 0.6], ["a", "b"])
    with pytest.raises(ValueError, match="tpr"):
        eodd(frame)
    with pytest.raises(ValueError, match="dice_mean"):
        ser(classification_groups([1, 0], [0.6, 0.2], ["a", "b"], threshold=0.5))
