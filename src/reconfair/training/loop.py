"""The one supervised training loop: seeded batches, validation, early stopping.

Every trainable model in reconfair goes through :func:`fit`; models supply
only a loss on a batch and a validation score (higher is better).

* **Fresh degradation.**  ``refresh_inputs(epoch)`` is called at the start of
  every epoch; its tensor replaces ``inputs`` for that epoch (the caller
  derives the noise from ``(seed, epoch, sample id)``, so it is deterministic).
* **Resume.**  With ``resume=stem`` the whole training state (weights, best
  weights, Adam, the batch generator, torch's global RNG, the loss's own
  ``state_dict()``) is written atomically after every epoch (layout in
  :mod:`reconfair.training.state`).  A later call on the same stem continues
  with the next epoch and ends bit-identical to an uninterrupted run; a run
  that already finished or stopped early returns at once with its best weights.
* **Mixed precision.**  On CUDA the loss runs under bf16 autocast (no grad
  scaler needed) unless ``mixed_precision=False``; on CPU nothing changes.

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

import contextlib
import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from reconfair.progress import progress_bar
from reconfair.seeding import SeedPart, torch_generator
from reconfair.training.state import Parts, Progress, checkpoint_exists, load_training_state, save_training_state

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
    sample_info: torch.Tensor | None = None,
    device: torch.device | str = "cpu",
    progress: bool = True,
    description: str = "train",
    betas: tuple[float, float] = (0.9, 0.999),
    refresh_inputs: Callable[[int], torch.Tensor] | None = None,
    resume: str | Path | None = None,
    mixed_precision: bool = True,
    keep: str = "best",
) -> FitResult:
    """Train ``network`` in place with Adam and keep the best validation epoch.

    Parameters
    ----------
    network, loss, validate
        The model, ``loss(network, inputs, targets) -> scalar`` on a batch and
        ``validate(network) -> float`` (higher is better).  A loss object with
        ``state_dict()``/``load_state_dict()`` (tensors) is saved with ``resume``.
    inputs, targets
        Training pairs (first dimension: samples).
    epochs, batch_size, learning_rate, patience, betas
        Adam's settings (Pix2Pix uses beta1 = 0.5).  Training stops after
        ``patience`` epochs without a better validation score; the weights of
        the best epoch are loaded back into ``network``.
    seed_parts
        Seed the batch generator (a permutation per epoch, or sampling with
        replacement proportional to ``sample_weights``).
    sample_info
        Per-sample side information (first dimension: samples), e.g. labels
        and group codes for a fairness loss; when given, the loss is called
        as ``loss(network, inputs, targets, sample_info)`` on each batch.
    refresh_inputs
        ``refresh_inputs(epoch)`` returns the inputs for that epoch (same
        shape as ``inputs``), e.g. a fresh degradation.
    resume
        Checkpoint stem for the training state (module docstring).
    mixed_precision
        Run the loss under bf16 autocast when ``device`` is CUDA.
    keep
        ``"best"``: the weights of the best validation epoch, with early
        stopping; ``"last"``: train every epoch and keep the final weights
        (validation is then only recorded in the history).

    Dropout and other global-RNG draws should be wrapped by the caller in
    :func:`reconfair.seeding.seeded_torch_global` (resuming restores that RNG).
    """
    if inputs.shape[0] != targets.shape[0]:
        raise ValueError(f"inputs have {inputs.shape[0]} samples but targets have {targets.shape[0]}")
    if sample_info is not None and sample_info.shape[0] != inputs.shape[0]:
        raise ValueError(f"sample_info has {sample_info.shape[0]} rows but there are {inputs.shape[0]} samples")
    if keep not in ("best", "last"):
        raise ValueError(f"keep must be 'best' or 'last', got {keep!r}")
    if inputs.shape[0] == 0:
        raise ValueError("no training samples: check the split fractions and the data set size")
    device = torch.device(device)
    network.to(device)
    optimiser = torch.optim.Adam(network.parameters(), lr=learning_rate, betas=betas)
    parts = Parts(network, optimiser, torch_generator(*seed_parts, "batches"), loss, device)
    settings = {"samples": inputs.shape[0], "batch_size": batch_size, "learning_rate": learning_rate,
                "betas": list(betas), "weighted": sample_weights is not None}
    if sample_info is not None:
        settings["sample_info"] = list(sample_info.shape[1:])
    if keep == "last":
        settings["keep"] = keep
    state = Progress(best_weights=copy.deepcopy(network.state_dict()))
    if resume is not None and checkpoint_exists(resume):
        state = load_training_state(resume, parts, settings)
    autocast = device.type == "cuda" and mixed_precision
    n = inputs.shape[0]
    with progress_bar(description, total=epochs, enabled=progress) as advance:
        advance(min(state.next_epoch, epochs))
        for epoch in range(state.next_epoch, epochs if not state.stopped else 0):
            epoch_inputs = inputs if refresh_inputs is None else _refreshed(refresh_inputs, epoch, inputs)
            network.train()
            if sample_weights is None:
                order = torch.randperm(n, generator=parts.generator)
            else:
                order = torch.multinomial(sample_weights, n, replacement=True, generator=parts.generator)
            total = 0.0
            for start in range(0, n, batch_size):
                index = order[start : start + batch_size]
                with torch.autocast("cuda", dtype=torch.bfloat16) if autocast else contextlib.nullcontext():
                    batch = (epoch_inputs[index].to(device), targets[index].to(device))
                    if sample_info is not None:
                        batch += (sample_info[index].to(device),)
                    batch_loss = loss(network, *batch)
                optimiser.zero_grad(set_to_none=True)
                batch_loss.backward()
                optimiser.step()
                total += float(batch_loss.detach()) * len(index)
            network.eval()
            with torch.no_grad():
                score = float(validate(network))
            state.history.append({"epoch": epoch, "train_loss": total / n, "val_score": score})
            if keep == "last" or state.best_epoch < 0 or _better(score, state.best_score):
                state.best_score, state.best_epoch = score, epoch
                state.best_weights = copy.deepcopy(network.state_dict())
            advance(info=f"loss {total / n:.4f} val {score:.4f}")
            state.next_epoch, state.stopped = epoch + 1, epoch - state.best_epoch >= patience
            if resume is not None:
                save_training_state(resume, parts, state, settings)
            if state.stopped:
                break
    network.load_state_dict(state.best_weights)
    network.eval()
    return FitResult(best_epoch=state.best_epoch, best_score=state.best_score, history=tuple(state.history))


def _refreshed(refresh_inputs: Callable[[int], torch.Tensor], epoch: int, inputs: torch.Tensor) -> torch.Tensor:
    fresh = refresh_inputs(epoch)
    if not isinstance(fresh, torch.Tensor) or fresh.shape != inputs.shape:
        got = tuple(fresh.shape) if isinstance(fresh, torch.Tensor) else type(fresh).__name__
        raise ValueError(f"refresh_inputs({epoch}) returned {got}; expected a tensor of shape {tuple(inputs.shape)}")
    return fresh


def _better(score: float, best: float) -> bool:
    """A finite score beats NaN; otherwise strictly higher wins (ties keep the earlier epoch)."""
    if math.isnan(score):
        return False
    return math.isnan(best) or score > best
