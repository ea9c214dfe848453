"""AUROC against scikit-learn; Dice by hand and its empty-mask conventions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from reconfair.metrics import auroc, binarize, dice, grouped_auroc


@pytest.mark.parametrize("decimals", [None, 1, 0])  # continuous, heavy ties, two values only
def test_auroc_matches_sklearn(decimals: int | None) -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500).astype(float)
    score = rng.random(500) + 0.3 * y
    if decimals is not None:
        score = np.round(score, decimals)
    assert auroc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)


def test_auroc_with_sample_weights_matches_sklearn() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300).astype(float)
    score = np.round(rng.random(300) + 0.2 * y, 1)
    for weights in (rng.random(300), rng.integers(0, 4, 300).astype(float)):
        expected = roc_auc_score(y, score, sample_weight=weights)
        assert auroc(y, score, sample_weight=weights) == pytest.approx(expected, abs=1e-12)


def test_auroc_ignores_nan_labels() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 200).astype(float)
    score = rng.random(200)
    y[::7] = np.nan
    score[::7] = np.nan  # the score of an unlabelled sample is never read
    known = ~np.isnan(y)
    assert auroc(y, score) == pytest.approx(roc_auc_score(y[known], score[known]), abs=1e-12)


def test_auroc_is_nan_for_one_class() -> None:
    assert np.isnan(auroc([1, 1, 1], [0.1, 0.5, 0.9]))
    assert np.isnan(auroc([0, np.nan], [0.1, 0.5]))
    assert np.isnan(auroc([np.nan, np.nan], [0.1, 0.5]))
    assert np.isnan(auroc([1, 0], [0.1, 0.5], sample_weight=[1.0, 0.0]))


def test_auroc_properties() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 100).astype(float)
    score = np.round(rng.random(100), 2)
    value = auroc(y, score)
    assert auroc(y, np.exp(3 * score)) == pytest.approx(value, abs=1e-12)  # rank-based
    assert auroc(1 - y, score) == pytest.approx(1 - value, abs=1e-12)
    order = rng.permutation(100)
    assert auroc(y[order], score[order]) == pytest.approx(value, abs=1e-12)
    assert auroc([0, 1], [0.5, 0.5]) == 0.5


def test_auroc_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="0, 1 or NaN"):
        auroc([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="non-finite"):
        auroc([0, 1], [0.1, np.nan])
    with pytest.raises(ValueError, match="non-negative"):
        auroc([0, 1], [0.1, 0.2], sample_weight=[1.0, -1.0])


def test_grouped_auroc_equals_auroc_per_group() -> None:
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 400).astype(float)
    score = np.round(rng.random(400), 1)
    codes = rng.integers(0, 4, 400)
    weights = rng.random(400)
    ours = grouped_auroc(y, score, codes, 5, sample_weight=weights)
    for g in range(4):
        member = codes == g
        expected = roc_auc_score(y[member], score[member], sample_weight=weights[member])
        assert ours[g] == pytest.approx(expected, abs=1e-12)
    assert np.isnan(ours[4])  # a group without samples
    with pytest.raises(ValueError, match="range"):
        grouped_auroc(y, score, codes, 3)


def test_dice_hand_computed() -> None:
    pred = np.array([[[1, 1], [0, 0]], [[1, 1], [1, 1]], [[1, 0], [0, 0]]])
    truth = np.array([[[1, 0], [0, 0]], [[1, 1], [0, 0]], [[0, 1], [0, 0]]])
    # 2*1/(2+1), 2*2/(4+2), 0/(1+1)
    np.testing.assert_allclose(dice(pred, truth), [2 / 3, 4 / 6, 0.0], rtol=0, atol=1e-15)


def test_dice_empty_conventions() -> None:
    empty = np.zeros((1, 3, 3), dtype=bool)
    some = empty.copy()
    some[0, 1, 1] = True
    assert dice(empty, empty).tolist() == [1.0]  # empty and empty: nothing to find, found nothing
    assert dice(some, empty).tolist() == [0.0]  # empty truth, non-empty prediction
    assert dice(empty, some).tolist() == [0.0]  # missed the whole lesion


def test_dice_accepts_torch_and_rejects_soft_masks() -> None:
    pred = torch.tensor([[1, 0, 1]], dtype=torch.bool)
    truth = torch.tensor([[1, 1, 1]])
    assert dice(pred, truth).tolist() == [pytest.approx(0.8)]
    with pytest.raises(ValueError, match="binarize"):
        dice(np.array([[0.7, 0.2]]), np.array([[1, 0]]))
    with pytest.raises(ValueError, match="shape"):
        dice(np.ones((2, 3)), np.ones((2, 4)))


def test_binarize_uses_greater_or_equal() -> None:
    assert binarize([0.49, 0.5, 0.51]).tolist() == [False, True, True]
    assert binarize(np.array([0.2, 0.3]), threshold=0.3).tolist() == [False, True]
    with pytest.raises(ValueError, match="NaN"):
        binarize([np.nan])
