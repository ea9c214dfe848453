"""Conditions: the original images plus each degradation level with a reconstruction.

A condition is known before anything is trained: its name is
``operator@level/label`` where the label is the baseline's method name
(``identity``, ``fbp``, ``zero-filled``) or the reconstructor's configured name.

>>> from reconfair.config import DegradationConfig, ReconstructorConfig
>>> degradations = [DegradationConfig(operator="radiograph-lowdose", levels=(3000,))]
>>> [c.name for c in conditions_for(degradations, [ReconstructorConfig(name="baseline"), ReconstructorConfig(name="unet")])]
['original', 'radiograph-lowdose@3000/identity', 'radiograph-lowdose@3000/unet']
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reconfair.physics import make_degradation


@dataclass(frozen=True)
class Condition:
    """One way of producing the images the diagnostic models see."""

    name: str
    degradation: str = "none"
    level: float = math.nan
    recon: str = "none"
    operator: Any = None
    entry: Any = None
    """The :class:`~reconfair.config.ReconstructorConfig` that produces the reconstruction."""

    @property
    def is_original(self) -> bool:
        return self.operator is None

    @property
    def trains_reconstructor(self) -> bool:
        """Whether a run trains this condition's reconstructor (learned, no user checkpoint)."""
        return not self.is_original and self.entry.kind == "learned" and self.entry.checkpoint is None

    @property
    def cacheable(self) -> bool:
        """Whether this condition's rows are cached: original, baseline or a model the run trains.

        Plug-ins and user checkpoints can change outside reconfair, so their rows are recomputed.
        """
        return self.is_original or self.entry.kind == "baseline" or self.trains_reconstructor


ORIGINAL = Condition(name="original")


def conditions_for(degradations: Sequence[Any], reconstructors: Sequence[Any]) -> list[Condition]:
    """``original`` followed by every (operator, level, reconstructor) combination."""
    conditions = [ORIGINAL]
    for spec in degradations:
        for level in spec.levels:
            operator = make_degradation(spec.operator, level, **spec.params)
            for entry in reconstructors:
                label = operator.baseline if entry.kind == "baseline" else entry.name
                conditions.append(
                    Condition(
                        name=f"{spec.operator}@{level:g}/{label}",
                        degradation=spec.operator,
                        level=float(level),
                        recon=label,
                        operator=operator,
                        entry=entry,
                    )
                )
    return conditions
