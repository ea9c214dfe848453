"""Classical baseline reconstructions: identity, FBP, zero-filled magnitude.

A degradation hands learned reconstructors an image-domain input
(docs/physics.md): the noisy radiograph, the FBP image, the zero-filled magnitude.
That input *is* the classical reconstruction, so the baseline passes it on,
clipped to [0, 1], and is named after the operator's classical method.

Examples
--------
>>> import torch
>>> from reconfair.physics import make_degradation
>>> recon = make_reconstructor("baseline", degradation=make_degradation("mri-undersampling", 4))
>>> recon.name
'zero-filled'
>>> recon.reconstruct(torch.full((1, 1, 2, 2), 1.5)).max().item()
1.0
"""

from __future__ import annotations

from typing import Any

import torch

from reconfair.physics.base import Degradation
from reconfair.recon.base import Reconstructor
from reconfair.registry import Registry
from reconfair.seeding import Generators

RECONSTRUCTORS = Registry("reconstructor")


class BaselineReconstructor:
    """The operator's classical reconstruction, already computed by ``degrade``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def fit(self, pairs: tuple[torch.Tensor, torch.Tensor] | None = None, *, seed: int = 0) -> None:
        """Nothing to learn."""

    def reconstruct(self, y: torch.Tensor, *, generator: Generators = None) -> torch.Tensor:
        """Return ``y`` clipped to [0, 1]."""
        return y.clamp(0.0, 1.0)


@RECONSTRUCTORS.register("baseline")
def make_baseline(*, degradation: Degradation) -> BaselineReconstructor:
    """Identity for radiographs, FBP for CT, zero-filled magnitude for MRI."""
    return BaselineReconstructor(degradation.baseline)


def make_reconstructor(name: str, /, **params: Any) -> Reconstructor:
    """Create a registered reconstructor (or a ``module:attr`` plug-in)."""
    return RECONSTRUCTORS.create(name, **params)
