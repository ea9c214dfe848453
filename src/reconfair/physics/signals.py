"""Lesion signal profiles for task-based image quality (docs/observers.md).

A signal is a small, deterministic 2-D profile ``s`` that
:func:`reconfair.physics.lesions.make_pairs` adds to a clean image.  Each kind
is one frozen dataclass with its formula in its docstring; all of them have

- ``amplitude``: the signal's peak, ``max |s| = |amplitude|``, in the domain
  where the signal is inserted (image intensity, or line integral);
- ``extent``: the integer radius of its support, ``s = 0`` outside the
  ``(2 extent + 1)``-pixel square centred on it (the ROI and border checks
  use it);
- :meth:`patch`: the ``(2 extent + 1) x (2 extent + 1)`` float32 profile,
  centre at index ``(extent, extent)``;
- :meth:`render`: the profile placed in an empty ``H x W`` float32 image at
  an integer centre ``(row, col)`` (the whole support must lie inside);
- :meth:`to_config`: the parameters, with ``kind``, for
  :func:`signal_from_config`.

Pixel ``(i, j)`` of a patch sits at offset ``(dy, dx) = (i - extent, j -
extent)`` pixels from the centre; ``r = sqrt(dx^2 + dy^2)`` and ``theta =
atan2(dy, dx)``.

Examples
--------
>>> s = signal_from_config({"kind": "gaussian", "amplitude": 0.1, "sigma": 1.0})
>>> s.extent, tuple(s.patch().shape), round(float(s.patch().max()), 6)
(4, (9, 9), 0.1)
>>> image = s.render(16, (8, 5))
>>> tuple(image.shape), tuple(int(i) for i in (image == image.max()).nonzero()[0])
((16, 16), (8, 5))
>>> signal_from_config({"kind": "gaussian", "amplitude": 0.1, "sigm": 1.0})
Traceback (most recent call last):
...
ValueError: signal 'gaussian' got unknown parameter 'sigm'; allowed parameters: amplitude, sigma
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import torch

from reconfair.registry import Registry

__all__ = [
    "Signal",
    "GaussianSignal",
    "SpiculatedSignal",
    "TemplateSignal",
    "SIGNALS",
    "GAUSSIAN_SUPPORT",
    "make_signal",
    "signal_from_config",
]

GAUSSIAN_SUPPORT = 4.0
"""A Gaussian signal is truncated to the disc ``r <= GAUSSIAN_SUPPORT * sigma`` (``exp(-8)``: 3.4e-4 of its peak)."""


@runtime_checkable
class Signal(Protocol):
    """What every signal profile provides (see the module docs)."""

    kind: str
    amplitude: float

    @property
    def extent(self) -> int:
        """Integer radius of the support."""
        ...

    def patch(self) -> torch.Tensor:
        """The ``(2 extent + 1)``-square float32 profile."""
        ...

    def render(self, size: int | tuple[int, int], center: tuple[int, int]) -> torch.Tensor:
        """The profile in an empty ``H x W`` float32 image at ``center``."""
        ...

    def to_config(self) -> dict[str, Any]:
        """Parameters with ``kind``, for :func:`signal_from_config`."""
        ...


def _check_number(value: object, param: str, who: str, *, positive: bool = False, nonzero: bool = False) -> float:
    """``value`` as float, or ``ValueError`` naming ``param``, what was received, what is expected."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{who}: parameter {param!r} must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise ValueError(f"{who}: parameter {param!r} must be > 0, got {value!r}; pass a positive number")
    if nonzero and value == 0:
        raise ValueError(f"{who}: parameter {param!r} must be non-zero, got {value!r}; "
                         "pass the signal's peak (negative for a lesion darker than its background)")
    return float(value)


def _offsets(extent: int) -> tuple[np.ndarray, np.ndarray]:
    """``(dy, dx)`` float64 offset grids of a ``(2 extent + 1)``-square patch."""
    axis = np.arange(-extent, extent + 1, dtype=np.float64)
    return np.meshgrid(axis, axis, indexing="ij")


def _place(patch: torch.Tensor, extent: int, size: int | tuple[int, int], center: tuple[int, int],
           who: str) -> torch.Tensor:
    """``patch`` in an empty ``H x W`` image, centred at the integer ``center``; the support must fit."""
    height, width = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if height < 1 or width < 1:
        raise ValueError(f"{who}: size must be positive, got {size!r}")
    try:
        row, col = (int(c) for c in center)
    except (TypeError, ValueError):
        raise ValueError(f"{who}: center must be two integers (row, col), got {center!r}") from None
    if (row, col) != tuple(center):
        raise ValueError(f"{who}: center must be integer pixel indices (row, col), got {center!r}")
    if not (extent <= row < height - extent and extent <= col < width - extent):
        raise ValueError(
            f"{who}: the signal's support (extent {extent}) at center ({row}, {col}) leaves the "
            f"{height} x {width} image; centres must lie in rows {extent}..{height - 1 - extent} and "
            f"columns {extent}..{width - 1 - extent}; move it inward or use a smaller signal"
        )
    image = torch.zeros((height, width), dtype=torch.float32)
    image[row - extent : row + extent + 1, col - extent : col + extent + 1] = patch
    return image


@dataclass(frozen=True, kw_only=True)
class GaussianSignal:
    """A round Gaussian blob: ``s(r) = A exp(-r^2 / (2 sigma^2))`` for ``r <= 4 sigma``, 0 beyond.

    Parameters
    ----------
    amplitude
        ``A``, the peak at the centre (non-zero; negative for a dark lesion).
    sigma
        Standard deviation in pixels (> 0).  ``extent = ceil(4 sigma)``;
        ``sum s^2 ≈ pi sigma^2 A^2`` for ``sigma`` of a pixel or more.

    Examples
    --------
    >>> GaussianSignal(amplitude=0.2, sigma=2.0).extent
    8
    >>> GaussianSignal(amplitude=0.2, sigma=0)
    Traceback (most recent call last):
    ...
    ValueError: gaussian signal: parameter 'sigma' must be > 0, got 0; pass a positive number
    """

    amplitude: float
    sigma: float

    kind: ClassVar[str] = "gaussian"

    def __post_init__(self) -> None:
        _check_number(self.amplitude, "amplitude", "gaussian signal", nonzero=True)
        _check_number(self.sigma, "sigma", "gaussian signal", positive=True)

    @property
    def extent(self) -> int:
        """``ceil(4 sigma)``."""
        return int(math.ceil(GAUSSIAN_SUPPORT * self.sigma))

    def patch(self) -> torch.Tensor:
        """The float32 profile (see the class formula)."""
        dy, dx = _offsets(self.extent)
        r2 = dx**2 + dy**2
        values = self.amplitude * np.exp(-r2 / (2.0 * self.sigma**2))
        values[r2 > (GAUSSIAN_SUPPORT * self.sigma) ** 2] = 0.0
        return torch.from_numpy(values.astype(np.float32))

    def render(self, size: int | tuple[int, int], center: tuple[int, int]) -> torch.Tensor:
        """The profile in an empty ``H x W`` float32 image at ``center`` (``size`` an int: square)."""
        return _place(self.patch(), self.extent, size, center, "gaussian signal")

    def to_config(self) -> dict[str, Any]:
        """``{"kind": "gaussian", "amplitude": A, "sigma": sigma}``."""
        return {"kind": self.kind, "amplitude": float(self.amplitude), "sigma": float(self.sigma)}


@dataclass(frozen=True, kw_only=True)
class SpiculatedSignal:
    """A disc-like nodule with radial spicules and a smooth edge (deterministic, no randomness).

    The boundary radius at angle ``theta`` is

        r_eff(theta) = R (1 + L max(0, cos(m (theta - phi)))^k)

    (``R`` radius, ``L`` spike_length, ``m`` spikes, ``k`` sharpness, ``phi``
    angle) and the profile is ``s(r, theta) = A h((r - r_eff(theta)) / w)``
    with the raised-cosine edge of width ``w`` (edge)

        h(t) = 1 for t <= -1/2,   (1 - sin(pi t)) / 2 for |t| < 1/2,   0 for t >= 1/2.

    The core ``r <= R - w/2`` is exactly ``A`` (so the peak is exactly ``A``);
    ``m`` spicules reach ``R (1 + L)``.

    Parameters
    ----------
    amplitude
        ``A`` (non-zero).
    radius
        ``R`` in pixels, > ``edge / 2``.
    spikes
        ``m``, the number of spicules (integer >= 1).
    spike_length
        ``L``: how far spicules reach beyond ``R``, as a fraction of ``R`` (>= 0; 0 is a disc).
    sharpness
        ``k`` (>= 1, default 4): larger makes spicules thinner.
    edge
        ``w`` in pixels (> 0, default 1).
    angle
        ``phi`` in radians (default 0): rotation of the spicules.

    Examples
    --------
    >>> s = SpiculatedSignal(amplitude=0.1, radius=3.0, spikes=5, spike_length=1.0)
    >>> s.extent, float(s.patch().max()) == float(np.float32(0.1))
    (7, True)
    >>> SpiculatedSignal(amplitude=0.1, radius=3.0, spikes=2.5, spike_length=1.0)
    Traceback (most recent call last):
    ...
    ValueError: spiculated signal: parameter 'spikes' must be an integer >= 1, got 2.5
    """

    amplitude: float
    radius: float
    spikes: int
    spike_length: float
    sharpness: float = 4.0
    edge: float = 1.0
    angle: float = 0.0

    kind: ClassVar[str] = "spiculated"

    def __post_init__(self) -> None:
        who = "spiculated signal"
        _check_number(self.amplitude, "amplitude", who, nonzero=True)
        _check_number(self.radius, "radius", who, positive=True)
        if isinstance(self.spikes, bool) or not isinstance(self.spikes, int) or self.spikes < 1:
            raise ValueError(f"{who}: parameter 'spikes' must be an integer >= 1, got {self.spikes!r}")
        if _check_number(self.spike_length, "spike_length", who) < 0:
            raise ValueError(f"{who}: parameter 'spike_length' must be >= 0, got {self.spike_length!r}; "
                             "0 gives a disc")
        if _check_number(self.sharpness, "sharpness", who) < 1:
            raise ValueError(f"{who}: parameter 'sharpness' must be >= 1, got {self.sharpness!r}")
        _check_number(self.edge, "edge", who, positive=True)
        _check_number(self.angle, "angle", who)
        if self.radius <= self.edge / 2:
            raise ValueError(f"{who}: parameter 'radius' must exceed edge / 2 = {self.edge / 2:g} so the core "
                             f"reaches the amplitude, got {self.radius!r}; raise radius or lower edge")

    @property
    def extent(self) -> int:
        """``ceil(R (1 + L) + w / 2)``."""
        return int(math.ceil(self.radius * (1.0 + self.spike_length) + self.edge / 2.0))

    def boundary(self, theta: np.ndarray) -> np.ndarray:
        """``r_eff(theta)`` (float64, shape of ``theta``)."""
        lobes = np.maximum(0.0, np.cos(self.spikes * (np.asarray(theta, np.float64) - self.angle)))
        return self.radius * (1.0 + self.spike_length * lobes**self.sharpness)

    def patch(self) -> torch.Tensor:
        """The float32 profile (see the class formula)."""
        dy, dx = _offsets(self.extent)
        t = (np.hypot(dx, dy) - self.boundary(np.arctan2(dy, dx))) / self.edge
        edge = 0.5 * (1.0 - np.sin(np.pi * np.clip(t, -0.5, 0.5)))
        return torch.from_numpy((self.amplitude * edge).astype(np.float32))

    def render(self, size: int | tuple[int, int], center: tuple[int, int]) -> torch.Tensor:
        """The profile in an empty ``H x W`` float32 image at ``center`` (``size`` an int: square)."""
        return _place(self.patch(), self.extent, size, center, "spiculated signal")

    def to_config(self) -> dict[str, Any]:
        """The parameters with ``kind: spiculated``."""
        return {"kind": self.kind, "amplitude": float(self.amplitude), "radius": float(self.radius),
                "spikes": int(self.spikes), "spike_length": float(self.spike_length),
                "sharpness": float(self.sharpness), "edge": float(self.edge), "angle": float(self.angle)}


@dataclass(frozen=True, kw_only=True, eq=False)
class TemplateSignal:
    """A user-given profile ``s = A T / max |T|`` (``T`` a 2-D array with odd sides, centred).

    Parameters
    ----------
    array
        ``T``: a 2-D array-like with odd height and width, finite and not all
        zero, or the path of a ``.npy`` file holding one.  It is stored
        normalised (``max |T| = 1``, float64, read-only); its centre pixel
        ``(h // 2, w // 2)`` goes to the signal's centre.
    amplitude
        ``A`` (non-zero): the value at ``T``'s largest-magnitude pixel is
        ``A`` times its sign.

    Examples
    --------
    >>> s = TemplateSignal(array=[[0, 1, 0], [1, 2, 1], [0, 1, 0]], amplitude=0.3)
    >>> s.extent, s.patch().tolist()[1]
    (1, [0.15000000596046448, 0.30000001192092896, 0.15000000596046448])
    >>> TemplateSignal(array=np.ones((2, 3)), amplitude=0.3)
    Traceback (most recent call last):
    ...
    ValueError: template signal: parameter 'array' must have odd height and width (a centre pixel), got shape (2, 3); pad it by one row/column
    """

    array: Any
    amplitude: float
    source: str = field(default="", init=False, repr=False)

    kind: ClassVar[str] = "template"

    def __post_init__(self) -> None:
        who = "template signal"
        _check_number(self.amplitude, "amplitude", who, nonzero=True)
        raw, source = self.array, self.source
        if isinstance(raw, (str, Path)):
            path = Path(raw)
            if path.suffix != ".npy" or not path.is_file():
                raise ValueError(f"{who}: parameter 'array' names {str(path)!r}, which is not an existing .npy "
                                 "file; pass a 2-D array or the path of one saved with numpy.save")
            source, raw = str(path), np.load(path, allow_pickle=False)
        try:
            values = np.array(raw, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{who}: parameter 'array' must be a 2-D numeric array, "
                             f"got {type(raw).__name__}") from None
        if values.ndim != 2:
            raise ValueError(f"{who}: parameter 'array' must be 2-D, got shape {values.shape}")
        if values.shape[0] % 2 == 0 or values.shape[1] % 2 == 0:
            raise ValueError(f"{who}: parameter 'array' must have odd height and width (a centre pixel), "
                             f"got shape {values.shape}; pad it by one row/column")
        peak = float(np.abs(values).max()) if np.isfinite(values).all() else float("nan")
        if not peak > 0:
            raise ValueError(f"{who}: parameter 'array' must be finite and not all zero, got max |T| = {peak}")
        values = values / peak
        values.setflags(write=False)
        object.__setattr__(self, "array", values)
        object.__setattr__(self, "source", source)

    @property
    def extent(self) -> int:
        """``max(h, w) // 2``."""
        return max(self.array.shape) // 2

    def patch(self) -> torch.Tensor:
        """``A T / max |T|`` zero-padded to the ``(2 extent + 1)``-square, float32."""
        e = self.extent
        out = np.zeros((2 * e + 1, 2 * e + 1))
        h, w = self.array.shape
        out[e - h // 2 : e + h // 2 + 1, e - w // 2 : e + w // 2 + 1] = self.amplitude * self.array
        return torch.from_numpy(out.astype(np.float32))

    def render(self, size: int | tuple[int, int], center: tuple[int, int]) -> torch.Tensor:
        """The profile in an empty ``H x W`` float32 image at ``center`` (``size`` an int: square)."""
        return _place(self.patch(), self.extent, size, center, "template signal")

    def to_config(self) -> dict[str, Any]:
        """``{"kind": "template", "array": <path or nested lists of T / max |T|>, "amplitude": A}``."""
        return {"kind": self.kind, "array": self.source or self.array.tolist(), "amplitude": float(self.amplitude)}


#: Signal kind -> its class.
SIGNALS = Registry("signal")
for _cls in (GaussianSignal, SpiculatedSignal, TemplateSignal):
    SIGNALS.register(_cls.kind)(_cls)


def make_signal(kind: str, **params: Any) -> Signal:
    """The signal of ``kind`` (``SIGNALS.names()``) with ``params``; an unknown parameter is named.

    >>> make_signal("spiculated", amplitude=1.0, radius=2.0, spikes=3, spike_length=0.5).extent
    4
    """
    return SIGNALS.create(kind, **params)


def signal_from_config(config: Mapping[str, Any]) -> Signal:
    """A signal from a mapping with ``kind`` and the class's parameters (what :meth:`to_config` writes).

    >>> signal_from_config(GaussianSignal(amplitude=0.1, sigma=2.0).to_config())
    GaussianSignal(amplitude=0.1, sigma=2.0)
    >>> signal_from_config({"amplitude": 0.1})
    Traceback (most recent call last):
    ...
    ValueError: signal config needs 'kind', one of: gaussian, spiculated, template; got keys ['amplitude']
    """
    if not isinstance(config, Mapping) or "kind" not in config:
        keys = sorted(config) if isinstance(config, Mapping) else type(config).__name__
        raise ValueError(f"signal config needs 'kind', one of: {', '.join(SIGNALS.names())}; got keys {keys}")
    params = {k: v for k, v in config.items() if k != "kind"}
    kind = config["kind"]
    if kind not in SIGNALS.names():
        raise ValueError(f"signal config: 'kind' got {kind!r}; expected one of: {', '.join(SIGNALS.names())}")
    allowed = SIGNALS.parameters(kind)
    unknown = [p for p in params if p not in allowed]
    if unknown:
        return make_signal(kind, **params)  # the registry's error names the first unknown parameter
    missing = [p for p in _required(kind) if p not in params]
    if missing:
        raise ValueError(f"signal config of kind {kind!r} misses {', '.join(map(repr, missing))}; "
                         f"parameters: {', '.join(SIGNALS.parameters(kind))}")
    return make_signal(kind, **params)


def _required(kind: str) -> list[str]:
    signature = inspect.signature(SIGNALS.get(kind))
    return [p.name for p in signature.parameters.values() if p.default is inspect.Parameter.empty]
