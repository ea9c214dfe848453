"""The one settings object of an evaluation: what turns a per-sample table into verdicts.

:class:`EvaluationSettings` travels from the configuration (or the command
line) to every function of the uncertainty layer, instead of the same
keywords in several signatures.  It is frozen and validated when built: a bad
value is a ``ValueError`` naming the field, what was received and what is
allowed.

Examples
--------
>>> settings = EvaluationSettings(attributes=("sex",), bootstrap=200)
>>> settings.bootstrap, settings.family, settings.alpha
(200, 'metric', 0.05)
>>> settings.family_columns
('dataset', 'task', 'attribute', 'metric')
>>> EvaluationSettings(threshold="0.5", bootstrap="auto").threshold  # text from the command line
0.5
>>> EvaluationSettings(alpha=1.5)
Traceback (most recent call last):
...
ValueError: alpha: expected a number in (0, 1), got 1.5
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

__all__ = ["EvaluationSettings", "FAMILIES", "THRESHOLD_POLICIES", "ADJUST_METHODS", "AUTO"]

AUTO = "auto"
"""``bootstrap: auto``: as many resamples as the families need (see :mod:`reconfair.metrics.families`)."""
THRESHOLD_POLICIES = ("fixed-validation", "refit")
ADJUST_METHODS = ("holm", "bh")
FAMILIES: dict[str, tuple[str, ...]] = {
    "report": (),
    "metric": ("dataset", "task", "attribute", "metric"),
    "target": ("dataset", "task", "target", "attribute", "metric"),
}
"""Named multiple-testing families: the columns whose values define one family.

``report``: every test of the table is one family.  ``metric`` (default): one
family per data set x task x attribute x metric (all conditions and targets
of one question, e.g. "does EODD by sex change on synthetic-chest?").
``target``: the same, split further by target.
"""
FAMILY_COLUMNS = ("dataset", "task", "target", "condition", "recon", "degradation", "level", "mitigation",
                  "attribute", "metric", "seed")


@dataclass(frozen=True)
class EvaluationSettings:
    """How the per-sample table becomes metrics, intervals, tests and verdicts.

    Attributes
    ----------
    attributes : tuple of str
        Sensitive attributes (``sex``, ``sex*age_group`` for an intersection).
    min_group_size : int
        A group enters TPR with at least this many positives, FPR with at
        least this many negatives, a selection rate or mean Dice with at least
        this many samples (in the point estimate and in every resample).
    split : str
        Rows the metrics are computed on.
    threshold : "fixed-validation", "refit" or float
        The decision threshold policy (``docs/statistics.md``); a number may
        be given as text (``"0.5"``), as may ``bootstrap``.
    patient_level : bool
        Collapse to one row per patient first (median score, mean Dice).
    bootstrap : int or "auto"
        Paired patient-bootstrap resamples B (0: no uncertainty); ``"auto"``
        raises B (from 1000) until the smallest p a test can give is at most
        half the first cut ``alpha / m`` of its family, within
        ``bootstrap_budget_s``.
    bootstrap_budget_s : float
        Wall-time budget of ``bootstrap: auto`` (the resamples it adds stop there).
    seed : int
        Seed of the resampling (the same draws for every condition).
    adjust : "holm" or "bh"
        Multiple-testing correction within each family.
    family : str or tuple of str
        A name of :data:`FAMILIES` or the columns whose values define a family.
    alpha : float
        Significance level of the adjusted p-values (and of the minimum
        detectable change).
    power : float
        Power of the minimum detectable change.
    min_valid_fraction : float
        A CI or p needs at least this fraction of the resamples defined.
    group_auroc : bool
        Also bootstrap the AUROC gap and worst-group AUROC.
    """

    attributes: tuple[str, ...] = ("sex", "age_group", "race")
    min_group_size: int = 10
    split: str = "test"
    threshold: str | float = "fixed-validation"
    patient_level: bool = False
    bootstrap: int | str = 1000
    bootstrap_budget_s: float = 600.0
    seed: int = 0
    adjust: str = "holm"
    family: str | tuple[str, ...] = "metric"
    alpha: float = 0.05
    power: float = 0.8
    min_valid_fraction: float = 0.95
    group_auroc: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.attributes, str):
            raise ValueError(f"attributes: expected a sequence of names, e.g. [{self.attributes!r}], not a string")
        object.__setattr__(self, "attributes", tuple(str(a) for a in self.attributes))
        if isinstance(self.family, Sequence) and not isinstance(self.family, str):
            object.__setattr__(self, "family", tuple(str(c) for c in self.family))
        # numbers written as text (the command line's --threshold 0.5, --bootstrap 200) are numbers
        if isinstance(self.threshold, str) and self.threshold not in THRESHOLD_POLICIES:
            object.__setattr__(self, "threshold", _from_text(self.threshold, float))
        if isinstance(self.bootstrap, str) and self.bootstrap != AUTO:
            object.__setattr__(self, "bootstrap", _from_text(self.bootstrap, int))
        _positive_int("min_group_size", self.min_group_size)
        if not isinstance(self.split, str) or not self.split:
            raise ValueError(f"split: expected a split name such as 'test', got {self.split!r}")
        threshold = self.threshold
        if isinstance(threshold, str):
            if threshold not in THRESHOLD_POLICIES:
                raise ValueError(f"threshold: expected one of {THRESHOLD_POLICIES} or a number in [0, 1], "
                                 f"got {threshold!r}")
        elif isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
            raise ValueError(f"threshold: expected one of {THRESHOLD_POLICIES} or a number in [0, 1], got {threshold!r}")
        else:
            object.__setattr__(self, "threshold", float(threshold))
        if self.bootstrap != AUTO:
            if isinstance(self.bootstrap, bool) or not isinstance(self.bootstrap, int) or self.bootstrap < 0:
                raise ValueError(f"bootstrap: expected a number of resamples >= 0 or 'auto', got {self.bootstrap!r}")
        if not (isinstance(self.bootstrap_budget_s, (int, float)) and self.bootstrap_budget_s > 0):
            raise ValueError(f"bootstrap_budget_s: expected a positive number of seconds, got {self.bootstrap_budget_s!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed: expected an integer >= 0, got {self.seed!r}")
        if self.adjust not in ADJUST_METHODS:
            raise ValueError(f"adjust: expected one of {ADJUST_METHODS}, got {self.adjust!r}")
        if isinstance(self.family, str):
            if self.family not in FAMILIES:
                raise ValueError(f"family: expected one of {tuple(FAMILIES)} or a list of columns from "
                                 f"{FAMILY_COLUMNS}, got {self.family!r}")
        else:
            unknown = [c for c in self.family if c not in FAMILY_COLUMNS]
            if unknown:
                raise ValueError(f"family: unknown column(s) {unknown}; expected a name of {tuple(FAMILIES)} or "
                                 f"columns from {FAMILY_COLUMNS}")
        for name in ("alpha", "power", "min_valid_fraction"):
            value = getattr(self, name)
            upper_ok = value <= 1 if name == "min_valid_fraction" else value < 1
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value and upper_ok):
                interval = "(0, 1]" if name == "min_valid_fraction" else "(0, 1)"
                raise ValueError(f"{name}: expected a number in {interval}, got {value!r}")
        if not isinstance(self.group_auroc, bool) or not isinstance(self.patient_level, bool):
            raise ValueError("group_auroc and patient_level: expected true or false")

    @property
    def family_columns(self) -> tuple[str, ...]:
        """The columns whose values define one multiple-testing family (``()``: the whole report)."""
        return FAMILIES[self.family] if isinstance(self.family, str) else tuple(self.family)

    @property
    def family_description(self) -> str:
        """Words for the family, for the report: ``"one family per dataset × task × attribute × metric"``."""
        columns = self.family_columns
        if not columns:
            return "one family: every test of the report"
        return "one family per " + " × ".join(columns)

    def with_bootstrap(self, n_boot: int) -> "EvaluationSettings":
        """The same settings with ``bootstrap = n_boot`` (e.g. once ``auto`` has chosen B)."""
        return replace(self, bootstrap=int(n_boot))

    @classmethod
    def from_config(cls, evaluation: Any, *, attributes: Sequence[str], seed: int) -> "EvaluationSettings":
        """Settings from a study's ``evaluation`` section (any object with those attribute names)."""
        fields = {name: getattr(evaluation, name) for name in (
            "min_group_size", "split", "threshold", "patient_level", "bootstrap", "bootstrap_budget_s", "adjust",
            "family", "alpha", "power", "min_valid_fraction")}
        return cls(attributes=tuple(attributes), seed=int(seed), group_auroc=bool(evaluation.bootstrap_group_auroc),
                   **fields)


def _from_text(text: str, kind: type) -> Any:
    """``kind(text)``, or ``text`` unchanged for the field's check to reject with its message."""
    try:
        return kind(text.strip())
    except ValueError:
        return text


def _positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")

