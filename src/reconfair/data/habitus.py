"""Body habitus and breast tissue of the synthetic chest patients (docs/datasets.md).

Both are soft tissue that the X-ray beam crosses, so both are *added* to the
clean image, which is a line integral (``p = mu * x``, docs/physics.md): at one
photon level a thicker patient, or the breast over the lower lung fields,
lets fewer photons through and its image is noisier, as in real radiography.
Nothing here is a planted effect: it is anatomy, and the group differences it
causes downstream are for the tool to find.

Thickness factor (dimensionless, 1 = a reference patient), per patient::

    t = clip(SEX_THICKNESS[sex] + AGE_THICKNESS * (1 - ((age - 55) / 35)^2 - 2/3)
             + THICKNESS_SD * z, *THICKNESS_RANGE)

``z`` standard normal (the individual factor); the age term peaks in middle
age and averages zero over the 20..90 age range.  ``habitus`` groups cut
``t`` at fixed points (:data:`HABITUS_CUTS`, about tertiles): ``slim`` below
0.93, ``average`` up to 1.07, ``large`` from 1.07 on.

Soft tissue in the clean image (before the per-image exposure gain)::

    soft(x, y) = body(x, y) * (tissue + CHEST_WALL * (t - 1) + b * chord(x, y))

``body`` is the body mask, ``tissue`` the patient's baseline soft-tissue
level (about 0.40), ``CHEST_WALL * (t - 1)`` the extra (or missing) chest-wall
and subcutaneous tissue crossed everywhere behind the body, lung fields
included, and ``b * chord`` the breasts of female patients (``b = 0`` for
male patients): ``chord = sqrt(max(0, 1 - u^2 - v^2))`` is the normalised
chord length of an ellipsoid, with ``u = (|x| - BREAST_CX * s) / (BREAST_AX * s)``
and ``v = (y - BREAST_CY * sy) / (BREAST_AY * sy)`` (``s``, ``sy`` the
patient's thorax scales), centred over the lower lung fields; the peak
``b = clip(BREAST_LEVEL * t * (1 + BREAST_SD * z_b), *BREAST_RANGE)`` grows
with habitus.

Examples
--------
>>> import torch
>>> habitus_groups(np.array([0.8, 1.0, 1.2])).tolist()
['slim', 'average', 'large']
>>> x, y = torch.tensor([[BREAST_CX, 0.0]]), torch.tensor([[BREAST_CY, BREAST_CY]])
>>> breast_chord(x, y, s=torch.ones(1), sy=torch.ones(1)).tolist()
[[[1.0, 0.0]]]
"""

from __future__ import annotations

import numpy as np
import torch

from reconfair.data.demographics import Cohort, Demographics, PatientStreams

HABITUS = ("slim", "average", "large")
HABITUS_CUTS = (0.93, 1.07)  # t < 0.93 slim, 0.93 <= t < 1.07 average, t >= 1.07 large
SEX_THICKNESS = {"F": 0.96, "M": 1.04}
AGE_THICKNESS = 0.12
THICKNESS_SD = 0.14
THICKNESS_RANGE = (0.6, 1.6)
CHEST_WALL = 0.25  # added soft-tissue line integral (image units, x) per unit of t - 1
BREAST_CX, BREAST_CY, BREAST_AX, BREAST_AY = 0.40, 0.30, 0.30, 0.24  # x thorax scales s (x) and sy (y)
BREAST_LEVEL = 0.10  # peak breast line integral (image units) of a reference (t = 1) female patient
BREAST_SD = 0.2
BREAST_RANGE = (0.03, 0.20)

__all__ = [
    "HABITUS",
    "HABITUS_CUTS",
    "CHEST_WALL",
    "thickness_factor",
    "breast_level",
    "habitus_groups",
    "breast_chord",
    "soft_tissue",
]


def thickness_factor(streams: PatientStreams, demographics: Demographics) -> np.ndarray:
    """Per-patient thickness factor ``t`` (float64; formula in the module docstring).

    >>> from reconfair.data.demographics import draw_demographics
    >>> s = PatientStreams(0, "demo")
    >>> t = thickness_factor(s, draw_demographics(s, np.arange(4000)))
    >>> bool(0.6 <= t.min() and t.max() <= 1.6), round(float(t.mean()), 1)
    (True, 1.0)
    """
    patients = np.arange(len(demographics.age), dtype=np.int64)
    sex = np.array([SEX_THICKNESS[str(v)] for v in demographics.sex], dtype=np.float64)
    u = (demographics.age.astype(np.float64) - 55.0) / 35.0
    t = sex + AGE_THICKNESS * (1.0 - u * u - 2.0 / 3.0) + THICKNESS_SD * streams.normal("thickness", patients)
    return np.clip(t, *THICKNESS_RANGE)


def breast_level(streams: PatientStreams, demographics: Demographics, thickness: np.ndarray) -> np.ndarray:
    """Peak breast line integral ``b`` per patient (image units; 0 for male patients)."""
    patients = np.arange(len(demographics.age), dtype=np.int64)
    b = np.clip(BREAST_LEVEL * thickness * (1.0 + BREAST_SD * streams.normal("breast", patients)), *BREAST_RANGE)
    return np.where(demographics.sex == "F", b, 0.0)


def habitus_groups(thickness: np.ndarray) -> np.ndarray:
    """``slim`` / ``average`` / ``large`` by the fixed cut points :data:`HABITUS_CUTS` (object array)."""
    index = np.searchsorted(np.asarray(HABITUS_CUTS), np.asarray(thickness, dtype=np.float64), side="right")
    return np.asarray(HABITUS, dtype=object)[index]


def breast_chord(x: torch.Tensor, y: torch.Tensor, *, s: torch.Tensor, sy: torch.Tensor) -> torch.Tensor:
    """Normalised chord ``sqrt(max(0, 1 - u^2 - v^2))`` of both breasts (mirrored at ``|x|``), ``B x H x W``."""
    s3, sy3 = s.view(-1, 1, 1), sy.view(-1, 1, 1)
    u = (x.abs() - BREAST_CX * s3) / (BREAST_AX * s3)
    v = (y - BREAST_CY * sy3) / (BREAST_AY * sy3)
    return (1.0 - u * u - v * v).clamp_(min=0.0).sqrt_()


def soft_tissue(
    body: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    tissue: torch.Tensor,
    thickness: torch.Tensor,
    breast: torch.Tensor,
    s: torch.Tensor,
    sy: torch.Tensor,
) -> torch.Tensor:
    """``body * (tissue + CHEST_WALL * (t - 1) + b * chord)``: the soft-tissue image (``B x H x W``).

    Parameters are B-vectors (one entry per image); ``body`` and the posed
    coordinates ``x``, ``y`` are ``B x H x W``.
    """
    level = (tissue + CHEST_WALL * (thickness - 1.0)).view(-1, 1, 1)
    return body * breast_chord(x, y, s=s, sy=sy).mul_(breast.view(-1, 1, 1)).add_(level)


def habitus_attribute(streams: PatientStreams, cohort: Cohort) -> dict[str, np.ndarray]:
    """The ``habitus`` attribute of a cohort (``generate``'s ``attributes`` callback), from the thickness factor.

    The synthetic chest renders the thickness into its images; the synthetic brain records the same
    attribute but its MRI images do not depend on it (a negative control: no change should be found).
    """
    return {"habitus": habitus_groups(thickness_factor(streams, cohort.demographics))}
