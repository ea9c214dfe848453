"""Group codes of the sensitive attributes a mitigation uses, and reweighting weights.

Attributes must be categorical (``sex``, ``age_group``, ``race`` ...); the
continuous ``age`` is refused (use its binned ``age_group``).  A missing value
counts as its own group ``"unknown"``.

Examples
--------
>>> import pandas as pd
>>> table = pd.DataFrame({"attr_sex": ["F", "F", "M", "M", "M", "M"],
...                       "attr_race": ["A", "B", "A", "A", "A", "B"]})
>>> codes, groups = group_codes(table, ["sex", "race"])
>>> codes.tolist(), groups
([[0, 0], [0, 1], [1, 0], [1, 0], [1, 0], [1, 1]], {'sex': ('F', 'M'), 'race': ('A', 'B')})
>>> reweighting_weights(table, ["sex", "race"]).round(3).tolist()  # 1 / n(sex, race), mean 1
[1.5, 1.5, 0.5, 0.5, 0.5, 1.5]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["attribute_groups", "group_codes", "reweighting_weights", "UNKNOWN_GROUP"]

UNKNOWN_GROUP = "unknown"
CONTINUOUS = ("age",)


def attribute_groups(table: pd.DataFrame, attribute: str) -> pd.Series:
    """Each row's group of a categorical ``attribute`` (column ``attr_<attribute>``), missing as ``unknown``.

    ``ValueError`` for a continuous attribute (``age``: use ``age_group``) or
    a column the table lacks (naming the attributes it has).

    >>> attribute_groups(pd.DataFrame({"attr_sex": ["F", None, ""]}), "sex").tolist()
    ['F', 'unknown', 'unknown']
    """
    if attribute in CONTINUOUS:
        raise ValueError(f"mitigation attribute {attribute!r} is continuous; use its groups, e.g. 'age_group'")
    column = f"attr_{attribute}"
    if column not in table.columns:
        found = sorted(c.removeprefix("attr_") for c in table.columns if c.startswith("attr_"))
        raise ValueError(f"mitigation attribute {attribute!r}: the data set has no column {column!r}; "
                         f"attributes found: {', '.join(found) or 'none'}")
    values = table[column].astype(object).where(table[column].notna(), UNKNOWN_GROUP).astype(str)
    return values.replace("", UNKNOWN_GROUP)


def group_codes(table: pd.DataFrame, attributes: Sequence[str]) -> tuple[np.ndarray, dict[str, tuple[str, ...]]]:
    """``N x A`` integer codes (groups sorted by name) and each attribute's groups."""
    if not attributes:
        raise ValueError("a mitigation needs at least one sensitive attribute")
    codes, groups = [], {}
    for attribute in attributes:
        values = attribute_groups(table, attribute)
        names = tuple(sorted(values.unique()))
        lookup = {name: i for i, name in enumerate(names)}
        codes.append(values.map(lookup).to_numpy(dtype=np.int64))
        groups[attribute] = names
    return np.stack(codes, axis=1), groups


def reweighting_weights(table: pd.DataFrame, attributes: Sequence[str]) -> np.ndarray:
    """Sampling weights ``1 / n(group combination)``, scaled to mean 1.

    Drawing with replacement proportionally to them gives every combination
    of the attributes' groups the same expected share of each epoch.
    """
    codes, _ = group_codes(table, attributes)
    _, combination, counts = np.unique(codes, axis=0, return_inverse=True, return_counts=True)
    weights = 1.0 / counts[combination.reshape(-1)]
    return weights * (len(weights) / weights.sum())
