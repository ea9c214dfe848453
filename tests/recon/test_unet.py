"""U-Net reconstructor: trains through the one fit loop, clamps to [0, 1]."""

from __future__ import annotations

import pytest
import torch

from reconfair.recon.learned import make_learned
from reconfair.recon.unet import check_pairs


def test_overfits_one_tiny_batch_through_fit(tiny_pairs):
    recon = make_learned("unet", epochs=60, patience=60, batch_size=2, learning_rate=3e-3)
    result = recon.fit(tiny_pairs(2), seed=0, progress=False)
    losses = [row["train_loss"] for row in result.history]
    assert min(losses[-5:]) < 0.1 * losses[0]


def test_output_is_clamped_to_unit_range():
    recon = make_learned("unet")
    out = recon.reconstruct(torch.full((1, 1, 32, 32), 5.0))
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_residual_adds_the_input(tiny_pairs):
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
