"""Planted group effects: how a synthetic finding differs between patient groups.

A :class:`GroupEffect` holds three multipliers applied to every finding of a
patient in that group:

- ``prevalence`` multiplies each finding's base prevalence (the result is
  clipped to at most 0.95);
- ``contrast`` and ``size`` multiply the finding's contrast and size
  (``< 1`` = a subtler finding, the kind denoising erases).

:class:`PlantedEffects` maps attribute name -> group value -> effect.  A
patient's multipliers are the product over attributes of its groups'
effects; groups not listed get 1.0 (no effect).

Examples
--------
>>> effects = PlantedEffects({"sex": {"F": GroupEffect(contrast=0.5)},
...                           "race": {"R3": GroupEffect(contrast=0.8, prevalence=2.0)}})
>>> m = effects.multipliers({"sex": np.array(["F", "M", "F"]), "race": np.array(["R3", "R3", "R1"])})
>>> m["contrast"].tolist(), m["prevalence"].tolist()
([0.4, 0.8, 0.5], [2.0, 2.0, 1.0])
>>> PlantedEffects.null().is_null
True
>>> PlantedEffects({"sexx": {"F": GroupEffect()}})
Traceback (most recent call last):
...
ValueError: effects.by_group: unknown attribute 'sexx'; expected one of ('sex', 'age_group', 'race')
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

import numpy as np

from reconfair.data.demographics import RACES, SEXES

EFFECT_ATTRIBUTES = ("sex", "age_group", "race")
_KNOWN_GROUPS: dict[str, tuple[str, ...]] = {"sex": SEXES, "race": RACES}

__all__ = ["EFFECT_ATTRIBUTES", "GroupEffect", "PlantedEffects"]


@dataclass(frozen=True)
class GroupEffect:
    """Multipliers for one patient group (1.0 = no effect, < 1 = subtler/rarer).

    >>> GroupEffect(contrast=0.5)
    GroupEffect(prevalence=1.0, contrast=0.5, size=1.0)
    >>> GroupEffect(size=0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: GroupEffect.size must be a positive finite multiplier, got 0; use 1.0 for no effect ...
    """

    prevalence: float = 1.0
    contrast: float = 1.0
    size: float = 1.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            valid = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
            if not valid or not math.isfinite(float(value)) or float(value) <= 0.0:
                raise ValueError(
                    f"GroupEffect.{f.name} must be a positive finite multiplier, got {value!r}; "
                    "use 1.0 for no effect and a value below 1 for a subtler or rarer finding"
                )
            object.__setattr__(self, f.name, float(value))

    def to_dict(self) -> dict[str, float]:
        """The multipliers as a plain dict."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "GroupEffect") -> "GroupEffect":
        """Build from a mapping, naming any unknown key.

        >>> GroupEffect.from_dict({"contrst": 0.5})
        Traceback (most recent call last):
        ...
        ValueError: GroupEffect: unknown key 'contrst'; expected some of ('prevalence', 'contrast', 'size')
        """
        allowed = tuple(f.name for f in fields(cls))
        for key in data:
            if key not in allowed:
                raise ValueError(f"{where}: unknown key {key!r}; expected some of {allowed}")
        return cls(**dict(data))


@dataclass(frozen=True)
class PlantedEffects:
    """Attribute name -> group value -> :class:`GroupEffect`.

    Attribute names must be in ``EFFECT_ATTRIBUTES``; ``sex`` and ``race``
    group values are checked here, ``age_group`` values (which depend on the
    age cut, e.g. ``"<58"``) are checked by the generator with
    :meth:`check_groups`.  Effects may be given as :class:`GroupEffect` or as
    plain mappings of multipliers.
    """

    by_group: Mapping[str, Mapping[str, GroupEffect]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.by_group, Mapping):
            raise ValueError(
                f"effects.by_group must be a mapping attribute -> group -> GroupEffect, got {self.by_group!r}"
            )
        frozen: dict[str, Mapping[str, GroupEffect]] = {}
        for attribute, groups in self.by_group.items():
            where = f"effects.by_group[{attribute!r}]"
            if attribute not in EFFECT_ATTRIBUTES:
                raise ValueError(
                    f"effects.by_group: unknown attribute {attribute!r}; expected one of {EFFECT_ATTRIBUTES}"
                )
            if not isinstance(groups, Mapping):
                raise ValueError(f"{where} must be a mapping group value -> GroupEffect, got {groups!r}")
            inner: dict[str, GroupEffect] = {}
            for group, effect in groups.items():
                known = _KNOWN_GROUPS.get(attribute)
                if known is not None and group not in known:
                    raise ValueError(f"{where}: unknown group {group!r}; expected one of {known}")
                if isinstance(effect, Mapping):
                    effect = GroupEffect.from_dict(effect, where=f"{where}[{group!r}]")
                elif not isinstance(effect, GroupEffect):
                    raise ValueError(f"{where}[{group!r}] must be a GroupEffect or a mapping, got {effect!r}")
                inner[str(group)] = effect
            frozen[attribute] = MappingProxyType(inner)
        object.__setattr__(self, "by_group", MappingProxyType(frozen))

    def __hash__(self) -> int:
        return hash(tuple((a, tuple((g, e) for g, e in gs.items())) for a, gs in self.by_group.items()))

    @classmethod
    def null(cls) -> "PlantedEffects":
        """No planted effect: every group has the same findings distribution."""
        return cls({})

    @property
    def is_null(self) -> bool:
        """True when every multiplier is 1.0."""
        return all(e == GroupEffect() for gs in self.by_group.values() for e in gs.values())

    def to_dict(self) -> dict[str, dict[str, dict[str, float]]]:
        """Plain nested dict (JSON/YAML friendly); :meth:`from_dict` inverts it.

        >>> e = PlantedEffects({"sex": {"F": GroupEffect(size=0.5)}})
        >>> PlantedEffects.from_dict(e.to_dict()) == e
        True
        """
        return {a: {g: e.to_dict() for g, e in gs.items()} for a, gs in self.by_group.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, Mapping[str, float]]]) -> "PlantedEffects":
        """Build from a plain nested dict as written by :meth:`to_dict`."""
        return cls(data)  # __post_init__ converts and validates the inner mappings

    def check_groups(self, groups: Mapping[str, Sequence[str]], *, dataset: str = "the data set") -> None:
        """Raise if an effect names a group value that ``groups`` does not have.

        >>> e = PlantedEffects({"age_group": {"<60": GroupEffect(size=0.5)}})
        >>> e.check_groups({"age_group": ("<58", ">=58")}, dataset="synthetic-chest")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: effects.by_group['age_group']: unknown group '<60' for synthetic-chest; its groups ...
        """
        for attribute, effects in self.by_group.items():
            known = tuple(groups.get(attribute, ()))
            for group in effects:
                if group not in known:
                    hint = " (pass age_cut to choose the cut)" if attribute == "age_group" else ""
                    raise ValueError(
                        f"effects.by_group[{attribute!r}]: unknown group {group!r} for {dataset}; "
                        f"its groups are {known}{hint}"
                    )

    def multipliers(self, attributes: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Per-patient ``prevalence``, ``contrast`` and ``size`` multipliers.

        ``attributes`` maps attribute name -> array of group values (one per
        patient); it must hold every attribute this object names.
        """
        n = len(next(iter(attributes.values()))) if attributes else 0
        out = {f.name: np.ones(n, dtype=np.float64) for f in fields(GroupEffect)}
        for attribute, effects in self.by_group.items():
            if attribute not in attributes:
                raise ValueError(f"effects.by_group names {attribute!r} but no such attribute was given")
            values = np.asarray(attributes[attribute])
            for group, effect in effects.items():
                hit = values == group
                for name in out:
                    out[name][hit] *= getattr(effect, name)
        return out
