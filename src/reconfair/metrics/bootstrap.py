"""Paired patient-level (cluster) bootstrap of AUROC and fairness deltas.

DESIGN section 6: resample patients with replacement, the same draw for the
original and the reconstructed condition, B = 1000, seeded; report the delta
``metric(recon) - metric(original)`` with its bootstrap SE, percentile 95% CI
and two-sided p-value ``2 min(P(D* <= 0), P(D* >= 0))`` (capped at 1).

Everything is vectorised over resamples (chunks of ``chunk_size``):

- weights: each row of ``W`` (resamples x patients) is a Multinomial(P, 1/P)
  draw (P uniform patient indices, counted); a sample inherits its patient's
  weight, so a patient's images always enter or leave together;
- counts: per-patient indicator counts (positives, negatives, true and false
  positives of each condition, per group) form a matrix ``M`` and ``W @ M``
  gives every group's weighted confusion counts for every resample at once;
- AUROC: the negatives are sorted by score once per label and condition; for
  each resample the cumulative negative weight at every positive's left and
  right insertion point gives its Mann-Whitney credit (ties count one half).

Exclusion rules are those of :mod:`reconfair.metrics.groups` applied to the
resampled (weighted) counts: in a resample, a group with fewer than
``min_group_size`` resampled samples has no rates, a group without resampled
positives (negatives) has no TPR (FPR); a metric needs two groups with its
rates (EODD and EODD_max: both TPR and FPR), else it is NaN for that resample.
Resamples where the original or reconstructed value is NaN are dropped from
the delta's summary; ``n_boot_valid`` says how many were kept.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> y = rng.integers(0, 2, 200).astype(float)
>>> s = 0.4 * y + rng.random(200)
>>> result = paired_auroc_bootstrap(y, s, s, np.arange(200) // 2, n_boot=50, seed=0)
>>> result.delta, result.p_value, result.n_boot_valid
(0.0, 1.0, 50)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from numpy.typing import ArrayLike

from reconfair.metrics.groups import group_codes
from reconfair.metrics.task import as_labels, as_scores
from reconfair.seeding import numpy_generator

__all__ = [
    "BootstrapResult",
    "patient_weights",
    "weighted_group_rates",
    "weighted_auroc",
    "summarize_delta",
    "PairedReplicates",
    "paired_replicates",
    "paired_bootstrap",
    "paired_fairness_bootstrap",
    "paired_auroc_bootstrap",
    "FAIRNESS_METRICS",
    "GROUP_AUROC_METRICS",
]

FAIRNESS_METRICS = ("eodd", "eodd_max", "eop", "dp")
"""Threshold-based fairness metrics, computed from weighted group counts."""
GROUP_AUROC_METRICS = ("auroc_gap", "worst_group_auroc")
"""Ranking-based fairness metrics (per-group AUROC; optional, costs one AUROC pass per attribute)."""
RESULT_COLUMNS = ("estimate_original", "estimate", "delta", "se", "ci_low", "ci_high", "p_value",
                  "n_boot_valid")
_TORCH_CUMSUM_MIN = 2**20  # elements
_EXACT_FLOAT32 = 2**24  # float32 holds every integer count below this exactly


@dataclass(frozen=True)
class BootstrapResult:
    """A paired bootstrap summary of ``metric(recon) - metric(original)``.

    Attributes
    ----------
    estimate_original, estimate : float
        The metric on all data, original and reconstructed condition.
    delta : float
        ``estimate - estimate_original``.
    se : float
        Standard deviation (ddof 1) of the bootstrap deltas.
    ci_low, ci_high : float
        Percentile 95% interval of the bootstrap deltas.
    p_value : float
        Two-sided ``min(1, 2 min(P(D* <= 0), P(D* >= 0)))``.
    n_boot_valid : int
        Resamples where both conditions' metric was defined.
    """

    estimate_original: float
    estimate: float
    delta: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    n_boot_valid: int


def summarize_delta(replicates_original: ArrayLike, replicates: ArrayLike, estimate_original: float,
                    estimate: float) -> BootstrapResult:
    """Summarise paired bootstrap replicates into a :class:`BootstrapResult`.

    >>> r = summarize_delta([0.1, 0.2, 0.3, 0.2], [0.3, 0.3, 0.4, float("nan")], 0.2, 0.3)
    >>> round(r.delta, 12), r.p_value, r.n_boot_valid
    (0.1, 0.0, 3)
    """
    original = np.asarray(replicates_original, dtype=np.float64)
    recon = np.asarray(replicates, dtype=np.float64)
    if original.shape != recon.shape or original.ndim != 1:
        raise ValueError(f"replicates must be 1-D of equal shape, got {original.shape} and {recon.shape}")
    deltas = (recon - original)[~(np.isnan(original) | np.isnan(recon))]
    delta = float(estimate) - float(estimate_original)
    if deltas.size == 0:
        nan = float("nan")
        return BootstrapResult(float(estimate_original), float(estimate), delta, nan, nan, nan, nan, 0)
    se = float(deltas.std(ddof=1)) if deltas.size > 1 else float("nan")
    low, high = np.quantile(deltas, [0.025, 0.975])
    p_value = min(1.0, 2.0 * min(float(np.mean(deltas <= 0)), float(np.mean(deltas >= 0))))
    return BootstrapResult(float(estimate_original), float(estimate), delta, se, float(low), float(high),
                           p_value, int(deltas.size))


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


def _rates(n_pos: np.ndarray, n_neg: np.ndarray, tp: np.ndarray, fp: np.ndarray,
           min_group_size: int) -> dict[str, np.ndarray]:
    """TPR, FPR and selection rate from (resamples x groups) counts; NaN where excluded."""
    size_ok = (n_pos + n_neg) >= min_group_size
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "tpr": np.where(size_ok & (n_pos > 0), tp / n_pos, np.nan),
            "fpr": np.where(size_ok & (n_neg > 0), fp / n_neg, np.nan),
            "selection_rate": np.where(size_ok, (tp + fp) / (n_pos + n_neg), np.nan),
        }


def _spread(values: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """max - min over usable groups per row; NaN with fewer than two usable."""
    high = np.where(usable, values, -np.inf).max(axis=1)
    low = np.where(usable, values, np.inf).min(axis=1)
    return np.where(usable.sum(axis=1) >= 2, high - low, np.nan)


def _fairness(rates: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """EODD, EODD_max, EOP and DP per row, with the rules of fairness.py."""
    tpr_ok, fpr_ok = ~np.isnan(rates["tpr"]), ~np.isnan(rates["fpr"])
    both = tpr_ok & fpr_ok
    d_tpr, d_fpr = _spread(rates["tpr"], both), _spread(rates["fpr"], both)
    return {
        "eodd": 0.5 * (d_tpr + d_fpr),
        "eodd_max": np.maximum(d_tpr, d_fpr),
        "eop": _spread(rates["tpr"], tpr_ok),
        "dp": _spread(rates["selection_rate"], ~np.isnan(rates["selection_rate"])),
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
        Weighted group size below which rates are NaN.

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
            **_rates(*counts, int(min_group_size))}


@dataclass(frozen=True)
class _AurocPlan:
    """Precomputed sort of one label/condition, per group (one group for overall AUROC)."""

    neg_patient: list[np.ndarray]  # 0, then 1 + patient index of each negative, sorted by score
    pos_patient: list[np.ndarray]  # 1 + patient index of each positive
    left: list[np.ndarray]  # insertion of each positive's score among the sorted negatives
    right: list[np.ndarray]


def _auroc_plan(labels: np.ndarray, scores: np.ndarray, codes: np.ndarray, n_groups: int,
                patients: np.ndarray) -> _AurocPlan:
    plan = _AurocPlan([], [], [], [])
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


def _pad(weights: np.ndarray) -> np.ndarray:
    """Weights with a leading zero column: index 0 is the plans' "no sample" sentinel."""
    return np.concatenate([np.zeros((weights.shape[0], 1), dtype=weights.dtype), weights], axis=1)


def _plan_auroc(plan: _AurocPlan, padded: np.ndarray) -> np.ndarray:
    """AUROC per resample and group; ``padded`` is ``_pad(resamples x patients weights)``."""
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
        exact = padded.dtype == np.float64 or 2.0 * total_neg.max() * w_pos.max() < _EXACT_FLOAT32
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
    plan = _auroc_plan(labels[keep], scores[keep], np.zeros(keep.size, dtype=np.int64), 1, keep)
    return _plan_auroc(plan, _pad(w))[:, 0]


@dataclass(frozen=True)
class PairedReplicates:
    """Full-data estimates and bootstrap replicates of every statistic.

    ``keys[k]`` is ``(target, attribute, metric)`` (attribute ``""`` for the
    overall AUROC); ``estimates[k]`` is ``(original, recon)`` and
    ``replicates[k]`` is ``(2, n_boot)``, original then reconstructed.
    """

    keys: tuple[tuple[str, str, str], ...]
    estimates: np.ndarray
    replicates: np.ndarray


def _as_matrix(values: ArrayLike, name: str, shape: tuple[int, ...] | None) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    array = array.reshape(-1, 1) if array.ndim == 1 else array
    if array.ndim != 2 or (shape is not None and array.shape != shape):
        expected = "(n_samples,) or (n_samples, n_targets)" if shape is None else str(shape)
        raise ValueError(f"{name} has shape {np.shape(values)}; expected {expected}")
    return array


def paired_replicates(
    y_true: ArrayLike, score_original: ArrayLike, score_recon: ArrayLike, patient_ids: ArrayLike, *,
    groups: Mapping[str, ArrayLike], threshold: float | ArrayLike | None = None,
    targets: Sequence[str] | None = None, n_boot: int = 1000, seed: int = 0, min_group_size: int = 10,
    group_auroc: bool = False, chunk_size: int = 100,
) -> PairedReplicates:
    """Estimates and paired bootstrap replicates; see :func:`paired_bootstrap` for the arguments."""
    labels = _as_matrix(y_true, "y_true", None)
    n, n_targets = labels.shape
    for t in range(n_targets):
        as_labels(labels[:, t], name="y_true")
    scores = [_as_matrix(s, name, labels.shape) for s, name in
              ((score_original, "score_original"), (score_recon, "score_recon"))]
    for s, name in zip(scores, ("score_original", "score_recon")):
        for t in range(n_targets):
            as_scores(s[:, t], ~np.isnan(labels[:, t]), name=name)
    ids = pd.Series(np.asarray(patient_ids, dtype=object).reshape(-1))
    if ids.size != n or ids.isna().any():
        raise ValueError(f"patient_ids needs {n} non-missing values (one per sample), got {ids.size} "
                         f"with {int(ids.isna().sum())} missing")
    patients, patient_index = pd.factorize(ids.astype(str), sort=True)
    n_patients = patient_index.size
    names = [str(t) for t in range(n_targets)] if targets is None else [str(t) for t in targets]
    if len(names) != n_targets:
        raise ValueError(f"targets has {len(names)} names but y_true has {n_targets} columns")
    if isinstance(groups, (str, np.ndarray, pd.Series)) or not isinstance(groups, Mapping):
        raise TypeError("groups must be a mapping attribute name -> group of each sample, "
                        "e.g. {'sex': sex_values}")
    attrs = {str(a): group_codes(v) for a, v in groups.items()}
    for a, (_, codes) in attrs.items():
        if codes.size != n:
            raise ValueError(f"groups[{a!r}] has {codes.size} values but y_true has {n} rows")
    if attrs and threshold is None:
        raise ValueError("threshold is required when groups are given (TPR/FPR need a decision rule)")
    thresholds = np.asarray(0.5 if threshold is None else threshold, np.float64).reshape(-1)
    if thresholds.size not in (1, n_targets) or not np.isfinite(thresholds).all():
        raise ValueError(f"threshold must be one finite number or one per target ({n_targets}), "
                         f"got {thresholds.size} values")
    thresholds = np.broadcast_to(thresholds, (n_targets,))
    if int(min_group_size) != min_group_size or min_group_size < 1:
        raise ValueError(f"min_group_size must be a positive integer, got {min_group_size!r}")
    dtype = np.float32 if n < _EXACT_FLOAT32 else np.float64

    # Per-patient indicator counts: block (target, attribute) has 6 columns per group.
    blocks, columns = [], []
    plans: dict[tuple[int, str], list[_AurocPlan]] = {}
    for t in range(n_targets):
        y = labels[:, t]
        pos, neg = y == 1, y == 0
        preds = [s[:, t] >= thresholds[t] for s in scores]
        indicators = [pos, neg, pos & preds[0], neg & preds[0], pos & preds[1], neg & preds[1]]
        keep = np.flatnonzero(~np.isnan(y))
        zero = np.zeros(keep.size, dtype=np.int64)
        plans[(t, "")] = [_auroc_plan(y[keep], s[keep, t], zero, 1, patients[keep]) for s in scores]
        for a, (values, codes) in attrs.items():
            k = values.size
            block = np.zeros((n_patients, k * 6), dtype=dtype)
            for j, ind in enumerate(indicators):
                block[:, j::6] = np.bincount(patients[ind] * k + codes[ind],
                                             minlength=n_patients * k).reshape(n_patients, k)
            blocks.append((t, a, k))
            columns.append(block)
            if group_auroc:
                plans[(t, a)] = [_auroc_plan(y[keep], s[keep, t], codes[keep], k, patients[keep])
                                 for s in scores]
    matrix = np.concatenate(columns, axis=1) if columns else np.zeros((n_patients, 0), dtype=dtype)
    del columns

    keys: list[tuple[str, str, str]] = []
    for t in range(n_targets):
        keys.append((names[t], "", "auroc"))
        for a in attrs:
            metrics = FAIRNESS_METRICS + (GROUP_AUROC_METRICS if group_auroc else ())
            keys.extend((names[t], a, m) for m in metrics)

    def evaluate_chunk(weights: np.ndarray) -> np.ndarray:
        """(n_keys, 2, b) statistics for a chunk of patient weights."""
        out = np.empty((len(keys), 2, weights.shape[0]))
        # (M^T W^T)^T: this operand layout is ~10x faster in OpenBLAS than W @ M
        counts = (matrix.T @ weights.T).T.astype(np.float64).reshape(weights.shape[0], -1, 6)
        padded = _pad(weights)
        row, col = 0, 0
        for t in range(n_targets):
            for c in range(2):
                out[row, c] = _plan_auroc(plans[(t, "")][c], padded)[:, 0]
            row += 1
            for a in attrs:
                k = attrs[a][0].size
                part = counts[:, col:col + k]
                col += k
                n_pos, n_neg = part[..., 0], part[..., 1]
                for c in range(2):
                    rates = _rates(n_pos, n_neg, part[..., 2 + 2 * c], part[..., 3 + 2 * c],
                                   int(min_group_size))
                    values = list(_fairness(rates).values())
                    if group_auroc:
                        usable = (n_pos + n_neg >= min_group_size) & (n_pos > 0) & (n_neg > 0)
                        aurocs = _plan_auroc(plans[(t, a)][c], padded)
                        gap = _spread(aurocs, usable)
                        worst = np.where(usable.sum(axis=1) >= 2,
                                         np.where(usable, aurocs, np.inf).min(axis=1), np.nan)
                        values += [gap, worst]
                    out[row:row + len(values), c] = values
                row += len(FAIRNESS_METRICS) + (len(GROUP_AUROC_METRICS) if group_auroc else 0)
        return out

    estimates = evaluate_chunk(np.ones((1, n_patients), dtype=dtype))[:, :, 0]
    replicates = np.empty((len(keys), 2, n_boot))
    start = 0
    for weights in patient_weights(n_patients, n_boot=n_boot, seed=seed, chunk_size=chunk_size):
        replicates[:, :, start:start + weights.shape[0]] = evaluate_chunk(weights.astype(dtype))
        start += weights.shape[0]
    return PairedReplicates(tuple(keys), estimates, replicates)


def paired_bootstrap(
    y_true: ArrayLike, score_original: ArrayLike, score_recon: ArrayLike, patient_ids: ArrayLike, *,
    groups: Mapping[str, ArrayLike], threshold: float | ArrayLike | None = None,
    targets: Sequence[str] | None = None, n_boot: int = 1000, seed: int = 0, min_group_size: int = 10,
    group_auroc: bool = False, chunk_size: int = 100,
) -> pd.DataFrame:
    """Paired patient bootstrap of AUROC and fairness deltas for many targets and attributes.

    Parameters
    ----------
    y_true : array_like
        ``(n_samples,)`` or ``(n_samples, n_targets)`` labels 0, 1 or NaN.
    score_original, score_recon : array_like
        Scores on original and reconstructed images, shaped like ``y_true``
        (row i is the same image in both).
    patient_ids : array_like
        Patient of each sample: the resampling unit.
    groups : mapping of str to array_like
        Attribute name -> group of each sample (may be empty: AUROC only).
    threshold : float or array_like, optional
        Decision threshold (per target); required when ``groups`` is not empty.
    targets : sequence of str, optional
        Target names (default ``"0", "1", ...``).
    n_boot : int, default 1000
        Number of resamples.
    seed : int, default 0
        Seed of ``numpy_generator(seed, "bootstrap")``; same seed, same result.
    min_group_size : int, default 10
        Resampled group size below which a group is excluded (per resample).
    group_auroc : bool, default False
        Also bootstrap ``auroc_gap`` and ``worst_group_auroc``.
    chunk_size : int, default 100
        Resamples evaluated at once (memory is about ``chunk_size x n_samples``
        float32 per AUROC pass plus the ``n_patients x columns`` count matrix).

    Returns
    -------
    pandas.DataFrame
        One row per ``target, attribute, metric`` (attribute ``""`` for AUROC)
        with the :class:`BootstrapResult` fields as columns.

    Examples
    --------
    >>> y = np.tile([0.0, 1.0], 40)
    >>> s = np.linspace(0, 1, 80)
    >>> table = paired_bootstrap(y, s, s[::-1], np.arange(80) // 2, groups={"sex": ["F", "F", "M", "M"] * 20},
    ...                          threshold=0.5, n_boot=20, min_group_size=5)
    >>> table[["attribute", "metric", "n_boot_valid"]].values.tolist()[:2]
    [['', 'auroc', 20], ['sex', 'eodd', 20]]
    """
    reps = paired_replicates(y_true, score_original, score_recon, patient_ids, groups=groups,
                             threshold=threshold, targets=targets, n_boot=n_boot, seed=seed,
                             min_group_size=min_group_size, group_auroc=group_auroc, chunk_size=chunk_size)
    rows = []
    for key, estimate, replicate in zip(reps.keys, reps.estimates, reps.replicates):
        result = summarize_delta(replicate[0], replicate[1], estimate[0], estimate[1])
        rows.append({"target": key[0], "attribute": key[1], "metric": key[2], **result.__dict__})
    return pd.DataFrame(rows, columns=["target", "attribute", "metric", *RESULT_COLUMNS])


def _results(table: pd.DataFrame) -> dict[str, BootstrapResult]:
    return {row.metric: BootstrapResult(*(getattr(row, c) for c in RESULT_COLUMNS))
            for row in table.itertuples(index=False)}


def paired_fairness_bootstrap(
    y_true: ArrayLike, score_original: ArrayLike, score_recon: ArrayLike, groups: ArrayLike,
    patient_ids: ArrayLike, *, threshold: float, n_boot: int = 1000, seed: int = 0,
    min_group_size: int = 10, group_auroc: bool = False,
) -> dict[str, BootstrapResult]:
    """Paired bootstrap of the fairness metrics of one label and one attribute.

    Returns ``{"eodd", "eodd_max", "eop", "dp"[, "auroc_gap", "worst_group_auroc"]}``
    -> :class:`BootstrapResult`; arguments as in :func:`paired_bootstrap`.

    >>> y = np.tile([0.0, 1.0], 40)
    >>> s = np.linspace(0, 1, 80)
    >>> out = paired_fairness_bootstrap(y, s, s, ["F", "F", "M", "M"] * 20, np.arange(80), threshold=0.5,
    ...                                 n_boot=10, min_group_size=5)
    >>> sorted(out), out["eodd"].delta, out["eodd"].p_value
    (['dp', 'eodd', 'eodd_max', 'eop'], 0.0, 1.0)
    """
    table = paired_bootstrap(y_true, score_original, score_recon, patient_ids, groups={"group": groups},
                             threshold=threshold, n_boot=n_boot, seed=seed, min_group_size=min_group_size,
                             group_auroc=group_auroc)
    return _results(table.loc[table["attribute"] == "group"])


def paired_auroc_bootstrap(
    y_true: ArrayLike, score_original: ArrayLike, score_recon: ArrayLike, patient_ids: ArrayLike, *,
    n_boot: int = 1000, seed: int = 0,
) -> BootstrapResult:
    """Paired bootstrap of the AUROC change of one label (see the module example)."""
    table = paired_bootstrap(y_true, score_original, score_recon, patient_ids, groups={}, n_boot=n_boot,
                             seed=seed)
    return _results(table)["auroc"]
