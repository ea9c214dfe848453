"""Paired patient-level (cluster) bootstrap of AUROC and fairness deltas.

Patients are resampled with replacement, the same draw for the original and
the reconstructed condition, ``B`` times, seeded; each delta
``metric(recon) - metric(original)`` gets its SE, percentile 95 % CI and a
test (:mod:`reconfair.metrics.hypothesis`: the percentile test for AUROC, a
bootstrap Wald test of the signed group gaps for the max - min fairness
metrics).

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

Exclusion rules are those of :mod:`reconfair.metrics.groups`, applied to the
full data and then to each resample's weighted counts: a group enters TPR
with at least ``min_group_size`` positives, FPR with at least
``min_group_size`` negatives, the selection rate with at least
``min_group_size`` samples.  A resample uses only the groups of the point
estimate, and its test needs all of them; a metric needs two groups with its
rates (EODD and EODD_max: both TPR and FPR), else it is NaN.  Resamples where
the delta is undefined are left out of its summary; ``n_boot_valid`` says how
many were kept.

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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from reconfair.metrics.bootstrap_kernels import (
    EXACT_FLOAT32,
    AurocPlan,
    auroc_plan,
    fairness_spreads,
    group_rates,
    pad_weights,
    patient_weights,
    plan_auroc,
    spread,
    weighted_auroc,
    weighted_group_rates,
)
from reconfair.metrics.hypothesis import (
    RESULT_COLUMNS,
    BootstrapResult,
    Gaps,
    gap_changes,
    gap_labels,
    summarize_delta,
)
from reconfair.metrics.groups import group_codes
from reconfair.metrics.task import as_labels, as_scores

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
GAP_RATES = {"eodd": ("tpr", "fpr"), "eodd_max": ("tpr", "fpr"), "eop": ("tpr",), "dp": ("selection_rate",),
             "auroc_gap": ("auroc",)}
"""The rates whose signed group gaps each max - min metric's Wald test tests (worst-group AUROC: percentile)."""


@dataclass(frozen=True)
class PairedReplicates:
    """Full-data estimates and bootstrap replicates of every statistic, with the gaps their tests use.

    ``keys[k]`` is ``(target, attribute, metric)`` (attribute ``""`` for the
    overall AUROC or Dice); ``estimates[k]`` is ``(original, recon)``,
    ``replicates[k]`` is ``(2, n_boot)``, original then reconstructed, and
    ``gaps[k]`` the :class:`~reconfair.metrics.hypothesis.Gaps` of a max - min
    metric's Wald test (``None``: the percentile test).
    """

    keys: tuple[tuple[str, str, str], ...]
    estimates: np.ndarray
    replicates: np.ndarray
    gaps: tuple[Gaps | None, ...]

    def summaries(self, *, min_valid_fraction: float = 0.95) -> pd.DataFrame:
        """One row per key: ``target, attribute, metric`` and the :class:`BootstrapResult` fields."""
        rows = []
        for key, estimate, replicate, gaps in zip(self.keys, self.estimates, self.replicates, self.gaps):
            result = summarize_delta(replicate[0], replicate[1], estimate[0], estimate[1], gaps=gaps,
                                     min_valid_fraction=min_valid_fraction)
            rows.append({"target": key[0], "attribute": key[1], "metric": key[2], **result.__dict__})
        return pd.DataFrame(rows, columns=["target", "attribute", "metric", *RESULT_COLUMNS])


def _as_matrix(values: ArrayLike, name: str, shape: tuple[int, ...] | None) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    array = array.reshape(-1, 1) if array.ndim == 1 else array
    if array.ndim != 2 or (shape is not None and array.shape != shape):
        expected = "(n_samples,) or (n_samples, n_targets)" if shape is None else str(shape)
        raise ValueError(f"{name} has shape {np.shape(values)}; expected {expected}")
    return array


def _thresholds(threshold: float | ArrayLike | None, name: str, n_targets: int) -> np.ndarray:
    values = np.asarray(0.5 if threshold is None else threshold, np.float64).reshape(-1)
    if values.size not in (1, n_targets) or not np.isfinite(values).all():
        raise ValueError(f"{name} must be one finite number or one per target ({n_targets}), "
                         f"got {values.size} values")
    return np.broadcast_to(values, (n_targets,))


def paired_replicates(
    y_true: ArrayLike, score_original: ArrayLike, score_recon: ArrayLike, patient_ids: ArrayLike, *,
    groups: Mapping[str, ArrayLike], threshold: float | ArrayLike | None = None,
    threshold_recon: float | ArrayLike | None = None, targets: Sequence[str] | None = None,
    n_boot: int = 1000, seed: int = 0, min_group_size: int = 10, group_auroc: bool = False,
    chunk_size: int = 100,
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
    cuts = [_thresholds(threshold, "threshold", n_targets),
            _thresholds(threshold if threshold_recon is None else threshold_recon, "threshold_recon", n_targets)]
    if int(min_group_size) != min_group_size or min_group_size < 1:
        raise ValueError(f"min_group_size must be a positive integer, got {min_group_size!r}")
    dtype = np.float32 if n < EXACT_FLOAT32 else np.float64
    minimum = int(min_group_size)

    # Per-patient indicator counts: block (target, attribute) has 6 columns per group.
    blocks, columns = [], []
    plans: dict[tuple[int, str], list[AurocPlan]] = {}
    for t in range(n_targets):
        y = labels[:, t]
        pos, neg = y == 1, y == 0
        preds = [s[:, t] >= cut[t] for s, cut in zip(scores, cuts)]
        indicators = [pos, neg, pos & preds[0], neg & preds[0], pos & preds[1], neg & preds[1]]
        keep = np.flatnonzero(~np.isnan(y))
        zero = np.zeros(keep.size, dtype=np.int64)
        plans[(t, "")] = [auroc_plan(y[keep], s[keep, t], zero, 1, patients[keep]) for s in scores]
        for a, (values, codes) in attrs.items():
            k = values.size
            block = np.zeros((n_patients, k * 6), dtype=dtype)
            for j, ind in enumerate(indicators):
                block[:, j::6] = np.bincount(patients[ind] * k + codes[ind],
                                             minlength=n_patients * k).reshape(n_patients, k)
            blocks.append((t, a, k))
            columns.append(block)
            if group_auroc:
                plans[(t, a)] = [auroc_plan(y[keep], s[keep, t], codes[keep], k, patients[keep])
                                 for s in scores]
    matrix = np.concatenate(columns, axis=1) if columns else np.zeros((n_patients, 0), dtype=dtype)
    del columns
    # The groups of each point estimate: a resample uses these and only these (its test needs all of them).
    full = matrix.sum(axis=0, dtype=np.float64).reshape(-1, 6)
    allowed: dict[tuple[int, str], dict[str, np.ndarray]] = {}
    offset = 0
    for t, a, k in blocks:
        n_pos, n_neg = full[offset:offset + k, 0], full[offset:offset + k, 1]
        offset += k
        tpr, fpr = n_pos >= minimum, n_neg >= minimum
        allowed[(t, a)] = {"tpr": tpr, "fpr": fpr, "selection_rate": n_pos + n_neg >= minimum, "auroc": tpr & fpr}

    metrics = FAIRNESS_METRICS + (GROUP_AUROC_METRICS if group_auroc else ())
    keys: list[tuple[str, str, str]] = []
    for t in range(n_targets):
        keys.append((names[t], "", "auroc"))
        keys.extend((names[t], a, m) for a in attrs for m in metrics)
    tested = {i: key[2] for i, key in enumerate(keys) if key[2] in GAP_RATES}

    def evaluate_chunk(weights: np.ndarray) -> tuple[np.ndarray, dict[int, np.ndarray]]:
        """(n_keys, 2, b) statistics and, per tested key, the (b, d) gap changes for a chunk of weights."""
        out = np.empty((len(keys), 2, weights.shape[0]))
        gaps: dict[int, np.ndarray] = {}
        # (M^T W^T)^T: this operand layout is ~10x faster in OpenBLAS than W @ M
        counts = (matrix.T @ weights.T).T.astype(np.float64).reshape(weights.shape[0], -1, 6)
        padded = pad_weights(weights)
        row, col = 0, 0
        for t in range(n_targets):
            for c in range(2):
                out[row, c] = plan_auroc(plans[(t, "")][c], padded)[:, 0]
            row += 1
            for a in attrs:
                k = attrs[a][0].size
                part = counts[:, col:col + k]
                col += k
                n_pos, n_neg = part[..., 0], part[..., 1]
                mask = allowed[(t, a)]
                rates = []
                for c in range(2):
                    rate = group_rates(n_pos, n_neg, part[..., 2 + 2 * c], part[..., 3 + 2 * c], minimum)
                    rate = {name: np.where(mask[name], value, np.nan) for name, value in rate.items()}
                    values = list(fairness_spreads(rate).values())
                    if group_auroc:
                        usable = mask["auroc"] & (n_pos >= minimum) & (n_neg >= minimum)
                        rate["auroc"] = np.where(usable, plan_auroc(plans[(t, a)][c], padded), np.nan)
                        worst = np.where(usable.sum(axis=1) >= 2,
                                         np.where(usable, rate["auroc"], np.inf).min(axis=1), np.nan)
                        values += [spread(rate["auroc"], usable), worst]
                    out[row:row + len(values), c] = values
                    rates.append(rate)
                for j, metric in enumerate(metrics):
                    if metric in GAP_RATES:
                        names_ = GAP_RATES[metric]
                        usable = np.logical_and.reduce([mask[r] for r in names_])
                        gaps[row + j] = gap_changes([rates[0][r] for r in names_], [rates[1][r] for r in names_],
                                                    usable)
                row += len(metrics)
        return out, gaps

    point, point_gaps = evaluate_chunk(np.ones((1, n_patients), dtype=dtype))
    replicates = np.empty((len(keys), 2, n_boot))
    gap_draws = {i: np.empty((n_boot, point_gaps[i].shape[1])) for i in tested}
    start = 0
    for weights in patient_weights(n_patients, n_boot=n_boot, seed=seed, chunk_size=chunk_size):
        stats, gaps = evaluate_chunk(weights.astype(dtype))
        stop = start + weights.shape[0]
        replicates[:, :, start:stop] = stats
        for i in tested:
            gap_draws[i][start:stop] = gaps[i]
        start = stop
    labels = {}
    for i in tested:  # the groups of each test: the point estimate's, in order
        t, a = names.index(keys[i][0]), keys[i][1]
        usable = np.logical_and.reduce([allowed[(t, a)][r] for r in GAP_RATES[keys[i][2]]])
        labels[i] = gap_labels(GAP_RATES[keys[i][2]], attrs[a][0][usable])
    tests = tuple(Gaps(point_gaps[i][0], gap_draws[i], labels[i]) if i in tested else None
                  for i in range(len(keys)))
    return PairedReplicates(tuple(keys), point[:, :, 0], replicates, tests)


def paired_bootstrap(
    y_true: ArrayLike, score_original: ArrayLike, score_recon: ArrayLike, patient_ids: ArrayLike, *,
    groups: Mapping[str, ArrayLike], threshold: float | ArrayLike | None = None,
    threshold_recon: float | ArrayLike | None = None, targets: Sequence[str] | None = None,
    n_boot: int = 1000, seed: int = 0, min_group_size: int = 10, group_auroc: bool = False,
    chunk_size: int = 100, min_valid_fraction: float = 0.95,
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
    threshold_recon : float or array_like, optional
        Threshold of the reconstructed condition when it differs (a threshold
        refitted per condition); default ``threshold``.
    targets : sequence of str, optional
        Target names (default ``"0", "1", ...``).
    n_boot : int, default 1000
        Number of resamples.
    seed : int, default 0
        Seed of ``numpy_generator(seed, "bootstrap")``; same seed, same result.
    min_group_size : int, default 10
        The class members a group's rate needs, in the point estimate and in
        each resample (positives for TPR, negatives for FPR, samples for the
        selection rate, both classes for a group AUROC).
    group_auroc : bool, default False
        Also bootstrap ``auroc_gap`` and ``worst_group_auroc``.
    chunk_size : int, default 100
        Resamples evaluated at once (memory is about ``chunk_size x n_samples``
        float32 per AUROC pass plus the ``n_patients x columns`` count matrix).
    min_valid_fraction : float, default 0.95
        The fraction of resamples a CI or p needs defined.

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
                             threshold=threshold, threshold_recon=threshold_recon, targets=targets,
                             n_boot=n_boot, seed=seed,
                             min_group_size=min_group_size, group_auroc=group_auroc, chunk_size=chunk_size)
    return reps.summaries(min_valid_fraction=min_valid_fraction)


def _results(table: pd.DataFrame) -> dict[str, BootstrapResult]:
    return {row.metric: BootstrapResult(*(getattr(row, c) for c in RESULT_COLUMNS))
            for row in table.itertuples(index=False)}


def paired_fairness_bootstrap(
    y_true: ArrayLike, score_original: ArrayLike, score_recon: ArrayLike, groups: ArrayLike,
    patient_ids: ArrayLike, *, threshold: float, n_boot: int = 1000, seed: int = 0,
    min_group_size: int = 10, group_auroc: bool = False, min_valid_fraction: float = 0.95,
) -> dict[str, BootstrapResult]:
    """Paired bootstrap of the fairness metrics of one label and one attribute.

    Returns ``{"eodd", "eodd_max", "eop", "dp"[, "auroc_gap", "worst_group_auroc"]}``
    -> :class:`BootstrapResult`; arguments as in :func:`paired_bootstrap`.

    >>> y = np.tile([0.0, 1.0], 40)
    >>> s = np.linspace(0, 1, 80)
    >>> out = paired_fairness_bootstrap(y, s, s, ["F", "F", "M", "M"] * 20, np.arange(80), threshold=0.5,
    ...                                 n_boot=10, min_group_size=5)
    >>> sorted(out), out["eodd"].delta, out["eodd"].p_value, out["eodd"].test
    (['dp', 'eodd', 'eodd_max', 'eop'], 0.0, 1.0, 'wald-gaps')
    """
    table = paired_bootstrap(y_true, score_original, score_recon, patient_ids, groups={"group": groups},
                             threshold=threshold, n_boot=n_boot, seed=seed, min_group_size=min_group_size,
                             group_auroc=group_auroc, min_valid_fraction=min_valid_fraction)
    return _results(table.loc[table["attribute"] == "group"])


def paired_auroc_bootstrap(
    y_true: ArrayLike, score_original: ArrayLike, score_recon: ArrayLike, patient_ids: ArrayLike, *,
    n_boot: int = 1000, seed: int = 0,
) -> BootstrapResult:
    """Paired bootstrap of the AUROC change of one label (see the module example)."""
    table = paired_bootstrap(y_true, score_original, score_recon, patient_ids, groups={}, n_boot=n_boot,
                             seed=seed)
    return _results(table)["auroc"]
