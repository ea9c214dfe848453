"""Learned reconstructors (U-Net, Pix2Pix, IR-SDE) behind one wrapper.

A :class:`LearnedReconstructor` holds a *method* (networks + loss + inference,
from :mod:`reconfair.recon.unet`, :mod:`~reconfair.recon.pix2pix` or
:mod:`~reconfair.recon.irsde`) and its spec, a plain dict of hyper-parameters
that is all a checkpoint's JSON needs to rebuild the networks.  Training goes
through the one loop :func:`reconfair.training.fit`; weights are saved as
safetensors (never pickled).

Presets: ``demo`` (tiny, CPU, 32-64 px) and ``paper`` (the study's sizes and
learning rates).  The ``demo`` presets train for minutes on a CPU: Adam at
1e-3 instead of the study's 1e-4 / 2e-4, residual U-Net/Pix2Pix generators
and IR-SDE's ``x0`` prediction (all three start at the baseline), with 5
posterior sampling steps.

Examples
--------
>>> import torch
>>> recon = make_learned("unet", preset="demo", epochs=1)
>>> recon.name, recon.spec["learning_rate"], make_learned("unet", preset="paper").spec["learning_rate"]
('unet', 0.001, 0.0001)
>>> x = torch.rand(4, 1, 32, 32)
>>> _ = recon.fit((x, x), seed=0, progress=False)
>>> tuple(recon.reconstruct(x).shape)
(4, 1, 32, 32)
>>> make_learned("unet", epoch=3)
Traceback (most recent call last):
...
ValueError: unet reconstructor got unknown setting 'epoch'; allowed settings: batch_size, epochs, features, learning_rate, patience, residual
"""

from __future__ import annotations

import copy
from pathlib import Path
from collections.abc import Callable
from typing import Any

import torch

from reconfair.physics.base import Degradation
from reconfair.training.checkpoint import load_checkpoint, save_checkpoint
from reconfair.recon import irsde, pix2pix, unet
from reconfair.recon.base import ReconstructionMethod
from reconfair.seeding import Generators, seeded_torch_global
from reconfair.training import FitResult, fit

__all__ = [
    "MODELS",
    "PRESETS",
    "LearnedReconstructor",
    "default_spec",
    "load_reconstructor",
    "make_learned",
    "make_unet",
    "make_pix2pix",
    "make_irsde",
]

_METHODS: dict[str, tuple[type[ReconstructionMethod], dict[str, dict[str, Any]]]] = {
    "unet": (unet.UNetMethod, unet.PRESET_SPECS),
    "pix2pix": (pix2pix.Pix2PixMethod, pix2pix.PRESET_SPECS),
    "irsde": (irsde.IRSDEMethod, irsde.PRESET_SPECS),
}
MODELS = tuple(_METHODS)
PRESETS = ("demo", "paper")
_FIXED = ("model", "preset")


def default_spec(model: str, preset: str = "demo", **settings: Any) -> dict[str, Any]:
    """The preset's spec for ``model`` with ``settings`` overriding known keys."""
    if model not in _METHODS:
        raise ValueError(f"unknown learned reconstructor {model!r}; expected one of: {', '.join(MODELS)}")
    presets = _METHODS[model][1]
    if preset not in presets:
        raise ValueError(f"{model} preset {preset!r} is unknown; expected one of: {', '.join(presets)}")
    spec = copy.deepcopy(presets[preset])
    allowed = sorted(k for k in spec if k not in _FIXED)
    for key, value in settings.items():
        if key not in allowed:
            raise ValueError(
                f"{model} reconstructor got unknown setting {key!r}; allowed settings: {', '.join(allowed)}"
            )
        spec[key] = list(value) if isinstance(value, tuple) else value
    return spec


class LearnedReconstructor:
    """A trainable method behind the :class:`~reconfair.recon.base.Trainable` protocol
    (``fit``, ``reconstruct``, ``state_dict``, ``save``).

    Parameters
    ----------
    spec
        A full spec (see :func:`default_spec`); networks are built from it.
    seed
        Seeds the initial weights (``fit`` re-initialises from its own seed).
    """

    def __init__(self, spec: dict[str, Any], *, seed: int = 0) -> None:
        model = spec.get("model")
        if model not in _METHODS:
            raise ValueError(f"spec names model {model!r}; expected one of: {', '.join(MODELS)}")
        if model == "irsde":
            irsde.check_spec(spec)  # an old checkpoint's spec fails here, saying why
        missing = sorted(set(_METHODS[model][1]["demo"]) - set(spec))
        if missing:
            raise ValueError(f"{model} spec lacks {missing}; build specs with default_spec()")
        self.spec = copy.deepcopy(spec)
        self.method: ReconstructionMethod = self._build(seed)
        self.fit_result: FitResult | None = None

    @property
    def name(self) -> str:
        return str(self.spec["model"])

    def _build(self, seed: int) -> ReconstructionMethod:
        with seeded_torch_global(seed, "recon", self.name, "init"):
            return _METHODS[self.name][0](self.spec)

    def fit(
        self,
        pairs: tuple[torch.Tensor, torch.Tensor],
        *,
        seed: int,
        val_pairs: tuple[torch.Tensor, torch.Tensor] | None = None,
        refresh_inputs: Callable[[int], torch.Tensor] | None = None,
        resume: str | Path | None = None,
        device: torch.device | str = "cpu",
        progress: bool = True,
        description: str | None = None,
    ) -> FitResult:
        """Train on ``pairs = (degraded, clean)`` (``N x 1 x H x W`` in [0, 1]).

        Weights are re-initialised from ``seed``, so the result depends only on
        the data and ``seed``.  Early stopping uses ``val_pairs`` (default: the
        training pairs themselves).  ``refresh_inputs(epoch)`` supplies fresh
        degraded inputs each epoch; ``resume`` is a checkpoint stem from which
        an interrupted training continues (see :func:`reconfair.training.fit`).
        """
        inputs, targets = _unpack(pairs, "pairs")
        val_inputs, val_targets = _unpack(val_pairs, "val_pairs") if val_pairs is not None else (inputs, targets)
        multiple = self.method.size_multiple
        unet.check_pairs(inputs, targets, multiple=multiple)
        unet.check_pairs(val_inputs, val_targets, multiple=multiple)
        self.method = self._build(seed)
        seed_parts = (seed, "recon", self.name)
        method, spec = self.method, self.spec
        device = torch.device(device)
        batch = int(spec["batch_size"])

        def validate(network: torch.nn.Module) -> float:
            total = 0.0
            for start in range(0, len(val_inputs), batch):
                y, x = val_inputs[start : start + batch].to(device), val_targets[start : start + batch].to(device)
                total += method.score(network, y, x) * len(y)
            return total / len(val_inputs)

        with seeded_torch_global(*seed_parts, "train"):
            self.fit_result = fit(
                method.trained,
                inputs=inputs,
                targets=targets,
                loss=method.make_loss(seed_parts),
                validate=validate,
                epochs=int(spec["epochs"]),
                batch_size=batch,
                learning_rate=float(spec["learning_rate"]),
                patience=int(spec["patience"]),
                seed_parts=seed_parts,
                device=device,
                progress=progress,
                description=description or f"train {self.name} reconstructor",
                refresh_inputs=refresh_inputs,
                resume=resume,
                **_optimiser_options(spec),
            )
        for module in method.modules.values():
            module.to("cpu").eval()
        return self.fit_result

    def reconstruct(self, y: torch.Tensor, *, generator: Generators = None) -> torch.Tensor:
        """Reconstruct the batch ``y`` (image-domain measurement); output in [0, 1]."""
        if y.ndim != 4 or y.shape[1] != 1:
            raise ValueError(f"{self.name}: expected a batch N x 1 x H x W, got shape {tuple(y.shape)}")
        return self.method.reconstruct(y, generator=generator)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """All networks' weights, keys prefixed by the network's role (``network.``, ``generator.`` ...)."""
        return {
            f"{role}.{key}": value
            for role, module in self.method.modules.items()
            for key, value in module.state_dict().items()
        }

    def save(self, stem: str | Path) -> None:
        """Write ``stem.safetensors`` (weights) and ``stem.json`` (spec and training history)."""
        meta: dict[str, Any] = {"kind": "reconstructor", "spec": self.spec}
        if self.fit_result is not None:
            meta["fit"] = {
                "best_epoch": self.fit_result.best_epoch,
                "best_score": self.fit_result.best_score,
                "history": list(self.fit_result.history),
            }
        save_checkpoint(stem, self.state_dict(), meta)


def load_reconstructor(stem: str | Path) -> LearnedReconstructor:
    """Rebuild a saved :class:`LearnedReconstructor` (refuses pickles and foreign checkpoints)."""
    state, meta = load_checkpoint(stem)
    if meta.get("kind") != "reconstructor" or not isinstance(meta.get("spec"), dict):
        raise ValueError(f"{stem}: not a reconfair reconstructor checkpoint (its JSON has kind={meta.get('kind')!r})")
    recon = LearnedReconstructor(meta["spec"])
    for role, module in recon.method.modules.items():
        prefix = f"{role}."
        part = {key[len(prefix) :]: value for key, value in state.items() if key.startswith(prefix)}
        try:
            module.load_state_dict(part)
        except RuntimeError as error:
            raise ValueError(f"{stem}: weights of {role!r} do not match the spec ({error})") from None
        module.eval()
    return recon


def make_learned(model: str, *, preset: str = "demo", seed: int = 0, **settings: Any) -> LearnedReconstructor:
    """A fresh (untrained) learned reconstructor from a preset plus overrides."""
    return LearnedReconstructor(default_spec(model, preset, **settings), seed=seed)


def _factory(model: str, degradation: Degradation | None, preset: str, checkpoint: str | None, seed: int,
             settings: dict[str, Any]) -> LearnedReconstructor:
    if checkpoint is not None:
        recon = load_reconstructor(checkpoint)
        if recon.name != model:
            raise ValueError(f"checkpoint {checkpoint} holds a {recon.name!r} reconstructor, not {model!r}")
        return recon
    return make_learned(model, preset=preset, seed=seed, **settings)


def make_unet(*, degradation: Degradation | None = None, preset: str = "demo", checkpoint: str | None = None,
             seed: int = 0, **settings: Any) -> LearnedReconstructor:
    """Registry factory: a U-Net reconstructor, untrained (``preset`` + ``settings``, initialised from ``seed``),
    or from ``checkpoint`` when given."""
    return _factory("unet", degradation, preset, checkpoint, seed, settings)


def make_pix2pix(*, degradation: Degradation | None = None, preset: str = "demo", checkpoint: str | None = None,
             seed: int = 0, **settings: Any) -> LearnedReconstructor:
    """Registry factory: a Pix2Pix reconstructor, untrained (``preset`` + ``settings``, initialised from ``seed``),
    or from ``checkpoint`` when given."""
    return _factory("pix2pix", degradation, preset, checkpoint, seed, settings)


def make_irsde(*, degradation: Degradation | None = None, preset: str = "demo", checkpoint: str | None = None,
             seed: int = 0, **settings: Any) -> LearnedReconstructor:
    """Registry factory: an IR-SDE reconstructor, untrained (``preset`` + ``settings``, initialised from ``seed``),
    or from ``checkpoint`` when given."""
    return _factory("irsde", degradation, preset, checkpoint, seed, settings)


def _unpack(pairs: Any, label: str) -> tuple[torch.Tensor, torch.Tensor]:
    if not (isinstance(pairs, (tuple, list)) and len(pairs) == 2 and all(isinstance(p, torch.Tensor) for p in pairs)):
        raise TypeError(f"{label} must be a (degraded, clean) tuple of tensors, got {type(pairs).__name__}")
    return pairs[0], pairs[1]


def _optimiser_options(spec: dict[str, Any]) -> dict[str, Any]:
    """Adam ``betas`` for ``fit`` when the spec sets them (Pix2Pix: 0.5, 0.999)."""
    return {"betas": tuple(spec["betas"])} if "betas" in spec else {}
