"""Lesion insertion: signal-present and signal-absent images that share their background bit for bit.

:func:`make_pairs` takes clean images ``x`` (``B x 1 x H x W`` in [0, 1]) and
returns, per image, the signal-absent image (``x`` itself) and the
signal-present image, with the signal (:mod:`reconfair.physics.signals`)
added in one of two domains (docs/observers.md):

- ``"image"``: ``x' = x + s`` (MRI magnitude images, any image-domain task);
- ``"line-integral"``: radiographs read the clean image as the line integral
  ``p = mu x`` (:class:`~reconfair.physics.radiograph.RadiographLowDose`), so
  ``p' = p + s`` and ``x' = x + s / mu``.  Use the ``mu`` of the operator
  that degrades the images next.

The amplitude is defined in the chosen domain and is inserted exactly: there
is no clipping.  An insertion that would leave [0, 1] at any pixel is an
error with a fixed location, and is avoided by the random one.

Location policies (where the signal's centre goes):

- :class:`FixedLocation` ``(row, col)``, default the image centre
  ``(H // 2, W // 2)``; ``ValueError`` naming the sample when the support
  leaves the image or the result leaves [0, 1];
- :class:`RandomLocation`: uniform over the admissible centres: the whole
  support inside the image, the centre pixel in the region ``x > threshold``
  (e.g. the patient or the lungs) and the result inside [0, 1] at every
  pixel; drawn from ``numpy_generator(seed, "lesion", sample_id)``, so a
  sample's location depends on nothing but the seed, its id and its image
  (never on the batch or its order).  ``ValueError`` when a sample has no
  admissible centre.

Examples
--------
>>> import torch
>>> from reconfair.physics.signals import GaussianSignal
>>> x = torch.full((2, 1, 16, 16), 0.3)
>>> pairs = make_pairs(x, ["a", "b"], signal=GaussianSignal(amplitude=0.4, sigma=1.0),
...                    domain="line-integral", policy=RandomLocation(threshold=0.1), seed=0)
>>> bool(torch.equal(pairs.absent, x)), tuple(pairs.centers.shape)
(True, (2, 2))
>>> bool(torch.allclose((pairs.present - pairs.absent) * 4.0, pairs.signals, atol=1e-6))
True
>>> make_pairs(x, ["a", "b"], signal=GaussianSignal(amplitude=3.0, sigma=1.0), domain="line-integral")
Traceback (most recent call last):
...
ValueError: lesion insertion: sample 'a' at (8, 8): x + s / mu reaches 1.05 (range [0.3, 1.05]); the inserted amplitude 3 (line-integral) must keep every pixel in [0, 1]; use a smaller amplitude or another location (RandomLocation avoids such places)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from reconfair.physics.base import check_images, check_positive
from reconfair.physics.signals import (
    SIGNALS,
    GaussianSignal,
    Signal,
    SpiculatedSignal,
    TemplateSignal,
    make_signal,
    signal_from_config,
)
from reconfair.registry import Registry
from reconfair.seeding import numpy_generator

__all__ = [
    "DOMAINS",
    "LOCATIONS",
    "FixedLocation",
    "RandomLocation",
    "LesionPairs",
    "location_from_config",
    "insert",
    "make_pairs",
    "Signal",
    "GaussianSignal",
    "SpiculatedSignal",
    "TemplateSignal",
    "SIGNALS",
    "make_signal",
    "signal_from_config",
]

DOMAINS = ("image", "line-integral")
"""Where the signal is added: the image (``x + s``) or the line integral ``p = mu x`` (``x + s / mu``)."""
WHO = "lesion insertion"


@dataclass(frozen=True, kw_only=True)
class FixedLocation:
    """The same centre ``(row, col)`` in every image; ``None`` (default) is the centre ``H // 2`` or ``W // 2``.

    >>> FixedLocation().center(32, 24), FixedLocation(row=5).center(32, 24)
    ((16, 12), (5, 12))
    >>> FixedLocation(row=-1)
    Traceback (most recent call last):
    ...
    ValueError: fixed location: parameter 'row' must be a non-negative integer or None (the centre), got -1
    """

    row: int | None = None
    col: int | None = None

    kind: ClassVar[str] = "fixed"

    def __post_init__(self) -> None:
        for name in ("row", "col"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ValueError(f"fixed location: parameter {name!r} must be a non-negative integer or None "
                                 f"(the centre), got {value!r}")

    def center(self, height: int, width: int) -> tuple[int, int]:
        """The centre in an ``H x W`` image."""
        return (height // 2 if self.row is None else self.row, width // 2 if self.col is None else self.col)

    def to_config(self) -> dict[str, Any]:
        """``{"kind": "fixed", "row": ..., "col": ...}``."""
        return {"kind": self.kind, "row": self.row, "col": self.col}


@dataclass(frozen=True, kw_only=True)
class RandomLocation:
    """A uniform draw over the admissible centres of each image (see the module docs).

    Parameters
    ----------
    threshold
        The region is the pixels with clean value ``x > threshold`` (default
        0.05, the radiograph's patient region ``AEC_REGION``; 0 with a
        negative threshold: everywhere).  The centre pixel must be in it.

    >>> RandomLocation(threshold=1.5)
    Traceback (most recent call last):
    ...
    ValueError: random location: parameter 'threshold' must be a number below 1 (the region is x > threshold), got 1.5
    """

    threshold: float = 0.05

    kind: ClassVar[str] = "random"

    def __post_init__(self) -> None:
        value = self.threshold
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value < 1:
            raise ValueError("random location: parameter 'threshold' must be a number below 1 "
                             f"(the region is x > threshold), got {value!r}")

    def to_config(self) -> dict[str, Any]:
        """``{"kind": "random", "threshold": ...}``."""
        return {"kind": self.kind, "threshold": float(self.threshold)}


#: Location policy kind -> its class.
LOCATIONS = Registry("location policy")
LOCATIONS.register(FixedLocation.kind)(FixedLocation)
LOCATIONS.register(RandomLocation.kind)(RandomLocation)


def location_from_config(config: Mapping[str, Any]) -> FixedLocation | RandomLocation:
    """A location policy from ``{"kind": "fixed" | "random", ...}`` (what ``to_config`` writes).

    >>> location_from_config({"kind": "random", "threshold": 0.2})
    RandomLocation(threshold=0.2)
    """
    if not isinstance(config, Mapping) or config.get("kind") not in LOCATIONS.names():
        got = config.get("kind") if isinstance(config, Mapping) else config
        raise ValueError(f"location config: 'kind' got {got!r}; expected one of: {', '.join(LOCATIONS.names())}")
    return LOCATIONS.create(config["kind"], **{k: v for k, v in config.items() if k != "kind"})


@dataclass(frozen=True, eq=False)
class LesionPairs:
    """Signal-absent and signal-present images of one batch, and where the signal went.

    Attributes
    ----------
    absent
        ``B x 1 x H x W`` float32: the input background, bit for bit.
    present
        ``B x 1 x H x W`` float32: ``absent + signals`` (image domain) or
        ``absent + signals / mu`` (line-integral domain), in [0, 1].
    signals
        ``B x 1 x H x W`` float32: each image's rendered signal, in its domain.
    centers
        ``B x 2`` int64: each signal's centre ``(row, col)``.
    sample_ids
        The samples, in batch order.
    signal, domain, mu
        What was inserted, where, and the attenuation scale (line-integral domain).
    """

    absent: torch.Tensor
    present: torch.Tensor
    signals: torch.Tensor
    centers: torch.Tensor
    sample_ids: tuple[str, ...]
    signal: Signal
    domain: str
    mu: float

    @property
    def extent(self) -> int:
        """The signal's support radius (an ROI of side ``2 extent + 1`` holds all of it)."""
        return self.signal.extent

    def locations(self) -> pd.DataFrame:
        """One row per sample: ``sample_id, row, col`` (the recorded centres)."""
        centers = self.centers.numpy()
        return pd.DataFrame({"sample_id": list(self.sample_ids), "row": centers[:, 0], "col": centers[:, 1]})


def insert(background: torch.Tensor, signal_image: torch.Tensor, *, domain: str, mu: float = 4.0) -> torch.Tensor:
    """``background + s`` (image domain) or ``background + s / mu`` (line-integral domain), float32, unclipped.

    >>> insert(torch.zeros(2), torch.tensor([0.4, 0.0]), domain="line-integral").tolist()
    [0.10000000149011612, 0.0]
    """
    _check_domain(domain, mu)
    return background + (signal_image if domain == "image" else signal_image / mu)


def _check_domain(domain: str, mu: float) -> None:
    if domain not in DOMAINS:
        raise ValueError(f"{WHO}: parameter 'domain' got {domain!r}; expected one of: {', '.join(DOMAINS)}")
    check_positive(mu, "mu", WHO, "attenuation scale of the line integral p = mu x")


def _admissible(image: torch.Tensor, patch: torch.Tensor, extent: int, domain: str, mu: float,
                threshold: float) -> torch.Tensor:
    """``H x W`` bool: centres whose support fits, in the region, with the result inside [0, 1] everywhere."""
    height, width = image.shape
    ok = torch.zeros((height, width), dtype=torch.bool)
    rows, cols = height - 2 * extent, width - 2 * extent
    if rows <= 0 or cols <= 0:
        return ok
    inner = (slice(extent, height - extent), slice(extent, width - extent))
    fine = image[inner] > threshold
    step = patch if domain == "image" else patch / mu
    for dy, dx in (step != 0).nonzero().tolist():  # every pixel of the support, one shifted view each
        value = image[dy : dy + rows, dx : dx + cols] + step[dy, dx]
        fine &= (value >= 0) & (value <= 1)
    ok[inner] = fine
    return ok


def make_pairs(images: torch.Tensor, sample_ids: Sequence[str], *, signal: Signal, domain: str = "image",
               policy: FixedLocation | RandomLocation | None = None, seed: int = 0, mu: float = 4.0) -> LesionPairs:
    """Insert ``signal`` into every image: signal-present and signal-absent pairs.

    Parameters
    ----------
    images
        Clean ``B x 1 x H x W`` floating batch in [0, 1] (the backgrounds).
    sample_ids
        One unique id per image: the random policy's draws depend on it.
    signal
        A profile from :mod:`reconfair.physics.signals` (its amplitude is in ``domain``).
    domain
        ``"image"`` or ``"line-integral"`` (see the module docs).
    policy
        :class:`FixedLocation` (default, the image centre) or :class:`RandomLocation`.
    seed
        The random policy's seed: ``numpy_generator(seed, "lesion", sample_id)``.
    mu
        Attenuation scale of the line-integral domain (> 0, default 4, that
        of :class:`~reconfair.physics.radiograph.RadiographLowDose`).

    Returns
    -------
    LesionPairs
        ``absent`` equal to ``images`` (as float32) bit for bit, ``present``,
        ``signals`` (on the device of ``images``; computed on the CPU) and
        ``centers`` (CPU int64).

    Raises
    ------
    ValueError
        A sample whose fixed location leaves the image or [0, 1], or that has
        no admissible random location; the message names it.
    """
    x = check_images(images, WHO)
    _check_domain(domain, mu)
    ids = tuple(str(s) for s in sample_ids)
    if len(ids) != x.shape[0] or len(set(ids)) != len(ids):
        raise ValueError(f"{WHO}: sample_ids needs {x.shape[0]} unique ids (one per image), got {len(ids)} "
                         f"with {len(ids) - len(set(ids))} repeated")
    if not isinstance(signal, Signal):
        raise TypeError(f"{WHO}: signal must be a signal profile (e.g. GaussianSignal), got {type(signal).__name__}; "
                        "build one with signal_from_config({'kind': 'gaussian', ...})")
    policy = FixedLocation() if policy is None else policy
    if not isinstance(policy, (FixedLocation, RandomLocation)):
        raise TypeError(f"{WHO}: policy must be FixedLocation or RandomLocation, got {type(policy).__name__}")
    background = x.detach().to("cpu", copy=True)
    height, width = background.shape[-2:]
    patch, extent = signal.patch(), signal.extent
    centers = np.empty((len(ids), 2), dtype=np.int64)
    for i, sample_id in enumerate(ids):
        if isinstance(policy, FixedLocation):
            centers[i] = policy.center(height, width)
            continue
        ok = _admissible(background[i, 0], patch, extent, domain, mu, policy.threshold)
        candidates = np.flatnonzero(ok.numpy())
        if candidates.size == 0:
            raise ValueError(
                f"{WHO}: sample {sample_id!r} has no admissible location for the signal (extent {extent}) with "
                f"x > {policy.threshold:g} at its centre and x + s{'' if domain == 'image' else ' / mu'} in "
                "[0, 1] everywhere; use a smaller amplitude or signal, or a lower threshold"
            )
        pick = candidates[numpy_generator(seed, "lesion", sample_id).integers(candidates.size)]
        centers[i] = divmod(int(pick), width)
    signals = torch.zeros_like(background)
    for i, sample_id in enumerate(ids):
        try:
            signals[i, 0] = signal.render((height, width), (int(centers[i, 0]), int(centers[i, 1])))
        except ValueError as error:
            raise ValueError(f"{WHO}: sample {sample_id!r}: {error}") from None
    present = insert(background, signals, domain=domain, mu=mu)  # on the CPU, as the admissibility check
    _check_range(present, centers, ids, signal, domain)
    device = x.device
    return LesionPairs(x.detach().clone(), present.to(device), signals.to(device), torch.from_numpy(centers), ids,
                       signal, domain, float(mu))


def _check_range(present: torch.Tensor, centers: np.ndarray, ids: tuple[str, ...], signal: Signal,
                 domain: str) -> None:
    flat = present.flatten(1)
    bad = ((flat < 0) | (flat > 1)).any(1)
    if not bad.any():
        return
    i = int(bad.nonzero()[0])
    low, high = float(flat[i].min()), float(flat[i].max())
    formula = "x + s" if domain == "image" else "x + s / mu"
    reach = high if high > 1 else low
    raise ValueError(
        f"{WHO}: sample {ids[i]!r} at ({int(centers[i, 0])}, {int(centers[i, 1])}): {formula} reaches {reach:.3g} "
        f"(range [{low:.3g}, {high:.3g}]); the inserted amplitude {signal.amplitude:g} ({domain}) must keep every "
        "pixel in [0, 1]; use a smaller amplitude or another location (RandomLocation avoids such places)"
    )

