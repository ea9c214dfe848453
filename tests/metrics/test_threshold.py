"""The equal sensitivity/specificity threshold (DESIGN section 6)."""

from __future__ import annotations

import numpy as np
import pytest

from reconfair.metrics import equal_error_threshold


def _brute_force(y: np.ndarray, score: np.ndarray) -> float:
    """Independent reference: loop over candidates, same tie rules, float rates."""
    best: tuple[float, float, float] | None = None
    for t in sorted(set(score.tolist())):
        predicted = score >= t
        tpr = predicted[y == 1].mean()
        tnr = (~predicted[y == 0]).mean()
        key = (round(abs(tpr - tnr), 12), -round(tpr + tnr, 12), t)
        best = key if best is None or key < best else best
    assert best is not None
    return best[2]


def test_hand_computed_example() -> None:
    # candidates 0.1 (TPR 1, TNR 0), 0.2 (1, .5), 0.3 (.5, .5), 0.4 (.5, 1)
    assert equal_error_threshold([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4]) == 0.3


def test_tie_on_gap_takes_largest_tpr_plus_tnr() -> None:
    # 0.2: TPR .5, TNR 0 (gap .5, sum .5); 0.3: TPR .5, TNR 1 (gap .5, sum 1.5)
    assert equal_error_threshold([1, 0, 1], [0.1, 0.2, 0.3]) == 0.3


def test_full_tie_takes_lowest_threshold() -> None:
    # 0.2: TPR 1, TNR .5; 0.3: TPR .5, TNR 1: same gap, same sum
    assert equal_error_threshold([0, 1, 0, 1], [0.1, 0.2, 0.2, 0.3]) == 0.2


def test_large_random_example_balances_tpr_and_tnr() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(4000) < 0.3).astype(float)
    score = rng.normal(size=4000) + y
    t = equal_error_threshold(y, score)
    tpr = (score[y == 1] >= t).mean()
    tnr = (score[y == 0] < t).mean()
    assert abs(tpr - tnr) < 1 / (y == 1).sum() + 1 / (y == 0).sum()
    assert t == _brute_force(y, score)


def test_matches_brute_force_with_ties() -> None:
    rng = np.random.default_rng(1)
    for trial in range(20):
        y = rng.integers(0, 2, 40).astype(float)
        y[:2] = [0, 1]
        score = np.round(rng.random(40), 1)
        assert equal_error_threshold(y, score) == _brute_force(y, score), trial


def test_fitted_only_on_given_labelled_data() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 200).astype(float)
    score = rng.random(200) + 0.5 * y
    t = equal_error_threshold(y, score)
    assert t in set(score.tolist())
    order = rng.permutation(200)
    assert equal_error_threshold(y[order], score[order]) == t
    # unlabelled samples do not move the threshold, whatever their scores
    y_more = np.concatenate([y, np.full(50, np.nan)])
    score_more = np.concatenate([score, np.full(50, 10.0)])
    assert equal_error_threshold(y_more, score_more) == t


def test_missing_class_raises_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="no positive labels"):
        equal_error_threshold([0, 0, np.nan], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="no negative labels"):
        equal_error_threshold([1, 1], [0.1, 0.2])
