"""Seeded randomness derived from names, never from global state.

Every random step takes a generator derived from stable parts (run seed,
stage name, sample id).  Results therefore do not depend on batch size,
worker count or order, and the global RNGs of ``random``, NumPy and torch are
never touched.

Examples
--------
>>> derive_seed(0, "synthetic-chest", "p00001") == derive_seed(0, "synthetic-chest", "p00001")
True
>>> derive_seed(0, "a") != derive_seed(1, "a")
True
>>> g = torch_generator(0, "noise")
>>> float(torch.rand(1, generator=g)) == float(torch.rand(1, generator=torch_generator(0, "noise")))
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch

SeedPart = str | int | float

__all__ = [
    "derive_seed",
    "numpy_generator",
    "torch_generator",
    "sample_generators",
    "draw_per_sample",
    "replicate_seed",
    "seeded_torch_global",
    "torch_threads",
]


def derive_seed(*parts: SeedPart) -> int:
    """Return a 63-bit integer seed that is a stable hash of ``parts``.

    The hash is BLAKE2b of the parts' ``repr`` joined by a separator, so it is
    identical across processes, platforms and Python versions (unlike
    ``hash()``).
    """
    text = "\x1f".join(repr(p) for p in parts).encode("utf-8")
    digest = hashlib.blake2b(text, digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)


def replicate_seed(seed: int, replicate: int) -> int:
    """The model seed of replicate ``replicate`` of a study seeded with ``seed``.

    Replicate 0 uses ``seed`` itself (a one-replicate study trains exactly the
    models it trained before replicates existed); replicate ``k > 0`` uses
    ``derive_seed(seed, "replicate", k)``.

    Parameters
    ----------
    seed
        The study's seed (``StudyConfig.seed``).
    replicate
        The replicate index, ``0 <= replicate < StudyConfig.replicates``.

    Returns
    -------
    int
        The seed every learned model of that replicate is trained with.

    Examples
    --------
    >>> replicate_seed(7, 0)
    7
    >>> replicate_seed(7, 1) == derive_seed(7, "replicate", 1) != replicate_seed(7, 2)
    True
    """
    if replicate < 0:
        raise ValueError(f"replicate must be >= 0, got {replicate}")
    return int(seed) if replicate == 0 else derive_seed(seed, "replicate", int(replicate))


def numpy_generator(*parts: SeedPart) -> np.random.Generator:
    """A NumPy ``Generator`` (PCG64) seeded by :func:`derive_seed` of ``parts``."""
    return np.random.Generator(np.random.PCG64(derive_seed(*parts)))


def torch_generator(*parts: SeedPart, device: str | torch.device = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded by :func:`derive_seed` of ``parts``."""
    generator = torch.Generator(device=device)
    generator.manual_seed(derive_seed(*parts))
    return generator


def sample_generators(
    seed: int, stage: str, sample_ids: Sequence[str], device: str | torch.device = "cpu"
) -> list[torch.Generator]:
    """One generator per sample, derived from ``(seed, stage, sample_id)``.

    >>> gens = sample_generators(0, "degrade", ["a", "b"])
    >>> len(gens)
    2
    """
    return [torch_generator(seed, stage, sid, device=device) for sid in sample_ids]


Generators = torch.Generator | Sequence[torch.Generator] | None


def draw_per_sample(
    draw: Callable[[torch.Tensor, torch.Generator | None], torch.Tensor],
    params: torch.Tensor,
    generator: Generators,
) -> torch.Tensor:
    """Apply a random ``draw(params_i, generator_i)`` to a batch.

    ``generator`` is either one generator for the whole batch (one call), or a
    sequence with one generator per leading-dimension entry of ``params`` (one
    call per sample, so each sample's noise depends only on its own
    generator, whatever the batch it is in).

    >>> rates = torch.full((2, 3), 5.0)
    >>> gens = sample_generators(0, "x", ["a", "b"])
    >>> both = draw_per_sample(torch.poisson, rates, gens)
    >>> alone = draw_per_sample(torch.poisson, rates[1:], sample_generators(0, "x", ["b"]))
    >>> bool(torch.equal(both[1:], alone))
    True
    """
    if generator is None or isinstance(generator, torch.Generator):
        return draw(params, generator)
    generators = list(generator)
    if len(generators) != params.shape[0]:
        raise ValueError(
            f"got {len(generators)} generators for a batch of {params.shape[0]} samples; "
            "pass one generator per sample, or a single generator for the batch"
        )
    return torch.stack([draw(p, g) for p, g in zip(params, generators)])


@contextmanager
def seeded_torch_global(*parts: SeedPart) -> Iterator[None]:
    """Seed torch's global RNG from ``parts`` inside the block, then restore it.

    Layer initialisation and dropout draw from torch's global generator; this
    makes them reproducible without leaving any trace on the caller's state.

    >>> before = torch.random.get_rng_state()
    >>> with seeded_torch_global(0, "init"):
    ...     a = torch.rand(1)
    >>> with seeded_torch_global(0, "init"):
    ...     b = torch.rand(1)
    >>> bool(torch.equal(a, b)), bool(torch.equal(before, torch.random.get_rng_state()))
    (True, True)
    """
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        seed = derive_seed(*parts)
        torch.manual_seed(seed)
        yield


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run torch's CPU operators with ``n`` intra-op threads inside the block, then restore the count.

    The data path (phantom rendering, degradation) is a long chain of small
    elementwise operators.  With several intra-op threads each operator ends
    at a barrier, and on a CPU shared with other processes a descheduled
    worker stalls every one of them (measured: a 64 x 64 x 64 multiply took
    0.05 ms on one thread and 19 ms on two on a loaded 2-core machine).
    Elementwise operators and the per-sample draws compute each element the
    same way whatever the thread count, so their results do not change
    (``tests/test_seeding.py`` and the data and physics tests check this).

    Parameters
    ----------
    n
        Intra-op threads inside the block (``torch.set_num_threads``), >= 1.

    Examples
    --------
    >>> before = torch.get_num_threads()
    >>> with torch_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive number of threads, got {n!r}")
    previous = torch.get_num_threads()
    if previous == n:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
