"""The names every layer shares: conditions, mitigations, ``original``, ``none`` and the control.

One grammar, composed and parsed here and nowhere else::

    condition   := "original" | operator "@" level "/" recon [ "+" mitigation ]
    mitigation  := method | method ":" lambda      (lambda only for the weighted kinds)
    method      := a kind, or "adversarial-dp" (the adversarial kind, demographic-parity criterion)
    level       := the level formatted with ``:g`` (``3000``, ``1e+06``, ``0.5``)

``operator`` is a registered operator name or a plug-in path
``package.module:attribute`` (it never contains ``@`` or ``/``); ``recon`` is
a baseline's method (``identity``, ``fbp``, ``zero-filled``) or a configured
reconstructor name, which may not contain any of :data:`RESERVED` (checked
at validation by :func:`check_name`).  So a name splits unambiguously: the
last ``@`` before the first ``/`` ends the operator, and the first ``+`` after
the ``/`` starts the mitigation (a level such as ``1e+06`` keeps its ``+``).

Examples
--------
>>> name = condition_name("radiograph-lowdose", 1e6, "unet", mitigation_label("eodd", 0.316))
>>> name
'radiograph-lowdose@1e+06/unet+eodd:0.316'
>>> parsed = parse_condition(name)
>>> parsed.operator, parsed.level, parsed.recon, parsed.mitigation
('radiograph-lowdose', 1000000.0, 'unet', 'eodd:0.316')
>>> parsed.unmitigated
'radiograph-lowdose@1e+06/unet'
>>> parse_condition("original").is_original, parse_condition("mypkg.ops:Blur@2/identity").operator
(True, 'mypkg.ops:Blur')
>>> parse_mitigation("eodd:0.316"), parse_mitigation("reweighting"), parse_mitigation(NONE)
(('eodd', 0.316), ('reweighting', nan), ('none', nan))
>>> mitigation_label("adversarial", 1), mitigation_label("adversarial", 1, criterion="demographic-parity")
('adversarial:1', 'adversarial-dp:1')
>>> parse_mitigation("adversarial-dp:1"), method_kind("adversarial-dp")
(('adversarial-dp', 1.0), 'adversarial')
>>> check_name("unet+v2", "reconstructors[1].name")
Traceback (most recent call last):
...
ValueError: reconstructors[1].name: 'unet+v2' contains '+', which condition names reserve (@ / + : and whitespace); rename it, e.g. 'unet-v2'
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "CONTROL",
    "MITIGATION_KINDS",
    "NONE",
    "ADVERSARY_CRITERIA",
    "MITIGATION_METHODS",
    "ORIGINAL",
    "RESERVED",
    "WEIGHTED_KINDS",
    "ConditionName",
    "check_name",
    "condition_name",
    "method_kind",
    "mitigation_label",
    "mitigation_method",
    "parse_condition",
    "parse_mitigation",
]

ORIGINAL = "original"
"""The condition of the clean images (no degradation, no reconstruction)."""
NONE = "none"
"""The ``mitigation`` of an unmitigated model (and the ``degradation``/``recon`` of ``original``)."""
CONTROL = "finetune"
"""The control mitigation: the same fine-tuning with the task loss only (no fairness term)."""
MITIGATION_KINDS = (NONE, CONTROL, "reweighting", "eodd", "adversarial")
"""Every mitigation kind, in table order."""
WEIGHTED_KINDS = ("eodd", "adversarial")
"""The kinds that take a weight lambda (labelled ``kind:lambda``)."""
ADVERSARY_CRITERIA = ("equalized-odds", "demographic-parity")
"""What the adversarial kind's bias predictor sees: the features and the true labels (equalized odds, the
default, Zhang et al. 2018) or the features alone (demographic parity)."""
MITIGATION_METHODS = (NONE, CONTROL, "reweighting", "eodd", "adversarial", "adversarial-dp")
"""The first part of a ``mitigation`` label, in table order: the kind, except ``adversarial-dp`` for the
adversarial kind with the demographic-parity criterion (``adversarial`` is its equalized-odds default)."""
_DP_METHOD = {"adversarial-dp": "adversarial"}
RESERVED = ("@", "/", "+", ":")
"""Characters a reconstructor name may not contain (nor whitespace)."""


@dataclass(frozen=True)
class ConditionName:
    """A parsed condition name (:func:`parse_condition`); ``str()`` composes it again."""

    operator: str | None
    level: float = math.nan
    recon: str | None = None
    mitigation: str = NONE

    @property
    def is_original(self) -> bool:
        return self.operator is None

    @property
    def unmitigated(self) -> str:
        """The same degradation and reconstructor without the mitigation."""
        if self.is_original:
            return ORIGINAL
        return condition_name(self.operator, self.level, self.recon)

    def __str__(self) -> str:
        if self.is_original:
            return ORIGINAL
        return condition_name(self.operator, self.level, self.recon, self.mitigation)


def condition_name(operator: str, level: float, recon: str, mitigation: str = NONE) -> str:
    """``operator@level/recon``, with ``+mitigation`` unless it is ``none``."""
    base = f"{operator}@{float(level):g}/{recon}"
    return base if mitigation == NONE else f"{base}+{mitigation}"


def parse_condition(name: str) -> ConditionName:
    """The parts of a condition name; a name outside the grammar raises ``ValueError`` naming it."""
    name = str(name)
    if name == ORIGINAL:
        return ConditionName(None)
    head, slash, tail = name.partition("/")
    operator, at, level = head.rpartition("@")
    recon, plus, mitigation = tail.partition("+")
    try:
        value = float(level)
    except ValueError:
        value = math.nan
    if not (slash and at and operator and recon and not math.isnan(value)) or (plus and not mitigation):
        raise ValueError(f"condition {name!r} is not 'original' nor operator@level/recon[+mitigation], "
                         "e.g. 'radiograph-lowdose@3000/unet+eodd:0.316'")
    if plus:
        parse_mitigation(mitigation)
    return ConditionName(operator, value, recon, mitigation if plus else NONE)


def mitigation_method(kind: str, criterion: str | None = None) -> str:
    """The label's method: ``kind``, or ``adversarial-dp`` for ``adversarial`` with ``criterion="demographic-parity"``.

    ``criterion`` is the adversarial kind's (``None``: its default, equalized odds); other kinds take none.
    """
    if kind not in MITIGATION_KINDS:
        raise ValueError(f"unknown mitigation kind {kind!r}; expected one of {', '.join(MITIGATION_KINDS)}")
    if criterion is not None and kind != "adversarial":
        raise ValueError(f"criterion {criterion!r} given for the {kind} mitigation; only adversarial takes one")
    if criterion is not None and criterion not in ADVERSARY_CRITERIA:
        raise ValueError(f"unknown adversary criterion {criterion!r}; expected one of {', '.join(ADVERSARY_CRITERIA)}")
    return "adversarial-dp" if criterion == "demographic-parity" else kind


def method_kind(method: str) -> str:
    """The kind of a label's method (``adversarial-dp`` -> ``adversarial``, any other method is its own kind)."""
    if method not in MITIGATION_METHODS:
        raise ValueError(f"unknown mitigation method {method!r}; expected one of {', '.join(MITIGATION_METHODS)}")
    return _DP_METHOD.get(method, method)


def mitigation_label(kind: str, weight: float = math.nan, *, criterion: str | None = None) -> str:
    """``method``, or ``method:lambda`` (lambda as ``:g``) for the weighted kinds (:func:`mitigation_method`)."""
    method = mitigation_method(kind, criterion)
    return f"{method}:{float(weight):g}" if kind in WEIGHTED_KINDS else method


def parse_mitigation(label: str) -> tuple[str, float]:
    """``(method, lambda)`` of a ``mitigation`` value (lambda NaN when the kind takes none).

    The method is the kind but for ``adversarial-dp`` (:func:`method_kind` gives its kind).
    """
    method, colon, weight = str(label).partition(":")
    if method not in MITIGATION_METHODS or (method_kind(method) in WEIGHTED_KINDS) != bool(colon):
        raise ValueError(f"unknown mitigation {label!r}; expected none, finetune, reweighting, eodd:<lambda>, "
                         "adversarial:<lambda> or adversarial-dp:<lambda>")
    try:
        return method, float(weight) if colon else math.nan
    except ValueError:
        raise ValueError(f"mitigation {label!r}: lambda {weight!r} is not a number") from None


def check_name(name: str, where: str) -> str:
    """``name`` when it can be part of a condition name; else ``ValueError`` naming ``where``."""
    bad = [c for c in RESERVED if c in name] + (["whitespace"] if any(c.isspace() for c in name) else [])
    if not name or bad:
        what = "is empty" if not name else f"contains {', '.join(repr(c) if len(c) == 1 else c for c in bad)}"
        fixed = "".join("-" if (c in RESERVED or c.isspace()) else c for c in name) or "my-model"
        raise ValueError(f"{where}: {name!r} {what}, which condition names reserve (@ / + : and whitespace); "
                         f"rename it, e.g. {fixed!r}")
    return name
