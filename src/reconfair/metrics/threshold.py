"""The operating point: the equal sensitivity/specificity threshold.

docs/statistics.md fixes one decision rule for the whole package: a sample is
predicted positive if and only if ``score >= threshold``.  The threshold is the
point of the ROC curve where sensitivity (TPR) equals specificity (TNR), fitted
on the validation split's predictions on original images and then held fixed
for every condition (:func:`reconfair.metrics.evaluate.evaluate` does that; this
module only fits on the data it is given).

Examples
--------
>>> equal_error_threshold([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])
0.6
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from reconfair.metrics.task import as_scores, as_labels

__all__ = ["equal_error_threshold"]


def equal_error_threshold(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Threshold where TPR and TNR are closest (the equal-error point).

    Candidate thresholds are the distinct scores of the labelled samples.  At
    candidate ``t``, ``TPR = #(pos, score >= t) / #pos`` and
    ``TNR = #(neg, score < t) / #neg``.  The chosen threshold minimises
    ``|TPR - TNR|``; ties are broken by the largest ``TPR + TNR``, then by the
    lowest threshold.  The comparison is done on integer counts, so ties are
    exact and the result does not depend on the order of the samples.

    Parameters
    ----------
    y_true : array_like
        Labels 0, 1 or NaN; NaN labels are ignored.
    y_score : array_like
        Scores, finite wherever the label is known.

    Returns
    -------
    float
        One of the given scores.

    Raises
    ------
    ValueError
        If the labelled samples lack positives or negatives (the threshold is
        undefined without both classes).

    Examples
    --------
    Perfectly separated scores: the lowest positive score is chosen.

    >>> equal_error_threshold([0, 0, 1, 1], [0.1, 0.2, 0.7, 0.8])
    0.7
    >>> equal_error_threshold([1, 1, float("nan")], [0.2, 0.4, 0.1])
    Traceback (most recent call last):
    ...
    ValueError: cannot fit the equal-error threshold: no negative labels among 2 labelled samples (1 NaN labels ignored); it needs both classes
    """
    labels = as_labels(y_true)
    labelled = ~np.isnan(labels)
    scores = as_scores(y_score, labelled)[labelled]
    labels = labels[labelled]
    n_pos = int(labels.sum())
    n_neg = int(labels.size - n_pos)
    if n_pos == 0 or n_neg == 0:
        missing = "positive" if n_pos == 0 else "negative"
        raise ValueError(
            f"cannot fit the equal-error threshold: no {missing} labels among "
            f"{labels.size} labelled samples ({int((~labelled).sum())} NaN labels ignored); "
            "it needs both classes"
        )
    candidates, codes = np.unique(scores, return_inverse=True)
    pos_at = np.bincount(codes, weights=labels, minlength=candidates.size).astype(np.int64)
    neg_at = np.bincount(codes, minlength=candidates.size).astype(np.int64) - pos_at
    tp = n_pos - (np.cumsum(pos_at) - pos_at)  # positives with score >= candidate
    tn = np.cumsum(neg_at) - neg_at  # negatives with score < candidate
    # TPR - TNR and TPR + TNR scaled by n_pos * n_neg: exact integers.
    gap = np.abs(tp * n_neg - tn * n_pos)
    balance = tp * n_neg + tn * n_pos
    best = np.lexsort((candidates, -balance, gap))[0]
    return float(candidates[best])
