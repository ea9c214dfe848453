"""The ``reconstructor`` stage: one trained reconstructor per (data set, degradation, level, model, replicate).

Built-in learned models (U-Net, Pix2Pix, IR-SDE) are trained on the training
split's (degraded, clean) pairs, with a fresh degradation every epoch drawn
from generators derived from (model seed, data set, operator, level, epoch,
sample id), and validated on a fixed degradation of the validation split.
The model seed of replicate ``k`` is :func:`~reconfair.seeding.replicate_seed`
of (seed, k): the study seed itself for replicate 0.  Trained models are
cache entries; an interrupted training resumes from its last epoch.
Baselines, plug-ins and user checkpoints are no stage: :func:`build_reconstructor`
makes them where they are used (they train nothing).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from reconfair.config import ReconstructorConfig
from reconfair.data.sample import SampleSet
from reconfair.engine.graph import Graph, Stage, replicate_suffix
from reconfair.engine.images import materialized, split_count, split_inputs
from reconfair.engine.keys import baseline_slice, reconstructor_slice
from reconfair.recon import make_reconstructor
from reconfair.recon.learned import LearnedReconstructor, default_spec, load_reconstructor
from reconfair.recon.plugins import FolderReconstructor, load_factory
from reconfair.seeding import replicate_seed, sample_generators

__all__ = ["RECON_STAGE", "ReconstructorKind", "baseline_key", "build_reconstructor", "train_reconstructor"]

RECON_STAGE = "reconstructor"


def baseline_key(cache: Any, operator: Any) -> str:
    """What names a baseline reconstructor in an inference slice (nothing is trained: only the degradation)."""
    return cache.key("baseline", baseline_slice(operator))


class ReconstructorKind:
    """Plans one ``reconstructor`` stage per learned model the run trains; trains it."""

    name = RECON_STAGE
    unit = "image-epochs"

    def plan(self, graph: Graph) -> None:
        config = graph.config
        for index, dataset_config in enumerate(config.datasets):
            n_train, images = split_count(graph, index, ["train"]), split_inputs(graph, index, ("train", "val"))
            for replicate in range(config.replicates):
                for condition in graph.memo["conditions"][index]:
                    if not condition.trains_reconstructor or condition.mitigation is not None:
                        continue
                    entry, operator = condition.entry, condition.operator
                    spec = default_spec(entry.name, entry.preset, **entry.settings)
                    label = (f"{dataset_config.name} {operator.name}@{float(operator.level):g} {entry.name}"
                             f"{replicate_suffix(config, replicate)}")
                    graph.add(self.name, label=label,
                              params={"dataset": index, "replicate": replicate, "condition": condition},
                              config_slice=reconstructor_slice(dataset_config, operator, spec, config.seed,
                                                               replicate=replicate),
                              inputs=images, estimate=int(spec["epochs"]) * n_train)

    def compute(self, stage: Stage, context: Any) -> LearnedReconstructor:
        condition, replicate = stage.params["condition"], stage.params["replicate"]
        entry = condition.entry
        spec = default_spec(entry.name, entry.preset, **entry.settings)
        model_seed = replicate_seed(context.config.seed, replicate)
        untrained = make_reconstructor(entry.name, degradation=condition.operator, preset=entry.preset,
                                       seed=model_seed, **entry.settings)  # through the registry
        if untrained.spec != spec:
            raise ValueError(f"{stage.label}: the registry built {untrained.spec}, the cache key says {spec}")
        return train_reconstructor(
            untrained, condition.operator,
            train=materialized(context, stage, "train"), val=materialized(context, stage, "val"),
            seed=model_seed, resume=context.cache.scratch(RECON_STAGE, stage.key) / "training",
            device=context.device, progress=context.progress,
        )

    def write(self, output: LearnedReconstructor, folder: Path) -> None:
        output.save(folder / "model")

    def load(self, stage: Stage, context: Any, folder: Path) -> LearnedReconstructor:
        return load_reconstructor(folder / "model")


def build_reconstructor(entry: ReconstructorConfig, operator: Any, *, dataset: str) -> Any:
    """A reconstructor that is no stage: a baseline, a plug-in (factory, folder) or a user checkpoint."""
    fields = {"dataset": dataset, "degradation": operator.name, "level": f"{float(operator.level):g}"}
    if entry.kind == "baseline":
        return make_reconstructor("baseline", degradation=operator)
    if entry.kind == "folder":
        return FolderReconstructor(Path(_fill(entry.folder, fields, "folder")), name=entry.name)
    if entry.kind == "factory":
        return load_factory(entry.factory, dict(entry.params), name=entry.name, degradation=operator)
    if entry.checkpoint is not None:
        stem = _fill(entry.checkpoint, fields, "checkpoint")
        recon = load_reconstructor(stem)
        if recon.name != entry.name:
            raise ValueError(f"checkpoint {stem} holds a {recon.name!r} reconstructor, not {entry.name!r}")
        return recon
    raise ValueError(f"reconstructor {entry.name!r} is trained by the run: it is a stage, not built here")


def train_reconstructor(
    recon: LearnedReconstructor,
    operator: Any,
    *,
    train: SampleSet,
    val: SampleSet,
    seed: int,
    resume: Path | None,
    device: torch.device,
    progress: bool,
) -> LearnedReconstructor:
    """Fit ``recon`` on ``train``, degraded afresh each epoch; validate on ``val``."""
    name = train.name
    if len(train) == 0 or len(val) == 0:
        raise ValueError(
            f"{name}: training a reconstructor needs train and val samples, got "
            f"{len(train)} and {len(val)}; check split_fractions and n_patients"
        )
    stage = f"recon-train/{name}/{operator.name}@{float(operator.level)!r}"
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
        description=f"train {recon.name} on {name} {operator.name}@{float(operator.level):g}",
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
