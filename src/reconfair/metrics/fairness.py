"""Fairness scalars: thin wrappers over the by-group frame (docs/statistics.md).

Each function reads a frame from :func:`~reconfair.metrics.groups.classification_groups`
or :func:`~reconfair.metrics.groups.segmentation_groups` and returns one
:class:`FairnessResult`.  A group whose rate is NaN (its ``<rate>_reason`` is
not empty: too small, or missing the class the rate needs) is left out of the
metric and listed in ``excluded`` as ``"group: reason"``.  A metric that needs
several rates (EODD needs TPR and FPR) uses only the groups where all of them
are defined, so both terms compare the same groups.  With fewer than two groups
left the value is NaN and ``reason`` says so; this applies to
:func:`worst_group_auroc` too, which is a comparison across groups.

Examples
--------
>>> from reconfair.metrics.groups import classification_groups
>>> frame = classification_groups([1, 0, 1, 0, 1, 0], [0.9, 0.2, 0.4, 0.6, 0.8, 0.1],
...                               ["F", "F", "M", "M", "M", "M"], threshold=0.5)
>>> result = eop(frame)
>>> result.value, result.n_groups, result.excluded
(0.5, 2, ())
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

__all__ = [
    "FairnessResult",
    "eodd",
    "eodd_max",
    "eop",
    "dp",
    "auroc_gap",
    "worst_group_auroc",
    "delta_dice",
    "ser",
    "CLASSIFICATION_FAIRNESS",
    "SEGMENTATION_FAIRNESS",
]


@dataclass(frozen=True)
class FairnessResult:
    """A fairness scalar with the groups it was computed over.

    Attributes
    ----------
    value : float
        The metric; NaN when fewer than two groups are usable.
    n_groups : int
        Number of groups that entered the metric.
    excluded : tuple of str
        ``"group: reason"`` for every group left out, in group order.
    reason : str
        Why ``value`` is NaN (``""`` when it is defined).
    """

    value: float
    n_groups: int
    excluded: tuple[str, ...]
    reason: str


def _usable(frame: pd.DataFrame, rates: Sequence[str]) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Rows where every rate is defined, and "group: reason" for the others."""
    needed = ["group", *rates, *(f"{rate}_reason" for rate in rates)]
    missing = [column for column in needed if column not in frame.columns]
    if missing:
        raise ValueError(
            f"the group frame lacks columns {missing}; build it with "
            "reconfair.metrics.classification_groups (TPR/FPR/selection rate/AUROC) or "
            "segmentation_groups (Dice)"
        )
    reasons = [frame[f"{rate}_reason"].fillna("").astype(str).to_numpy() for rate in rates]
    defined = np.logical_and.reduce([r == "" for r in reasons])
    excluded = []
    for i in np.flatnonzero(~defined):
        parts = dict.fromkeys(r[i] for r in reasons if r[i] != "")  # ordered, no duplicates
        excluded.append(f"{frame['group'].iloc[i]}: {', '.join(parts)}")
    return frame.loc[defined], tuple(excluded)


def _spread(
    frame: pd.DataFrame,
    rates: Sequence[str],
    combine: Literal["half_sum", "max"],
) -> FairnessResult:
    """Combine per-rate spreads (max - min) over the usable groups."""
    usable, excluded = _usable(frame, rates)
    n_groups = len(usable)
    if n_groups < 2:
        reason = f"fewer than 2 groups with defined {'/'.join(rates)} ({n_groups} usable)"
        return FairnessResult(float("nan"), n_groups, excluded, reason)
    spreads = [float(usable[rate].max() - usable[rate].min()) for rate in rates]
    value = 0.5 * sum(spreads) if combine == "half_sum" else max(spreads)
    return FairnessResult(value, n_groups, excluded, "")


def eodd(frame: pd.DataFrame) -> FairnessResult:
    """Equalized-odds difference of the study: ``(dTPR + dFPR) / 2``.

    ``dTPR = max_g TPR_g - min_g TPR_g`` and likewise for FPR, over groups
    where both rates are defined.

    >>> frame = pd.DataFrame({"group": ["a", "b"], "tpr": [0.9, 0.6], "fpr": [0.1, 0.3],
    ...                       "tpr_reason": ["", ""], "fpr_reason": ["", ""]})
    >>> round(eodd(frame).value, 12)
    0.25
    """
    return _spread(frame, ("tpr", "fpr"), "half_sum")


def eodd_max(frame: pd.DataFrame) -> FairnessResult:
    """Equalized-odds difference of fairlearn: ``max(dTPR, dFPR)``.

    >>> frame = pd.DataFrame({"group": ["a", "b"], "tpr": [0.9, 0.6], "fpr": [0.1, 0.3],
    ...                       "tpr_reason": ["", ""], "fpr_reason": ["", ""]})
    >>> round(eodd_max(frame).value, 12)
    0.3
    """
    return _spread(frame, ("tpr", "fpr"), "max")


def eop(frame: pd.DataFrame) -> FairnessResult:
    """Equal-opportunity difference: ``max_g TPR_g - min_g TPR_g``."""
    return _spread(frame, ("tpr",), "max")


def dp(frame: pd.DataFrame) -> FairnessResult:
    """Demographic-parity difference: spread of the selection rate."""
    return _spread(frame, ("selection_rate",), "max")


def auroc_gap(frame: pd.DataFrame) -> FairnessResult:
    """AUROC gap: ``max_g AUROC_g - min_g AUROC_g``."""
    return _spread(frame, ("auroc",), "max")


def worst_group_auroc(frame: pd.DataFrame) -> FairnessResult:
    """Lowest per-group AUROC (NaN with a reason if fewer than two groups qualify).

    >>> frame = pd.DataFrame({"group": ["a", "b", "c"], "auroc": [0.8, 0.7, np.nan],
    ...                       "auroc_reason": ["", "", "n=2 < min_group_size=10"]})
    >>> worst_group_auroc(frame)
    FairnessResult(value=0.7, n_groups=2, excluded=('c: n=2 < min_group_size=10',), reason='')
    """
    usable, excluded = _usable(frame, ("auroc",))
    if len(usable) < 2:
        reason = f"fewer than 2 groups with defined auroc ({len(usable)} usable)"
        return FairnessResult(float("nan"), len(usable), excluded, reason)
    return FairnessResult(float(usable["auroc"].min()), len(usable), excluded, "")


def delta_dice(frame: pd.DataFrame) -> FairnessResult:
    """Dice gap: ``max_g mean Dice_g - min_g mean Dice_g``."""
    return _spread(frame, ("dice_mean",), "max")


def ser(frame: pd.DataFrame) -> FairnessResult:
    """Skewed error ratio ``(1 - min_g D_g) / (1 - max_g D_g)`` of mean Dice.

    The ratio of the worst group's error to the best group's; 1 means equal.
    If the best group is perfect (``max D_g == 1``) the ratio is ``inf``, except
    when every usable group is perfect, where the errors are equal and the
    value is 1.

    >>> frame = pd.DataFrame({"group": ["a", "b"], "dice_mean": [0.8, 0.9],
    ...                       "dice_mean_reason": ["", ""]})
    >>> round(ser(frame).value, 12)
    2.0
    """
    usable, excluded = _usable(frame, ("dice_mean",))
    if len(usable) < 2:
        reason = f"fewer than 2 groups with defined dice_mean ({len(usable)} usable)"
        return FairnessResult(float("nan"), len(usable), excluded, reason)
    worst_error = 1.0 - float(usable["dice_mean"].min())
    best_error = 1.0 - float(usable["dice_mean"].max())
    if best_error == 0.0:
        value = 1.0 if worst_error == 0.0 else float("inf")
    else:
        value = worst_error / best_error
    return FairnessResult(value, len(usable), excluded, "")


CLASSIFICATION_FAIRNESS = {
    "eodd": eodd,
    "eodd_max": eodd_max,
    "eop": eop,
    "dp": dp,
    "auroc_gap": auroc_gap,
    "worst_group_auroc": worst_group_auroc,
}
"""Fairness metrics reported for classification, by name (report order)."""

SEGMENTATION_FAIRNESS = {"delta_dice": delta_dice, "ser": ser}
"""Fairness metrics reported for segmentation, by name (report order)."""
