"""The per-sample table: column order, validation, and parquet I/O.

One row per sample x condition x target; every metric, figure and test
reads this table and nothing recomputes predictions.

>>> SAMPLE_COLUMNS[:4]
('sample_id', 'patient_id', 'split', 'dataset')
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

SAMPLE_COLUMNS = (
    "sample_id",
    "patient_id",
    "split",
    "dataset",
    "task",
    "target",
    "condition",
    "recon",
    "degradation",
    "level",
    "mitigation",
    "seed",
    "replicate",
    "y_true",
    "y_score",
    "dice",
    "psnr",
    "ssim",
    "nrmse",
)
SORT_KEYS = ("dataset", "task", "target", "condition", "replicate", "sample_id")
DEFAULTS = {"replicate": 0}
"""Columns a table read from a file may lack, and the value they take (a table made elsewhere, or written
before the column existed, holds one model replicate)."""


def canonical(samples: pd.DataFrame) -> pd.DataFrame:
    """Columns in the documented order (attributes last, sorted) and rows in a stable order."""
    missing = [c for c in SAMPLE_COLUMNS if c not in samples.columns]
    if missing:
        raise ValueError(f"per-sample table lacks columns {missing}; see docs/samples-table.md")
    attributes = sorted(c for c in samples.columns if c.startswith("attr_"))
    ordered = samples[list(SAMPLE_COLUMNS) + attributes]
    return ordered.sort_values(list(SORT_KEYS), kind="mergesort").reset_index(drop=True)


def write_samples(samples: pd.DataFrame, path: str | Path) -> Path:
    """Write the canonical table to parquet atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    canonical(samples).to_parquet(tmp, index=False)
    tmp.replace(path)
    return path


def read_samples(path: str | Path) -> pd.DataFrame:
    """Read a per-sample table (parquet or CSV), naming the file if it is unusable.

    A column of :data:`DEFAULTS` that the file lacks is added with its default
    (``replicate`` 0), so tables written before it existed stay readable.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such per-sample table")
    table = pd.read_csv(path) if path.suffix.lower() == ".csv" else pd.read_parquet(path)
    for column, default in DEFAULTS.items():
        if column not in table.columns:
            table[column] = default
    missing = [c for c in SAMPLE_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; found {list(table.columns)}")
    return table
