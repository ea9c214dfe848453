"""Adjusted p-values for a family of tests (docs/statistics.md).

Holm's step-down procedure (family-wise error rate, the default) and
Benjamini-Hochberg's step-up procedure (false discovery rate).  Both return
adjusted p-values in the order of the input, equal to statsmodels'
``multipletests(p, method="holm" | "fdr_bh")[1]``.  NaN p-values (a test that
could not be run) stay NaN and do not count in the family size.

Examples
--------
>>> holm([0.01, 0.04, 0.03]).tolist()
[0.03, 0.06, 0.06]
>>> benjamini_hochberg([0.01, 0.04, 0.03]).tolist()
[0.03, 0.04, 0.04]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["holm", "benjamini_hochberg", "adjust_p_values", "ADJUSTMENTS"]


def _as_p_values(p_values: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """1-D float64 p-values and the mask of the finite ones; checks [0, 1]."""
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"p_values must be 1-D, got shape {p.shape}; pass one p-value per test")
    finite = ~np.isnan(p)
    bad = finite & ((p < 0) | (p > 1))
    if bad.any():
        raise ValueError(
            f"p_values must lie in [0, 1] (or be NaN for a test not run); got "
            f"{int(bad.sum())} values outside, e.g. {p[bad][:3].tolist()}"
        )
    return p, finite


def holm(p_values: ArrayLike) -> np.ndarray:
    """Holm step-down adjusted p-values (controls the family-wise error rate).

    With the m finite p-values sorted ascending, ``p_(1) <= ... <= p_(m)``, the
    adjusted value of ``p_(i)`` is ``min(1, max_{j <= i} (m - j + 1) p_(j))``.

    Parameters
    ----------
    p_values : array_like
        1-D p-values in [0, 1]; NaN entries stay NaN and are not counted in m.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values, float64, in the input order.

    Examples
    --------
    >>> holm([0.01, float("nan"), 0.02, 0.5]).tolist()
    [0.03, nan, 0.04, 0.5]
    """
    p, finite = _as_p_values(p_values)
    out = np.full(p.shape, np.nan)
    values = p[finite]
    m = values.size
    if m == 0:
        return out
    order = np.argsort(values, kind="stable")
    scaled = (m - np.arange(m)) * values[order]
    adjusted = np.minimum(np.maximum.accumulate(scaled), 1.0)
    result = np.empty(m)
    result[order] = adjusted
    out[finite] = result
    return out


def benjamini_hochberg(p_values: ArrayLike) -> np.ndarray:
    """Benjamini-Hochberg step-up adjusted p-values (controls the false discovery rate).

    With the m finite p-values sorted ascending, the adjusted value of
    ``p_(i)`` is ``min(1, min_{j >= i} m p_(j) / j)``.

    Parameters
    ----------
    p_values : array_like
        1-D p-values in [0, 1]; NaN entries stay NaN and are not counted in m.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values, float64, in the input order.

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.02, float("nan"), 0.04]).tolist()
    [0.03, 0.03, nan, 0.04]
    """
    p, finite = _as_p_values(p_values)
    out = np.full(p.shape, np.nan)
    values = p[finite]
    m = values.size
    if m == 0:
        return out
    order = np.argsort(values, kind="stable")
    scaled = m * values[order] / np.arange(1, m + 1)
    adjusted = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    result = np.empty(m)
    result[order] = adjusted
    out[finite] = result
    return out


ADJUSTMENTS = {"holm": holm, "bh": benjamini_hochberg}
"""Adjustment methods by name (``"holm"`` is the package default)."""


def adjust_p_values(p_values: ArrayLike, method: str = "holm") -> np.ndarray:
    """Adjusted p-values by method name: ``"holm"`` (default) or ``"bh"``.

    >>> adjust_p_values([0.01, 0.04], method="bh").tolist()
    [0.02, 0.04]
    """
    if method not in ADJUSTMENTS:
        raise ValueError(
            f"unknown method {method!r} for p-value adjustment; expected one of {sorted(ADJUSTMENTS)}"
        )
    return ADJUSTMENTS[method](p_values)
