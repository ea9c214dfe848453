"""U-Net reconstructor: MONAI ``BasicUNet`` trained with MSE (docs/reconstruction.md).

``BasicUNet`` has two 3x3 convolutions per resolution level and four
down-sampling steps; the ``paper`` preset uses 64 -> 1024 channels as in the
study.  With ``residual`` the network learns a correction ``x = y + f(y)``
and its last layer starts at zero, so an untrained model is the identity
baseline and training can only move away from it where that lowers the
loss (the ``demo`` preset uses this; it reaches the baseline's PSNR at step
0 instead of after many epochs).  Normalisation policy (docs/reconstruction.md): the network is trained on its
raw output against the clean image (MSE, so gradients never vanish at the
bounds), and :meth:`UNetMethod.reconstruct` clamps the output to [0, 1].  No
image is ever re-normalised per batch or per image.

Examples
--------
>>> import torch
>>> method = UNetMethod(dict(PRESET_SPECS["demo"]))
>>> tuple(method.reconstruct(torch.rand(2, 1, 32, 32)).shape)
(2, 1, 32, 32)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from monai.networks.nets import BasicUNet

from reconfair.seeding import Generators, SeedPart

__all__ = ["PRESET_SPECS", "UNetMethod", "build_unet", "check_pairs", "zero_last_layer"]

#: Hyper-parameters per preset; ``features`` are BasicUNet's six channel counts
#: (five resolution levels, i.e. four down-sampling steps, plus the last layer).
PRESET_SPECS: dict[str, dict[str, Any]] = {
    "demo": {
        "model": "unet",
        "preset": "demo",
        "features": [8, 16, 32, 64, 128, 8],
        "residual": True,
        "epochs": 10,
        "batch_size": 16,
        "learning_rate": 1e-3,
        "patience": 3,
    },
    "paper": {
        "model": "unet",
        "preset": "paper",
        "features": [64, 128, 256, 512, 1024, 64],
        "residual": False,
        "epochs": 20,
        "batch_size": 16,
        "learning_rate": 1e-4,
        "patience": 5,
    },
}

#: Spatial sizes must be divisible by this (four 2x down-sampling steps).
SIZE_MULTIPLE = 16


def build_unet(features: Sequence[int], *, in_channels: int = 1) -> torch.nn.Module:
    """A 2-D ``BasicUNet`` with ``features`` (six channel counts), one output channel.

    >>> tuple(build_unet([4, 4, 8, 8, 16, 4]).eval()(torch.zeros(1, 1, 32, 32)).shape)
    (1, 1, 32, 32)
    """
    if len(features) != 6:
        raise ValueError(f"U-Net features must list 6 channel counts (5 levels + last layer), got {list(features)}")
    return BasicUNet(spatial_dims=2, in_channels=in_channels, out_channels=1, features=tuple(int(f) for f in features))


def zero_last_layer(network: torch.nn.Module) -> None:
    """Zero the last convolution of a ``BasicUNet`` so ``y + network(y) == y`` at start.

    >>> net = build_unet([4, 4, 8, 8, 16, 4])
    >>> zero_last_layer(net)
    >>> float(net.eval()(torch.rand(1, 1, 32, 32)).detach().abs().max())
    0.0
    """
    with torch.no_grad():
        network.final_conv.weight.zero_()
        network.final_conv.bias.zero_()


def check_pairs(inputs: torch.Tensor, targets: torch.Tensor, *, multiple: int = SIZE_MULTIPLE) -> None:
    """Raise ``ValueError`` unless inputs/targets are matching ``N x 1 x H x W`` batches.

    >>> check_pairs(torch.zeros(2, 1, 8, 8), torch.zeros(2, 1, 8, 8))
    Traceback (most recent call last):
    ...
    ValueError: image size 8x8 is not divisible by 16 (the U-Net down-samples 4 times); crop or pad the images
    """
    for label, batch in (("inputs", inputs), ("targets", targets)):
        if batch.ndim != 4 or batch.shape[1] != 1:
            raise ValueError(f"{label} must be N x 1 x H x W, got shape {tuple(batch.shape)}")
    if inputs.shape != targets.shape:
        raise ValueError(f"inputs {tuple(inputs.shape)} and targets {tuple(targets.shape)} differ in shape")
    height, width = inputs.shape[-2:]
    if height % multiple or width % multiple:
        raise ValueError(
            f"image size {height}x{width} is not divisible by {multiple} "
            f"(the U-Net down-samples {multiple.bit_length() - 1} times); crop or pad the images"
        )


class UNetMethod:
    """Networks, loss and inference of the U-Net reconstructor."""

    size_multiple = SIZE_MULTIPLE
    """Image sides must be multiples of this (four down-samplings)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.network = build_unet(spec["features"])
        if spec["residual"]:
            zero_last_layer(self.network)
        self.network.eval()

    @property
    def modules(self) -> dict[str, torch.nn.Module]:
        """Everything saved in a checkpoint, by prefix."""
        return {"network": self.network}

    @property
    def trained(self) -> torch.nn.Module:
        """The module :func:`reconfair.training.fit` optimises."""
        return self.network

    def forward(self, network: torch.nn.Module, y: torch.Tensor) -> torch.Tensor:
        """Raw (unclamped) network output; ``y +`` the output when ``residual``."""
        out = network(y)
        return y + out if self.spec["residual"] else out

    def make_loss(self, seed_parts: Sequence[SeedPart]) -> "UNetLoss":
        """MSE between the raw output and the clean image."""
        return UNetLoss(self)

    def score(self, network: torch.nn.Module, y: torch.Tensor, x: torch.Tensor) -> float:
        """Validation score (higher is better): minus the MSE of the clamped output."""
        return -float(F.mse_loss(self.forward(network, y).clamp(0.0, 1.0), x))

    @torch.no_grad()
    def reconstruct(self, y: torch.Tensor, *, generator: Generators = None) -> torch.Tensor:
        """Deterministic: ``generator`` is accepted for the protocol and unused."""
        self.network.to(y.device).eval()
        return self.forward(self.network, y).clamp(0.0, 1.0)


class UNetLoss:
    """``fit``'s loss for the U-Net: MSE of the raw output against the clean image.

    :meth:`terms` also returns the reconstruction it scored (with its graph),
    for losses that look at it through a downstream model.

    >>> method = UNetMethod(dict(PRESET_SPECS["demo"]))
    >>> y = torch.rand(2, 1, 32, 32)
    >>> loss, estimate = method.make_loss((0,)).terms(method.network, y, y)
    >>> float(loss.detach()), bool(torch.equal(estimate, y))  # the residual U-Net starts at the identity
    (0.0, True)
    """

    def __init__(self, method: UNetMethod) -> None:
        self.method = method

    def terms(self, network: torch.nn.Module, y: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(loss, reconstruction)`` on one batch."""
        estimate = self.method.forward(network, y)
        return F.mse_loss(estimate, x), estimate

    def __call__(self, network: torch.nn.Module, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.terms(network, y, x)[0]
