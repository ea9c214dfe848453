"""What a metric row says: significance, undefined changes, model sanity, detectable change, p in words.

One set of rules for the headline, the verdict list, the overview, the tables
and figure 3:

- a row is **significant** when its change is finite and it passes the run's
  multiple-testing correction: the ``significant`` column when the table has
  one (written by the metrics layer at the run's ``evaluation.alpha``),
  otherwise ``p_adjusted < alpha`` (older runs);
- a row whose change is **undefined** (NaN ``delta``) has no CI, no p, no
  minimum detectable change and is never significant, whatever the CSV holds
  (:func:`clear_undefined`);
- a target whose diagnostic model ``metrics/models.csv`` flags as
  ``uninformative`` gets no verdict (:func:`model_flags`);
- the **minimum detectable change** quoted beside a non-significant result is
  ``mdc_family`` (80 % power at the family's first cut alpha/m) when present,
  else ``mdc`` (:func:`detectable`).

Examples
--------
>>> import pandas as pd
>>> rows = pd.DataFrame({"delta": [0.2, float("nan"), 0.1], "ci_low": [0.1, 0.0, -0.1],
...                      "ci_high": [0.3, 0.1, 0.3], "p_adjusted": [0.01, 0.0, 0.01],
...                      "significant": [True, True, "False"]})
>>> significance(rows).tolist()
[True, False, False]
>>> clear_undefined(rows)[["ci_low", "p_adjusted", "significant"]].values.tolist()
[[0.1, 0.01, True], [nan, nan, False], [-0.1, 0.01, False]]
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from reconfair.report.labels import ci, p_text
from reconfair.report.style import SIGNIFICANCE

CLEARED = ("se", "ci_low", "ci_high", "p_value", "p_adjusted", "mdc", "mdc_family")
"""Columns emptied on a row whose change is undefined."""
UNINFORMATIVE = "uninformative"
MACRO = "macro"
MODEL_NAMES = {"classification": "classifier", "segmentation": "segmenter"}


def flags(values: pd.Series) -> np.ndarray:
    """A boolean column read back from CSV (``True``, ``"true"``, ``1``; anything else is False).

    >>> flags(pd.Series([True, "True", "false", float("nan"), 1, 0])).tolist()
    [True, True, False, False, True, False]
    """
    return np.array([_flag(v) for v in values], dtype=bool)


def _flag(value: object) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    if isinstance(value, (int, float, np.integer, np.floating)):
        return bool(value == 1)
    return False


def significance(table: pd.DataFrame, alpha: float = SIGNIFICANCE) -> np.ndarray:
    """Per row: finite ``delta`` and (``significant`` column, else ``p_adjusted < alpha``)."""
    n = len(table)
    finite = np.isfinite(table["delta"].to_numpy(dtype=float)) if "delta" in table.columns else np.ones(n, bool)
    if "significant" in table.columns:
        passed = flags(table["significant"])
    elif "p_adjusted" in table.columns:
        p = table["p_adjusted"].to_numpy(dtype=float)
        passed = np.isfinite(p) & (p < alpha)
    else:
        passed = np.zeros(n, dtype=bool)
    return finite & passed


def clear_undefined(table: pd.DataFrame, alpha: float = SIGNIFICANCE) -> pd.DataFrame:
    """A copy where rows with a NaN ``delta`` carry no CI, p, SE or mdc, and ``significant`` is a clean bool."""
    out = table.copy()
    if "delta" in out.columns:
        undefined = ~np.isfinite(out["delta"].to_numpy(dtype=float))
        for column in CLEARED:
            if column in out.columns:
                out[column] = out[column].astype(float).mask(undefined)
    if "significant" in out.columns:
        out["significant"] = significance(out, alpha)
    return out


def model_flags(models: pd.DataFrame | None) -> dict[tuple[str, str, str], str]:
    """``(dataset, task, target) -> reason`` for every model ``metrics/models.csv`` flags as uninformative.

    With model replicates (a ``replicate`` column) a target is flagged when
    any replicate is, and the reason says in how many.

    >>> models = pd.DataFrame({"dataset": "d", "task": "classification", "target": ["a", "b"],
    ...     "metric": "auroc", "val_value": [0.22, 0.9], "status": ["uninformative", "ok"],
    ...     "reason": ["validation AUROC 0.22 <= 0.55 (at or below chance)", ""]})
    >>> model_flags(models)
    {('d', 'classification', 'a'): 'validation AUROC 0.22 <= 0.55 (at or below chance)'}
    """
    if models is None or models.empty or "status" not in models.columns:
        return {}
    out: dict[tuple[str, str, str], str] = {}
    keys = ["dataset", "task", "target"]
    for key, part in models.groupby(keys, sort=False):
        bad = part[part["status"].astype(str) == UNINFORMATIVE]
        if bad.empty:
            continue
        reasons = list(dict.fromkeys(str(r) for r in bad.get("reason", pd.Series([""] * len(bad))).fillna("")
                                     if str(r)))
        text = "; ".join(reasons) or "flagged uninformative"
        if "replicate" in part.columns and part["replicate"].nunique() > 1:
            text = f"in {bad['replicate'].nunique()} of {part['replicate'].nunique()} replicates: {text}"
        out[tuple(str(k) for k in key)] = text  # type: ignore[index]
    return out


def flag_for(flagged: Mapping[tuple[str, str, str], str], dataset: str, task: str, target: str) -> str:
    """The reason a target gets no verdict ('' when its model is fine); ``macro`` inherits any target's flag.

    >>> flag_for({("d", "classification", "a"): "near-constant"}, "d", "classification", "macro")
    'a: near-constant'
    """
    if target != MACRO:
        return flagged.get((dataset, task, target), "")
    parts = [f"{key[2]}: {reason}" for key, reason in flagged.items() if key[:2] == (dataset, task)]
    return "; ".join(parts)


def uninformative_mask(table: pd.DataFrame, flagged: Mapping[tuple[str, str, str], str]) -> np.ndarray:
    """Per row of ``table`` (dataset, task, target columns): whether its model is flagged."""
    if not flagged or table.empty:
        return np.zeros(len(table), dtype=bool)
    return np.array([bool(flag_for(flagged, str(d), str(t), str(g)))
                     for d, t, g in zip(table["dataset"], table["task"], table["target"])], dtype=bool)


def detectable(record: Mapping) -> float:
    """The minimum detectable change to quote: ``mdc_family`` if finite, else ``mdc``, else NaN."""
    for column in ("mdc_family", "mdc"):
        value = _float(record.get(column, math.nan))
        if math.isfinite(value):
            return value
    return math.nan


def ci_of(record: Mapping) -> str:
    """``[low, high]`` of a row, empty when undefined."""
    return ci(_float(record.get("ci_low", math.nan)), _float(record.get("ci_high", math.nan)))


def p_of(record: Mapping) -> str:
    """The row's adjusted p in words (:func:`~reconfair.report.labels.p_text`, with its floor when known).

    Older runs have no ``p_floor``: their floor is taken as 2 / (B + 1) from
    ``n_boot`` or ``n_boot_valid``, so a p of 0 from 50 resamples reads
    ``p_adj < 0.04``, not ``p_adj < 0.001``.

    >>> p_of({"p_value": 0.0, "p_adjusted": 0.0, "n_boot_valid": 50})
    'p_adj < 0.04'
    >>> p_of({"p_value": 0.002, "p_adjusted": 0.03, "p_floor": 0.002})
    'p < 0.002, p_adj ≤ 0.030'
    """
    return p_text(_float(record.get("p_adjusted", math.nan)), p_value=_float(record.get("p_value", math.nan)),
                  p_floor=floor_of(record))


def floor_of(record: Mapping) -> float:
    """``p_floor`` of a row, or 2 / (B + 1) from its resample count when the run predates the column."""
    floor = _float(record.get("p_floor", math.nan))
    if math.isfinite(floor) or "p_floor" in record:
        return floor
    for column in ("n_boot", "n_boot_valid"):
        count = _float(record.get(column, math.nan))
        if math.isfinite(count) and count > 0:
            return 2.0 / (count + 1.0)
    return math.nan


def _float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
