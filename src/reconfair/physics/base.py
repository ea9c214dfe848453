"""The degradation protocol and the helpers every operator shares.

A degradation operator turns a clean batch ``x`` (``B x 1 x H x W`` float32 in
[0, 1]) into a raw measurement (:meth:`Degradation.measure`) and that
measurement into the classical image-domain estimate
(:meth:`Degradation.to_image`); :meth:`Degradation.degrade` chains both and is
what learned reconstructors receive as input (docs/reconstruction.md).

Randomness
----------
``generator`` is one ``torch.Generator`` for the whole batch, a sequence with
one generator per sample, or ``None``.  Every random draw goes through
:func:`reconfair.seeding.draw_per_sample`, so with per-sample generators each
sample's output depends only on its own generator, whatever batch it is in.
``None`` means a fixed generator derived from the operator's name and level
(deterministic; the global RNGs of ``random``, NumPy and torch are never used).
Generators must live on the same device *type* as ``x`` (a CUDA batch needs
``torch.Generator(device="cuda")``); a mismatch raises ``ValueError``.

Examples
--------
>>> import torch
>>> from reconfair.seeding import torch_generator
>>> counts = poisson(torch.full((2, 1, 2, 2), 100.0), torch_generator(0, "doc"))
>>> counts.shape, counts.dtype
(torch.Size([2, 1, 2, 2]), torch.float32)
>>> check_positive(0.0, "N0", "radiograph-lowdose")
Traceback (most recent call last):
...
ValueError: radiograph-lowdose: parameter 'N0' must be > 0, got 0.0; pass a positive number
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import torch

from reconfair.seeding import Generators, draw_per_sample, torch_generator, torch_threads

__all__ = [
    "Degradation",
    "DegradeMixin",
    "Generators",
    "CHUNK_PIXELS",
    "check_images",
    "check_positive",
    "check_non_negative",
    "resolve_generator",
    "poisson",
    "standard_normal",
    "uniform",
]


@runtime_checkable
class Degradation(Protocol):
    """What every degradation operator provides (docs/physics.md).

    Attributes
    ----------
    name
        Registry name, e.g. ``"radiograph-lowdose"``.
    level
        The one severity knob (photons per pixel, nominal acceleration ...).
    modality
        ``"xray"``, ``"ct"`` or ``"mri"``.
    baseline
        Name of the classical reconstruction that :meth:`to_image` performs
        (``"identity"``, ``"fbp"``, ``"zero-filled"``).
    """

    name: str
    level: float
    modality: str
    baseline: str

    def measure(self, x: torch.Tensor, *, generator: Generators) -> torch.Tensor:
        """Raw measurement of the batch ``x``."""
        ...

    def to_image(self, y: torch.Tensor) -> torch.Tensor:
        """Classical image-domain estimate, ``B x 1 x H x W`` float32 in [0, 1]."""
        ...

    def degrade(self, x: torch.Tensor, *, generator: Generators) -> torch.Tensor:
        """``to_image(measure(x))``: the image-domain input of a reconstructor."""
        ...

    def describe(self) -> dict[str, Any]:
        """Derived facts about the operator (effective dose, true acceleration ...)."""
        ...


class DegradeMixin:
    """Supplies :meth:`degrade` from ``measure`` and ``to_image``."""

    def degrade(self, x: torch.Tensor, *, generator: Generators = None) -> torch.Tensor:
        """Degrade a clean batch: ``to_image(measure(x, generator=generator))``.

        Parameters
        ----------
        x
            ``B x 1 x H x W`` floating tensor with values in [0, 1].
        generator
            One generator for the batch, one per sample, or ``None`` (a fixed
            generator derived from the operator's name and level).

        Returns
        -------
        torch.Tensor
            ``B x 1 x H x W`` float32 in [0, 1], on ``x``'s device.

        Notes
        -----
        On the CPU the work runs on one intra-op thread
        (:func:`reconfair.seeding.torch_threads`), and with one generator per
        sample it runs in chunks of about :data:`CHUNK_PIXELS` pixels, so each
        chunk's chain of operators stays in cache.  Neither changes a number:
        elementwise operators compute each element the same way whatever the
        thread count or chunk, each sample's draws come from its own generator
        in the same order, and the operators' transforms act per sample
        (``tests/physics`` checks chunked == one call == per-sample loop).
        """
        with torch_threads(1):
            step = _chunk_step(x, generator)
            if step is None:
                return self.to_image(self.measure(x, generator=generator))  # type: ignore[attr-defined]
            generators = list(generator)  # type: ignore[arg-type]
            measure, to_image = self.measure, self.to_image  # type: ignore[attr-defined]
            return torch.cat(
                [to_image(measure(x[i : i + step], generator=generators[i : i + step])) for i in range(0, len(x), step)]
            )


#: Pixels per chunk when :meth:`DegradeMixin.degrade` splits a CPU batch with per-sample generators.
CHUNK_PIXELS = 2**16


def _chunk_step(x: object, generator: Generators) -> int | None:
    """Samples per chunk for :meth:`DegradeMixin.degrade`, or ``None`` for one call on the whole batch.

    Only a CPU batch of shape ``B x 1 x H x W`` with one generator per sample
    and more than one chunk's pixels is split; anything else (one generator
    for the batch, CUDA, a malformed batch that ``measure`` will reject) is
    passed through whole.
    """
    if generator is None or isinstance(generator, torch.Generator):
        return None
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.device.type != "cpu":
        return None
    if not isinstance(generator, Sequence) or len(generator) != x.shape[0]:
        return None
    step = max(1, CHUNK_PIXELS // max(1, x.shape[-2] * x.shape[-1]))
    return step if step < x.shape[0] else None


def check_images(x: torch.Tensor, who: str) -> torch.Tensor:
    """Check ``x`` is a ``B x 1 x H x W`` floating batch; return it as float32."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{who}: expected a torch.Tensor batch, got {type(x).__name__}")
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(
            f"{who}: expected a batch of shape B x 1 x H x W, got {tuple(x.shape)}; "
            "add batch/channel dimensions with x[None, None] or x.unsqueeze(1)"
        )
    if not x.is_floating_point():
        raise ValueError(
            f"{who}: expected a floating-point batch with values in [0, 1], got dtype {x.dtype}; "
            "convert with x.float() / 255 or similar"
        )
    return x.to(torch.float32)


def check_positive(value: float, param: str, who: str, meaning: str = "") -> None:
    """Raise ``ValueError`` naming ``param`` unless ``value`` is a finite number > 0."""
    if not _is_real(value) or not math.isfinite(value) or value <= 0:
        what = f"{param!r} ({meaning})" if meaning else repr(param)
        raise ValueError(f"{who}: parameter {what} must be > 0, got {value!r}; pass a positive number")


def check_non_negative(value: float, param: str, who: str) -> None:
    """Raise ``ValueError`` naming ``param`` unless ``value`` is a finite number >= 0."""
    if not _is_real(value) or not math.isfinite(value) or value < 0:
        raise ValueError(
            f"{who}: parameter {param!r} must be >= 0, got {value!r}; pass 0 to disable it or a positive number"
        )


def _is_real(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def resolve_generator(generator: Generators, device: torch.device, *fallback_seed: str | float) -> Generators:
    """Check generators live on ``device``'s type; replace ``None`` by a fixed one.

    ``None`` becomes ``torch_generator("reconfair.physics", *fallback_seed)``
    on ``device``, so results stay deterministic and the global RNG untouched.
    """
    if generator is None:
        return torch_generator("reconfair.physics", *fallback_seed, device=device)
    generators = [generator] if isinstance(generator, torch.Generator) else list(generator)
    for g in generators:
        if not isinstance(g, torch.Generator):
            raise TypeError(
                f"expected torch.Generator, a sequence of them, or None; got an element of type {type(g).__name__}"
            )
        if g.device.type != device.type:
            raise ValueError(
                f"generator is on {g.device.type!r} but the batch is on {device.type!r}; "
                f"create generators with torch.Generator(device={device.type!r}) "
                "(reconfair.seeding.sample_generators(..., device=x.device))"
            )
    return generator if isinstance(generator, torch.Generator) else generators


def poisson(rate: torch.Tensor, generator: Generators) -> torch.Tensor:
    """Poisson counts with mean ``rate`` (batched; one draw per sample generator)."""
    return draw_per_sample(lambda p, g: torch.poisson(p, generator=g), rate, generator)


def standard_normal(
    batch: int, shape: Sequence[int], generator: Generators, *, device: torch.device
) -> torch.Tensor:
    """``batch x *shape`` float32 standard normal draws, sample ``i`` from generator ``i``."""
    params = torch.empty((batch, *shape), device=device)
    return draw_per_sample(
        lambda p, g: torch.randn(p.shape, generator=g, device=p.device, dtype=torch.float32), params, generator
    )


def uniform(batch: int, shape: Sequence[int], generator: Generators, *, device: torch.device) -> torch.Tensor:
    """``batch x *shape`` float32 uniform [0, 1) draws, sample ``i`` from generator ``i``."""
    params = torch.empty((batch, *shape), device=device)
    return draw_per_sample(
        lambda p, g: torch.rand(p.shape, generator=g, device=p.device, dtype=torch.float32), params, generator
    )
