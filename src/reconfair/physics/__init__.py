"""Degradation operators: seeded, batched, torch (docs/physics.md).

Every operator follows :class:`~reconfair.physics.base.Degradation`:
``measure(x, generator=...)`` gives the raw measurement (photon counts,
sinogram counts, undersampled k-space), ``to_image(y)`` the classical
image-domain estimate (identity, FBP, zero-filled magnitude) and
``degrade(x, generator=...)`` chains both.  Operators are found by name in
:data:`DEGRADATIONS`; ``package.module:attribute`` names load plug-ins.

Registered operators and their ``level``:

- ``"radiograph-lowdose"``: N0 photons per pixel (study: 1e5, 1e4, 3e3);
- ``"ct-lowdose"``: N0 photons per detector bin (Radon, bowtie, FBP);
- ``"mri-undersampling"``: nominal acceleration (study: 4, 8, 16).

Examples
--------
>>> import torch
>>> from reconfair.seeding import sample_generators
>>> op = make_degradation("mri-undersampling", 8, mask="equispaced")
>>> x = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(0))
>>> op.degrade(x, generator=sample_generators(0, "degrade", ["a", "b"])).shape
torch.Size([2, 1, 16, 16])
>>> DEGRADATIONS.names()
('ct-lowdose', 'mri-undersampling', 'radiograph-aec', 'radiograph-lowdose')
>>> make_degradation("radiograph-lowdose", 1e4, sigma=1.0)
Traceback (most recent call last):
...
ValueError: degradation 'radiograph-lowdose' got unknown parameter 'sigma'; allowed parameters: level, mu, sigma_e, aec
"""

from __future__ import annotations

from typing import Any

from reconfair.physics.base import Degradation, Generators
from reconfair.physics.ct import CTLowDose, fbp, radon
from reconfair.physics.mri import MRIUndersampling, fft2c, ifft2c
from reconfair.physics.radiograph import RadiographAEC, RadiographLowDose
from reconfair.registry import Registry

__all__ = [
    "DEGRADATIONS",
    "make_degradation",
    "Degradation",
    "Generators",
    "RadiographLowDose",
    "RadiographAEC",
    "CTLowDose",
    "MRIUndersampling",
    "fft2c",
    "ifft2c",
    "radon",
    "fbp",
]

#: Name -> operator factory (the operator classes themselves).
DEGRADATIONS = Registry("degradation")
DEGRADATIONS.register(RadiographLowDose.name)(RadiographLowDose)
DEGRADATIONS.register(RadiographAEC.name)(RadiographAEC)
DEGRADATIONS.register(CTLowDose.name)(CTLowDose)
DEGRADATIONS.register(MRIUndersampling.name)(MRIUndersampling)


def make_degradation(name: str, level: float, **params: Any) -> Degradation:
    """Build the operator registered as ``name`` at severity ``level``.

    Parameters
    ----------
    name
        A registered name (see ``DEGRADATIONS.names()``) or a plug-in named as
        ``package.module:attribute``.
    level
        The operator's severity knob (photons per pixel, nominal acceleration).
    **params
        The operator's other keyword parameters; an unknown one raises
        ``ValueError`` naming it and listing the allowed ones.

    Returns
    -------
    Degradation
        A frozen operator instance.

    Examples
    --------
    >>> make_degradation("radiograph-lowdose", 3e3).describe()["N0"]
    3000.0
    >>> make_degradation("mri-undersampling", 4, mask="spiral")
    Traceback (most recent call last):
    ...
    ValueError: mri-undersampling: parameter 'mask' got 'spiral'; expected one of: random, equispaced, radial, variable-density
    """
    return DEGRADATIONS.create(name, level=level, **params)
