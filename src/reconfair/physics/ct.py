"""Low-dose CT: batched Radon transform, bowtie-shaped photon counts, FBP (Hann).

Geometry (scikit-image's ``radon(circle=False)`` / ``iradon`` convention): a
square ``N x N`` image rotates about pixel ``(N // 2, N // 2)``; parallel
projections at ``n_angles`` angles evenly spaced over [0, 180) degrees; the
detector has ``D = ceil(sqrt(2) N)`` bins, centred at ``D // 2``, so it covers
the whole square (no circular-support assumption).  :func:`radon` and
:func:`fbp` work in pixel units (a ray crossing ``k`` pixels of value 1 sums to
about ``k``), exactly like scikit-image.

Physics (docs/physics.md): the pixel size is ``1 / N``, so the line integral is
``p = mu * radon(x) / N`` and an object of density 1 spanning the full width
attenuates by ``exp(-mu)`` (``mu = 4`` by default, as for radiographs).  Counts
``n ~ Poisson(N0 * b(u) * exp(-p))`` with bowtie ``b(u) = exp(-k u^2)``,
``u`` in [-1, 1] across the detector.  The classical estimate is
``clip(fbp(-log(max(n, 0.5) / (N0 b)) * N / mu), 0, 1)``.

Examples
--------
>>> import torch
>>> from reconfair.seeding import torch_generator
>>> op = CTLowDose(level=1e5, n_angles=32)
>>> x = torch.zeros(1, 1, 16, 16); x[..., 5:11, 5:11] = 0.5
>>> counts = op.measure(x, generator=torch_generator(0, "doc"))
>>> counts.shape  # B x 1 x angles x detector bins
torch.Size([1, 1, 32, 23])
>>> op.to_image(counts).shape
torch.Size([1, 1, 16, 16])
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
    check_positive,
    poisson,
    resolve_generator,
)

__all__ = ["CTLowDose", "radon", "fbp", "detector_count", "projection_angles", "hann_ramp_filter"]

#: Counts are floored at this value before the log.
COUNT_FLOOR = 0.5
#: Bound on interpolated values (and grid coordinates) held at once: ~16 MB float32 chunks.
CHUNK_ELEMENTS = 1 << 22


def detector_count(image_size: int) -> int:
    """Detector bins covering an ``N x N`` image at every angle: ``ceil(sqrt(2) N)``."""
    return int(math.ceil(math.sqrt(2) * image_size))


def projection_angles(n_angles: int) -> torch.Tensor:
    """``n_angles`` angles in degrees, evenly spaced over [0, 180) (float64)."""
    return torch.arange(n_angles, dtype=torch.float64) * (180.0 / n_angles)


def radon(x: torch.Tensor, n_angles: int = 256) -> torch.Tensor:
    """Batched parallel-beam Radon transform in pixel units.

    Parameters
    ----------
    x
        ``B x 1 x N x N`` float tensor (any values).
    n_angles
        Number of angles, evenly spaced over [0, 180) degrees.

    Returns
    -------
    torch.Tensor
        ``B x 1 x n_angles x D`` sinogram, ``D = ceil(sqrt(2) N)``: the sum of
        bilinearly interpolated pixel values along each ray (one sample per
        pixel), matching ``skimage.transform.radon(img, theta, circle=False).T``.

    Examples
    --------
    >>> radon(torch.ones(1, 1, 8, 8), n_angles=4)[0, 0, 0, 12 // 2 - 4 : 12 // 2 + 4]
    tensor([8., 8., 8., 8., 8., 8., 8., 8.])
    """
    batch, _, size, width = x.shape
    if size != width:
        raise ValueError(f"radon: expected square images, got {size} x {width}; crop or pad to N x N first")
    n_det = detector_count(size)
    offsets = torch.arange(n_det, device=x.device, dtype=torch.float32) - n_det // 2
    t, s = torch.meshgrid(offsets, offsets, indexing="ij")  # ray position (rows), detector bin (cols)
    s, t = s.reshape(-1), t.reshape(-1)
    theta = torch.deg2rad(projection_angles(n_angles)).to(x.device)
    # source (col, row) = centre + (s cos + t sin, -s sin + t cos), as grid_sample's [-1, 1] coordinates
    affine = torch.zeros(n_angles, 3, 2, dtype=theta.dtype, device=x.device)
    affine[:, 0, 0], affine[:, 0, 1] = torch.cos(theta), -torch.sin(theta)
    affine[:, 1, 0], affine[:, 1, 1] = torch.sin(theta), torch.cos(theta)
    affine[:, 2, :] = float(size // 2)
    affine = _to_unit_coordinates(affine, size)
    image = x.reshape(1, batch, size, size).to(torch.float32)
    sinogram = torch.empty(n_angles, batch, n_det, device=x.device)
    angle_step, batch_step = _chunk_sizes(n_det * n_det)
    for a0 in range(0, n_angles, angle_step):
        grid = _apply_affine(s, t, affine[a0 : a0 + angle_step]).view(-1, n_det, n_det, 2)
        for b0 in range(0, batch, batch_step):
            part = image[:, b0 : b0 + batch_step]
            sampled = F.grid_sample(
                part.expand(grid.shape[0], -1, -1, -1), grid, mode="bilinear", padding_mode="zeros", align_corners=True
            )  # angles x images x rays x bins
            sinogram[a0 : a0 + angle_step, b0 : b0 + batch_step] = sampled.sum(dim=2)
    return sinogram.permute(1, 0, 2).unsqueeze(1)


def _to_unit_coordinates(affine: torch.Tensor, length: int) -> torch.Tensor:
    """Map pixel-index affine maps (``[u, v, 1] @ affine``) to [-1, 1] (align_corners=True), float32."""
    unit = affine * (2.0 / max(length - 1, 1))
    unit[:, 2, :] -= 1.0
    return unit.float()


def _chunk_sizes(points_per_angle: int) -> tuple[int, int]:
    """Angles and images per interpolation call, bounded by :data:`CHUNK_ELEMENTS`.

    The angle chunk depends only on the geometry, never on the batch size, so
    every image's floating-point sums run in the same order whatever batch it
    is in (bitwise batch independence).
    """
    angle_step = max(1, CHUNK_ELEMENTS // (2 * points_per_angle))
    return angle_step, max(1, CHUNK_ELEMENTS // (angle_step * points_per_angle))


def _apply_affine(u: torch.Tensor, v: torch.Tensor, affine: torch.Tensor) -> torch.Tensor:
    """``[u, v, 1] @ affine[a]`` for every angle ``a``: ``A x P x 2`` (cheaper than bmm with k=3)."""
    out = affine[:, None, 2, :] + u[None, :, None] * affine[:, None, 0, :]
    return out.addcmul_(v[None, :, None], affine[:, None, 1, :])


@lru_cache(maxsize=16)
def _filter_cpu(padded: int) -> torch.Tensor:
    n = torch.cat((torch.arange(1, padded // 2 + 1, 2), torch.arange(padded // 2 - 1, 0, -2))).double()
    f = torch.zeros(padded, dtype=torch.float64)
    f[0] = 0.25
    f[1::2] = -1.0 / (math.pi * n) ** 2
    ramp = 2.0 * torch.fft.fft(f).real
    return ramp * torch.fft.fftshift(torch.hann_window(padded, periodic=False, dtype=torch.float64))


def hann_ramp_filter(padded: int) -> torch.Tensor:
    """Hann-windowed ramp filter of length ``padded`` in FFT order (float64).

    The ramp comes from the spatial-domain discretisation (Kak & Slaney,
    ch. 3, eq. 61), as in scikit-image's ``iradon(filter_name="hann")``.
    """
    return _filter_cpu(padded).clone()


def fbp(sinogram: torch.Tensor, image_size: int | None = None) -> torch.Tensor:
    """Filtered back-projection with the Hann-windowed ramp filter, batched.

    Parameters
    ----------
    sinogram
        ``B x 1 x A x D`` in pixel units (as from :func:`radon`), angles evenly
        spaced over [0, 180).
    image_size
        ``N``; by default ``floor(D / sqrt(2))``, the inverse of
        :func:`detector_count`.

    Returns
    -------
    torch.Tensor
        ``B x 1 x N x N`` float32, matching
        ``skimage.transform.iradon(sino.T, theta, filter_name="hann", circle=False)``.

    Examples
    --------
    >>> x = torch.zeros(1, 1, 32, 32); x[..., 10:22, 10:22] = 1.0
    >>> bool((fbp(radon(x, 64))[..., 14:18, 14:18] - 1).abs().max() < 0.05)
    True
    """
    batch, _, n_angles, n_det = sinogram.shape
    size = int(math.floor(n_det / math.sqrt(2))) if image_size is None else int(image_size)
    padded = max(64, 2 ** int(math.ceil(math.log2(2 * n_det))))
    response = _filter_cpu(padded)[: padded // 2 + 1].to(device=sinogram.device, dtype=torch.float32)
    spectrum = torch.fft.rfft(sinogram.to(torch.float32), n=padded, dim=-1) * response
    filtered = torch.fft.irfft(spectrum, n=padded, dim=-1)[..., :n_det]  # B x 1 x A x D
    projections = filtered.reshape(batch, n_angles, n_det).permute(1, 0, 2).unsqueeze(2)  # A x B x 1 x D
    coords = torch.arange(size, device=sinogram.device, dtype=torch.float32) - size // 2
    rows, cols = torch.meshgrid(coords, coords, indexing="ij")
    cols, rows = cols.reshape(-1), rows.reshape(-1)
    theta = torch.deg2rad(projection_angles(n_angles)).to(sinogram.device)
    # detector position t = col cos - row sin + D // 2 (grid x); the grid's y is 0 (a single row)
    affine = torch.zeros(n_angles, 3, 2, dtype=theta.dtype, device=sinogram.device)
    affine[:, 0, 0], affine[:, 1, 0], affine[:, 2, 0] = torch.cos(theta), -torch.sin(theta), float(n_det // 2)
    affine = _to_unit_coordinates(affine, n_det)
    affine[:, 2, 1] = 0.0
    image = torch.zeros(batch, size * size, device=sinogram.device)
    angle_step, batch_step = _chunk_sizes(size * size)
    for a0 in range(0, n_angles, angle_step):
        grid = _apply_affine(cols, rows, affine[a0 : a0 + angle_step]).unsqueeze(1)  # angles x 1 x N*N x 2
        for b0 in range(0, batch, batch_step):
            part = projections[a0 : a0 + angle_step, b0 : b0 + batch_step]
            sampled = F.grid_sample(part, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
            image[b0 : b0 + batch_step] += sampled.sum(dim=0)[:, 0]  # angles x images x 1 x N*N -> images
    return (image * (math.pi / (2 * n_angles))).reshape(batch, 1, size, size)


@dataclass(frozen=True, kw_only=True)
class CTLowDose(DegradeMixin):
    """Low-dose CT: Poisson counts on a Radon sinogram with a bowtie, then FBP (Hann).

    Parameters
    ----------
    level
        ``N0``: mean photons per detector bin and angle with no object, at
        the bowtie's centre (> 0).
    n_angles
        Projection angles over [0, 180) degrees (>= 1, default 256).
    mu
        Attenuation of density 1 across the full image width (pixel size
        ``1 / N``): ``p = mu * radon(x) / N`` (> 0, default 4).
    bowtie_strength
        ``k`` in the bowtie ``b(u) = exp(-k u^2)``, ``u`` in [-1, 1] across the
        detector; edge bins get ``exp(-k)`` of the central flux (>= 0,
        default 1; 0 disables the bowtie).

    Notes
    -----
    :meth:`measure` returns the photon counts (pre-log), float32
    ``B x 1 x n_angles x D`` with ``D = ceil(sqrt(2) N)``; :meth:`to_image`
    takes ``-log(max(n, 0.5) / (N0 b))``, rescales by ``N / mu`` and applies
    :func:`fbp`.  Images must be square.

    Examples
    --------
    >>> op = CTLowDose(level=1e4)
    >>> op.name, op.modality, op.baseline, op.describe()["n_angles"]
    ('ct-lowdose', 'ct', 'fbp', 256)
    """

    level: float
    n_angles: int = 256
    mu: float = 4.0
    bowtie_strength: float = 1.0

    name: ClassVar[str] = "ct-lowdose"
    modality: ClassVar[str] = "ct"
    baseline: ClassVar[str] = "fbp"
    study_levels: ClassVar[tuple[float, ...]] = (1e5, 1e4, 3e3)

    def __post_init__(self) -> None:
        check_positive(self.level, "level", self.name, "N0, photons per detector bin")
        if isinstance(self.n_angles, bool) or not isinstance(self.n_angles, int) or self.n_angles < 1:
            raise ValueError(
                f"{self.name}: parameter 'n_angles' must be an integer >= 1, got {self.n_angles!r}; e.g. 256"
            )
        check_positive(self.mu, "mu", self.name)
        check_non_negative(self.bowtie_strength, "bowtie_strength", self.name)

    @property
    def n0(self) -> float:
        """Mean photons per bin with no object at the bowtie's centre (the level)."""
        return float(self.level)

    def bowtie(self, n_det: int, *, device: torch.device | str = "cpu") -> torch.Tensor:
        """Relative flux ``exp(-k u^2)`` for each of ``n_det`` bins, ``u = linspace(-1, 1)``."""
        u = torch.linspace(-1.0, 1.0, n_det, device=device, dtype=torch.float32)
        return torch.exp(-self.bowtie_strength * u * u)

    def line_integrals(self, x: torch.Tensor) -> torch.Tensor:
        """Noiseless post-log sinogram ``p = mu * radon(x) / N``, ``B x 1 x A x D``."""
        x = check_images(x, self.name)
        return self.mu * radon(x, self.n_angles) / x.shape[-1]

    def measure(self, x: torch.Tensor, *, generator: Generators = None) -> torch.Tensor:
        """Photon counts ``Poisson(N0 b(u) exp(-p))``, float32 ``B x 1 x n_angles x D``."""
        p = self.line_integrals(x)
        generator = resolve_generator(generator, x.device, self.name, self.level)
        return poisson(self.n0 * self.bowtie(p.shape[-1], device=p.device) * torch.exp(-p), generator)

    def to_image(self, y: torch.Tensor) -> torch.Tensor:
        """``clip(fbp(-log(max(n, 0.5) / (N0 b)) * N / mu), 0, 1)``, ``B x 1 x N x N``."""
        if not isinstance(y, torch.Tensor) or y.ndim != 4 or y.shape[1] != 1 or y.shape[2] != self.n_angles:
            raise ValueError(
                f"{self.name}: to_image expects counts of shape B x 1 x {self.n_angles} x D, got "
                f"{tuple(getattr(y, 'shape', ()))}; pass the output of measure()"
            )
        n_det = y.shape[-1]
        size = int(math.floor(n_det / math.sqrt(2)))
        if detector_count(size) != n_det:
            raise ValueError(f"{self.name}: {n_det} detector bins do not match any image size N (D = ceil(sqrt(2) N))")
        flux = self.n0 * self.bowtie(n_det, device=y.device)
        p_hat = -torch.log(torch.clamp(y.to(torch.float32), min=COUNT_FLOOR) / flux)
        return torch.clamp(fbp(p_hat * (size / self.mu), size), 0.0, 1.0)

    def describe(self) -> dict[str, Any]:
        """Dose and geometry facts: N0, angles, mu, bowtie strength and edge flux."""
        return {
            "name": self.name,
            "modality": self.modality,
            "baseline": self.baseline,
            "level": float(self.level),
            "N0": self.n0,
            "n_angles": self.n_angles,
            "mu": float(self.mu),
            "bowtie": "exp(-k u^2)",
            "bowtie_strength": float(self.bowtie_strength),
            "bowtie_edge_flux": math.exp(-self.bowtie_strength),
            "pixel_size": "1/N",
            "filter": "hann",
        }
