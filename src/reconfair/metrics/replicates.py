"""Replicate seeds of trained models summarised as mean ± sd.

When the per-sample table holds several ``seed`` values (one per trained
model replicate), every metric row exists once per seed.  :func:`summarise_seeds`
collapses them: ``n_seeds``, mean and sample standard deviation (ddof = 1) of
``value`` and ``delta`` (fairness) or ``value`` (performance), beside the mean
of the per-seed bootstrap CI bounds when present.

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

from pathlib import Path

import pandas as pd

from reconfair.metrics.evaluate import EvaluationTables

SUMMARISED = ("value", "delta", "ci_low", "ci_high")
NOT_KEYS = (
    "seed", "value", "value_original", "delta", "delta_pct", "n", "n_excluded", "n_groups", "excluded",
    "reason", "threshold", "se", "ci_low", "ci_high", "p_value", "p_adjusted", "n_boot_valid",
)


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
