"""Accelerated MRI: undersampled centred k-space and the zero-filled image.

``k = fft2c(x)`` (centred, orthonormal), optionally after multiplying the image
by a smooth random phase ``exp(i phi)``; a sampling mask ``M`` keeps a
fraction of about ``1 / acceleration`` of k-space; optional complex Gaussian
noise; the classical estimate is the zero-filled magnitude
``clip(|ifft2c(M k)|, 0, 1)`` (complex magnitude, never ``|real part|``).
Masks are drawn with torch from the generators passed in (never global RNG).

Examples
--------
>>> import torch
>>> from reconfair.seeding import torch_generator
>>> x = torch.rand(1, 1, 8, 8, generator=torch_generator(0, "img"))
>>> bool(torch.allclose(ifft2c(fft2c(x)).real, x, atol=1e-6))
True
>>> op = MRIUndersampling(level=4)
>>> y = op.degrade(x, generator=torch_generator(0, "doc"))
>>> y.shape, y.dtype
(torch.Size([1, 1, 8, 8]), torch.float32)
>>> MRIUndersampling(level=1).degrade(x).sub(x).abs().max().item() < 1e-6
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from reconfair.physics.base import (
    DegradeMixin,
    Generators,
    check_images,
    check_non_negative,
    resolve_generator,
    standard_normal,
    uniform,
)

__all__ = [
    "MRIUndersampling", "fft2c", "ifft2c", "MASK_KINDS", "default_center_fraction", "mask_probability", "sample_masks"
]

MASK_KINDS = ("random", "equispaced", "radial", "variable-density")
#: Side of the coarse grid of random coefficients behind the smooth phase.
PHASE_GRID = 4
#: Decay power of the variable-density mask's probability ``min(1, a (1 - r)^p)``.
VD_POWER = 6
#: Reference k-space shape for :meth:`MRIUndersampling.describe`.
DESCRIBE_SHAPE = (256, 256)


def fft2c(x: torch.Tensor) -> torch.Tensor:
    """Centred orthonormal 2-D FFT over the last two dimensions.

    ``fftshift(fft2(ifftshift(x)), norm="ortho")``: the DC term sits at index
    ``(H // 2, W // 2)`` and ``sum |x|^2 == sum |fft2c(x)|^2`` (Parseval).
    """
    shifted = torch.fft.ifftshift(x, dim=(-2, -1))
    return torch.fft.fftshift(torch.fft.fft2(shifted, norm="ortho"), dim=(-2, -1))


def ifft2c(k: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`fft2c` (centred orthonormal 2-D inverse FFT)."""
    shifted = torch.fft.ifftshift(k, dim=(-2, -1))
    return torch.fft.fftshift(torch.fft.ifft2(shifted, norm="ortho"), dim=(-2, -1))


@dataclass(frozen=True, kw_only=True)
class MRIUndersampling(DegradeMixin):
    """Undersampled k-space with a zero-filled magnitude reconstruction.

    Parameters
    ----------
    level
        Nominal acceleration ``R >= 1`` (the study used 4, 8, 16); ``R = 1``
        samples all of k-space.
    mask
        ``"random"`` (random Cartesian columns plus a fully sampled centre,
        default), ``"equispaced"`` (equispaced columns plus centre, random
        offset), ``"radial"`` (spokes through the centre, random rotation) or
        ``"variable-density"`` (2-D random points, density decaying with
        radius, fully sampled central disk).
    center_fraction
        Fully sampled centre: fraction of columns (Cartesian masks) or the
        central disk's diameter as a fraction of ``min(H, W)``
        (variable density); ignored by radial masks.  ``None`` (default)
        gives ``0.32 / R``: 0.08 at 4x, 0.04 at 8x, 0.02 at 16x.  Must be
        in [0, 1 / R).
    random_phase
        Multiply the image by ``exp(i phi)``, ``phi`` a smooth random field
        (bicubic upsampling of a 4 x 4 grid of N(0, pi^2) values), before the
        FFT; real MR images are complex and their magnitude is what we keep.
    noise_std
        Standard deviation of the complex Gaussian noise added to k-space, per
        real and imaginary part (>= 0, default 0).  The FFT is orthonormal, so
        image-domain noise has the same standard deviation.

    Notes
    -----
    :meth:`measure` returns complex64 k-space ``M * (fft2c(x e^{i phi}) + noise)``
    with zeros where ``M`` is 0; :meth:`to_image` needs nothing else.  Masks
    are drawn per sample: with one generator per sample each sample's mask
    comes from its own generator.  Phase-encode columns run along the last
    (W) dimension.

    Examples
    --------
    >>> op = MRIUndersampling(level=8, mask="radial")
    >>> op.name, op.modality, op.baseline
    ('mri-undersampling', 'mri', 'zero-filled')
    >>> MRIUndersampling(level=4, mask="spiral")
    Traceback (most recent call last):
    ...
    ValueError: mri-undersampling: parameter 'mask' got 'spiral'; expected one of: random, equispaced, radial, variable-density
    """

    level: float
    mask: str = "random"
    center_fraction: float | None = None
    random_phase: bool = False
    noise_std: float = 0.0

    name: ClassVar[str] = "mri-undersampling"
    modality: ClassVar[str] = "mri"
    baseline: ClassVar[str] = "zero-filled"
    study_levels: ClassVar[tuple[float, ...]] = (4.0, 8.0, 16.0)

    def __post_init__(self) -> None:
        level = self.level
        if isinstance(level, bool) or not isinstance(level, (int, float)) or not math.isfinite(level) or level < 1:
            raise ValueError(
                f"{self.name}: parameter 'level' (nominal acceleration) must be a number >= 1, got {level!r}; "
                "use 1 for full sampling, or e.g. 4, 8, 16"
            )
        if self.mask not in MASK_KINDS:
            raise ValueError(
                f"{self.name}: parameter 'mask' got {self.mask!r}; expected one of: {', '.join(MASK_KINDS)}"
            )
        cf = self.center_fraction
        number = isinstance(cf, (int, float)) and not isinstance(cf, bool)
        if cf is not None and (not number or not 0 <= cf <= 1 or (level > 1 and cf >= 1 / level)):
            raise ValueError(
                f"{self.name}: parameter 'center_fraction' must be in [0, 1/acceleration) = [0, {1 / level:g}), "
                f"got {cf!r}; lower it or pass None for the default 0.32/acceleration"
            )
        if not isinstance(self.random_phase, bool):
            raise ValueError(f"{self.name}: parameter 'random_phase' must be True or False, got {self.random_phase!r}")
        check_non_negative(self.noise_std, "noise_std", self.name)

    @property
    def acceleration(self) -> float:
        """Nominal acceleration (the level)."""
        return float(self.level)

    @property
    def resolved_center_fraction(self) -> float:
        """The centre fraction in use: ``center_fraction`` or ``0.32 / R``."""
        cf = self.center_fraction
        return float(cf) if cf is not None else default_center_fraction(self.acceleration)

    def sampling_probability(self, shape: tuple[int, int], *, device: torch.device | str = "cpu") -> torch.Tensor:
        """``H x W`` probability that each k-space location is sampled (the expected mask)."""
        return mask_probability(
            self.mask, self.acceleration, self.resolved_center_fraction, tuple(shape), torch.device(device)
        )

    def draw_masks(
        self, batch: int, shape: tuple[int, int], generator: Generators, *, device: torch.device | str = "cpu"
    ) -> torch.Tensor:
        """``batch x 1 x H x W`` float32 {0, 1} masks, sample ``i`` from generator ``i``."""
        device = torch.device(device)
        generator = resolve_generator(generator, device, self.name, self.level, self.mask)
        return sample_masks(
            self.mask, self.acceleration, self.resolved_center_fraction, batch, tuple(shape), generator, device
        )

    def measure(self, x: torch.Tensor, *, generator: Generators = None) -> torch.Tensor:
        """Complex64 undersampled k-space ``M * (fft2c(x e^{i phi}) + noise)``, ``B x 1 x H x W``."""
        x = check_images(x, self.name)
        batch, _, height, width = x.shape
        generator = resolve_generator(generator, x.device, self.name, self.level, self.mask)
        image = x.to(torch.complex64)
        if self.random_phase:
            coarse = standard_normal(batch, (1, PHASE_GRID, PHASE_GRID), generator, device=x.device)
            phase = math.pi * F.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=True)
            image = image * torch.polar(torch.ones_like(phase), phase)
        kspace = fft2c(image)
        mask = sample_masks(
            self.mask, self.acceleration, self.resolved_center_fraction, batch, (height, width), generator, x.device
        )
        if self.noise_std > 0:
            z = standard_normal(batch, (2, height, width), generator, device=x.device)
            kspace = kspace + self.noise_std * torch.complex(z[:, :1], z[:, 1:])
        return kspace * mask

    def to_image(self, y: torch.Tensor) -> torch.Tensor:
        """Zero-filled magnitude ``clip(|ifft2c(y)|, 0, 1)`` as float32."""
        if not isinstance(y, torch.Tensor) or not y.is_complex() or y.ndim != 4 or y.shape[1] != 1:
            got = f"{y.dtype} {tuple(y.shape)}" if isinstance(y, torch.Tensor) else type(y).__name__
            raise ValueError(f"{self.name}: to_image expects complex k-space B x 1 x H x W, got {got}; use measure()")
        return torch.clamp(ifft2c(y).abs(), 0.0, 1.0).to(torch.float32)

    def describe(self, *, shape: tuple[int, int] | None = None) -> dict[str, Any]:
        """Nominal and true acceleration of the expected mask at ``shape``.

        The true acceleration is ``1 / sampled fraction`` of the *expected*
        mask (:meth:`sampling_probability`) at ``shape`` (default 256 x 256):
        exact for random, variable-density and equispaced masks (the latter
        averaged over every offset), averaged over 16 rotations for radial
        masks.  A single drawn mask differs by its random fluctuation.
        """
        shape = tuple(shape) if shape is not None else DESCRIBE_SHAPE
        fraction = float(self.sampling_probability(shape).double().mean())
        facts: dict[str, Any] = {
            "name": self.name,
            "modality": self.modality,
            "baseline": self.baseline,
            "level": float(self.level),
            "mask": self.mask,
            "nominal_acceleration": self.acceleration,
            "sampled_fraction": fraction,
            "true_acceleration": 1.0 / fraction,
            "shape": shape,
            "center_fraction": None if self.mask == "radial" else self.resolved_center_fraction,
            "random_phase": self.random_phase,
            "noise_std": float(self.noise_std),
        }
        if self.mask == "radial":
            n_spokes, half_width = radial_geometry(shape, self.acceleration) if self.acceleration > 1 else (None, None)
            facts["n_spokes"], facts["spoke_half_width"] = n_spokes, half_width
        return facts


def default_center_fraction(acceleration: float) -> float:
    """Default fully sampled centre fraction ``min(1, 0.32 / R)`` (0.08 at 4x, 0.04 at 8x, 0.02 at 16x)."""
    return min(1.0, 0.32 / acceleration)


def mask_probability(
    kind: str, acceleration: float, center_fraction: float, shape: tuple[int, int], device: torch.device
) -> torch.Tensor:
    """``H x W`` float32 probability that each location is sampled, for a mask ``kind``."""
    height, width = shape
    if acceleration <= 1:
        return torch.ones(shape, device=device)
    if kind == "random":
        return _column_probability(width, acceleration, center_fraction, device).expand(height, width).clone()
    if kind == "equispaced":
        n_offsets = _equispaced_geometry(width, acceleration, center_fraction)[2]
        u = (torch.arange(n_offsets, device=device, dtype=torch.float32) + 0.5) / n_offsets
        cols = _equispaced_columns(width, acceleration, center_fraction, u).mean(dim=0)
        return cols.expand(height, width).clone()
    if kind == "radial":
        u = (torch.arange(16, device=device, dtype=torch.float32) + 0.5) / 16
        return _radial_masks(shape, radial_geometry(shape, acceleration), u).mean(dim=0)
    return _variable_density(height, width, acceleration, center_fraction).to(device=device, dtype=torch.float32)


def sample_masks(
    kind: str,
    acceleration: float,
    center_fraction: float,
    batch: int,
    shape: tuple[int, int],
    generator: Generators,
    device: torch.device,
) -> torch.Tensor:
    """``batch x 1 x H x W`` float32 {0, 1} masks; sample ``i``'s draws come from generator ``i``."""
    height, width = shape
    if acceleration <= 1:
        return torch.ones((batch, 1, height, width), device=device)
    if kind == "random":
        p = _column_probability(width, acceleration, center_fraction, device)
        cols = (uniform(batch, (1, 1, width), generator, device=device) < p).float()
        return cols.expand(batch, 1, height, width).contiguous()
    if kind == "equispaced":
        u = uniform(batch, (1,), generator, device=device)[:, 0]
        cols = _equispaced_columns(width, acceleration, center_fraction, u)
        return cols[:, None, None, :].expand(batch, 1, height, width).contiguous()
    if kind == "radial":
        u = uniform(batch, (1,), generator, device=device)[:, 0]
        return _radial_masks(shape, radial_geometry(shape, acceleration), u)[:, None]
    p = _variable_density(height, width, acceleration, center_fraction).to(device=device, dtype=torch.float32)
    return (uniform(batch, (1, height, width), generator, device=device) < p).float()


def _center_columns(width: int, center_fraction: float) -> tuple[int, int]:
    """First index and number of fully sampled centre columns (fastMRI convention)."""
    count = min(width, int(round(width * center_fraction)))
    return (width - count + 1) // 2, count


def _column_probability(width: int, acceleration: float, center_fraction: float, device: torch.device) -> torch.Tensor:
    """Per-column probability: 1 in the centre, ``(W/R - n_c) / (W - n_c)`` elsewhere."""
    start, count = _center_columns(width, center_fraction)
    outer = (width / acceleration - count) / (width - count) if count < width else 0.0
    p = torch.full((width,), max(0.0, outer), device=device)
    p[start : start + count] = 1.0
    return p


def _equispaced_geometry(width: int, acceleration: float, center_fraction: float) -> tuple[int, float, int]:
    """``(n_centre, spacing, n_offsets)``; spacing 0 when the centre alone reaches 1/R."""
    count = _center_columns(width, center_fraction)[1]
    denominator = count * acceleration - width
    if denominator >= 0:
        return count, 0.0, 1
    spacing = acceleration * (count - width) / denominator
    return count, spacing, max(1, int(round(spacing)))


def _equispaced_columns(width: int, acceleration: float, center_fraction: float, u: torch.Tensor) -> torch.Tensor:
    """``len(u) x W`` column masks: centre plus columns ``round(o + j * spacing) < W - 1``.

    The offset is ``o = floor(u * round(spacing))`` (fastMRI's equispaced
    "fraction" mask, whose sampled fraction is about 1/R including the centre).
    """
    start, count = _center_columns(width, center_fraction)
    _, spacing, n_offsets = _equispaced_geometry(width, acceleration, center_fraction)
    cols = torch.zeros((u.shape[0], width), device=u.device)
    if spacing > 0:
        offsets = torch.floor(u * n_offsets).clamp(max=n_offsets - 1)
        steps = torch.arange(int(math.ceil(width / spacing)) + 1, device=u.device, dtype=torch.float32)
        positions = offsets[:, None] + steps[None, :] * spacing
        index = torch.round(positions).long().clamp(0, width - 1)
        cols.scatter_add_(1, index, (positions < width - 1).float())
        cols = (cols > 0).float()
    cols[:, start : start + count] = 1.0
    return cols


@lru_cache(maxsize=16)
def _polar_grid(shape: tuple[int, int], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Radius (pixels) and angle mod pi of each k-space location around ``(H//2, W//2)``."""
    height, width = shape
    ky = (torch.arange(height, device=device, dtype=torch.float32) - height // 2)[:, None]
    kx = (torch.arange(width, device=device, dtype=torch.float32) - width // 2)[None, :]
    return torch.hypot(ky, kx), torch.remainder(torch.atan2(ky, kx), math.pi)


def _radial_masks(shape: tuple[int, int], geometry: tuple[int, float], u: torch.Tensor) -> torch.Tensor:
    """``len(u) x H x W`` masks of ``n_spokes`` full-diameter lines through the centre.

    Spoke ``j`` is at angle ``(u + j) * pi / n_spokes``; a location is sampled
    when its distance to the nearest spoke is at most ``half_width`` pixels.
    """
    n_spokes, half_width = geometry
    rho, phi = _polar_grid(shape, u.device)
    period = math.pi / n_spokes
    delta = torch.remainder(phi[None] - u[:, None, None] * period, period)
    nearest = torch.minimum(delta, period - delta)
    return (rho[None] * torch.sin(nearest) <= half_width).float()


@lru_cache(maxsize=64)
def radial_geometry(shape: tuple[int, int], acceleration: float) -> tuple[int, float]:
    """``(n_spokes, half_width)`` whose mask's sampled fraction is about ``1 / R``.

    ``n_spokes`` is the fewest half-pixel-wide spokes reaching ``1 / R``; the
    half width is then narrowed (bisection in [0.3, 0.5] pixel) towards ``1 / R``.
    """
    target = 1.0 / acceleration
    zero = torch.zeros(1)

    def fraction(n: int, half_width: float = 0.5) -> float:
        return float(_radial_masks(shape, (n, half_width), zero).mean())

    low, high = 1, int(math.ceil(math.pi * max(shape))) + 1
    while low < high:  # fewest spokes with fraction >= target
        middle = (low + high) // 2
        if fraction(middle) >= target:
            high = middle
        else:
            low = middle + 1
    narrow, wide = 0.3, 0.5
    for _ in range(20):
        middle = (narrow + wide) / 2
        if fraction(low, middle) >= target:
            wide = middle
        else:
            narrow = middle
    return low, wide


@lru_cache(maxsize=64)
def _variable_density(height: int, width: int, acceleration: float, center_fraction: float) -> torch.Tensor:
    """``H x W`` float64 probabilities ``min(1, a (1 - r)^6)``, 1 in the centre disk, mean ``1/R``.

    ``r`` is the radius divided by the largest radius; the centre disk has
    diameter ``center_fraction * min(H, W)``; ``a`` is found by bisection.
    """
    rho, _ = _polar_grid((height, width), torch.device("cpu"))
    rho = rho.double()
    weight = (1.0 - rho / rho.max()) ** VD_POWER
    centre = rho <= center_fraction * min(height, width) / 2

    def probability(scale: float) -> torch.Tensor:
        return torch.where(centre, torch.ones_like(weight), torch.clamp(scale * weight, max=1.0))

    target = 1.0 / acceleration
    low, high = 0.0, 1.0
    while float(probability(high).mean()) < target and high < 1e12:
        high *= 2.0
    for _ in range(60):
        middle = (low + high) / 2
        if float(probability(middle).mean()) < target:
            low = middle
        else:
            high = middle
    return probability(high)
