"""The ``diagnostic`` stage: one diagnostic model per data set, task and model replicate, trained on clean images.

The model of replicate ``k`` is trained with the seed
:func:`~reconfair.seeding.replicate_seed` ``(seed, k)`` on the ``train``
split and validated on ``val`` (the ``images`` stages' outputs), and keyed by
the study seed, the task's model settings and the replicate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reconfair.diagnose import DiagnosticModel, load_model
from reconfair.engine.graph import Graph, Stage, replicate_suffix
from reconfair.engine.images import materialized, split_count, split_inputs
from reconfair.engine.keys import diagnostic_slice
from reconfair.seeding import replicate_seed

__all__ = ["DiagnosticKind"]


class DiagnosticKind:
    """Plans one ``diagnostic`` stage per data set, replicate and task; trains the model."""

    name = "diagnostic"
    unit = "image-epochs"

    def plan(self, graph: Graph) -> None:
        config = graph.config
        for index, dataset_config in enumerate(config.datasets):
            n_train, images = split_count(graph, index, ["train"]), split_inputs(graph, index, ("train", "val"))
            for replicate in range(config.replicates):
                for task in dataset_config.tasks:
                    label = f"{dataset_config.name} {task.kind}{replicate_suffix(config, replicate)}"
                    graph.add(self.name, label=label,
                              params={"dataset": index, "replicate": replicate, "task": task.kind},
                              config_slice=diagnostic_slice(dataset_config, task, config.seed, replicate=replicate),
                              inputs=images, estimate=task.model.epochs * n_train)

    def compute(self, stage: Stage, context: Any) -> DiagnosticModel:
        index, replicate = stage.params["dataset"], stage.params["replicate"]
        dataset_config = context.dataset_config(index)
        task = next(t for t in dataset_config.tasks if t.kind == stage.params["task"])
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
