"""Save and restore the state of :func:`reconfair.training.fit` between epochs.

A training checkpoint is a pair ``stem.safetensors`` + ``stem.json`` written
atomically by :func:`reconfair.training.checkpoint.save_checkpoint` (never pickled).

Tensors (``stem.safetensors``):

* ``network.<key>``: the weights after the last finished epoch;
* ``best.<key>``: the weights of the best epoch so far;
* ``optimiser.<index>.<name>``: Adam's per-parameter state (``step``,
  ``exp_avg``, ``exp_avg_sq``), ``index`` the parameter's position;
* ``rng.batches``: the state of the batch generator (uint8);
* ``rng.global``: torch's global CPU RNG (dropout), and ``rng.global_cuda``
  when training on CUDA;
* ``loss.<key>``: the loss's own ``state_dict()`` when it has one (e.g. the
  Pix2Pix discriminator and its Adam, the IR-SDE draw generator).

JSON (``stem.json``): ``kind = "fit-state"``, ``format``, ``next_epoch``,
``stopped`` (early-stopped), ``best_epoch``, ``best_score``, ``history``,
``settings`` (samples, batch size, learning rate, betas, weighting; a
checkpoint made under other settings is refused) and
``optimiser_param_groups``.

Examples
--------
>>> import tempfile
>>> net = torch.nn.Linear(2, 1)
>>> opt = torch.optim.Adam(net.parameters())
>>> net(torch.ones(1, 2)).sum().backward(); opt.step()
>>> sorted(optimiser_tensors(opt, "opt."))
['opt.0.exp_avg', 'opt.0.exp_avg_sq', 'opt.0.step', 'opt.1.exp_avg', 'opt.1.exp_avg_sq', 'opt.1.step']
>>> fresh = torch.optim.Adam(net.parameters())
>>> load_optimiser_tensors(fresh, optimiser_tensors(opt, ""))
>>> bool(torch.equal(fresh.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"]))
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from reconfair.training.checkpoint import load_checkpoint, save_checkpoint

__all__ = [
    "FORMAT",
    "Parts",
    "Progress",
    "checkpoint_exists",
    "load_optimiser_tensors",
    "load_training_state",
    "optimiser_tensors",
    "save_training_state",
]

FORMAT = 1
_KIND = "fit-state"


@dataclass
class Progress:
    """Where a run stands: the next epoch, the best epoch so far, the history, early stop."""

    best_weights: dict[str, torch.Tensor]
    next_epoch: int = 0
    best_epoch: int = -1
    best_score: float = -math.inf
    history: list[dict[str, float]] = field(default_factory=list)
    stopped: bool = False


@dataclass(frozen=True)
class Parts:
    """The stateful objects of one ``fit`` call."""

    network: torch.nn.Module
    optimiser: torch.optim.Optimizer
    generator: torch.Generator
    loss: Any
    device: torch.device


def checkpoint_exists(stem: str | Path) -> bool:
    """True when either file of the checkpoint ``stem`` exists (a lone file is then refused on load)."""
    stem = Path(stem)
    return stem.with_suffix(".safetensors").exists() or stem.with_suffix(".json").exists()


def optimiser_tensors(optimiser: torch.optim.Optimizer, prefix: str) -> dict[str, torch.Tensor]:
    """Per-parameter optimiser state as ``{prefix}{index}.{name}`` tensors (non-tensors are refused)."""
    flat = {}
    for index, values in optimiser.state_dict()["state"].items():
        for name, value in values.items():
            if not isinstance(value, torch.Tensor):
                raise TypeError(f"optimiser state {name!r} is a {type(value).__name__}, not a tensor; cannot save it")
            flat[f"{prefix}{index}.{name}"] = value
    return flat


def load_optimiser_tensors(
    optimiser: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], param_groups: list[dict[str, Any]] | None = None
) -> None:
    """Inverse of :func:`optimiser_tensors` (keys without prefix); ``param_groups`` default to the current ones.

    Raises ``ValueError`` when an index names no parameter or a state tensor's
    shape differs from its parameter's.
    """
    params = [p for group in optimiser.param_groups for p in group["params"]]
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        index, _, name = key.partition(".")
        if not index.isdigit() or int(index) >= len(params) or not name:
            raise ValueError(f"optimiser state key {key!r} names no parameter (the optimiser has {len(params)})")
        if value.ndim > 0 and value.shape != params[int(index)].shape:
            raise ValueError(
                f"optimiser state {key!r} has shape {tuple(value.shape)} but parameter {index} has "
                f"shape {tuple(params[int(index)].shape)}"
            )
        state.setdefault(int(index), {})[name] = value
    groups = optimiser.state_dict()["param_groups"] if param_groups is None else param_groups
    optimiser.load_state_dict({"state": state, "param_groups": groups})


def save_training_state(stem: str | Path, parts: Parts, progress: Progress, settings: dict[str, Any]) -> None:
    """Write the whole state of a run after an epoch (layout in the module docstring)."""
    tensors = _prefixed("network.", parts.network.state_dict())
    tensors.update(_prefixed("best.", progress.best_weights))
    tensors.update(optimiser_tensors(parts.optimiser, "optimiser."))
    tensors["rng.batches"] = parts.generator.get_state()
    tensors["rng.global"] = torch.random.get_rng_state()
    if parts.device.type == "cuda":
        tensors["rng.global_cuda"] = torch.cuda.get_rng_state(parts.device)
    if _has_state(parts.loss):
        tensors.update(_prefixed("loss.", parts.loss.state_dict()))
    groups = parts.optimiser.state_dict()["param_groups"]
    meta = {
        "kind": _KIND,
        "format": FORMAT,
        "next_epoch": progress.next_epoch,
        "stopped": progress.stopped,
        "best_epoch": progress.best_epoch,
        "best_score": progress.best_score,
        "history": progress.history,
        "settings": settings,
        "optimiser_param_groups": [{k: list(v) if isinstance(v, tuple) else v for k, v in g.items()} for g in groups],
    }
    save_checkpoint(stem, tensors, meta)


def load_training_state(stem: str | Path, parts: Parts, settings: dict[str, Any]) -> Progress:
    """Restore ``parts`` from the checkpoint ``stem`` and return the run's progress.

    Raises ``ValueError`` naming the file when it is not a training
    checkpoint, was made under other settings, or its keys or shapes do not
    match the network, optimiser or loss.
    """
    stem = Path(stem)
    where = stem.with_suffix(".safetensors")
    tensors, meta = load_checkpoint(stem)
    if meta.get("kind") != _KIND or meta.get("format") != FORMAT:
        raise ValueError(
            f"{stem.with_suffix('.json')} is not a reconfair training checkpoint of format {FORMAT} "
            f"(kind={meta.get('kind')!r}, format={meta.get('format')!r}); delete it or pick another resume path"
        )
    if meta["settings"] != settings:
        raise ValueError(
            f"{stem.with_suffix('.json')} was written with settings {meta['settings']}, but this run has "
            f"{settings}; delete it or pick another resume path"
        )
    groups = _split(tensors)
    has_loss_state = _has_state(parts.loss)
    if ("loss" in groups) != has_loss_state:
        raise ValueError(
            f"{where}: the checkpoint {'has' if 'loss' in groups else 'lacks'} loss state but this run's loss "
            f"{'has' if has_loss_state else 'has no'} state_dict(); it was written by another model"
        )
    try:
        best = groups.get("best", {})
        parts.network.load_state_dict(best)  # checks the best weights' keys and shapes too
        parts.network.load_state_dict(groups.get("network", {}))
        param_groups = [
            {k: tuple(v) if k == "betas" else v for k, v in group.items()} for group in meta["optimiser_param_groups"]
        ]
        load_optimiser_tensors(parts.optimiser, groups.get("optimiser", {}), param_groups)
        if has_loss_state:
            parts.loss.load_state_dict(groups["loss"])
        parts.generator.set_state(groups["rng"]["batches"])
        torch.random.set_rng_state(groups["rng"]["global"])
        if parts.device.type == "cuda" and "global_cuda" in groups["rng"]:
            torch.cuda.set_rng_state(groups["rng"]["global_cuda"], parts.device)
    except (RuntimeError, ValueError, KeyError) as error:
        raise ValueError(f"{where} does not match this run's network, optimiser or loss: {error!r}") from None
    return Progress(
        best_weights={k: v.to(parts.device) for k, v in best.items()},
        next_epoch=int(meta["next_epoch"]),
        best_epoch=int(meta["best_epoch"]),
        best_score=float(meta["best_score"]),
        history=list(meta["history"]),
        stopped=bool(meta["stopped"]),
    )


def _has_state(loss: Any) -> bool:
    return callable(getattr(loss, "state_dict", None)) and callable(getattr(loss, "load_state_dict", None))


def _prefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {f"{prefix}{key}": value for key, value in tensors.items()}


def _split(tensors: dict[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    """``{"network.a.b": t}`` -> ``{"network": {"a.b": t}}``."""
    groups: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        head, _, rest = key.partition(".")
        groups.setdefault(head, {})[rest] = value
    return groups
