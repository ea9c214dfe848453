"""The reconstructor protocols: what every reconstructor provides, and the optional capabilities.

Every reconstructor is a :class:`Reconstructor`: a ``name`` and
``reconstruct(y, *, generator)`` mapping a float32 batch N×1×H×W in [0, 1]
to one of the same shape in [0, 1] (docs/reconstruction.md).  What only some
reconstructors can do is an explicit, ``runtime_checkable`` protocol, asked
with ``isinstance`` rather than ``getattr`` fallbacks:

- :class:`Trainable`: trained by ``fit`` and saved as weights (``state_dict``,
  ``save``; read back with :func:`reconfair.recon.load_reconstructor`), the
  learned reconstructors;
- :class:`Precomputed`: reads one file per sample, so ``reconstruct`` needs the
  batch's ``sample_ids`` and ``missing`` lists the samples without a file,
  the folder plug-in;
- :class:`ReconstructionMethod`: the networks, loss and inference behind a
  learned reconstructor (U-Net, Pix2Pix, IR-SDE).

Examples
--------
>>> import torch
>>> from reconfair.physics import make_degradation
>>> from reconfair.recon import make_learned, make_reconstructor
>>> baseline = make_reconstructor("baseline", degradation=make_degradation("ct-lowdose", 1e4))
>>> isinstance(baseline, Reconstructor), isinstance(baseline, Trainable), needs_sample_ids(baseline)
(True, False, False)
>>> isinstance(make_learned("unet"), Trainable)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch

from reconfair.seeding import Generators, SeedPart

__all__ = ["Precomputed", "ReconstructionMethod", "Reconstructor", "Trainable", "missing_samples", "needs_sample_ids"]


@runtime_checkable
class Reconstructor(Protocol):
    """What every reconstructor provides.

    Attributes
    ----------
    name
        The method's name (a baseline's is the operator's classical method:
        ``identity``, ``fbp``, ``zero-filled``).
    """

    name: str

    def reconstruct(self, y: torch.Tensor, *, generator: Generators = None) -> torch.Tensor:
        """The batch ``y`` (N×1×H×W float32 in [0, 1]) reconstructed: same shape, float32, in [0, 1].

        ``generator``: one per batch, one per sample or ``None`` (a fixed one);
        the same generators give the same output.
        """
        ...


@runtime_checkable
class Trainable(Reconstructor, Protocol):
    """A reconstructor trained on (degraded, clean) pairs and saved as weights."""

    def fit(self, pairs: tuple[torch.Tensor, torch.Tensor], *, seed: int, **options: Any) -> Any:
        """Train on ``pairs = (degraded, clean)``; the result depends only on the data and ``seed``."""
        ...

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Every network's weights."""
        ...

    def save(self, stem: str | Path) -> None:
        """Write ``stem.safetensors`` and ``stem.json`` (:func:`reconfair.recon.load_reconstructor` reads them)."""
        ...


@runtime_checkable
class Precomputed(Reconstructor, Protocol):
    """A reconstructor that reads one file per sample id instead of computing."""

    needs_sample_ids: bool
    """``True``: pass ``sample_ids`` to :meth:`reconstruct`."""
    folder: Path

    def missing(self, sample_ids: Sequence[str]) -> list[str]:
        """The sample ids with no file."""
        ...

    def reconstruct(
        self, y: torch.Tensor, *, generator: Generators = None, sample_ids: Sequence[str] | None = None
    ) -> torch.Tensor:
        """The batch's files, in ``sample_ids`` order, as a tensor shaped like ``y``."""
        ...


@runtime_checkable
class ReconstructionMethod(Protocol):
    """The networks, loss and inference of a learned reconstructor (held by ``LearnedReconstructor``)."""

    spec: dict[str, Any]
    size_multiple: int
    """Image sides must be multiples of this (the network's down-sampling)."""

    @property
    def modules(self) -> dict[str, torch.nn.Module]:
        """Every network saved in a checkpoint, by prefix."""
        ...

    @property
    def trained(self) -> torch.nn.Module:
        """The module the training loop optimises."""
        ...

    def make_loss(self, seed_parts: Sequence[SeedPart]) -> Any:
        """The training loss (a callable ``(network, y, x) -> tensor``)."""
        ...

    def score(self, network: torch.nn.Module, y: torch.Tensor, x: torch.Tensor) -> float:
        """Validation score, higher is better."""
        ...

    def reconstruct(self, y: torch.Tensor, *, generator: Generators = None) -> torch.Tensor:
        """Inference on the batch ``y``."""
        ...


def needs_sample_ids(reconstructor: Reconstructor) -> bool:
    """Whether ``reconstruct`` must receive the batch's ``sample_ids`` (a :class:`Precomputed` one)."""
    return isinstance(reconstructor, Precomputed) and bool(reconstructor.needs_sample_ids)


def missing_samples(reconstructor: Reconstructor, sample_ids: Sequence[str]) -> list[str]:
    """The sample ids a :class:`Precomputed` reconstructor has no file for (none for any other)."""
    return reconstructor.missing(sample_ids) if isinstance(reconstructor, Precomputed) else []
