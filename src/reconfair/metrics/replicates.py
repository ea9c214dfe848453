"""Model replicates: pooling their paired bootstraps, and summarising them as mean ± sd.

A study with ``replicates: K`` trains every learned model K times (derived
seeds) and evaluates each replicate on the same patients.  A verdict about a
*method* (U-Net, Pix2Pix, ...) must include the variation between trained
instances as well as between patients.  :func:`pool_replicates` combines the
replicates' paired bootstraps by the two-way ("pigeonhole") bootstrap of a
crossed design (Owen 2007, *Ann. Appl. Stat.* 1:1): each resample ``b`` draws
patients (the same draw for every replicate, as each replicate's bootstrap
already does) and, independently, replicates with replacement (multiplicities
``r_b ~ Multinomial(K, 1/K)``); its statistic is
``sum_k r_bk stat_k(b) / K``.  The point estimate is the mean over
replicates.  This variance estimate is mildly conservative (Owen 2007); with
few replicates (K < 5) the between-replicate part is estimated roughly.

:func:`combine_replicates` gives the method-level point-estimate tables (mean
over replicates, with the replicates' sd), and :func:`summarise_seeds`
collapses several *runs* (a ``seed`` column) to mean ± sd.

Examples
--------
>>> import pandas as pd
>>> fairness = pd.DataFrame({"dataset": "d", "task": "classification", "target": "t",
...     "condition": "noisy", "attribute": "sex", "metric": "eodd", "seed": [0, 1, 2],
...     "value": [0.1, 0.2, 0.3], "delta": [0.0, 0.1, 0.2]})
>>> row = summarise_seeds(fairness).iloc[0]
>>> int(row["n_seeds"]), round(float(row["value_mean"]), 12), round(float(row["value_sd"]), 12), round(float(row["delta_mean"]), 12)
(3, 0.2, 0.1, 0.1)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from reconfair.metrics.bootstrap import PairedReplicates
from reconfair.metrics.evaluate import EvaluationTables
from reconfair.metrics.hypothesis import Gaps
from reconfair.seeding import numpy_generator

SUMMARISED = ("value", "delta", "ci_low", "ci_high")
NOT_KEYS = (
    "seed", "value", "value_original", "delta", "delta_pct", "n", "n_excluded", "n_groups", "excluded",
    "reason", "threshold", "se", "ci_low", "ci_high", "p_value", "p_adjusted", "n_boot_valid", "n_boot", "test",
    "p_floor", "uncertainty_reason", "family", "family_size", "significant", "mdc", "mdc_family", "model_status",
    "replicate", "n_replicates", "value_sd_replicates", "delta_sd_replicates",
)
REPLICATE = "replicate"


def _weighted(stack: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``sum_k w[b, k] x[k, ..., b]`` over the replicates drawn (``w > 0``): NaN only where a drawn one is NaN."""
    total = np.zeros(stack.shape[1:])
    for k in range(stack.shape[0]):
        w = weights[:, k].reshape(-1, *([1] * (stack.ndim - 2)))
        total = total + np.where(w > 0, stack[k], 0.0) * w
    return total


def pool_replicates(replicates: Sequence[PairedReplicates], *, seed: int) -> PairedReplicates:
    """The two-way bootstrap over replicates and patients (see the module docs); one replicate: itself.

    Every replicate must have the same keys and resamples (the same patients
    and seed): their ``b``-th resamples share one patient draw.

    >>> one = PairedReplicates((("t", "", "auroc"),), np.array([[0.8, 0.7]]), np.full((1, 2, 4), 0.5), (None,))
    >>> two = PairedReplicates((("t", "", "auroc"),), np.array([[0.9, 0.7]]), np.full((1, 2, 4), 0.7), (None,))
    >>> pooled = pool_replicates([one, two], seed=0)
    >>> pooled.estimates.round(12).tolist()  # the mean over replicates
    [[0.85, 0.7]]
    >>> sorted(set(pooled.replicates[0, 0].round(12).tolist())) <= [0.5, 0.6, 0.7]
    True
    """
    if len(replicates) == 1:
        return replicates[0]
    first = replicates[0]
    for other in replicates[1:]:
        if other.keys != first.keys or other.replicates.shape != first.replicates.shape:
            raise ValueError("model replicates must share their statistics and resamples (the same patients, "
                             "targets, attributes and bootstrap seed) to be pooled")
    k, n_boot = len(replicates), first.replicates.shape[2]
    draws = numpy_generator(seed, "bootstrap", "replicates").multinomial(k, np.full(k, 1.0 / k), size=n_boot)
    weights = draws / k
    stack = np.stack([r.replicates for r in replicates])  # (K, keys, 2, B)
    pooled = _weighted(np.moveaxis(stack, -1, 1), weights)  # (B, keys, 2)
    gaps = []
    for i, gap in enumerate(first.gaps):
        if gap is None:
            gaps.append(None)
            continue
        estimate = np.mean([r.gaps[i].estimate for r in replicates], axis=0)
        gaps.append(Gaps(estimate, _weighted(np.stack([r.gaps[i].replicates for r in replicates]), weights),
                         gap.labels))
    return PairedReplicates(first.keys, np.mean([r.estimates for r in replicates], axis=0),
                            np.moveaxis(pooled, 0, -1), tuple(gaps))


def combine_replicates(performance: pd.DataFrame, fairness: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Method-level point estimates: the mean over the ``replicate`` column, with its sd and count.

    Performance: ``value`` averaged, ``value_sd_replicates``; ``threshold``
    is per replicate and left NaN.  Fairness: ``value_original``, ``value``
    and ``delta`` averaged, ``delta_pct`` recomputed, ``value_sd_replicates``
    and ``delta_sd_replicates``; ``n_groups``, ``excluded`` and ``reason``
    come from the labels (the same in every replicate) and are taken from the
    first.

    >>> fair = pd.DataFrame({"dataset": "d", "condition": "c", "attribute": "sex", "metric": "eodd",
    ...     "replicate": [0, 1], "value_original": [0.1, 0.3], "value": [0.2, 0.6], "delta": [0.1, 0.3],
    ...     "delta_pct": [100.0, 100.0], "n_groups": 2, "excluded": "", "reason": ""})
    >>> perf = fair[["dataset", "condition", "replicate"]].assign(metric="auroc", value=[0.8, 0.9], n=10,
    ...     n_excluded=0, threshold=[0.4, 0.5], reason="")
    >>> _, combined = combine_replicates(perf, fair)
    >>> combined[["value_original", "value", "delta", "delta_pct"]].round(12).values.tolist(), combined["n_replicates"].tolist()
    ([[0.2, 0.4, 0.2, 100.0]], [2])
    """
    tables = []
    for table, averaged in ((performance, ("value",)), (fairness, ("value_original", "value", "delta"))):
        keys = [c for c in table.columns if c not in NOT_KEYS]
        grouped = table.groupby(keys, sort=False, dropna=False)
        out = grouped.first().reset_index()
        means = grouped[list(averaged)].mean().reset_index(drop=True)
        for column in averaged:
            out[column] = means[column].to_numpy()
        out["n_replicates"] = grouped[REPLICATE].nunique().to_numpy()
        out["value_sd_replicates"] = grouped["value"].std(ddof=1).to_numpy()
        if "delta" in averaged:
            out["delta_sd_replicates"] = grouped["delta"].std(ddof=1).to_numpy()
            base = out["value_original"].abs().to_numpy(dtype=np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                out["delta_pct"] = np.where(base == 0, np.nan, 100.0 * out["delta"].to_numpy(np.float64) / base)
        else:
            out["threshold"] = np.nan
        columns = [c for c in table.columns if c != REPLICATE] + [c for c in out.columns if c not in table.columns]
        tables.append(out[columns])
    return tables[0], tables[1]


def summarise_seeds(table: pd.DataFrame) -> pd.DataFrame:
    """Mean ± sd over seeds of a fairness or performance table (one row per key).

    Raises ``ValueError`` when the table has no ``seed`` column.
    """
    if "seed" not in table.columns:
        raise ValueError("no 'seed' column: replicate seeds cannot be summarised; found " + str(list(table.columns)))
    keys = [c for c in table.columns if c not in NOT_KEYS]
    columns = [c for c in SUMMARISED if c in table.columns]
    grouped = table.groupby(keys, sort=True, dropna=False)
    out = grouped["seed"].nunique().rename("n_seeds").to_frame()
    for column in columns:
        out[f"{column}_mean"] = grouped[column].mean()
        if column in ("value", "delta"):
            out[f"{column}_sd"] = grouped[column].std(ddof=1)
    return out.reset_index()


def write_seed_summaries(tables: EvaluationTables, folder: str | Path) -> list[Path]:
    """Write ``seeds_performance.csv`` and ``seeds_fairness.csv`` when there are several seeds.

    Returns the paths written (none for a single-seed table).
    """
    written = []
    for name in ("performance", "fairness"):
        table = getattr(tables, name)
        if "seed" not in table.columns or table["seed"].nunique() < 2:
            continue
        path = Path(folder) / f"seeds_{name}.csv"
        summarise_seeds(table).to_csv(path, index=False)
        written.append(path)
    return written
