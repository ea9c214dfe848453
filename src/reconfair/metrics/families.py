"""Multiple-testing families, adjusted p-values, significance, power and the resamples a family needs.

A family is the set of tests one correction runs over.  ``settings.family``
names the table columns whose values define one (:data:`~reconfair.metrics.settings.FAMILIES`):
by default one family per data set x task x attribute x metric, i.e. all
conditions and targets of one question such as "does EODD by sex change on
synthetic-chest?".  Within each family the p-values are adjusted (Holm or
Benjamini-Hochberg) over its ``m`` tests with a finite p; a change is
``significant`` when its adjusted p is below ``alpha``.

Resolution: a test on ``n`` resamples cannot give a p below its floor
``c / (n + 1)`` (:func:`~reconfair.metrics.hypothesis.p_floor`), and Holm's
first cut (and Benjamini-Hochberg's smallest) is ``alpha / m``.  A family
whose smallest floor is above ``alpha / m`` can have no significant test:
:func:`families_table` marks it ``reachable = False`` and :func:`family_notes`
says so.  ``bootstrap: auto`` asks for :func:`needed_resamples`: the B at
which the floor is at most half the first cut.

Minimum detectable change at power ``1 - beta`` (Bloom 1995), from the
bootstrap SE of the delta: ``mdc = (z_{1 - alpha/2} + z_{1 - beta}) SE``, and
``mdc_family`` with ``alpha / m`` in place of ``alpha`` (the level the
family's first test faces).

Examples
--------
>>> from reconfair.metrics.settings import EvaluationSettings
>>> table = pd.DataFrame({"dataset": "d", "task": "classification", "attribute": "sex", "metric": "eodd",
...     "target": ["a", "b"], "p_value": [0.001, 0.04], "se": [0.01, 0.02], "test": "wald-gaps",
...     "p_floor": 1 / 1001, "n_boot": 1000})
>>> out = adjust_families(table, EvaluationSettings())
>>> out[["family", "family_size", "p_adjusted", "significant"]].values.tolist()
[['d/classification/sex/eodd', 2, 0.002, True], ['d/classification/sex/eodd', 2, 0.04, True]]
>>> round(float(out["mdc"].iloc[0]), 4)  # (1.96 + 0.8416) x 0.01
0.028
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import norm

from reconfair.metrics.hypothesis import TESTS
from reconfair.metrics.multiple_testing import adjust_p_values
from reconfair.metrics.settings import EvaluationSettings

__all__ = ["FAMILY_COLUMNS_OUT", "adjust_families", "families_table", "family_notes", "needed_resamples",
           "minimum_detectable_change", "AUTO_MINIMUM"]

FAMILY_COLUMNS_OUT = ("family", "family_size", "p_adjusted", "significant", "mdc", "mdc_family")
"""Columns :func:`adjust_families` adds."""
AUTO_MINIMUM = 1000
"""``bootstrap: auto`` never uses fewer resamples than this."""


def minimum_detectable_change(se: np.ndarray | float, *, alpha: float, power: float) -> np.ndarray:
    """``(z_{1 - alpha/2} + z_{power}) * se``: the two-sided change detected with probability ``power``.

    >>> round(float(minimum_detectable_change(0.1, alpha=0.05, power=0.8)), 4)
    0.2802
    """
    factor = norm.ppf(1 - np.asarray(alpha, dtype=np.float64) / 2) + norm.ppf(power)
    return np.asarray(se, dtype=np.float64) * factor


def _labels(table: pd.DataFrame, settings: EvaluationSettings) -> pd.Series:
    columns = [c for c in settings.family_columns if c in table.columns]
    if not settings.family_columns:
        return pd.Series("report", index=table.index, dtype=object)
    if not columns:
        return pd.Series("all", index=table.index, dtype=object)
    parts = table[columns].astype(object).where(table[columns].notna(), "").astype(str)
    return parts.apply(lambda row: "/".join(v for v in row if v != ""), axis=1).astype(object)


def adjust_families(table: pd.DataFrame, settings: EvaluationSettings) -> pd.DataFrame:
    """``table`` (rows of tests with ``p_value`` and ``se``) with the columns of :data:`FAMILY_COLUMNS_OUT`."""
    out = table.copy()
    if out.empty:
        for column in FAMILY_COLUMNS_OUT:
            out[column] = pd.Series(dtype=object if column == "family" else float)
        return out
    out["family"] = _labels(out, settings)
    p = out["p_value"].to_numpy(dtype=np.float64)
    adjusted = np.full(p.shape, np.nan)
    size = np.zeros(p.shape, dtype=np.int64)
    for _, index in out.groupby("family", sort=False).indices.items():
        adjusted[index] = adjust_p_values(p[index], method=settings.adjust)
        size[index] = int(np.isfinite(p[index]).sum())
    out["family_size"] = size
    out["p_adjusted"] = adjusted
    out["significant"] = np.isfinite(adjusted) & (adjusted < settings.alpha)
    se = out["se"].to_numpy(dtype=np.float64)
    out["mdc"] = minimum_detectable_change(se, alpha=settings.alpha, power=settings.power)
    with np.errstate(divide="ignore", invalid="ignore"):
        family_alpha = np.where(size > 0, settings.alpha / np.maximum(size, 1), np.nan)
    out["mdc_family"] = np.where(size > 0, minimum_detectable_change(se, alpha=family_alpha, power=settings.power),
                                 np.nan)
    return out


def families_table(table: pd.DataFrame, settings: EvaluationSettings) -> pd.DataFrame:
    """One row per family of an adjusted table: its size, first cut, smallest reachable p and verdicts."""
    columns = ["family", "n_tests", "adjust", "alpha", "first_cut", "min_p_floor", "reachable", "n_boot",
               "n_significant", "needed_resamples", "note"]
    rows = []
    if table.empty or "family" not in table.columns:
        return pd.DataFrame(columns=columns)
    for family, part in table.groupby("family", sort=True):
        tested = part[np.isfinite(part["p_value"].to_numpy(dtype=np.float64))]
        m = len(tested)
        cut = settings.alpha / m if m else float("nan")
        floor = float(tested["p_floor"].min()) if m else float("nan")
        reachable = bool(not m or floor <= cut)  # a family without tests has nothing to reach
        if not m:
            note = "no test: every change in it is undefined or untested"
        elif not reachable:
            note = (f"the smallest p its resamples can give ({floor:.2g}) is above {settings.adjust}'s first cut "
                    f"{settings.alpha:g}/{m} = {cut:.2g}: no test in it can be significant")
        else:
            note = ""
        rows.append({"family": family, "n_tests": m, "adjust": settings.adjust, "alpha": settings.alpha,
                     "first_cut": cut, "min_p_floor": floor, "reachable": reachable,
                     "n_boot": int(part["n_boot"].max()) if m else 0,
                     "n_significant": int(part["significant"].sum()),
                     "needed_resamples": _needed(tested, settings) if m else 0, "note": note})
    return pd.DataFrame(rows, columns=columns)


def _needed(tested: pd.DataFrame, settings: EvaluationSettings) -> int:
    """The B at which this family's smallest floor is at most half its first cut: ``c / (B + 1) <= alpha / 2m``."""
    c = min(TESTS[t] for t in tested["test"])
    return int(math.ceil(2 * c * len(tested) / settings.alpha)) - 1


def needed_resamples(table: pd.DataFrame, settings: EvaluationSettings) -> int:
    """The resamples every family of an adjusted table needs (at least :data:`AUTO_MINIMUM`)."""
    families = families_table(table, settings)
    needed = int(families["needed_resamples"].max()) if not families.empty else 0
    return max(AUTO_MINIMUM, needed)


def family_notes(families: pd.DataFrame, settings: EvaluationSettings) -> list[str]:
    """One warning per family where no p this B can give passes the correction."""
    notes = []
    for row in families.itertuples(index=False):
        if row.n_tests and not row.reachable:
            notes.append(f"family {row.family} ({row.n_tests} tests, B = {row.n_boot}): {row.note}; raise "
                         f"evaluation.bootstrap to at least {row.needed_resamples}, or use bootstrap: auto")
    return notes
