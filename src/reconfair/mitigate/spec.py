"""One mitigated model's settings, and the label it carries in every table.

Examples
--------
>>> spec = MitigationSpec(kind="eodd", weight=0.316, attributes=("sex",))
>>> spec.label
'eodd:0.316'
>>> parse_label("eodd:0.316"), parse_label("reweighting"), parse_label("none")
(('eodd', 0.316), ('reweighting', nan), ('none', nan))
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from reconfair.mitigate.objective import KINDS, WEIGHTED

__all__ = ["MitigationSpec", "parse_label", "NONE"]

NONE = "none"


@dataclass(frozen=True)
class MitigationSpec:
    """Fine-tuning settings of one mitigated reconstructor (one lambda)."""

    kind: str
    attributes: tuple[str, ...]
    weight: float = math.nan
    """lambda of the eodd and adversarial losses (NaN for finetune and reweighting)."""
    epochs: int = 2
    temperature: float = 0.3
    momentum: float = 0.9
    reduce: str = "mean"
    holdout: float = 0.2
    """Share of the training split's patients held out to choose lambda (never used for fitting)."""
    learning_rate: float | None = None
    """Adam's rate for fine-tuning (default: the reconstructor's own)."""
    holdout_scores: tuple[str, ...] = ("psnr", "eodd", "balanced_accuracy")
    """What the stage stores per model for choosing lambda (part of the cache key: a change recomputes)."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS[1:]:
            raise ValueError(f"mitigation kind must be one of {', '.join(KINDS[1:])}, got {self.kind!r}")
        if (self.kind in WEIGHTED) == math.isnan(self.weight):
            raise ValueError(f"{self.kind}: lambda is {'required' if self.kind in WEIGHTED else 'not used'}")

    @property
    def label(self) -> str:
        """``finetune``, ``reweighting``, ``eodd:<lambda>`` or ``adversarial:<lambda>`` (lambda as ``:g``)."""
        return self.kind if self.kind not in WEIGHTED else f"{self.kind}:{self.weight:g}"

    def to_dict(self) -> dict[str, Any]:
        """Plain data for cache keys and checkpoints."""
        data = asdict(self)
        data["attributes"] = list(self.attributes)
        data["holdout_scores"] = list(self.holdout_scores)
        data["weight"] = None if math.isnan(self.weight) else self.weight
        return data


def parse_label(label: str) -> tuple[str, float]:
    """``(kind, lambda)`` of a table's ``mitigation`` value (lambda NaN when the kind has none)."""
    kind, _, weight = str(label).partition(":")
    if kind not in KINDS:
        raise ValueError(f"unknown mitigation {label!r}; expected none, finetune, reweighting, eodd:<lambda> "
                         "or adversarial:<lambda>")
    return kind, float(weight) if weight else math.nan
