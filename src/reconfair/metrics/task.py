"""Task metrics: AUROC for classification scores, Dice for segmentation masks.

:func:`auroc` is the Mann-Whitney statistic with mid-ranks for ties (equal to
the trapezoidal area under the ROC curve, as scikit-learn's
``roc_auc_score``), computed with one sort.  :func:`grouped_auroc` is the same
computation for every group of a partition at once; :func:`auroc` is its
one-group case, and the by-group frame (:mod:`reconfair.metrics.groups`) uses
it, so there is a single AUROC implementation in the package.

Labels are floats 1.0, 0.0 or NaN; NaN (e.g. a CheXpert "uncertain" label) is
ignored, never guessed.

Examples
--------
>>> float(auroc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]))
0.75
>>> dice(binarize([[0.9, 0.2]]), [[1, 0]]).tolist()
[1.0]
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["auroc", "grouped_auroc", "dice", "binarize", "as_labels", "as_scores"]


def as_labels(y_true: ArrayLike, *, name: str = "y_true") -> np.ndarray:
    """Return binary labels as a 1-D float64 array of 0.0, 1.0 and NaN.

    Raises ``ValueError`` for any other value, naming how many are wrong.

    >>> as_labels([1, 0, float("nan")]).tolist()
    [1.0, 0.0, nan]
    """
    labels = np.asarray(y_true, dtype=np.float64).reshape(-1)
    bad = ~(np.isnan(labels) | (labels == 0.0) | (labels == 1.0))
    if bad.any():
        examples = np.unique(labels[bad])[:5].tolist()
        raise ValueError(
            f"{name} must hold 0, 1 or NaN (unknown); got {int(bad.sum())} other values, "
            f"e.g. {examples}"
        )
    return labels


def as_scores(y_score: ArrayLike, labelled: np.ndarray, *, name: str = "y_score") -> np.ndarray:
    """1-D float64 scores; must be finite wherever the label is known.

    >>> as_scores([0.2, float("nan")], np.array([True, False])).tolist()
    [0.2, nan]
    """
    scores = np.asarray(y_score, dtype=np.float64).reshape(-1)
    if scores.shape != labelled.shape:
        raise ValueError(
            f"{name} has {scores.size} values but y_true has {labelled.size}; "
            "pass one score per label"
        )
    bad = labelled & ~np.isfinite(scores)
    if bad.any():
        raise ValueError(
            f"{name} has {int(bad.sum())} non-finite values where the label is known; "
            "every labelled sample needs a finite score"
        )
    return scores


def _as_weights(sample_weight: ArrayLike | None, n: int) -> np.ndarray:
    if sample_weight is None:
        return np.ones(n, dtype=np.float64)
    weights = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
    if weights.size != n:
        raise ValueError(f"sample_weight has {weights.size} values but y_true has {n}")
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise ValueError("sample_weight must be finite and non-negative")
    return weights


def grouped_auroc(
    y_true: ArrayLike,
    y_score: ArrayLike,
    codes: ArrayLike,
    n_groups: int,
    *,
    sample_weight: ArrayLike | None = None,
) -> np.ndarray:
    """AUROC of every group of a partition, with one sort for all groups.

    Parameters
    ----------
    y_true : array_like
        Labels 0, 1 or NaN (NaN rows are ignored).
    y_score : array_like
        Scores; higher means more likely positive.  Ties count one half.
    codes : array_like of int
        Group index of each sample, in ``range(n_groups)``.
    n_groups : int
        Number of groups (groups without samples get NaN).
    sample_weight : array_like, optional
        Non-negative weight per sample (e.g. bootstrap multiplicities).

    Returns
    -------
    numpy.ndarray
        Shape ``n_groups``, float64; NaN for a group whose labelled samples do
        not include both classes (with positive weight).

    Examples
    --------
    >>> grouped_auroc([0, 1, 0, 1, 1], [0.2, 0.9, 0.5, 0.1, 0.7], [0, 0, 1, 1, 1], 2).tolist()
    [1.0, 0.5]
    """
    labels = as_labels(y_true)
    labelled = ~np.isnan(labels)
    scores = as_scores(y_score, labelled)
    group = np.asarray(codes).reshape(-1).astype(np.int64)
    if group.shape != labels.shape:
        raise ValueError(f"codes has {group.size} values but y_true has {labels.size}")
    if group.size and (group.min() < 0 or group.max() >= n_groups):
        raise ValueError(f"codes must lie in range(n_groups={n_groups}), got {group.min()}..{group.max()}")
    weights = _as_weights(sample_weight, labels.size)
    labels, scores, group, weights = (a[labelled] for a in (labels, scores, group, weights))
    result = np.full(n_groups, np.nan)
    if labels.size == 0:
        return result
    order = np.lexsort((scores, group))  # by group, then score: the one sort
    labels, scores, group, weights = (a[order] for a in (labels, scores, group, weights))
    pos = weights * labels
    neg = weights - pos
    # Blocks of tied (group, score): mid-ranks give ties half credit.
    new_block = np.ones(labels.size, dtype=bool)
    new_block[1:] = (group[1:] != group[:-1]) | (scores[1:] != scores[:-1])
    starts = np.flatnonzero(new_block)
    block_pos = np.add.reduceat(pos, starts)
    block_neg = np.add.reduceat(neg, starts)
    block_group = group[starts]
    neg_before = np.cumsum(block_neg) - block_neg  # negatives in earlier blocks, all groups
    first_block = np.searchsorted(block_group, block_group, side="left")
    neg_below = neg_before - neg_before[first_block]  # ... within the block's own group
    wins = np.bincount(block_group, block_pos * (neg_below + 0.5 * block_neg), minlength=n_groups)
    total_pos = np.bincount(group, pos, minlength=n_groups)
    total_neg = np.bincount(group, neg, minlength=n_groups)
    defined = (total_pos > 0) & (total_neg > 0)
    result[defined] = wins[defined] / (total_pos[defined] * total_neg[defined])
    return result


def auroc(y_true: ArrayLike, y_score: ArrayLike, *, sample_weight: ArrayLike | None = None) -> float:
    """Area under the ROC curve (Mann-Whitney U with mid-ranks for ties).

    Parameters
    ----------
    y_true : array_like
        Labels 0, 1 or NaN; NaN labels (unknown, e.g. CheXpert "uncertain") are
        ignored together with their scores and weights.
    y_score : array_like
        Scores, finite wherever the label is known; higher = more likely positive.
    sample_weight : array_like, optional
        Non-negative weight per sample.

    Returns
    -------
    float
        The AUROC, equal to ``sklearn.metrics.roc_auc_score``.  NaN (never an
        exception) when the labelled samples hold only one class, since AUROC
        is undefined there.

    Examples
    --------
    >>> auroc([0, 1, 1, float("nan")], [0.3, 0.3, 0.9, 0.0])
    0.75
    >>> auroc([1, 1], [0.2, 0.4])
    nan
    """
    labels = as_labels(y_true)
    codes = np.zeros(labels.size, dtype=np.int64)
    return float(grouped_auroc(labels, y_score, codes, 1, sample_weight=sample_weight)[0])


def binarize(soft: ArrayLike | Any, threshold: float = 0.5) -> np.ndarray:
    """Binarise a soft prediction: positive where ``soft >= threshold``.

    This is the package's one decision rule (scores at the threshold are
    positive).  Torch tensors on the CPU are accepted.

    >>> binarize([0.2, 0.5, 0.7]).tolist()
    [False, True, True]
    """
    values = np.asarray(soft, dtype=np.float64)
    if np.isnan(values).any():
        raise ValueError(f"cannot binarise: {int(np.isnan(values).sum())} values are NaN")
    return values >= threshold


def _as_mask(mask: ArrayLike | Any, name: str) -> np.ndarray:
    values = np.asarray(mask)
    if values.dtype == bool:
        return values
    binary = (values == 0) | (values == 1)
    if not np.all(binary):
        raise ValueError(
            f"{name} must be a binary mask (bool, or 0/1 values); binarise soft "
            "predictions first with reconfair.metrics.binarize"
        )
    return values.astype(bool)


def dice(pred: ArrayLike | Any, truth: ArrayLike | Any) -> np.ndarray:
    """Dice coefficient per sample, ``2|P & T| / (|P| + |T|)``.

    Parameters
    ----------
    pred, truth : array_like
        Binary masks (bool or 0/1) shaped ``B x ...`` (the first axis indexes
        samples).  Soft predictions must be binarised first (:func:`binarize`).

    Returns
    -------
    numpy.ndarray
        Shape ``B``, float64, never NaN.  Conventions for empty masks: empty
        truth and empty prediction -> 1 (correctly found nothing); empty truth
        with a non-empty prediction -> 0 (docs/statistics.md).

    Examples
    --------
    >>> dice([[1, 1, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0]],
    ...      [[1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]).tolist()
    [0.6666666666666666, 1.0, 0.0]
    """
    p = _as_mask(pred, "pred")
    t = _as_mask(truth, "truth")
    if p.shape != t.shape:
        raise ValueError(f"pred has shape {p.shape} but truth has shape {t.shape}; they must be equal")
    if p.ndim < 2:
        raise ValueError(
            f"expected masks shaped B x ... with a leading sample axis, got shape {p.shape}"
        )
    p = p.reshape(p.shape[0], -1)
    t = t.reshape(t.shape[0], -1)
    overlap = (p & t).sum(axis=1).astype(np.float64)
    size = (p.sum(axis=1) + t.sum(axis=1)).astype(np.float64)
    both_empty = size == 0
    return np.where(both_empty, 1.0, 2.0 * overlap / np.where(both_empty, 1.0, size))
