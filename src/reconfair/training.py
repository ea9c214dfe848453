"""The one supervised training loop: seeded batches, validation, early stopping.

Every trainable model in reconfair goes through :func:`fit`; models supply
only a loss on a batch and a validation score (higher is better).

Examples
--------
>>> import torch
>>> from reconfair.seeding import seeded_torch_global
>>> with seeded_torch_global(0, "doc"):
...     net = torch.nn.Linear(1, 1)
>>> x = torch.linspace(0, 1, 64).unsqueeze(1)
>>> result = fit(net, inputs=x, targets=2 * x, loss=lambda n, a, b: ((n(a) - b) ** 2).mean(),
...              validate=lambda n: -float(((n(x) - 2 * x) ** 2).mean()), epochs=100,
...              batch_size=16, learning_rate=0.1, patience=100, seed_parts=(0, "doc"), progress=False)
>>> round(float(net.weight.detach()), 2), result.best_score > -1e-4
(2.0, True)
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from reconfair.progress import progress_bar
from reconfair.seeding import SeedPart, torch_generator

LossFn = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class FitResult:
    """Outcome of :func:`fit`: the epoch kept, its validation score, per-epoch history."""

    best_epoch: int
    best_score: float
    history: tuple[dict[str, float], ...]


def fit(
    network: torch.nn.Module,
    *,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    loss: LossFn,
    validate: Callable[[torch.nn.Module], float],
    epochs: int,
    batch_size: int,
    learning_rate: float,
    patience: int,
    seed_parts: Sequence[SeedPart],
    sample_weights: torch.Tensor | None = None,
    device: torch.device | str = "cpu",
    progress: bool = True,
    description: str = "train",
    betas: tuple[float, float] = (0.9, 0.999),
) -> FitResult:
    """Train ``network`` in place with Adam and keep the best validation epoch.

    Batches come from a generator seeded by ``seed_parts`` (a permutation per
    epoch, or sampling with replacement proportional to ``sample_weights``).
    ``betas`` are Adam's (Pix2Pix uses beta1 = 0.5).
    Training stops after ``patience`` epochs without a better validation
    score; the weights of the best epoch are loaded back into ``network``.
    Dropout and other global-RNG draws should be wrapped by the caller in
    :func:`reconfair.seeding.seeded_torch_global`.
    """
    if inputs.shape[0] != targets.shape[0]:
        raise ValueError(f"inputs have {inputs.shape[0]} samples but targets have {targets.shape[0]}")
    if inputs.shape[0] == 0:
        raise ValueError("no training samples: check the split fractions and the data set size")
    device = torch.device(device)
    network.to(device)
    optimiser = torch.optim.Adam(network.parameters(), lr=learning_rate, betas=betas)
    generator = torch_generator(*seed_parts, "batches")
    n = inputs.shape[0]
    best_score, best_epoch, best_state = -math.inf, -1, copy.deepcopy(network.state_dict())
    history: list[dict[str, float]] = []
    with progress_bar(description, total=epochs, enabled=progress) as advance:
        for epoch in range(epochs):
            network.train()
            if sample_weights is None:
                order = torch.randperm(n, generator=generator)
            else:
                order = torch.multinomial(sample_weights, n, replacement=True, generator=generator)
            total = 0.0
            for start in range(0, n, batch_size):
                index = order[start : start + batch_size]
                batch_loss = loss(network, inputs[index].to(device), targets[index].to(device))
                optimiser.zero_grad(set_to_none=True)
                batch_loss.backward()
                optimiser.step()
                total += float(batch_loss.detach()) * len(index)
            network.eval()
            with torch.no_grad():
                score = float(validate(network))
            history.append({"epoch": epoch, "train_loss": total / n, "val_score": score})
            if best_epoch < 0 or _better(score, best_score):
                best_score, best_epoch = score, epoch
                best_state = copy.deepcopy(network.state_dict())
            advance(info=f"loss {total / n:.4f} val {score:.4f}")
            if epoch - best_epoch >= patience:
                break
    network.load_state_dict(best_state)
    network.eval()
    return FitResult(best_epoch=best_epoch, best_score=best_score, history=tuple(history))


def _better(score: float, best: float) -> bool:
    """A finite score beats NaN; otherwise strictly higher wins (ties keep the earlier epoch)."""
    if math.isnan(score):
        return False
    return math.isnan(best) or score > best
