"""Low-dose radiograph: Beer–Lambert photon counting in the projection domain.

The clean image is read as a line integral ``p = mu * x``.  A detector pixel
with no object receives ``N0`` photons on average, so the counts are
``n ~ Poisson(N0 * exp(-p)) + sigma_e * z`` (``z`` standard normal electronic
noise).  The classical estimate is ``p_hat = -log(max(n, 0.5) / N0)`` and the
noisy image ``clip(p_hat / mu, 0, 1)`` (docs/physics.md).

Examples
--------
>>> import torch
>>> from reconfair.seeding import torch_generator
>>> op = RadiographLowDose(level=1e4)
>>> x = torch.full((1, 1, 8, 8), 0.5)
>>> y = op.degrade(x, generator=torch_generator(0, "doc"))
>>> y.shape, y.dtype, bool(((y - x).abs() < 0.1).all())
(torch.Size([1, 1, 8, 8]), torch.float32, True)
>>> op.describe()["counts_at_x1"] == 1e4 * math.exp(-4.0)
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from reconfair.physics.base import (
    DegradeMixin,
    Generators,
    check_images,
    check_non_negative,
    check_positive,
    poisson,
    resolve_generator,
    standard_normal,
)

__all__ = ["RadiographLowDose"]

#: Counts are floored at this value before the log (a zero count has no log).
COUNT_FLOOR = 0.5


@dataclass(frozen=True, kw_only=True)
class RadiographLowDose(DegradeMixin):
    """Low-dose X-ray projection noise (Poisson photon counts + electronic noise).

    Parameters
    ----------
    level
        ``N0``: mean photons per pixel with no object in the beam (> 0).
        The study used 1e5, 1e4 and 3e3.
    mu
        Attenuation scale: the image ``x`` in [0, 1] is the line integral
        ``p = mu * x``, so transmission spans ``exp(-mu)`` .. 1 (> 0, default 4).
    sigma_e
        Standard deviation of additive Gaussian electronic noise, in counts
        (>= 0, default 0 = none).

    Notes
    -----
    :meth:`measure` returns the photon counts ``n`` (float32, same shape as
    ``x``); :meth:`to_image` applies ``clip(-log(max(n, 0.5) / N0) / mu, 0, 1)``.
    For large counts ``Var(p_hat) ≈ 1 / (N0 exp(-p))`` (delta method).

    Examples
    --------
    >>> op = RadiographLowDose(level=3e3, mu=4.0, sigma_e=2.0)
    >>> op.name, op.modality, op.baseline
    ('radiograph-lowdose', 'xray', 'identity')
    >>> RadiographLowDose(level=-1)
    Traceback (most recent call last):
    ...
    ValueError: radiograph-lowdose: parameter 'level' (N0, photons per pixel) must be > 0, got -1; pass a positive number
    """

    level: float
    mu: float = 4.0
    sigma_e: float = 0.0

    name: ClassVar[str] = "radiograph-lowdose"
    modality: ClassVar[str] = "xray"
    baseline: ClassVar[str] = "identity"
    study_levels: ClassVar[tuple[float, ...]] = (1e5, 1e4, 3e3)

    def __post_init__(self) -> None:
        check_positive(self.level, "level", self.name, "N0, photons per pixel")
        check_positive(self.mu, "mu", self.name)
        check_non_negative(self.sigma_e, "sigma_e", self.name)

    @property
    def n0(self) -> float:
        """Mean photons per pixel with no object (the level)."""
        return float(self.level)

    def expected_counts(self, x: torch.Tensor) -> torch.Tensor:
        """Mean counts ``N0 * exp(-mu * x)`` for a clean batch ``x``."""
        return self.n0 * torch.exp(-self.mu * x)

    def measure(self, x: torch.Tensor, *, generator: Generators = None) -> torch.Tensor:
        """Photon counts ``Poisson(N0 exp(-mu x)) + sigma_e z`` (float32, shape of ``x``).

        With ``sigma_e > 0`` counts are real-valued and may be negative.
        """
        x = check_images(x, self.name)
        generator = resolve_generator(generator, x.device, self.name, self.level)
        counts = poisson(self.expected_counts(x), generator)
        if self.sigma_e > 0:
            counts = counts + self.sigma_e * standard_normal(x.shape[0], x.shape[1:], generator, device=x.device)
        return counts

    def to_image(self, y: torch.Tensor) -> torch.Tensor:
        """``clip(-log(max(n, 0.5) / N0) / mu, 0, 1)`` for counts ``y``."""
        y = check_images(y, self.name)
        p_hat = -torch.log(torch.clamp(y, min=COUNT_FLOOR) / self.n0)
        return torch.clamp(p_hat / self.mu, 0.0, 1.0)

    def describe(self) -> dict[str, Any]:
        """Dose facts: N0, mu, sigma_e and the count range the image spans.

        ``mean_counts_uniform_x`` is the mean count over an image whose values
        are uniform on [0, 1]: ``N0 (1 - exp(-mu)) / mu``.
        """
        return {
            "name": self.name,
            "modality": self.modality,
            "baseline": self.baseline,
            "level": float(self.level),
            "N0": self.n0,
            "mu": float(self.mu),
            "sigma_e": float(self.sigma_e),
            "counts_at_x0": self.n0,
            "counts_at_x1": self.n0 * math.exp(-self.mu),
            "mean_counts_uniform_x": self.n0 * (1.0 - math.exp(-self.mu)) / self.mu,
        }
