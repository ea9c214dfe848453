"""The ``mitigations:`` entries of a data set in the study configuration.

Each entry is a kind (a string is short for ``{kind: ...}``) with its
settings; every entry fine-tunes every learned reconstructor the run trains
(or those named in ``reconstructors``) at every level (or those in
``levels``), once per lambda.  ``none`` (the unmitigated model) is always
part of the grid.

Examples
--------
>>> entry = MitigationConfig.model_validate("eodd")
>>> entry.weights, MitigationConfig.model_validate({"kind": "adversarial"}).weights
((0.1, 0.316, 1.0, 3.16, 10.0), (0.1, 1.0))
>>> [s.label for s in entry.specs(("sex",))][:2]
['eodd:0.1', 'eodd:0.316']
>>> try:
...     MitigationConfig.model_validate({"kind": "reweighting", "lambdas": [1]})
... except ValueError as error:
...     print(error.errors()[0]["msg"])
Value error, reweighting takes no lambdas (only eodd and adversarial are weighted)

The adversarial kind's ``criterion`` says what its bias predictor sees
besides the classifier's features: the true labels (``equalized-odds``, the
default, as in Zhang, Lemoine & Mitchell 2018) or nothing
(``demographic-parity``, labelled ``adversarial-dp``); docs/mitigation.md
gives the inputs.

>>> MitigationConfig.model_validate("adversarial").criterion
'equalized-odds'
>>> [s.label for s in MitigationConfig.model_validate(
...     {"kind": "adversarial", "criterion": "demographic-parity", "lambdas": [1, 3]}).specs(("sex",))]
['adversarial-dp:1', 'adversarial-dp:3']
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

from pydantic import Field, model_validator

from reconfair.config.base import Frozen
from reconfair.vocabulary import (
    ADVERSARY_CRITERIA,
    MITIGATION_KINDS,
    WEIGHTED_KINDS,
    mitigation_label,
    mitigation_method,
)

__all__ = ["DEFAULT_LAMBDAS", "MitigationConfig", "MitigationSpec"]

DEFAULT_LAMBDAS = {"eodd": (0.1, 0.316, 1.0, 3.16, 10.0), "adversarial": (0.1, 1.0)}
"""The lambda sweep of each weighted kind when ``lambdas`` is not given."""


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
    criterion: str | None = None
    """The adversary's: ``equalized-odds`` (it also sees the true labels; the default for adversarial) or
    ``demographic-parity`` (features alone); ``None`` for every other kind."""

    def __post_init__(self) -> None:
        if self.kind not in MITIGATION_KINDS[1:]:
            raise ValueError(f"mitigation kind must be one of {', '.join(MITIGATION_KINDS[1:])}, got {self.kind!r}")
        if (self.kind in WEIGHTED_KINDS) == math.isnan(self.weight):
            raise ValueError(f"{self.kind}: lambda is {'required' if self.kind in WEIGHTED_KINDS else 'not used'}")
        if self.kind == "adversarial" and self.criterion is None:
            object.__setattr__(self, "criterion", ADVERSARY_CRITERIA[0])
        mitigation_method(self.kind, self.criterion)  # a criterion only for adversarial, and a known one

    @property
    def method(self) -> str:
        """The label's method: the kind, or ``adversarial-dp`` (:func:`reconfair.vocabulary.mitigation_method`)."""
        return mitigation_method(self.kind, self.criterion)

    @property
    def label(self) -> str:
        """``finetune``, ``reweighting``, ``eodd:<lambda>``, ``adversarial:<lambda>`` or ``adversarial-dp:<lambda>``."""
        return mitigation_label(self.kind, self.weight, criterion=self.criterion)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for cache keys and checkpoints (``criterion`` only for the adversarial kind)."""
        data = asdict(self)
        data["attributes"] = list(self.attributes)
        data["holdout_scores"] = list(self.holdout_scores)
        data["weight"] = None if math.isnan(self.weight) else self.weight
        if self.criterion is None:  # the other kinds' keys stay as they were before criteria existed
            del data["criterion"]
        return data


class MitigationConfig(Frozen):
    """One mitigation kind, its lambda sweep, and where it applies."""

    kind: Literal["none", "finetune", "reweighting", "eodd", "adversarial"]
    lambdas: tuple[float, ...] | None = None
    """Weights of the eodd / adversarial term (default: 0.1, 0.316, 1, 3.16, 10 for eodd; 1 for adversarial)."""
    attributes: tuple[str, ...] | None = None
    """Sensitive attributes to balance (default: the study's, without the continuous ``age``)."""
    reconstructors: tuple[str, ...] | None = None
    """Names of the learned reconstructors to mitigate (default: all that the run trains)."""
    levels: tuple[float, ...] | None = None
    """Degradation levels to mitigate at (default: all)."""
    degradations: tuple[str, ...] | None = None
    """Operators whose conditions are mitigated (default: all of the data set's degradations)."""
    epochs: int = Field(2, ge=1)
    """Fine-tuning epochs, starting from the unmitigated model."""
    learning_rate: float | None = Field(None, gt=0)
    temperature: float = Field(0.3, gt=0)
    """T of the soft decision sigmoid((p - tau) / T) (eodd)."""
    momentum: float = Field(0.9, ge=0, lt=1)
    """Moving-average factor of the batch threshold tau (eodd)."""
    reduce: Literal["mean", "max"] = "mean"
    """How the EODD of each label x attribute is combined (eodd)."""
    criterion: Literal["equalized-odds", "demographic-parity"] | None = None
    """What the bias predictor sees (adversarial only; set to ``equalized-odds`` when not given).

    ``equalized-odds``: the classifier's features ``h`` and the true labels as ``[y * k, (1 - y) * k]``
    per target (``k`` = 1 where the label is known, else both are 0), and its reference (chance) the labels
    alone, so the reconstructor is pushed only against what ``h`` says about the attribute beyond the label
    (Zhang, Lemoine & Mitchell 2018).  ``demographic-parity``: ``h`` alone, against the groups' base rates
    (label ``adversarial-dp:<lambda>``).
    """
    holdout: float = Field(0.2, gt=0, lt=1)
    """Share of training patients held out to choose lambda."""
    max_psnr_drop: float = Field(1.0, ge=0)
    """The best lambda has the lowest hold-out EODD among those within this many dB of the unmitigated PSNR ..."""
    max_accuracy_drop: float = Field(0.05, ge=0, le=1)
    """... and within this much of its hold-out balanced accuracy (rules out deciding the same for everyone)."""

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        data = {"kind": data} if isinstance(data, str) else data
        if isinstance(data, dict) and data.get("kind") == "adversarial" and data.get("criterion") is None:
            data = {**data, "criterion": ADVERSARY_CRITERIA[0]}
        return data

    @model_validator(mode="after")
    def _lambdas_fit_kind(self) -> "MitigationConfig":
        if self.criterion is not None and self.kind != "adversarial":
            raise ValueError(f"criterion: {self.kind} takes no criterion (only adversarial does: "
                             f"{' or '.join(ADVERSARY_CRITERIA)}); remove it, got {self.criterion!r}")
        if self.lambdas is not None and self.kind not in DEFAULT_LAMBDAS:
            raise ValueError(f"{self.kind} takes no lambdas (only eodd and adversarial are weighted)")
        if self.lambdas is not None and (not self.lambdas or any(not (w > 0 and math.isfinite(w)) for w in self.lambdas)):
            raise ValueError(f"lambdas must be positive finite numbers, got {list(self.lambdas)}")
        if self.lambdas is not None and len(set(self.lambdas)) != len(self.lambdas):
            raise ValueError(f"lambdas must be distinct, got {list(self.lambdas)}")
        return self

    @property
    def method(self) -> str:
        """The method its conditions' labels start with: the kind, or ``adversarial-dp``."""
        return mitigation_method(self.kind, self.criterion)

    @property
    def weights(self) -> tuple[float, ...]:
        """The lambdas swept (empty for none, finetune and reweighting)."""
        if self.kind not in DEFAULT_LAMBDAS:
            return ()
        return tuple(self.lambdas) if self.lambdas is not None else DEFAULT_LAMBDAS[self.kind]

    def specs(self, study_attributes: tuple[str, ...]) -> list[MitigationSpec]:
        """One :class:`MitigationSpec` per lambda (one for finetune and reweighting, none for ``none``)."""
        if self.kind == "none":
            return []
        attributes = self.attributes or tuple(a for a in study_attributes if a != "age")
        common = dict(kind=self.kind, attributes=tuple(attributes), epochs=self.epochs, temperature=self.temperature,
                      momentum=self.momentum, reduce=self.reduce, holdout=self.holdout,
                      learning_rate=self.learning_rate, criterion=self.criterion)
        if not self.weights:
            return [MitigationSpec(**common)]
        return [MitigationSpec(weight=float(w), **common) for w in self.weights]
