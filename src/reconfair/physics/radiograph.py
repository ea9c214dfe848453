"""Low-dose radiograph: Beer–Lambert photon counting in the projection domain.

The clean image is read as a line integral ``p = mu * x``.  A detector pixel
with no object receives ``N0`` photons on average, so the counts are
``n ~ Poisson(N0 * exp(-p)) + sigma_e * z`` (``z`` standard normal electronic
noise).  The classical estimate is ``p_hat = -log(max(n, 0.5) / N0)`` and the
noisy image ``clip(p_hat / mu, 0, 1)`` (docs/physics.md).

Automatic exposure control (``aec=True``) scales the exposure per image, as
clinical units do, so that the mean detected count behind the patient is the
same for every patient: ``N0_image = N0 * T_ref / T(x)``, where ``T(x)`` is the
mean transmission ``exp(-p)`` over the patient region (pixels with
``x > AEC_REGION``) and ``T_ref = AEC_REFERENCE_TRANSMISSION``.  The level
``N0`` is then the exposure of a reference patient (``T = T_ref``), and every
image's mean detected count behind the patient is ``N0 * T_ref``.

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
>>> aec = RadiographLowDose(level=1e4, aec=True)
>>> round(float(aec.exposure(x)[0]) / 1e4, 4)  # transmission exp(-2) everywhere: more photons than N0
2.2167
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

__all__ = ["RadiographLowDose", "AEC_REGION", "AEC_REFERENCE_TRANSMISSION"]

#: Counts are floored at this value before the log (a zero count has no log).
COUNT_FLOOR = 0.5
#: AEC: the patient region is where the clean image exceeds this (``p > 0.05 mu``; air is 0).
AEC_REGION = 0.05
#: AEC: mean transmission over the patient region of the reference patient
#: (about that of an ``average``-habitus synthetic chest at ``mu = 4``).
AEC_REFERENCE_TRANSMISSION = 0.3


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
    aec
        Automatic exposure control (default False): each image is exposed at
        ``N0_image = N0 * AEC_REFERENCE_TRANSMISSION / T(x)``, ``T(x)`` the mean
        of ``exp(-mu x)`` over the pixels with ``x > AEC_REGION`` (all pixels
        when there are none), so the mean detected count behind the patient
        is ``N0 * AEC_REFERENCE_TRANSMISSION`` for every image.

    Notes
    -----
    :meth:`measure` returns the photon counts ``n`` (float32, same shape as
    ``x``); :meth:`to_image` applies ``clip(-log(max(n, 0.5) / N0) / mu, 0, 1)``.
    For large counts ``Var(p_hat) ≈ 1 / (N0 exp(-p))`` (delta method).
    With ``aec`` the detected counts ``n`` (at ``N0_image``) are returned
    normalised to the level, ``max(n, 0.5) * N0 / N0_image`` (the exposure the
    unit recorded is divided out, as flat-field correction does), so
    :meth:`to_image` gives ``-log(max(n, 0.5) / N0_image)``; :meth:`detected`
    gives the raw counts.

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
    aec: bool = False

    name: ClassVar[str] = "radiograph-lowdose"
    modality: ClassVar[str] = "xray"
    baseline: ClassVar[str] = "identity"
    study_levels: ClassVar[tuple[float, ...]] = (1e5, 1e4, 3e3)

    def __post_init__(self) -> None:
        check_positive(self.level, "level", self.name, "N0, photons per pixel")
        check_positive(self.mu, "mu", self.name)
        check_non_negative(self.sigma_e, "sigma_e", self.name)
        if not isinstance(self.aec, bool):
            raise ValueError(f"{self.name}: parameter 'aec' must be true or false, got {self.aec!r}")

    @property
    def n0(self) -> float:
        """Mean photons per pixel with no object (the level)."""
        return float(self.level)

    def patient_region(self, x: torch.Tensor) -> torch.Tensor:
        """Boolean mask of the pixels behind the patient, ``x > AEC_REGION`` (shape of ``x``)."""
        return check_images(x, self.name) > AEC_REGION

    def exposure(self, x: torch.Tensor) -> torch.Tensor:
        """Per-image ``N0_image`` (float32 B-vector): ``N0``, or with ``aec`` ``N0 T_ref / T(x)``."""
        x = check_images(x, self.name)
        if not self.aec:
            return torch.full((x.shape[0],), self.n0, dtype=x.dtype, device=x.device)
        region = self.patient_region(x).flatten(1)
        region = region | ~region.any(1, keepdim=True)  # no patient pixel: the whole image
        transmission = torch.exp(-self.mu * x.flatten(1))
        mean = (transmission * region).sum(1) / region.sum(1)
        return (self.n0 * AEC_REFERENCE_TRANSMISSION) / mean

    def expected_counts(self, x: torch.Tensor) -> torch.Tensor:
        """Mean detected counts ``N0_image * exp(-mu * x)`` for a clean batch ``x``."""
        return self.exposure(x).view(-1, 1, 1, 1) * torch.exp(-self.mu * x)

    def detected(self, x: torch.Tensor, *, generator: Generators = None) -> torch.Tensor:
        """Detected counts ``Poisson(N0_image exp(-mu x)) + sigma_e z`` (float32, shape of ``x``).

        With ``sigma_e > 0`` counts are real-valued and may be negative.
        """
        x = check_images(x, self.name)
        generator = resolve_generator(generator, x.device, self.name, self.level)
        counts = poisson(self.expected_counts(x), generator)
        if self.sigma_e > 0:
            counts = counts + self.sigma_e * standard_normal(x.shape[0], x.shape[1:], generator, device=x.device)
        return counts

    def measure(self, x: torch.Tensor, *, generator: Generators = None) -> torch.Tensor:
        """The counts :meth:`to_image` reads: :meth:`detected`, or with ``aec`` normalised to ``N0``.

        With ``aec``: ``max(n, 0.5) * N0 / N0_image`` (> 0).
        """
        counts = self.detected(x, generator=generator)
        if not self.aec:
            return counts
        scale = (self.n0 / self.exposure(x)).view(-1, 1, 1, 1)
        return torch.clamp(counts, min=COUNT_FLOOR).mul_(scale)

    def to_image(self, y: torch.Tensor) -> torch.Tensor:
        """``clip(-log(max(y, floor) / N0) / mu, 0, 1)`` for counts ``y`` from :meth:`measure`.

        ``floor`` is 0.5 counts; with ``aec`` the counts were floored before
        normalisation, so only non-positive ``y`` are floored (at the
        smallest positive float).
        """
        y = check_images(y, self.name)
        floor = torch.finfo(y.dtype).tiny if self.aec else COUNT_FLOOR
        p_hat = -torch.log(torch.clamp(y, min=floor) / self.n0)
        return torch.clamp(p_hat / self.mu, 0.0, 1.0)

    def describe(self) -> dict[str, Any]:
        """Dose facts: N0, mu, sigma_e, aec and the count range the image spans.

        ``mean_counts_uniform_x`` is the mean count over an image whose values
        are uniform on [0, 1]: ``N0 (1 - exp(-mu)) / mu``.  The counts are at
        ``N0`` (with ``aec``: for the reference patient); with ``aec`` the
        facts add the patient-region threshold, the reference transmission
        and ``aec_counts_behind_patient``, the mean detected count behind
        every patient (``N0 * T_ref``).
        """
        facts: dict[str, Any] = {
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
            "aec": self.aec,
        }
        if self.aec:
            facts.update(
                aec_region_threshold=AEC_REGION,
                aec_reference_transmission=AEC_REFERENCE_TRANSMISSION,
                aec_counts_behind_patient=self.n0 * AEC_REFERENCE_TRANSMISSION,
            )
        return facts


@dataclass(frozen=True, kw_only=True)
class RadiographAEC(RadiographLowDose):
    """:class:`RadiographLowDose` with automatic exposure control on (``aec=True``), under its own name.

    The name keeps its conditions apart from the fixed-exposure ones in one study
    (``radiograph-aec@3000/identity`` beside ``radiograph-lowdose@3000/identity``).

    >>> op = RadiographAEC(level=3e3)
    >>> op.name, op.aec, op.describe()["aec"]
    ('radiograph-aec', True, True)
    """

    aec: bool = True

    name: ClassVar[str] = "radiograph-aec"
