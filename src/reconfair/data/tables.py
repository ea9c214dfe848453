"""Steps every real-data adapter shares: reading index tables, missing-input policy, attributes, splits.

Examples
--------
>>> sex_code("Female"), sex_code("m"), sex_code("Unknown")
('F', 'M', None)
>>> age_text("67"), age_text(54.5), age_text(""), age_text("-3")
('67', '54.5', None, None)
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reconfair.data.demographics import age_group_names
from reconfair.data.splits import assign_splits

__all__ = ["Skips", "read_table", "require_columns", "require_file", "sex_code", "age_text", "finish_table"]

log = logging.getLogger("reconfair.data")
_SEX = {"f": "F", "female": "F", "w": "F", "woman": "F", "m": "M", "male": "M", "man": "M"}
_SHOWN = 5


def require_file(path: Path, what: str) -> Path:
    """``path`` if it is a file; otherwise an error naming it and listing what its folder holds."""
    if path.is_file():
        return path
    folder = path.parent
    if folder.is_dir():
        found = sorted(p.name for p in folder.iterdir())
        listing = ", ".join(found[:12]) + (f" ... ({len(found)} entries)" if len(found) > 12 else "")
        hint = f"{folder} holds: {listing or 'nothing'}"
    else:
        hint = f"the folder {folder} does not exist either"
    raise FileNotFoundError(f"{what} not found: {path}; {hint}")


def read_table(path: Path, what: str) -> pd.DataFrame:
    """A CSV or Excel (``.xlsx``/``.xls``) table with every cell read as text (blank -> NaN)."""
    require_file(path, what)
    try:
        if path.suffix.lower() in (".xlsx", ".xls"):
            return pd.read_excel(path, dtype=str)
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except Exception as error:  # pandas/openpyxl parse errors: name the file
        raise ValueError(f"{what} {path} could not be read as a table ({type(error).__name__}: {error})") from None


def require_columns(table: pd.DataFrame, columns: list[str] | tuple[str, ...], path: Path, what: str) -> None:
    """Raise naming the missing columns, the file and the columns it has."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(
            f"{what} {path} lacks column(s) {', '.join(map(repr, missing))}; "
            f"found columns: {', '.join(map(repr, table.columns))}"
        )


def sex_code(value: Any) -> str | None:
    """``F``/``M`` from common spellings (case-insensitive); ``None`` when unknown."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return _SEX.get(str(value).strip().lower())


def age_text(value: Any) -> str | None:
    """Age in years as text (integers without a decimal point); ``None`` when blank or not a number >= 0."""
    try:
        age = float(str(value).strip())
    except ValueError:
        return None
    if not math.isfinite(age) or age < 0:
        return None
    return str(int(age)) if age.is_integer() else repr(age)


@dataclass
class Skips:
    """The ``on_missing`` policy: raise at the first problem (``error``) or record and go on (``skip``)."""

    policy: str
    dataset: str
    records: list[dict[str, str]] = field(default_factory=list)

    def problem(self, message: str, *, sample_id: str, path: str | Path) -> None:
        """Raise ``message`` (policy ``error``) or record the sample as skipped."""
        if self.policy == "error":
            raise ValueError(f"{self.dataset}: {message} (set source.on_missing: skip to drop such samples)")
        self.records.append({"sample_id": str(sample_id), "path": str(path), "reason": message})

    def report(self) -> None:
        """Log one warning: the first few skipped samples and the count."""
        if not self.records:
            return
        shown = "; ".join(f"{r['sample_id']} ({r['reason']})" for r in self.records[:_SHOWN])
        more = f" and {len(self.records) - _SHOWN} more" if len(self.records) > _SHOWN else ""
        log.warning("%s: skipped %d sample(s): %s%s", self.dataset, len(self.records), shown, more)


def finish_table(
    table: pd.DataFrame,
    *,
    attributes: tuple[str, ...],
    labels: tuple[str, ...],
    age_cut: float | None,
    fractions: tuple[float, float, float],
    seed: int,
    stratify: tuple[str, ...],
) -> tuple[pd.DataFrame, float | None]:
    """Add ``attr_age_group`` and the stratified patient-level ``split``; order the columns.

    ``table`` holds ``sample_id``, ``patient_id``, ``attr_<a>`` (except
    ``age_group``) and ``label_<l>``.  The age cut is ``age_cut`` or the median
    of the patients' ages rounded to whole years; returns the table and the cut.
    """
    if table.empty:
        raise ValueError("no samples left to build a data set from; check the paths and filters in source")
    cut = None
    if "age_group" in attributes:
        ages = table.groupby("patient_id", sort=False)["attr_age"].first().astype(float)
        cut = float(age_cut) if age_cut is not None else float(np.floor(np.median(ages) + 0.5))
        young, old = age_group_names(cut)
        table = table.assign(attr_age_group=np.where(table["attr_age"].astype(float) < cut, young, old).astype(object))
    strata = None
    if stratify:
        per_patient = {}
        for key in stratify:
            column = f"attr_{key}" if key in attributes else f"label_{key}"
            grouped = table.groupby("patient_id", sort=False)[column]
            values = grouped.first() if key in attributes else grouped.max().map(lambda v: "nan" if pd.isna(v) else f"{v:g}")
            per_patient[key] = table["patient_id"].map(values).astype(str)
        strata = ["|".join(f"{k}={per_patient[k].iloc[i]}" for k in stratify) for i in range(len(table))]
    split = assign_splits(table["patient_id"].tolist(), fractions=fractions, seed=seed, strata=strata)
    columns = ["sample_id", "patient_id", "split", *(f"attr_{a}" for a in attributes), *(f"label_{n}" for n in labels)]
    out = table.assign(split=split)[columns].reset_index(drop=True)
    for name in labels:
        out[f"label_{name}"] = out[f"label_{name}"].astype(np.float64)
    return out, cut


def patient_constant(table: pd.DataFrame, column: str, how: str = "first") -> pd.Series:
    """``column`` made constant within each patient: its ``first`` non-missing value or its ``min``."""
    grouped = table.groupby("patient_id", sort=False)[column]
    values = grouped.first() if how == "first" else grouped.min()
    return table["patient_id"].map(values)
