"""Shared fixtures for the reconstruction-model tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from reconfair.seeding import torch_generator


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Every reconstruction-model test runs on one torch thread (tests/conftest.py)."""


def _tiny_pairs(n: int = 4, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Smooth blobs (clean) and their noisy versions (degraded), seeded."""
    g = torch_generator(0, "tiny-pairs")
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    centre = torch.rand(n, 2, generator=g) - 0.5
    clean = 0.1 + 0.8 * torch.exp(-((xx - centre[:, 0, None, None]) ** 2 + (yy - centre[:, 1, None, None]) ** 2) / 0.2)
    clean = clean[:, None]
    return (clean + 0.1 * torch.randn(clean.shape, generator=g)).clamp(0, 1), clean


@pytest.fixture
def tiny_pairs() -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    """``tiny_pairs(n, size)`` -> (degraded, clean) batches of smooth blobs."""
    return _tiny_pairs
