"""A detection task (``tasks: - kind: detection``): a known signal inserted into clean images, model observers.

Structure only, as the rest of :mod:`reconfair.config`: the signal's and the
location's parameters are checked by their classes
(:func:`reconfair.physics.signals.signal_from_config`,
:func:`reconfair.physics.lesions.location_from_config`) in
:func:`reconfair.engine.validate.validate_study`.  docs/observers.md lists
every key.

>>> task = DetectionTaskConfig(kind="detection")
>>> task.observers, task.signal["kind"], task.location["kind"], task.max_backgrounds
(('npw', 'cho'), 'gaussian', 'random', 400)
>>> from pydantic import ValidationError
>>> try:
...     DetectionTaskConfig(kind="detection", roi=8)
... except ValidationError as error:
...     print(error.errors()[0]["loc"], error.errors()[0]["msg"][:40])
('roi',) Value error, expected an odd side in pix
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from reconfair.config.base import Frozen

__all__ = ["DETECTION_OBSERVERS", "SIGNAL_KINDS", "ChannelConfig", "DetectionTaskConfig"]

DETECTION_OBSERVERS = ("npw", "hotelling", "cho")
"""The observers a detection task may name (those of :mod:`reconfair.metrics.observers`)."""
SIGNAL_KINDS = ("gaussian", "spiculated", "template")
"""The signal kinds (those of :mod:`reconfair.physics.signals`)."""
LOCATION_KINDS = ("fixed", "random")

DEFAULT_SIGNAL = {"kind": "gaussian", "amplitude": 0.05, "sigma": 2.0}
"""A Gaussian of peak 0.05 (in the task's domain: image intensity, or line integral p = mu x) and sigma 2 px."""


class ChannelConfig(Frozen):
    """The CHO's Laguerre-Gauss channels: how many, their width, and the internal noise."""

    channels: int = Field(6, ge=1, le=20)
    """Number of Laguerre-Gauss channels."""
    width: float | None = Field(None, gt=0)
    """The channels' Gaussian width ``a`` in pixels; ``null``: half the signal's extent (2 sigma for a Gaussian)."""
    internal_noise: float = Field(0.0, ge=0)
    """Internal channel noise, in channel standard deviations (0: none)."""


class DetectionTaskConfig(Frozen):
    """Signal-known-exactly detection by model observers, on every condition of the data set.

    Pairs of one background with and without the signal are degraded and
    reconstructed like every other image; observers are trained on
    ``train_split`` and tested on ``test_split``.  Needs no labels.
    """

    kind: Literal["detection"]
    signal: dict[str, Any] = Field(default_factory=lambda: dict(DEFAULT_SIGNAL))
    """A signal of :mod:`reconfair.physics.signals`: ``kind`` and its parameters."""
    domain: Literal["auto", "image", "line-integral"] = "auto"
    """Where the signal is added; ``auto``: line-integral when the degradations are X-ray (radiograph, CT), image
    for MRI (and for a data set without degradations)."""
    location: dict[str, Any] = Field(default_factory=lambda: {"kind": "random"})
    """A location policy of :mod:`reconfair.physics.lesions`: ``{kind: random, threshold}`` or
    ``{kind: fixed, row, col}``."""
    observers: tuple[Literal["npw", "hotelling", "cho"], ...] = ("npw", "cho")
    cho: ChannelConfig = ChannelConfig()
    roi: int | None = Field(None, ge=3)
    """The ROI's side in pixels (odd); ``null``: ``2 extent + 1`` (the signal's whole support)."""
    train_split: Literal["train", "val", "test"] = "train"
    test_split: Literal["train", "val", "test"] = "test"
    max_backgrounds: int = Field(400, ge=4)
    """At most this many backgrounds per split (the first by sorted sample id)."""
    reconstructors: tuple[str, ...] | None = None
    """The data set's reconstructors whose conditions the observers see (``null``: every one); ``original``
    always, as the reference."""

    @field_validator("roi")
    @classmethod
    def _odd_roi(cls, value: int | None) -> int | None:
        if value is not None and value % 2 == 0:
            raise ValueError(f"expected an odd side in pixels (the signal's centre is the ROI's centre pixel) or "
                             f"null, got {value}")
        return value

    @field_validator("signal")
    @classmethod
    def _signal_kind(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("kind") not in SIGNAL_KINDS:
            raise ValueError(f"'kind' got {value.get('kind')!r}; expected one of: {', '.join(SIGNAL_KINDS)}, "
                             "e.g. {kind: gaussian, amplitude: 0.05, sigma: 2}")
        return value

    @field_validator("location")
    @classmethod
    def _location_kind(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("kind") not in LOCATION_KINDS:
            raise ValueError(f"'kind' got {value.get('kind')!r}; expected one of: {', '.join(LOCATION_KINDS)}, "
                             "e.g. {kind: random, threshold: 0.05}")
        return value

    @field_validator("observers")
    @classmethod
    def _observers_unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or len(set(value)) != len(value):
            raise ValueError(f"expected one or more distinct observers of {', '.join(DETECTION_OBSERVERS)}, got "
                             f"{list(value)}")
        return value

    @model_validator(mode="after")
    def _two_splits(self) -> "DetectionTaskConfig":
        if self.train_split == self.test_split:
            raise ValueError(f"test_split: the observers are tested on other images than they are trained on; got "
                             f"train_split = test_split = {self.train_split!r}")
        return self

    @property
    def supplied(self) -> bool:
        """A detection task has no diagnostic model (never supplied, never trained)."""
        return False
