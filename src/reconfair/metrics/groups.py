"""The one by-group frame: counts and rates per group of one attribute.

Every per-group number in the package comes from here:
fairness scalars (:mod:`reconfair.metrics.fairness`) are thin wrappers that read
this frame.  A rate that cannot be computed is NaN and its ``<rate>_reason``
column says why; a computable rate has reason ``""``.

A rate needs class members: TPR is defined with at least ``min_group_size``
positives, FPR with at least ``min_group_size`` negatives (counted
separately), the selection rate with at least ``min_group_size`` labelled
samples, a group's AUROC with at least ``min_group_size`` of each class.
Reasons, checked in this order:

- ``"no labelled samples"`` (every label of the group is NaN);
- ``"no positive samples"`` (TPR) / ``"no negative samples"`` (FPR);
- ``"n_pos=4 < min_group_size=10"`` (TPR) / ``"n_neg=3 < min_group_size=10"`` (FPR);
- ``"n=3 < min_group_size=10"`` (selection rate);
- ``"only one class (n_pos=0, n_neg=12)"``, or the class counts as for the
  rates (AUROC).

Rows are sorted by group value (strings), so the frame is deterministic.

Examples
--------
>>> frame = classification_groups([1, 0, 1, 0, 0], [0.9, 0.2, 0.3, 0.6, 0.1],
...                               ["F", "F", "M", "M", "M"], threshold=0.5)
>>> frame[["group", "n", "tp", "fp", "tpr", "fpr"]].to_dict("list")
{'group': ['F', 'M'], 'n': [2, 3], 'tp': [1, 0], 'fp': [0, 1], 'tpr': [1.0, 0.0], 'fpr': [0.0, 0.5]}
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from reconfair.metrics.task import as_scores, as_labels, grouped_auroc

__all__ = [
    "classification_groups",
    "segmentation_groups",
    "group_codes",
    "CLASSIFICATION_RATES",
    "SEGMENTATION_RATES",
]

CLASSIFICATION_RATES = ("tpr", "fpr", "selection_rate", "auroc")
"""Rates of :func:`classification_groups`; each has a ``<rate>_reason`` column."""
SEGMENTATION_RATES = ("dice_mean",)
"""Rates of :func:`segmentation_groups`; each has a ``<rate>_reason`` column."""


def group_codes(groups: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct group values (as strings) and each sample's index into them.

    Missing values (None/NaN) are an error: map them to an explicit string such
    as ``"unknown"`` in the data loader if they are meant as a group.

    >>> values, codes = group_codes(["M", "F", "M"])
    >>> values.tolist(), codes.tolist()
    (['F', 'M'], [1, 0, 1])
    """
    series = pd.Series(np.asarray(groups, dtype=object).reshape(-1), dtype=object)
    missing = series.isna()
    if missing.any():
        raise ValueError(
            f"groups has {int(missing.sum())} missing values (None/NaN); map them to an "
            "explicit group such as 'unknown' in the data loader, or drop those samples"
        )
    values, codes = np.unique(series.astype(str).to_numpy(dtype=str), return_inverse=True)
    return values.astype(object), codes.reshape(-1).astype(np.int64)


def _size_reasons(n: np.ndarray, min_group_size: int, name: str = "n") -> np.ndarray:
    """Reason a count is too small for a rate (``''`` when it suffices): ``"n_pos=4 < min_group_size=10"``."""
    reasons = np.full(n.size, "", dtype=object)
    small = n < min_group_size
    reasons[small] = [f"{name}={k} < min_group_size={min_group_size}" for k in n[small]]
    return reasons


def _class_reasons(n: np.ndarray, n_class: np.ndarray, min_group_size: int, cls: str) -> np.ndarray:
    """Why a rate over one class (``cls``: "positive" or "negative") is undefined in each group."""
    name = "n_pos" if cls == "positive" else "n_neg"
    reasons = _size_reasons(n_class, min_group_size, name)
    reasons[n_class == 0] = f"no {cls} samples"
    reasons[n == 0] = "no labelled samples"
    return reasons


def _rate(numerator: np.ndarray, denominator: np.ndarray, reasons: np.ndarray) -> np.ndarray:
    """numerator / denominator where the reason is empty, NaN elsewhere."""
    ok = reasons == ""
    out = np.full(numerator.size, np.nan)
    out[ok] = numerator[ok] / denominator[ok]
    return out


def _check_min_group_size(min_group_size: int) -> None:
    if int(min_group_size) != min_group_size or min_group_size < 1:
        raise ValueError(f"min_group_size must be a positive integer, got {min_group_size!r}")


def classification_groups(
    y_true: ArrayLike,
    y_score: ArrayLike,
    groups: ArrayLike,
    *,
    threshold: float,
    min_group_size: int = 1,
) -> pd.DataFrame:
    """Confusion counts, TPR, FPR, selection rate and AUROC per group.

    Parameters
    ----------
    y_true : array_like
        Labels 0, 1 or NaN.  NaN labels are dropped before counting and
        reported in ``n_unlabelled``.
    y_score : array_like
        Scores, finite wherever the label is known.
    groups : array_like
        Group value of each sample (strings; other values are converted).
    threshold : float
        Predicted positive if and only if ``score >= threshold``.
    min_group_size : int, default 1
        The class members a rate needs (see the module docs): fewer positives
        leave TPR NaN, fewer negatives FPR, fewer labelled samples the
        selection rate; the reason is recorded.

    Returns
    -------
    pandas.DataFrame
        One row per group, sorted: ``group, n, n_unlabelled, n_pos, n_neg, tp,
        fp, tn, fn, tpr, fpr, selection_rate, auroc`` and ``tpr_reason,
        fpr_reason, selection_rate_reason, auroc_reason``.  ``n`` counts
        labelled samples; counts are reported for every group, rates only
        where defined.

    Examples
    --------
    >>> frame = classification_groups([1, 1, 0, 0, 1], [0.9, 0.4, 0.3, 0.8, 0.7],
    ...                               ["a", "a", "a", "b", "b"], threshold=0.5,
    ...                               min_group_size=2)
    >>> frame[["group", "n", "n_pos", "tpr", "tpr_reason"]].to_dict("list")
    {'group': ['a', 'b'], 'n': [3, 2], 'n_pos': [2, 1], 'tpr': [0.5, nan], 'tpr_reason': ['', 'n_pos=1 < min_group_size=2']}
    """
    _check_min_group_size(min_group_size)
    labels = as_labels(y_true)
    labelled = ~np.isnan(labels)
    scores = as_scores(y_score, labelled)
    values, codes = group_codes(groups)
    if codes.size != labels.size:
        raise ValueError(f"groups has {codes.size} values but y_true has {labels.size}")
    k = values.size
    n_unlabelled = np.bincount(codes[~labelled], minlength=k)
    y, s, c = labels[labelled], scores[labelled], codes[labelled]
    predicted = s >= threshold
    n = np.bincount(c, minlength=k)
    n_pos = np.bincount(c, weights=y, minlength=k).astype(np.int64)
    n_neg = n - n_pos
    tp = np.bincount(c, weights=(y == 1) & predicted, minlength=k).astype(np.int64)
    fp = np.bincount(c, weights=(y == 0) & predicted, minlength=k).astype(np.int64)
    size_reason = _size_reasons(n, min_group_size)
    size_reason[n == 0] = "no labelled samples"
    tpr_reason = _class_reasons(n, n_pos, min_group_size, "positive")
    fpr_reason = _class_reasons(n, n_neg, min_group_size, "negative")
    one_class = np.array([f"only one class (n_pos={p}, n_neg={q})" for p, q in zip(n_pos, n_neg)], dtype=object)
    auroc_reason = np.where(tpr_reason != "", tpr_reason, fpr_reason)
    auroc_reason = np.where((n > 0) & ((n_pos == 0) | (n_neg == 0)), one_class, auroc_reason)
    auroc_values = grouped_auroc(y, s, c, k)
    auroc_values[auroc_reason != ""] = np.nan
    return pd.DataFrame(
        {
            "group": values,
            "n": n,
            "n_unlabelled": n_unlabelled,
            "n_pos": n_pos,
            "n_neg": n_neg,
            "tp": tp,
            "fp": fp,
            "tn": n_neg - fp,
            "fn": n_pos - tp,
            "tpr": _rate(tp, n_pos, tpr_reason),
            "fpr": _rate(fp, n_neg, fpr_reason),
            "selection_rate": _rate(tp + fp, n, size_reason),
            "auroc": auroc_values,
            "tpr_reason": tpr_reason.astype(object),
            "fpr_reason": fpr_reason.astype(object),
            "selection_rate_reason": size_reason,
            "auroc_reason": auroc_reason.astype(object),
        }
    )


def segmentation_groups(dice: ArrayLike, groups: ArrayLike, *, min_group_size: int = 1) -> pd.DataFrame:
    """Mean Dice per group.

    Parameters
    ----------
    dice : array_like
        Dice per sample (from :func:`reconfair.metrics.dice`, never NaN).
    groups : array_like
        Group value of each sample.
    min_group_size : int, default 1
        Groups with fewer samples get NaN (reason recorded).

    Returns
    -------
    pandas.DataFrame
        One row per group, sorted: ``group, n, dice_mean, dice_mean_reason``.

    Examples
    --------
    >>> segmentation_groups([1.0, 0.5, 0.25], ["b", "a", "a"]).to_dict("list")
    {'group': ['a', 'b'], 'n': [2, 1], 'dice_mean': [0.375, 1.0], 'dice_mean_reason': ['', '']}
    """
    _check_min_group_size(min_group_size)
    values_per_sample = np.asarray(dice, dtype=np.float64).reshape(-1)
    if not np.isfinite(values_per_sample).all():
        raise ValueError(
            f"dice has {int((~np.isfinite(values_per_sample)).sum())} non-finite values; "
            "Dice per sample is always defined (see reconfair.metrics.dice)"
        )
    values, codes = group_codes(groups)
    if codes.size != values_per_sample.size:
        raise ValueError(f"groups has {codes.size} values but dice has {values_per_sample.size}")
    n = np.bincount(codes, minlength=values.size)
    total = np.bincount(codes, weights=values_per_sample, minlength=values.size)
    reason = _size_reasons(n, min_group_size)
    return pd.DataFrame(
        {"group": values, "n": n, "dice_mean": _rate(total, n.astype(np.float64), reason),
         "dice_mean_reason": reason}
    )
