"""Conditions: the original images plus each degradation level with a reconstruction.

A condition is known before anything is trained: its name is
``operator@level/label`` where the label is the baseline's method name
(``identity``, ``fbp``, ``zero-filled``) or the reconstructor's configured name,
followed by ``+mitigation`` for a mitigated model (the grammar of
:mod:`reconfair.vocabulary`, which composes and parses every name).

>>> from reconfair.config import DegradationConfig, ReconstructorConfig
>>> degradations = [DegradationConfig(operator="radiograph-lowdose", levels=(3000,))]
>>> [c.name for c in conditions_for(degradations, [ReconstructorConfig(name="baseline"), ReconstructorConfig(name="unet")])]
['original', 'radiograph-lowdose@3000/identity', 'radiograph-lowdose@3000/unet']
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from reconfair.physics import make_degradation
from reconfair.vocabulary import NONE, ORIGINAL, condition_name, parse_condition


@dataclass(frozen=True)
class Condition:
    """One way of producing the images the diagnostic models see."""

    name: str
    degradation: str = NONE
    level: float = math.nan
    recon: str = NONE
    operator: Any = None
    entry: Any = None
    """The :class:`~reconfair.config.ReconstructorConfig` that produces the reconstruction."""
    mitigation: Any = None
    """The :class:`~reconfair.mitigate.MitigationSpec` the reconstructor is fine-tuned with (``None``: unmitigated)."""

    @property
    def mitigation_label(self) -> str:
        """The table's ``mitigation``: ``none``, ``finetune``, ``reweighting``, ``eodd:<lambda>``,
        ``adversarial:<lambda>`` or ``adversarial-dp:<lambda>``."""
        return NONE if self.mitigation is None else self.mitigation.label

    @property
    def unmitigated(self) -> "Condition":
        """The same degradation and reconstructor without mitigation (itself when unmitigated)."""
        if self.mitigation is None:
            return self
        return replace(self, name=parse_condition(self.name).unmitigated, mitigation=None)

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


ORIGINAL_CONDITION = Condition(name=ORIGINAL)


def conditions_for(
    degradations: Sequence[Any],
    reconstructors: Sequence[Any],
    *,
    mitigations: Sequence[Any] = (),
    attributes: Sequence[str] = (),
) -> list[Condition]:
    """``original`` followed by every (operator, level, reconstructor) combination.

    Each learned reconstructor the run trains is followed by its mitigated
    variants (``mitigations``: :class:`~reconfair.config.mitigation.MitigationConfig`
    entries, one condition per lambda, named ``.../unet+eodd:0.316``);
    ``attributes`` are the study's, the default a mitigation balances.
    """
    conditions = [ORIGINAL_CONDITION]
    for spec in degradations:
        for level in spec.levels:
            operator = make_degradation(spec.operator, level, **spec.params)
            for entry in reconstructors:
                if spec.reconstructors is not None and entry.name not in spec.reconstructors:
                    continue
                label = operator.baseline if entry.kind == "baseline" else entry.name
                condition = Condition(
                    name=condition_name(spec.operator, level, label),
                    degradation=spec.operator,
                    level=float(level),
                    recon=label,
                    operator=operator,
                    entry=entry,
                )
                conditions.append(condition)
                if condition.trains_reconstructor:
                    conditions += _mitigated(condition, mitigations, tuple(attributes))
    return conditions


def dataset_conditions(dataset_config: Any, attributes: Sequence[str]) -> list[Condition]:
    """Every condition of a configured data set (:func:`conditions_for` on its fields)."""
    return conditions_for(dataset_config.degradations, dataset_config.reconstructors,
                          mitigations=dataset_config.mitigations, attributes=attributes)


def _mitigated(condition: Condition, mitigations: Sequence[Any], attributes: tuple[str, ...]) -> list[Condition]:
    out = []
    for entry in mitigations:
        if entry.reconstructors is not None and condition.entry.name not in entry.reconstructors:
            continue
        if entry.levels is not None and condition.level not in {float(v) for v in entry.levels}:
            continue
        if entry.degradations is not None and condition.degradation not in entry.degradations:
            continue
        for spec in entry.specs(attributes):
            out.append(replace(condition, name=condition_name(condition.degradation, condition.level, condition.recon,
                                                              spec.label), mitigation=spec))
    return out

