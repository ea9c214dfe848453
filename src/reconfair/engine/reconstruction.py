"""The reconstruction stage: obtain one reconstructor per (data set, degradation, level, seed, replicate).

Built-in learned models (U-Net, Pix2Pix, IR-SDE) are trained on the training
split's (degraded, clean) pairs, with a fresh degradation every epoch drawn
from generators derived from (model seed, data set, operator, level, epoch,
sample id), and validated on a fixed degradation of the validation split.
The model seed of replicate ``k`` is :func:`~reconfair.seeding.replicate_seed`
of (seed, k): the study seed itself for replicate 0.  Trained
models are stored in the :class:`~reconfair.engine.cache.Cache`; an
interrupted training resumes from its last epoch.  Baselines need nothing;
plug-ins are loaded from a factory or a folder of precomputed files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from reconfair.config import DatasetConfig, ReconstructorConfig
from reconfair.data.lazy import LazySampleSet
from reconfair.data.sample import SampleSet
from reconfair.engine.cache import Cache
from reconfair.engine.keys import baseline_slice, diagnostic_slice, mitigation_slice, reconstructor_slice
from reconfair.recon import make_reconstructor
from reconfair.recon.learned import LearnedReconstructor, default_spec, load_reconstructor
from reconfair.recon.plugins import FolderReconstructor, load_factory
from reconfair.seeding import replicate_seed, sample_generators

__all__ = ["PreparedReconstructor", "prepare_reconstructor", "reconstructor_key", "train_reconstructor"]

RECON_STAGE = "reconstructor"
MITIGATION_STAGE = "mitigated-reconstructor"


@dataclass(frozen=True)
class PreparedReconstructor:
    """A ready reconstructor, its table label and its cache key (``None``: not cacheable)."""

    reconstructor: Any
    label: str
    key: str | None


def reconstructor_key(
    condition: Any, dataset_config: DatasetConfig, seed: int, cache: Cache, *, replicate: int = 0
) -> str | None:
    """The key naming a condition's reconstructor in its inference slice, computed without loading it.

    ``"original"`` for the original images, the baseline's (the same for
    every replicate: nothing is trained), trained or mitigated model's cache
    key of model replicate ``replicate``, ``None`` for plug-ins and user
    checkpoints (never cached).
    """
    if not condition.cacheable:
        return None
    if condition.is_original:
        return "original"
    if condition.entry.kind == "baseline":
        return cache.key("baseline", baseline_slice(condition.operator))
    spec = default_spec(condition.entry.name, condition.entry.preset, **condition.entry.settings)
    base_slice = reconstructor_slice(dataset_config, condition.operator, spec, seed, replicate=replicate)
    if condition.mitigation is None:
        return cache.key(RECON_STAGE, base_slice)
    return cache.key(MITIGATION_STAGE, mitigated_slice(condition, dataset_config, seed, replicate=replicate))


def mitigated_slice(condition: Any, dataset_config: DatasetConfig, seed: int, *, replicate: int = 0) -> dict[str, Any]:
    """The cache slice of a mitigated condition's reconstructor (its base model, mitigation and classifier)."""
    entry = condition.entry
    spec = default_spec(entry.name, entry.preset, **entry.settings)
    task = next(t for t in dataset_config.tasks if t.kind == "classification")
    base = reconstructor_slice(dataset_config, condition.operator, spec, seed, replicate=replicate)
    return mitigation_slice(base, condition.mitigation, diagnostic_slice(dataset_config, task, seed))


def prepare_reconstructor(
    entry: ReconstructorConfig,
    operator: Any,
    *,
    samples: SampleSet | LazySampleSet,
    dataset_config: DatasetConfig,
    seed: int,
    cache: Cache,
    device: torch.device,
    progress: bool,
    replicate: int = 0,
) -> PreparedReconstructor:
    """The reconstructor ``entry`` names, for ``operator`` at its level, trained if needed.

    ``seed`` is the study seed (it keys the entry with ``replicate``); a
    learned model is trained with the replicate's model seed
    (:func:`~reconfair.seeding.replicate_seed`).  Baselines and plug-ins are
    the same for every replicate.
    """
    fields = {"dataset": samples.name, "degradation": operator.name, "level": f"{float(operator.level):g}"}
    if entry.kind == "baseline":
        recon = make_reconstructor("baseline", degradation=operator)
        key = cache.key("baseline", baseline_slice(operator))
        return PreparedReconstructor(recon, recon.name, key)
    if entry.kind == "folder":
        folder = Path(_fill(entry.folder, fields, "folder"))
        return PreparedReconstructor(FolderReconstructor(folder, name=entry.name), entry.name, None)
    if entry.kind == "factory":
        recon = load_factory(entry.factory, dict(entry.params), name=entry.name, degradation=operator)
        return PreparedReconstructor(recon, entry.name, None)
    if entry.checkpoint is not None:
        stem = _fill(entry.checkpoint, fields, "checkpoint")
        recon = load_reconstructor(stem)
        if recon.name != entry.name:
            raise ValueError(f"checkpoint {stem} holds a {recon.name!r} reconstructor, not {entry.name!r}")
        return PreparedReconstructor(recon, entry.name, None)
    spec = default_spec(entry.name, entry.preset, **entry.settings)
    config_slice = reconstructor_slice(dataset_config, operator, spec, seed, replicate=replicate)
    key = cache.key(RECON_STAGE, config_slice)
    with cache.claim(RECON_STAGE, key) as found:
        if found is not None:
            return PreparedReconstructor(load_reconstructor(found / "model"), entry.name, key)
        model_seed = replicate_seed(seed, replicate)
        recon = train_reconstructor(
            LearnedReconstructor(spec, seed=model_seed),
            operator,
            samples=samples,
            seed=model_seed,
            resume=cache.scratch(RECON_STAGE, key) / "training",
            device=device,
            progress=progress,
        )
        cache.store(RECON_STAGE, key, lambda tmp: recon.save(tmp / "model"), config_slice=config_slice)
    return PreparedReconstructor(recon, entry.name, key)


def train_reconstructor(
    recon: LearnedReconstructor,
    operator: Any,
    *,
    samples: SampleSet | LazySampleSet,
    seed: int,
    resume: Path | None,
    device: torch.device,
    progress: bool,
) -> LearnedReconstructor:
    """Fit ``recon`` on the training split, degraded afresh each epoch; validate on ``val``."""
    train, val = samples.split("train").materialize(), samples.split("val").materialize()
    if len(train) == 0 or len(val) == 0:
        raise ValueError(
            f"{samples.name}: training a reconstructor needs train and val samples, got "
            f"{len(train)} and {len(val)}; check split_fractions and n_patients"
        )
    stage = f"recon-train/{samples.name}/{operator.name}@{float(operator.level)!r}"
    train_ids = train.table["sample_id"].tolist()

    def degraded_for_epoch(epoch: int) -> torch.Tensor:
        return operator.degrade(train.images, generator=sample_generators(seed, f"{stage}/epoch{epoch}", train_ids))

    val_ids = val.table["sample_id"].tolist()
    val_inputs = operator.degrade(val.images, generator=sample_generators(seed, f"{stage}/val", val_ids))
    recon.fit(
        (degraded_for_epoch(0), train.images),
        seed=seed,
        val_pairs=(val_inputs, val.images),
        refresh_inputs=degraded_for_epoch,
        resume=resume,
        device=device,
        progress=progress,
        description=f"train {recon.name} on {samples.name} {operator.name}@{float(operator.level):g}",
    )
    return recon


def _fill(template: str, fields: dict[str, str], what: str) -> str:
    try:
        return template.format(**fields)
    except (KeyError, IndexError, ValueError) as error:
        raise ValueError(
            f"reconstructor {what} {template!r}: bad placeholder ({error}); "
            "allowed placeholders: {dataset}, {degradation}, {level}"
        ) from None
