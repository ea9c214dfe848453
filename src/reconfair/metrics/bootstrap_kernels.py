"""Low-level vectorised kernels of the paired patient bootstrap.

Used by :mod:`reconfair.metrics.bootstrap` (see its module docs for the
method): patient resampling weights, weighted group confusion counts and
rates, the fairness spreads of :mod:`reconfair.metrics.fairness` on
(resamples x groups) arrays, and AUROC for many weightings with one sort.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import ArrayLike

from reconfair.metrics.groups import group_codes
from reconfair.metrics.task import as_labels, as_scores
from reconfair.seeding import numpy_generator

__all__ = ["patient_weights", "weighted_group_rates", "weighted_auroc", "group_rates", "spread", "fairness_spreads",
           "AurocPlan", "auroc_plan", "plan_auroc", "pad_weights", "EXACT_FLOAT32"]

_TORCH_CUMSUM_MIN = 2**20  # elements
EXACT_FLOAT32 = 2**24
"""float32 holds every integer count below this exactly."""


def patient_weights(n_patients: int, *, n_boot: int = 1000, seed: int = 0,
                    chunk_size: int = 100) -> Iterator[np.ndarray]:
    """Bootstrap weights of patients, in chunks of resamples.

    Row ``b`` counts how often each patient is drawn in ``n_patients`` uniform
    draws with replacement (a Multinomial(P, 1/P) vector).  The generator is
    ``numpy_generator(seed, "bootstrap")``; global RNG state is not touched.

    Yields
    ------
    numpy.ndarray
        float32, shape ``(min(chunk_size, remaining), n_patients)``.

    Examples
    --------
    >>> chunks = list(patient_weights(4, n_boot=3, seed=1, chunk_size=2))
    >>> [c.shape for c in chunks], [c.sum(axis=1).tolist() for c in chunks]
    ([(2, 4), (1, 4)], [[4.0, 4.0], [4.0]])
    """
    for name, value in (("n_patients", n_patients), ("n_boot", n_boot), ("chunk_size", chunk_size)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    rng = numpy_generator(seed, "bootstrap")
    for start in range(0, n_boot, chunk_size):
        b = min(chunk_size, n_boot - start)
        draws = rng.integers(0, n_patients, size=(b, n_patients), dtype=np.int64)
        draws += (np.arange(b, dtype=np.int64) * n_patients)[:, None]
        counts = np.bincount(draws.reshape(-1), minlength=b * n_patients)
        yield counts.reshape(b, n_patients).astype(np.float32)


def group_rates(n_pos: np.ndarray, n_neg: np.ndarray, tp: np.ndarray, fp: np.ndarray,
                min_group_size: int) -> dict[str, np.ndarray]:
    """TPR, FPR and selection rate from (resamples x groups) counts; NaN where excluded.

    A rate needs class members (the rule of :mod:`reconfair.metrics.groups`):
    TPR at least ``min_group_size`` positives, FPR at least ``min_group_size``
    negatives, the selection rate at least ``min_group_size`` samples.

    >>> r = group_rates(np.array([[4.0, 12.0]]), np.array([[30.0, 12.0]]), np.array([[2.0, 6.0]]),
    ...                 np.array([[3.0, 3.0]]), 10)
    >>> r["tpr"].tolist(), r["fpr"].tolist()
    ([[nan, 0.5]], [[0.1, 0.25]])
    """
    minimum = max(int(min_group_size), 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "tpr": np.where(n_pos >= minimum, tp / n_pos, np.nan),
            "fpr": np.where(n_neg >= minimum, fp / n_neg, np.nan),
            "selection_rate": np.where(n_pos + n_neg >= minimum, (tp + fp) / (n_pos + n_neg), np.nan),
        }


def spread(values: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """max - min over usable groups per row; NaN with fewer than two usable."""
    high = np.where(usable, values, -np.inf).max(axis=1)
    low = np.where(usable, values, np.inf).min(axis=1)
    return np.where(usable.sum(axis=1) >= 2, high - low, np.nan)


def fairness_spreads(rates: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """EODD, EODD_max, EOP and DP per row, with the rules of fairness.py."""
    tpr_ok, fpr_ok = ~np.isnan(rates["tpr"]), ~np.isnan(rates["fpr"])
    both = tpr_ok & fpr_ok
    d_tpr, d_fpr = spread(rates["tpr"], both), spread(rates["fpr"], both)
    return {
        "eodd": 0.5 * (d_tpr + d_fpr),
        "eodd_max": np.maximum(d_tpr, d_fpr),
        "eop": spread(rates["tpr"], tpr_ok),
        "dp": spread(rates["selection_rate"], ~np.isnan(rates["selection_rate"])),
    }


def weighted_group_rates(weights: ArrayLike, y_true: ArrayLike, y_pred: ArrayLike, groups: ArrayLike, *,
                         min_group_size: int = 1) -> dict[str, np.ndarray]:
    """Weighted confusion counts and rates per group, for many weight vectors at once.

    Parameters
    ----------
    weights : array_like
        ``(n_weightings, n_samples)`` non-negative sample weights (e.g.
        bootstrap multiplicities); a 1-D vector is one weighting.
    y_true : array_like
        Labels 0, 1 or NaN (NaN samples are ignored).
    y_pred : array_like
        Predicted positive (bool or 0/1).
    groups : array_like
        Group of each sample; columns follow the sorted group values.
    min_group_size : int, default 1
        The weighted class members a rate needs (positives for TPR, negatives
        for FPR, samples for the selection rate); NaN below.

    Returns
    -------
    dict of str to numpy.ndarray
        ``n_pos, n_neg, tp, fp, tpr, fpr, selection_rate``, each
        ``(n_weightings, n_groups)``, float64.

    Examples
    --------
    >>> r = weighted_group_rates([[1, 2, 1, 1]], [1, 0, 1, 0], [1, 1, 0, 0], ["a", "a", "b", "b"])
    >>> r["fpr"].tolist(), r["selection_rate"].tolist()
    ([[1.0, 0.0]], [[1.0, 0.0]])
    """
    labels = as_labels(y_true)
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    pred = np.asarray(y_pred).reshape(-1).astype(bool)
    _, codes = group_codes(groups)
    if not (w.shape[1] == pred.size == codes.size == labels.size):
        raise ValueError(f"weights has {w.shape[1]} columns, y_pred {pred.size}, groups {codes.size} and "
                         f"y_true {labels.size} values; they must all equal the number of samples")
    k = int(codes.max()) + 1 if codes.size else 0
    onehot = np.eye(k)[codes]
    pos, neg = labels == 1, labels == 0
    counts = [w @ (onehot * ind[:, None]) for ind in (pos, neg, pos & pred, neg & pred)]
    return {"n_pos": counts[0], "n_neg": counts[1], "tp": counts[2], "fp": counts[3],
            **group_rates(*counts, int(min_group_size))}


@dataclass(frozen=True)
class AurocPlan:
    """Precomputed sort of one label/condition, per group (one group for overall AUROC)."""

    neg_patient: list[np.ndarray]  # 0, then 1 + patient index of each negative, sorted by score
    pos_patient: list[np.ndarray]  # 1 + patient index of each positive
    left: list[np.ndarray]  # insertion of each positive's score among the sorted negatives
    right: list[np.ndarray]


def auroc_plan(labels: np.ndarray, scores: np.ndarray, codes: np.ndarray, n_groups: int,
               patients: np.ndarray) -> AurocPlan:
    """The one sort of a label's scores, split by group, for :func:`plan_auroc` over many weightings."""
    plan = AurocPlan([], [], [], [])
    order = np.argsort(scores, kind="stable")  # the one sort per label and condition
    for g in range(n_groups):
        ordered = order[codes[order] == g]
        neg = ordered[labels[ordered] == 0]
        pos = np.flatnonzero((labels == 1) & (codes == g))
        neg_scores = scores[neg]
        plan.neg_patient.append(np.r_[0, patients[neg] + 1])  # 0: the zero-weight sentinel
        plan.pos_patient.append(patients[pos] + 1)
        plan.left.append(np.searchsorted(neg_scores, scores[pos], side="left"))
        plan.right.append(np.searchsorted(neg_scores, scores[pos], side="right"))
    return plan


def pad_weights(weights: np.ndarray) -> np.ndarray:
    """Weights with a leading zero column: index 0 is the plans' "no sample" sentinel."""
    return np.concatenate([np.zeros((weights.shape[0], 1), dtype=weights.dtype), weights], axis=1)


def plan_auroc(plan: AurocPlan, padded: np.ndarray) -> np.ndarray:
    """AUROC per resample and group; ``padded`` is ``pad_weights(resamples x patients weights)``."""
    out = np.full((padded.shape[0], len(plan.left)), np.nan)
    for g, (neg_p, pos_p, left, right) in enumerate(zip(plan.neg_patient, plan.pos_patient, plan.left,
                                                        plan.right)):
        if neg_p.size == 1 or pos_p.size == 0:
            continue
        # cum[:, k]: weight of the k lowest-scored negatives (neg_p[0] is the zero sentinel);
        # torch's cumsum is ~2x faster on large arrays, numpy's has no thread start-up cost
        gathered = np.take(padded, neg_p, axis=1)
        if gathered.size >= _TORCH_CUMSUM_MIN:
            cum = torch.cumsum(torch.from_numpy(gathered), dim=1).numpy()
        else:
            cum = np.cumsum(gathered, axis=1)
        w_pos = np.take(padded, pos_p, axis=1)
        total_neg = cum[:, -1].astype(np.float64)
        # integer weights: float32 stays exact while 2 x total negative weight x max weight < 2^24
        exact = padded.dtype == np.float64 or 2.0 * total_neg.max() * w_pos.max() < EXACT_FLOAT32
        dtype = padded.dtype if exact else np.float64
        # twice the credit of each positive: negatives below count 2, tied ones 1
        credit = np.take(cum, left, axis=1).astype(dtype, copy=False)
        if np.array_equal(left, right):  # no positive ties with a negative
            credit = credit * 2
        else:
            credit = credit + np.take(cum, right, axis=1)
        wins = 0.5 * np.sum(w_pos.astype(dtype, copy=False) * credit, axis=1, dtype=np.float64)
        total = w_pos.sum(axis=1, dtype=np.float64) * total_neg
        with np.errstate(divide="ignore", invalid="ignore"):
            out[:, g] = np.where(total > 0, wins / total, np.nan)
    return out


def weighted_auroc(y_true: ArrayLike, y_score: ArrayLike, weights: ArrayLike) -> np.ndarray:
    """AUROC for each row of sample weights, with one sort (ties count one half).

    Equals ``sklearn.metrics.roc_auc_score(y_true, y_score, sample_weight=w)``
    (and the AUROC of the data repeated ``w`` times for integer ``w``).

    >>> weighted_auroc([0, 1, 0, 1], [0.1, 0.5, 0.5, 0.9], [[1, 1, 1, 1], [0, 1, 1, 0]]).tolist()
    [0.875, 0.5]
    """
    labels = as_labels(y_true)
    labelled = ~np.isnan(labels)
    scores = as_scores(y_score, labelled)
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    if w.shape[1] != labels.size:
        raise ValueError(f"weights has {w.shape[1]} columns but y_true has {labels.size} values")
    keep = np.flatnonzero(labelled)
    plan = auroc_plan(labels[keep], scores[keep], np.zeros(keep.size, dtype=np.int64), 1, keep)
    return plan_auroc(plan, pad_weights(w))[:, 0]
