"""Pix2Pix: a U-Net generator against a conditional PatchGAN (docs/reconstruction.md).

Losses (BCE with logits, the signs the study's code inverted):

* discriminator, minimised: ``BCE(D(y, x), 1) + BCE(D(y, G(y)), 0)``, i.e. D
  maximises ``log D(real) + log(1 - D(fake))`` (halved, as in pix2pix);
* generator, minimised: ``BCE(D(y, G(y)), 1) + lambda_l1 * |G(y) - x|``, the
  non-saturating ``-log D(fake)`` plus L1 (``lambda_l1 = 100``).

One training loop: :func:`reconfair.training.fit` optimises the generator; the
loss it calls first performs one discriminator step with the
discriminator's own Adam (2e-4, betas 0.5/0.999), then returns the
generator loss (the discriminator's weights are frozen while it is built).
The generator's output passes through a sigmoid, so it always lies in [0, 1];
with ``residual`` it is ``y + G(y)`` instead (last layer zero at start, see
:func:`reconfair.recon.unet.zero_last_layer`), clipped at inference only.

Examples
--------
>>> import torch
>>> method = Pix2PixMethod(dict(PRESET_SPECS["demo"]))
>>> tuple(method.reconstruct(torch.rand(2, 1, 32, 32)).shape)
(2, 1, 32, 32)
>>> tuple(method.logits(method.discriminator, torch.rand(2, 1, 32, 32), torch.rand(2, 1, 32, 32)).shape)
(2, 1, 6, 6)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from monai.networks.nets import PatchDiscriminator

from reconfair.recon.unet import SIZE_MULTIPLE, build_unet, zero_last_layer
from reconfair.seeding import Generators, SeedPart
from reconfair.training.state import load_optimiser_tensors, optimiser_tensors

__all__ = ["PRESET_SPECS", "Pix2PixLoss", "Pix2PixMethod", "discriminator_loss", "generator_gan_loss"]

PRESET_SPECS: dict[str, dict[str, Any]] = {
    "demo": {
        "model": "pix2pix",
        "preset": "demo",
        "features": [8, 16, 32, 64, 128, 8],
        "residual": True,
        "disc_channels": 8,
        "disc_layers": 2,
        "lambda_l1": 100.0,
        "betas": [0.5, 0.999],
        "epochs": 10,
        "batch_size": 16,
        "learning_rate": 1e-3,
        "patience": 3,
    },
    "paper": {
        "model": "pix2pix",
        "preset": "paper",
        "features": [64, 128, 256, 512, 1024, 64],
        "residual": False,
        "disc_channels": 64,
        "disc_layers": 3,
        "lambda_l1": 1000.0,  # the study's value (docs/reconstruction.md: 100 is pix2pix's default)
        "betas": [0.5, 0.999],
        "epochs": 20,
        "batch_size": 16,
        "learning_rate": 2e-4,
        "patience": 5,
    },
}


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """``0.5 * [BCE(real, 1) + BCE(fake, 0)]``: minimising it maximises log D(real) + log(1 - D(fake)).

    >>> big = torch.full((1, 1, 2, 2), 20.0)
    >>> float(discriminator_loss(big, -big)) < 1e-6, float(discriminator_loss(-big, big)) > 10
    (True, True)
    """
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return 0.5 * (real + fake)


def generator_gan_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating ``-log D(fake)`` = ``BCE(fake, 1)``: small when D takes fakes for real.

    >>> float(generator_gan_loss(torch.full((1,), 20.0))) < 1e-6
    True
    """
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


class Pix2PixMethod:
    """Generator, conditional discriminator, the alternating loss and inference."""

    size_multiple = SIZE_MULTIPLE
    """Image sides must be multiples of this (the U-Net generator's down-samplings)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.generator = build_unet(spec["features"])
        if spec["residual"]:
            zero_last_layer(self.generator)
        self.discriminator = PatchDiscriminator(
            spatial_dims=2,
            channels=int(spec["disc_channels"]),
            in_channels=2,
            out_channels=1,
            num_layers_d=int(spec["disc_layers"]),
        )
        self.generator.eval()
        self.discriminator.eval()
        #: Last batch's loss terms (floats), for monitoring and tests.
        self.last_terms: dict[str, float] = {}

    @property
    def modules(self) -> dict[str, torch.nn.Module]:
        return {"generator": self.generator, "discriminator": self.discriminator}

    @property
    def trained(self) -> torch.nn.Module:
        return self.generator

    @staticmethod
    def logits(discriminator: torch.nn.Module, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Patch logits of ``discriminator`` for the pair (condition ``y``, image ``x``)."""
        return discriminator(torch.cat([y, x], dim=1))[-1]

    def generate(self, generator: torch.nn.Module, y: torch.Tensor) -> torch.Tensor:
        """Generator output: ``sigmoid(G(y))`` in [0, 1], or ``y + G(y)`` when ``residual``."""
        out = generator(y)
        return y + out if self.spec["residual"] else torch.sigmoid(out)

    def make_discriminator_optimiser(self) -> torch.optim.Optimizer:
        """Adam with the spec's learning rate and betas (pix2pix: 2e-4, 0.5/0.999)."""
        beta1, beta2 = self.spec["betas"]
        return torch.optim.Adam(
            self.discriminator.parameters(), lr=float(self.spec["learning_rate"]), betas=(beta1, beta2)
        )

    def discriminator_step(
        self, optimiser: torch.optim.Optimizer, y: torch.Tensor, x: torch.Tensor, fake: torch.Tensor
    ) -> float:
        """One discriminator update on real ``x`` and (detached) ``fake``; returns its loss."""
        self.discriminator.train()
        real_logits = self.logits(self.discriminator, y, x)
        loss = discriminator_loss(real_logits, self.logits(self.discriminator, y, fake.detach()))
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        return float(loss.detach())

    def generator_loss(self, y: torch.Tensor, x: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """GAN + lambda_l1 * L1 with the discriminator frozen (no gradient into its weights)."""
        self.discriminator.requires_grad_(False)
        try:
            gan = generator_gan_loss(self.logits(self.discriminator, y, fake))
        finally:
            self.discriminator.requires_grad_(True)
        l1 = F.l1_loss(fake, x)
        self.last_terms.update(gan=float(gan.detach()), l1=float(l1.detach()))
        return gan + float(self.spec["lambda_l1"]) * l1

    def make_loss(self, seed_parts: Sequence[SeedPart]) -> Pix2PixLoss:
        """The loss for ``fit``: a discriminator step, then the generator loss."""
        return Pix2PixLoss(self)

    def score(self, network: torch.nn.Module, y: torch.Tensor, x: torch.Tensor) -> float:
        """Validation score: minus the L1 error of the generator."""
        return -float(F.l1_loss(self.generate(network, y), x))

    @torch.no_grad()
    def reconstruct(self, y: torch.Tensor, *, generator: Generators = None) -> torch.Tensor:
        """Deterministic generator output (``generator`` unused: no dropout at inference)."""
        self.generator.to(y.device).eval()
        return self.generate(self.generator, y).clamp(0.0, 1.0)


class Pix2PixLoss:
    """``fit``'s loss: one discriminator step (its own Adam), then the generator loss.

    Its state (discriminator weights ``discriminator.*`` and Adam state
    ``optimiser.*``) is saved by ``fit(..., resume=...)``.

    >>> method = Pix2PixMethod(dict(PRESET_SPECS["demo"]))
    >>> loss = method.make_loss((0,))
    >>> y = torch.rand(2, 1, 32, 32)
    >>> float(loss(method.generator, y, y).detach()) > 0
    True
    >>> sorted({key.split(".")[0] for key in loss.state_dict()})
    ['discriminator', 'optimiser']
    """

    def __init__(self, method: Pix2PixMethod) -> None:
        self.method = method
        self.optimiser = method.make_discriminator_optimiser()

    def terms(self, generator: torch.nn.Module, y: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One discriminator step, then ``(generator loss, generated image)`` (with its graph)."""
        method = self.method
        method.discriminator.to(y.device)
        _move_optimiser_state(self.optimiser, y.device)
        fake = method.generate(generator, y)
        method.last_terms["discriminator"] = method.discriminator_step(self.optimiser, y, x, fake)
        return method.generator_loss(y, x, fake), fake

    def __call__(self, generator: torch.nn.Module, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.terms(generator, y, x)[0]

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Discriminator weights and its Adam state, as tensors."""
        state = {f"discriminator.{k}": v for k, v in self.method.discriminator.state_dict().items()}
        state.update(optimiser_tensors(self.optimiser, "optimiser."))
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore :meth:`state_dict`'s output (``ValueError``/``RuntimeError`` on a mismatch)."""
        unknown = sorted({k.split(".")[0] for k in state} - {"discriminator", "optimiser"})
        if unknown:
            raise ValueError(f"Pix2Pix loss state has unknown parts {unknown}; expected discriminator, optimiser")
        self.method.discriminator.load_state_dict(
            {k.removeprefix("discriminator."): v for k, v in state.items() if k.startswith("discriminator.")}
        )
        load_optimiser_tensors(
            self.optimiser, {k.removeprefix("optimiser."): v for k, v in state.items() if k.startswith("optimiser.")}
        )


def _move_optimiser_state(optimiser: torch.optim.Optimizer, device: torch.device) -> None:
    """Put restored Adam moments on ``device`` (``step`` stays on the CPU, as Adam keeps it)."""
    for values in optimiser.state.values():
        for name, value in values.items():
            if name != "step" and isinstance(value, torch.Tensor) and value.device != device:
                values[name] = value.to(device)
