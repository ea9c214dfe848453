"""The diagnostic models: ``diagnostic`` stages train them, ``supplied-model`` stages load the user's.

A trained model (``diagnostic``, one per data set, task and model replicate)
of replicate ``k`` is trained with the seed
:func:`~reconfair.seeding.replicate_seed` ``(seed, k)`` on the ``train``
split and validated on ``val`` (the ``images`` stages' outputs), and keyed by
the study seed, the task's model settings and the replicate.

A supplied model (``supplied-model``, one per data set and task, shared by
every replicate) is never trained: the stage loads it, checks it on a probe
batch (input mapping, output shape) and records what it is.  Its key hashes
the model's configuration and :func:`~reconfair.diagnose.model_fingerprint`
(the files' bytes, or the factory with its params and package version), so
the inference stages that read it are recomputed when the model changes.
The entry holds only ``model.json``; the model is loaded from the user's
files each run.

:func:`model_ref` is how other stages find the model of a task.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reconfair.diagnose import DiagnosticModel, SuppliedModel, load_model, load_supplied, model_fingerprint
from reconfair.engine.graph import Graph, Stage, replicate_suffix
from reconfair.engine.images import materialized, split_count, split_inputs
from reconfair.engine.keys import diagnostic_slice
from reconfair.seeding import replicate_seed

__all__ = ["DiagnosticKind", "SUPPLIED_STAGE", "SuppliedModelKind", "model_ref"]

SUPPLIED_STAGE = "supplied-model"


def model_ref(graph: Graph, index: int, replicate: int, task: str) -> str:
    """The ref of data set ``index``'s model for ``task`` in ``replicate``: the supplied one, else the trained one."""
    stage = graph.find(SUPPLIED_STAGE, dataset=index, task=task) or graph.find(
        "diagnostic", dataset=index, replicate=replicate, task=task)
    if stage is None:
        raise ValueError(f"no diagnostic model planned for data set {index}, task {task!r}")
    return stage.ref


class DiagnosticKind:
    """Plans one ``diagnostic`` stage per data set, replicate and task; trains the model."""

    name = "diagnostic"
    unit = "image-epochs"

    def plan(self, graph: Graph) -> None:
        config = graph.config
        for index, dataset_config in enumerate(config.datasets):
            n_train, images = split_count(graph, index, ["train"]), split_inputs(graph, index, ("train", "val"))
            for replicate in range(config.replicates):
                for task in (t for t in dataset_config.diagnostic_tasks if not t.supplied):
                    label = f"{dataset_config.name} {task.kind}{replicate_suffix(config, replicate)}"
                    graph.add(self.name, label=label,
                              params={"dataset": index, "replicate": replicate, "task": task.kind},
                              config_slice=diagnostic_slice(dataset_config, task, config.seed, replicate=replicate),
                              inputs=images, estimate=task.model.epochs * n_train)

    def compute(self, stage: Stage, context: Any) -> DiagnosticModel:
        index, replicate = stage.params["dataset"], stage.params["replicate"]
        dataset_config = context.dataset_config(index)
        task = next(t for t in dataset_config.diagnostic_tasks if t.kind == stage.params["task"])
        samples = context.dataset(index)
        targets = samples.label_names if task.kind == "classification" else ("tumor",)
        seed_parts = (replicate_seed(context.config.seed, replicate), samples.name, task.kind)
        train, val = materialized(context, stage, "train"), materialized(context, stage, "val")
        model = DiagnosticModel(kind=task.kind, targets=targets, preset=task.model.preset,
                                image_size=dataset_config.image_size, seed_parts=seed_parts)
        model.fit(train, val, epochs=task.model.epochs, batch_size=task.model.batch_size,
                  learning_rate=task.model.learning_rate, patience=task.model.patience, seed_parts=seed_parts,
                  device=context.device, progress=context.progress)
        return model

    def write(self, output: DiagnosticModel, folder: Path) -> None:
        output.save(folder / "model")

    def load(self, stage: Stage, context: Any, folder: Path) -> DiagnosticModel:
        return load_model(folder / "model")


class SuppliedModelKind:
    """Plans one ``supplied-model`` stage per data set and task with a supplied model; loads and checks it."""

    name = SUPPLIED_STAGE
    unit = ""

    def plan(self, graph: Graph) -> None:
        for index, dataset_config in enumerate(graph.config.datasets):
            for task in (t for t in dataset_config.diagnostic_tasks if t.supplied):
                model = task.model
                graph.add(self.name, label=f"{dataset_config.name} {task.kind} (supplied {model.source} {model.location})",
                          params={"dataset": index, "task": task.kind},
                          config_slice={"dataset": dataset_config.name, "image_size": dataset_config.image_size,
                                        "task": task.kind, "model": model.model_dump(mode="json"),
                                        "fingerprint": model_fingerprint(model)})

    def compute(self, stage: Stage, context: Any) -> SuppliedModel:
        return self._build(stage, context, probe=True)

    def write(self, output: SuppliedModel, folder: Path) -> None:
        (folder / "model.json").write_text(json.dumps(output.describe(), indent=2), encoding="utf-8")

    def load(self, stage: Stage, context: Any, folder: Path) -> SuppliedModel:
        return self._build(stage, context, probe=False)

    @staticmethod
    def _build(stage: Stage, context: Any, *, probe: bool) -> SuppliedModel:
        dataset_config = context.dataset_config(stage.params["dataset"])
        task = next(t for t in dataset_config.diagnostic_tasks if t.kind == stage.params["task"])
        return load_supplied(task.model, kind=task.kind, image_size=dataset_config.image_size if probe else None,
                             device=context.device)
