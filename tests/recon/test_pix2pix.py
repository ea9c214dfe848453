"""Pix2Pix: loss signs, alternating updates in the one fit loop, overfit."""

from __future__ import annotations

import pytest
import torch

from reconfair.recon.learned import make_learned
from reconfair.recon.pix2pix import PRESET_SPECS, Pix2PixMethod, discriminator_loss, generator_gan_loss
from reconfair.seeding import seeded_torch_global


def _method() -> Pix2PixMethod:
    with seeded_torch_global(0, "pix2pix-test"):
        return Pix2PixMethod(dict(PRESET_SPECS["demo"]))


def test_loss_signs_by_hand():
    confident_real, confident_fake = torch.full((1, 1, 2, 2), 9.0), torch.full((1, 1, 2, 2), -9.0)
    # A discriminator that is right has a small loss, one that is fooled a large one.
    assert discriminator_loss(confident_real, confident_fake) < 1e-3 < 5 < discriminator_loss(confident_fake, confident_real)
    # The generator's loss is -log D(fake): small when D calls its output real.
    assert generator_gan_loss(confident_real) < 1e-3 < 5 < generator_gan_loss(confident_fake)
    p = torch.sigmoid(torch.tensor(0.3))
    assert torch.isclose(generator_gan_loss(torch.tensor([0.3])), -torch.log(p))


def test_discriminator_steps_lower_its_loss(tiny_pairs):
    method, (y, x) = _method(), tiny_pairs()
    fake = method.generate(method.generator, y).detach()
    optimiser = method.make_discriminator_optimiser()
    losses = [method.discriminator_step(optimiser, y, x, fake) for _ in range(30)]
    assert losses[-1] < 0.7 * losses[0]


def test_generator_gan_term_falls_against_a_fixed_discriminator(tiny_pairs):
    method, (y, x) = _method(), tiny_pairs()
    d_opt = method.make_discriminator_optimiser()
    for _ in range(20):  # make D informative first
        method.discriminator_step(d_opt, y, x, method.generate(method.generator, y).detach())
    frozen = [p.detach().clone() for p in method.discriminator.parameters()]
    g_opt = torch.optim.Adam(method.generator.parameters(), lr=2e-3, betas=(0.5, 0.999))
    gan_terms = []
    for _ in range(20):
        gan = generator_gan_loss(method.logits(method.discriminator, y, method.generate(method.generator, y)))
        g_opt.zero_grad()
        gan.backward()
        g_opt.step()
        gan_terms.append(float(gan.detach()))
    assert gan_terms[-1] < 0.7 * gan_terms[0]
    assert all(torch.equal(a, b) for a, b in zip(frozen, method.discriminator.parameters()))


def test_generator_loss_leaves_discriminator_gradients_alone(tiny_pairs):
    method, (y, x) = _method(), tiny_pairs(2)
    fake = method.generate(method.generator, y)
    method.generator_loss(y, x, fake).backward()
    assert all(p.grad is None for p in method.discriminator.parameters())
    assert all(p.requires_grad for p in method.discriminator.parameters())
    assert any(p.grad is not None for p in method.generator.parameters())


def test_overfits_one_tiny_batch_through_fit(tiny_pairs):
    recon = make_learned("pix2pix", residual=False, epochs=100, patience=100, batch_size=2, learning_rate=5e-3)
    result = recon.fit(tiny_pairs(2), seed=0, progress=False)
    losses = [row["train_loss"] for row in result.history]
    assert min(losses[-5:]) < 0.1 * losses[0]
    out = recon.reconstruct(tiny_pairs()[0])
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_residual_generator_overfits_its_l1_term(tiny_pairs):
    """The residual generator starts at y (its GAN term cannot vanish); its L1 error must drop 90 %.

    (100 epochs: at 60 it ended below 0.1 of the input's error on one CPU and at 0.105 on another; 0.072 at 100.)
    """
    y, x = tiny_pairs(2)
    recon = make_learned("pix2pix", residual=True, epochs=100, patience=100, batch_size=2, learning_rate=5e-3)
    with torch.no_grad():
        before = float((recon.method.generate(recon.method.generator, y) - x).abs().mean())
    assert before == pytest.approx(float((y - x).abs().mean()), abs=1e-7)  # starts at the input
    recon.fit((y, x), seed=0, progress=False)
    with torch.no_grad():
        after = float((recon.method.generate(recon.method.generator, y) - x).abs().mean())
    assert after < 0.1 * before


def test_generator_optimiser_uses_beta1_one_half():
    from reconfair.recon.learned import _optimiser_options, default_spec

    assert _optimiser_options(default_spec("pix2pix")) == {"betas": (0.5, 0.999)}
    assert _optimiser_options(default_spec("unet")) == {}
