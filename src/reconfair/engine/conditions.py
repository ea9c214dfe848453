"""Conditions: the original images plus each degradation level with a reconstruction.

>>> from reconfair.config import DegradationConfig
>>> [c.name for c in conditions_for([DegradationConfig(operator="radiograph-lowdose", levels=(3000,))], ("baseline",))]
['original', 'radiograph-lowdose@3000/identity']
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reconfair.physics import make_degradation
from reconfair.recon import make_reconstructor


@dataclass(frozen=True)
class Condition:
    """One way of producing the images the diagnostic models see."""

    name: str
    degradation: str = "none"
    level: float = math.nan
    recon: str = "none"
    operator: Any = None
    reconstructor: Any = None

    @property
    def is_original(self) -> bool:
        return self.operator is None


ORIGINAL = Condition(name="original")


def conditions_for(degradations: Sequence[Any], reconstructors: Sequence[str]) -> list[Condition]:
    """``original`` followed by every (operator, level, reconstructor) combination."""
    conditions = [ORIGINAL]
    for spec in degradations:
        for level in spec.levels:
            operator = make_degradation(spec.operator, level, **spec.params)
            for recon_name in reconstructors:
                reconstructor = make_reconstructor(recon_name, degradation=operator)
                conditions.append(
                    Condition(
                        name=f"{spec.operator}@{level:g}/{reconstructor.name}",
                        degradation=spec.operator,
                        level=float(level),
                        recon=reconstructor.name,
                        operator=operator,
                        reconstructor=reconstructor,
                    )
                )
    return conditions
