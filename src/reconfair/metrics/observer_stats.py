"""Model-observer detectability by patient group, with a paired patient bootstrap (docs/observers.md).

Input: one row per test image and condition, with the observer's decision
variable ``t`` (:mod:`reconfair.metrics.observers`):

====================  =====================================================
``sample_id``         the image (its present and absent versions share it)
``patient_id``        the resampling unit
``condition``         ``original`` or a degraded/reconstructed condition
``present``           1 signal-present, 0 signal-absent
``t``                 the decision variable (finite)
``attr_<name>``       sensitive attributes (as in the samples table)
``dataset``, ``recon``, ``level``, ``observer``  optional identifiers
====================  =====================================================

Per block ``(dataset, observer)`` and per condition and group (``all``, each
value of each attribute, each value of each intersection ``a×b``):
``d'`` and the AUC (:func:`~reconfair.metrics.observers.d_prime`,
:func:`~reconfair.metrics.observers.auc`), the percentile 95 % CI of ``d'``
from ``B`` patient-cluster bootstrap resamples, and the paired change
``delta_d_prime = d'(condition) - d'(reference)`` with its percentile CI and
p-value from the same resamples: with ``k`` of the ``n`` valid resampled
changes on the far side of 0, ``p = min(1, 2 (k + 1) / (n + 1))``
(:func:`~reconfair.metrics.hypothesis.percentile_p`; Davison & Hinkley 1997),
never 0.  ``d'`` is a smooth statistic, so the percentile test has its
nominal size (tests/metrics/test_observers.py checks size and power by
simulation).

Resampling: the patients of a block are drawn with replacement (weights of
:func:`~reconfair.metrics.bootstrap_kernels.patient_weights`, seeded); the
same draws serve every condition and group, so reference and condition are
paired.  Each resample's ``d'`` comes from weighted per-patient sums of
``1, t, t^2`` per class (one matrix product per chunk of resamples, no loop
over resamples); weighted variances use ``sum w - 1`` degrees of freedom, as
the point estimate's ddof 1.

Undefined is explicit: a group with fewer than ``min_group_size`` patients,
or fewer than 2 images of a class, or zero variance gets NaN and a
``reason``; a CI or p needs ``d'`` defined in ``min_valid_fraction`` of the
resamples.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> n = 200
>>> frame = pd.DataFrame({"sample_id": np.tile(np.arange(n), 2), "patient_id": np.tile(np.arange(n) // 2, 2),
...                       "condition": "original", "present": np.repeat([1, 0], n),
...                       "t": np.r_[rng.normal(2, 1, n), rng.normal(0, 1, n)], "attr_sex": "F"})
>>> stats = observer_group_stats(frame, attributes=["sex"], n_boot=200, seed=0)
>>> stats[["attribute", "group", "n_patients"]].values.tolist()
[['', 'all', 100], ['sex', 'F', 100]]
>>> bool(stats.ci_low[0] < stats.d_prime[0] < stats.ci_high[0]), float(stats.p_value[0])
(True, 1.0)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from reconfair.metrics.bootstrap_kernels import patient_weights
from reconfair.metrics.evaluate import INTERSECTION, attribute_columns, attribute_values
from reconfair.metrics.hypothesis import summarize_delta
from reconfair.metrics.observers import auc
from reconfair.vocabulary import ORIGINAL

__all__ = ["FRAME_COLUMNS", "STATS_COLUMNS", "GAP_COLUMNS", "d_prime_from_sums", "patient_sums",
           "observer_group_stats", "group_gaps"]

FRAME_COLUMNS = ("sample_id", "patient_id", "condition", "present", "t")
"""The columns the input frame needs."""
OPTIONAL_COLUMNS = {"dataset": "", "recon": "", "level": float("nan"), "observer": ""}
"""Identifier columns filled with these values when absent."""
STATS_COLUMNS = ("dataset", "condition", "recon", "level", "observer", "attribute", "group", "n", "n_patients",
                 "n_present", "n_absent", "d_prime", "auc", "ci_low", "ci_high", "delta_d_prime", "delta_ci_low",
                 "delta_ci_high", "p_value", "n_boot_valid", "n_boot", "reason")
"""Columns of :func:`observer_group_stats` (``attribute`` is ``""`` for the group ``all``)."""
GAP_COLUMNS = ("dataset", "condition", "recon", "level", "observer", "attribute", "n_groups", "d_prime_gap",
               "worst_group", "best_group", "reason")
"""Columns of :func:`group_gaps`."""


def patient_sums(t: np.ndarray, present: np.ndarray, patients: np.ndarray, n_patients: int) -> np.ndarray:
    """Per-patient ``[n1, sum t1, sum t1^2, n0, sum t0, sum t0^2]``, ``(n_patients, 6)`` float64.

    >>> patient_sums(np.array([1.0, 2.0, 3.0]), np.array([True, False, True]), np.array([0, 0, 1]), 2).tolist()
    [[1.0, 1.0, 1.0, 1.0, 2.0, 4.0], [1.0, 3.0, 9.0, 0.0, 0.0, 0.0]]
    """
    out = np.empty((n_patients, 6))
    for k, cls in enumerate((present, ~present)):
        for j, weight in enumerate((None, t, t * t)):
            out[:, 3 * k + j] = np.bincount(patients[cls], None if weight is None else weight[cls],
                                            minlength=n_patients)
    return out


def d_prime_from_sums(sums: np.ndarray) -> np.ndarray:
    """``d'`` from (weighted) sums ``[..., 6]`` as :func:`patient_sums` orders them; NaN where undefined.

    Means ``m = sum t / n``, variances ``(sum t^2 - n m^2) / (n - 1)``; undefined with ``n < 2`` in a
    class or a pooled variance that is not positive.

    >>> d_prime_from_sums(np.array([2.0, 4.0, 10.0, 2.0, 2.0, 4.0]))  # t1 = 1, 3; t0 = 0, 2
    array(0.70710678)
    """
    n1, s1, q1, n0, s0, q0 = np.moveaxis(np.asarray(sums, dtype=np.float64), -1, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        m1, m0 = s1 / n1, s0 / n0
        pooled = 0.5 * ((q1 - s1 * m1) / (n1 - 1) + (q0 - s0 * m0) / (n0 - 1))
        value = (m1 - m0) / np.sqrt(pooled)
    return np.where((n1 >= 2) & (n0 >= 2) & (pooled > 0), value, np.nan)


def _prepare(frame: pd.DataFrame, attributes: Sequence[str], intersections: bool) -> tuple[pd.DataFrame, dict]:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"observer_group_stats: frame must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in FRAME_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"observer_group_stats: frame lacks column(s) {missing}; it needs {list(FRAME_COLUMNS)} "
                         "(one row per test image and condition)")
    data = frame.copy()
    for column, default in OPTIONAL_COLUMNS.items():
        if column not in data.columns:
            data[column] = default
    present = pd.to_numeric(data["present"], errors="coerce")
    if not present.isin([0, 1]).all():
        raise ValueError("observer_group_stats: column 'present' must hold 0 (signal absent) or 1 (present), got "
                         f"{sorted(set(data['present'][~present.isin([0, 1])].astype(str)))[:5]}")
    data["present"] = present.astype(bool)
    data["t"] = pd.to_numeric(data["t"], errors="coerce").astype(np.float64)
    if not np.isfinite(data["t"].to_numpy()).all():
        raise ValueError("observer_group_stats: column 't' (decision variables) must be finite everywhere")
    for column in ("dataset", "observer", "condition", "sample_id", "patient_id"):
        if data[column].isna().any():
            raise ValueError(f"observer_group_stats: column {column!r} has missing values")
        data[column] = data[column].astype(str)
    keys = ["dataset", "observer", "condition", "sample_id", "present"]
    repeated = data.duplicated(keys)
    if repeated.any():
        example = data.loc[repeated, keys].iloc[0].to_dict()
        raise ValueError(f"observer_group_stats: {int(repeated.sum())} repeated rows for one (dataset, observer, "
                         f"condition, sample_id, present), e.g. {example}; each image is one row per condition")
    names = list(attributes)
    if intersections:
        singles = [a for a in names if INTERSECTION not in a.replace("*", INTERSECTION)]
        names += [f"{a}{INTERSECTION}{b}" for i, a in enumerate(singles) for b in singles[i + 1:]]
    columns = attribute_columns(data, names)
    for column in {c for spec in columns.values() for c in spec.split(INTERSECTION)}:
        if data[column].isna().any():
            raise ValueError(f"observer_group_stats: attribute column {column!r} has missing values; map them to "
                             "an explicit group such as 'unknown'")
    return data, columns


def observer_group_stats(frame: pd.DataFrame, *, attributes: Sequence[str] = (), intersections: bool = True,
                         reference: str = ORIGINAL, n_boot: int = 1000, seed: int = 0, min_group_size: int = 10,
                         min_valid_fraction: float = 0.95, chunk_size: int = 200) -> pd.DataFrame:
    """``d'``, AUC, CIs and the paired change against ``reference``, per condition and group.

    Parameters
    ----------
    frame
        Test-split decision variables (see the module docs for its columns).
    attributes
        Attribute names (columns ``attr_<name>``); an intersection may be
        named as ``"sex×age_group"`` or ``"sex*age_group"``.
    intersections
        Also every intersection of two of the single ``attributes`` (default True).
    reference
        The condition every other is compared with (default ``"original"``).
    n_boot
        Bootstrap resamples ``B`` (default 1000).
    seed
        Seed of the patient draws (``numpy_generator(seed, "bootstrap")``).
    min_group_size
        The patients a group needs (default 10); fewer: NaN with a reason.
    min_valid_fraction
        The fraction of resamples a CI or p needs ``d'`` defined in (default 0.95).
    chunk_size
        Resamples per matrix product (memory, not results).

    Returns
    -------
    pandas.DataFrame
        One row per block, condition (reference first) and group, columns
        :data:`STATS_COLUMNS`.
    """
    if isinstance(min_group_size, bool) or not isinstance(min_group_size, int) or min_group_size < 1:
        raise ValueError(f"observer_group_stats: parameter 'min_group_size' must be a positive integer, "
                         f"got {min_group_size!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 2:
        raise ValueError(f"observer_group_stats: parameter 'n_boot' must be an integer >= 2, got {n_boot!r}")
    if not 0 < min_valid_fraction <= 1:
        raise ValueError(f"observer_group_stats: parameter 'min_valid_fraction' must be in (0, 1], "
                         f"got {min_valid_fraction!r}")
    data, columns = _prepare(frame, attributes, intersections)
    rows: list[dict] = []
    for (dataset, observer), block in data.groupby(["dataset", "observer"], sort=True):
        rows.extend(_block(block, dataset, observer, columns, reference, n_boot, seed, min_group_size,
                           min_valid_fraction, chunk_size))
    return pd.DataFrame(rows, columns=list(STATS_COLUMNS))


def _block(block: pd.DataFrame, dataset: str, observer: str, columns: dict[str, str], reference: str,
           n_boot: int, seed: int, min_group_size: int, min_valid_fraction: float, chunk_size: int) -> list[dict]:
    """The rows of one (dataset, observer): every cell's estimates from one set of patient draws."""
    patients, index = pd.factorize(block["patient_id"], sort=True)
    n_patients = index.size
    t = block["t"].to_numpy(np.float64).copy()
    present = block["present"].to_numpy(bool)
    conditions = sorted(block["condition"].unique(), key=lambda c: (c != reference, c))
    condition_of = block["condition"].to_numpy()
    for c in conditions:  # centre per condition: d' is shift-invariant, the sums keep their precision
        rows = condition_of == c
        t[rows] -= t[rows].mean()
    groups: list[tuple[str, str, np.ndarray]] = [("", "all", np.ones(len(block), bool))]
    for name, column in columns.items():
        values = attribute_values(block, column).astype(str).to_numpy()
        groups.extend((name, g, values == g) for g in sorted(set(values)))
    cells = [(c, a, g, (condition_of == c) & member) for c in conditions for a, g, member in groups]
    sums = np.concatenate([patient_sums(t[m], present[m], patients[m], n_patients) for *_, m in cells], axis=1)
    point = d_prime_from_sums(sums.sum(axis=0).reshape(-1, 6))
    replicates = np.empty((len(cells), n_boot))
    start = 0
    for weights in patient_weights(n_patients, n_boot=n_boot, seed=seed, chunk_size=chunk_size):
        stop = start + weights.shape[0]
        replicates[:, start:stop] = d_prime_from_sums((weights.astype(np.float64) @ sums).reshape(
            weights.shape[0], len(cells), 6)).T
        start = stop
    position = {(c, a, g): i for i, (c, a, g, _) in enumerate(cells)}
    out, reasons = [], {}
    for i, (c, a, g, member) in enumerate(cells):
        rows = block.loc[member]
        n1, n0 = int(rows["present"].sum()), int((~rows["present"]).sum())
        k = int(rows["patient_id"].nunique())
        if k < min_group_size:
            reason = f"n_patients={k} < min_group_size={min_group_size}"
        elif n1 < 2 or n0 < 2:
            reason = f"needs 2 signal-present and 2 signal-absent images, got n_present={n1}, n_absent={n0}"
        elif not np.isfinite(point[i]):
            reason = "decision variables have zero variance"
        else:
            reason = ""
        reasons[i] = reason
        value = point[i] if not reason else np.nan
        valid = replicates[i][np.isfinite(replicates[i])]
        low = high = np.nan
        ci_reason = ""
        if not reason:
            if valid.size >= max(2, np.ceil(min_valid_fraction * n_boot - 1e-9)):
                low, high = np.quantile(valid, [0.025, 0.975])
            else:
                ci_reason = f"d' defined in {valid.size} of {n_boot} resamples ({100 * min_valid_fraction:g} % needed)"
        first = rows.iloc[0]
        out.append({
            "dataset": dataset, "condition": c, "recon": first["recon"], "level": first["level"],
            "observer": observer, "attribute": a, "group": g, "n": len(rows), "n_patients": k, "n_present": n1,
            "n_absent": n0, "d_prime": value,
            "auc": auc(rows.loc[rows["present"], "t"], rows.loc[~rows["present"], "t"]) if not reason else np.nan,
            "ci_low": float(low), "ci_high": float(high), "reason": reason or ci_reason,
        })
    for i, (c, a, g, _) in enumerate(cells):
        row = out[i]
        ref = position.get((reference, a, g))
        nan = float("nan")
        row.update(delta_d_prime=nan, delta_ci_low=nan, delta_ci_high=nan, p_value=nan, n_boot_valid=0,
                   n_boot=n_boot)
        if reasons[i]:
            continue
        if ref is None:
            row["reason"] = row["reason"] or f"no reference condition {reference!r} for this group"
            continue
        if reasons[ref]:
            row["reason"] = row["reason"] or f"reference d' undefined ({reasons[ref]})"
            continue
        result = summarize_delta(replicates[ref], replicates[i], point[ref], point[i],
                                 min_valid_fraction=min_valid_fraction)
        row.update(delta_d_prime=result.delta, delta_ci_low=result.ci_low, delta_ci_high=result.ci_high,
                   p_value=result.p_value, n_boot_valid=result.n_boot_valid)
        row["reason"] = row["reason"] or result.uncertainty_reason
    return out


def group_gaps(stats: pd.DataFrame) -> pd.DataFrame:
    """``d'`` gap between groups, max - min over each attribute's groups with a defined ``d'`` (point estimate).

    A max - min statistic is not smooth where gaps are 0, so its percentile
    bootstrap has the wrong size (docs/statistics.md); only the estimate is
    given here.  Fewer than two groups with ``d'``: NaN with a reason.

    >>> stats = pd.DataFrame({"dataset": "d", "condition": "original", "recon": "", "level": np.nan,
    ...                       "observer": "cho", "attribute": ["", "sex", "sex"], "group": ["all", "F", "M"],
    ...                       "d_prime": [2.0, 2.5, 1.75]})
    >>> group_gaps(stats)[["attribute", "n_groups", "d_prime_gap", "worst_group"]].values.tolist()
    [['sex', 2, 0.75, 'M']]
    """
    rows = []
    keys = ["dataset", "condition", "recon", "level", "observer", "attribute"]
    parts = stats.loc[stats["attribute"] != ""].groupby(keys, sort=False, dropna=False)
    for key, part in parts:
        usable = part.loc[np.isfinite(part["d_prime"].to_numpy(np.float64))]
        row = dict(zip(keys, key), n_groups=len(usable), d_prime_gap=np.nan, worst_group="", best_group="",
                   reason="")
        if len(usable) < 2:
            row["reason"] = f"{len(usable)} group(s) with a defined d' (2 needed)"
        else:
            worst, best = usable.loc[usable["d_prime"].idxmin()], usable.loc[usable["d_prime"].idxmax()]
            row.update(d_prime_gap=float(best["d_prime"] - worst["d_prime"]), worst_group=worst["group"],
                       best_group=best["group"])
        rows.append(row)
    return pd.DataFrame(rows, columns=list(GAP_COLUMNS))
