"""U-Net reconstructor: trains through the one fit loop, clamps to [0, 1]."""

from __future__ import annotations

import pytest
import torch

from reconfair.recon.learned import make_learned
from reconfair.recon.unet import check_pairs
from reconfair.seeding import torch_generator


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny convolutions run fastest (and steadiest on a shared 2-core box) on one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_pairs(n: int = 4, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Smooth blobs (clean) and their noisy versions (degraded), seeded."""
    g = torch_generator(0, "tiny-pairs")
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    centre = torch.rand(n, 2, generator=g) - 0.5
    clean = 0.1 + 0.8 * torch.exp(-((xx - centre[:, 0, None, None]) ** 2 + (yy - centre[:, 1, None, None]) ** 2) / 0.2)
    clean = clean[:, None]
    return (clean + 0.1 * torch.randn(clean.shape, generator=g)).clamp(0, 1), clean


def test_overfits_one_tiny_batch_through_fit():
    recon = make_learned("unet", epochs=60, patience=60, batch_size=2, learning_rate=3e-3)
    result = recon.fit(tiny_pairs(2), seed=0, progress=False)
    losses = [row["train_loss"] for row in result.history]
    assert min(losses[-5:]) < 0.1 * losses[0]


def test_output_is_clamped_to_unit_range():
    recon = make_learned("unet")
    out = recon.reconstruct(torch.full((1, 1, 32, 32), 5.0))
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_residual_adds_the_input():
    recon = make_learned("unet", residual=True)
    y = tiny_pairs(1)[0]
    raw = recon.method.network(y)
    assert torch.allclose(recon.method.forward(recon.method.network, y), y + raw)


def test_bad_shapes_are_explained():
    with pytest.raises(ValueError, match="not divisible by 16"):
        check_pairs(torch.zeros(1, 1, 30, 32), torch.zeros(1, 1, 30, 32))
    with pytest.raises(ValueError, match="N x 1 x H x W"):
        make_learned("unet").reconstruct(torch.zeros(1, 32, 32))
    with pytest.raises(ValueError, match="differ in shape"):
        make_learned("unet").fit((torch.zeros(2, 1, 32, 32), torch.zeros(3, 1, 32, 32)), seed=0, progress=False)
