"""The ``inference`` stage, one per condition and model replicate: degrade, reconstruct, measure quality, diagnose.

Produces the long per-sample rows (one per sample x target) that make up
``samples.parquet``.  Each sample's degradation noise comes from a generator
derived from (run seed, data set, condition, sample id), so rows do not
depend on the batch size.  Images are taken batch by batch
(:meth:`~reconfair.data.lazy.LazySampleSet.batch`), so a lazy set streams
through in bounded memory.  Degradation runs on the CPU (where the
generators live); reconstruction and diagnosis run on ``device``.

The stage reads the clean images of its splits (``images`` stages), the
diagnostic models of its replicate and, for a trained or mitigated model,
its reconstructor stage.  Conditions whose reconstructor is a plug-in or a
user checkpoint are never cached (their outputs may change outside
reconfair), nor is anything computed from them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from reconfair.data.lazy import LazySampleSet
from reconfair.data.sample import ATTR_PREFIX, SampleSet
from reconfair.diagnose import DiagnosticModel
from reconfair.engine.conditions import Condition
from reconfair.engine.graph import Graph, Stage, replicate_suffix
from reconfair.engine.images import images_of, split_count, split_inputs
from reconfair.engine.keys import dataset_slice, degradation_slice, inferred_splits, replicate_slice
from reconfair.engine.memory import release_freed_memory
from reconfair.engine.table import canonical, read_samples, write_samples
from reconfair.metrics.image import nrmse, psnr, ssim
from reconfair.metrics.task import binarize, dice
from reconfair.recon import missing_samples, needs_sample_ids
from reconfair.seeding import sample_generators
from reconfair.vocabulary import ORIGINAL

__all__ = ["InferenceKind", "check_plugin_files", "condition_images", "degrade_batch", "infer_condition",
           "reconstruct_batch", "reconstructor_input"]

SEGMENTATION_TARGET = "tumor"


def reconstructor_input(graph: Graph, index: int, replicate: int, condition: Any, inputs: dict[str, str]) -> str | None:
    """What a stage that reconstructs ``condition`` keys on; adds its trained model's stage to ``inputs``.

    ``"input"`` for a trained (or mitigated) reconstructor, whose stage becomes ``inputs["reconstructor"]``;
    ``original`` for the clean images; a baseline's key; ``None`` for a plug-in (never cached).
    """
    from reconfair.engine.mitigation import MITIGATION_STAGE
    from reconfair.engine.reconstruction import RECON_STAGE, baseline_key

    if condition.trains_reconstructor:
        kind = RECON_STAGE if condition.mitigation is None else MITIGATION_STAGE
        inputs["reconstructor"] = graph.find(kind, dataset=index, replicate=replicate, condition=condition.name).ref
        return "input"
    if condition.is_original:
        return ORIGINAL
    if condition.entry.kind == "baseline":
        return baseline_key(graph.cache, condition.operator)
    return None


class InferenceKind:
    """Plans one ``inference`` stage per condition and replicate; returns the condition's per-sample rows."""

    name = "inference"
    unit = "images"

    def plan(self, graph: Graph) -> None:
        from reconfair.engine.diagnostic import model_ref

        config = graph.config
        for index, dataset_config in enumerate(config.datasets):
            for replicate in range(config.replicates):
                models = {f"model:{task.kind}": model_ref(graph, index, replicate, task.kind)
                          for task in dataset_config.diagnostic_tasks}
                for condition in graph.memo["conditions"][index]:
                    splits = inferred_splits(config.evaluation, condition)
                    inputs = {**split_inputs(graph, index, splits), **models}
                    recon = reconstructor_input(graph, index, replicate, condition, inputs)
                    config_slice = None if recon is None else {
                        **dataset_slice(dataset_config, config.seed),
                        "condition": condition.name,
                        "degradation": None if condition.is_original else degradation_slice(condition.operator),
                        "reconstructor": recon,
                        "splits": list(splits),
                        **replicate_slice(replicate),
                    }
                    label = f"{dataset_config.name} {condition.name}{replicate_suffix(config, replicate)}"
                    graph.add(self.name, label=label,
                              params={"dataset": index, "replicate": replicate, "condition": condition},
                              config_slice=config_slice, inputs=inputs,
                              estimate=split_count(graph, index, splits))

    def compute(self, stage: Stage, context: Any) -> pd.DataFrame:
        from reconfair.engine.reconstruction import build_reconstructor

        condition, replicate = stage.params["condition"], stage.params["replicate"]
        samples = context.dataset(stage.params["dataset"])
        models = {task: model for task, model in context.inputs(stage, "model").items()}
        reconstructor = None
        if "reconstructor" in stage.inputs:
            reconstructor = context.output(stage.inputs["reconstructor"])
        elif not condition.is_original:
            reconstructor = build_reconstructor(condition.entry, condition.operator, dataset=samples.name)
        evaluated = images_of(context, stage)
        check_plugin_files(reconstructor, evaluated)
        rows = infer_condition(evaluated, condition, models, reconstructor=reconstructor, seed=context.config.seed,
                               device=context.device)
        rows["replicate"] = int(replicate)
        return canonical(rows)

    def write(self, output: pd.DataFrame, folder: Path) -> None:
        write_samples(output, folder / "rows.parquet")

    def load(self, stage: Stage, context: Any, folder: Path) -> pd.DataFrame:
        # ``replicate`` assigned after reading: entries written before the column existed serve replicate 0
        return canonical(read_samples(folder / "rows.parquet").assign(replicate=int(stage.params["replicate"])))


def check_plugin_files(reconstructor: Any, evaluated: Any) -> None:
    """Fail before any inference when a folder plug-in lacks files for some samples."""
    absent = [] if reconstructor is None else missing_samples(reconstructor, evaluated.table["sample_id"].tolist())
    if absent:
        shown = ", ".join(absent[:5]) + (" ..." if len(absent) > 5 else "")
        raise ValueError(
            f"reconstructor {reconstructor.name!r}: {len(absent)} of {len(evaluated)} samples have no file in "
            f"{reconstructor.folder} (e.g. {shown}); write one <sample_id>.npy/.png/.nii.gz per sample"
        )


def infer_condition(
    samples: SampleSet | LazySampleSet,
    condition: Condition,
    models: Mapping[str, DiagnosticModel],
    *,
    reconstructor: Any = None,
    seed: int,
    batch_size: int = 128,
    device: torch.device | str = "cpu",
) -> pd.DataFrame:
    """Rows of the per-sample table for ``samples`` seen under ``condition``."""
    quality = {"psnr": [], "ssim": [], "nrmse": []}
    scores: dict[str, list[np.ndarray]] = {task: [] for task in models}
    for start in range(0, len(samples), batch_size):
        release_freed_memory()  # glibc keeps freed batches otherwise: resident memory would grow with N
        clean, masks = samples.batch(start, start + batch_size)  # rendered or loaded batch by batch
        ids = samples.table["sample_id"].iloc[start : start + batch_size].tolist()
        _, images = condition_images(clean, ids, condition, reconstructor, seed=seed, dataset=samples.name,
                                     device=device)
        for name, fn in (("psnr", psnr), ("ssim", ssim), ("nrmse", nrmse)):
            values = np.full(len(ids), np.nan) if condition.is_original else fn(images, clean).double().numpy()
            quality[name].append(values)
        for task, model in models.items():
            predicted = model.predict(images, device=device)
            if task == "classification":
                scores[task].append(predicted.double().numpy())
            else:
                scores[task].append(np.asarray(dice(binarize(predicted, model.threshold), masks), dtype=np.float64))
    base = _base_columns(samples, condition, seed=seed)
    for name, chunks in quality.items():
        base[name] = np.concatenate(chunks) if chunks else np.empty(0)
    frames = []
    for task, model in models.items():
        values = np.concatenate(scores[task]) if scores[task] else np.empty((0,))
        if task == "classification":
            for j, target in enumerate(model.targets):
                frames.append(
                    base.assign(
                        task=task,
                        target=target,
                        y_true=samples.table[f"label_{target}"].to_numpy(dtype=np.float64),
                        y_score=values[:, j],
                        dice=np.nan,
                    )
                )
        else:
            frames.append(base.assign(task=task, target=SEGMENTATION_TARGET, y_true=np.nan, y_score=np.nan, dice=values))
    return pd.concat(frames, ignore_index=True)


def degrade_batch(
    clean: torch.Tensor, sample_ids: Sequence[str], condition: Condition, *, seed: int, dataset: str,
    draw: str = "",
) -> torch.Tensor:
    """The measurement of a degraded condition: ``clean`` degraded with the run's per-sample draws.

    The one place that names the draws (stage ``degrade/<dataset>/<operator>@<level>``, from
    :func:`~reconfair.seeding.sample_generators`): inference, the report's examples and the export all
    call it, so each sees the same measurement for a sample, whatever the batch.  Every reconstructor
    of one degradation level receives the same draws.  Returned as the operator gives it (the built-in
    operators clip to [0, 1]; a plug-in's measurement may leave that range).  ``draw`` (default ``""``)
    is appended to the stage, for acquisitions independent of inference's (the observers' present and
    absent images: ``/lesion-present``, ``/lesion-absent``).
    """
    if condition.is_original:
        raise ValueError("the original condition is not degraded; its images are the clean ones")
    stage = f"degrade/{dataset}/{condition.degradation}@{condition.level!r}{draw}"
    return condition.operator.degrade(clean, generator=sample_generators(seed, stage, list(sample_ids)))


def condition_images(
    clean: torch.Tensor,
    sample_ids: Sequence[str],
    condition: Condition,
    reconstructor: Any,
    *,
    seed: int,
    dataset: str,
    device: torch.device | str = "cpu",
    draw: str = "",
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(measured, reconstructed)`` of a batch under ``condition``, both on the CPU, as inference sees them.

    ``measured`` is :func:`degrade_batch`; ``reconstructed`` is :func:`reconstruct_batch` of it with the
    condition's generators (stage ``recon/<dataset>/<condition>``), in [0, 1].  For ``original`` both
    are ``clean`` (nothing is degraded or reconstructed; ``reconstructor`` is ignored).  ``draw`` is
    appended to both stages (see :func:`degrade_batch`).
    """
    if condition.is_original:
        return clean, clean
    measured = degrade_batch(clean, sample_ids, condition, seed=seed, dataset=dataset, draw=draw)
    reconstructed = reconstruct_batch(reconstructor, measured, sample_ids, seed=seed,
                                      stage=f"recon/{dataset}/{condition.name}{draw}", device=device)
    return measured, reconstructed.cpu()


def reconstruct_batch(
    reconstructor: Any,
    measured: torch.Tensor,
    sample_ids: Sequence[str],
    *,
    seed: int,
    stage: str,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """The reconstruction stage for one batch: per-sample generators, on ``device``, in [0, 1].

    Folder plug-ins (``needs_sample_ids``) also receive the batch's sample ids.
    """
    device = torch.device(device)
    options: dict[str, Any] = {"generator": sample_generators(seed, stage, sample_ids, device=device)}
    if needs_sample_ids(reconstructor):
        options["sample_ids"] = list(sample_ids)
    return reconstructor.reconstruct(measured.to(device), **options).clamp(0.0, 1.0)


def _base_columns(samples: SampleSet | LazySampleSet, condition: Condition, *, seed: int) -> pd.DataFrame:
    table = samples.table
    attributes = [c for c in table.columns if c.startswith(ATTR_PREFIX)]
    base = table[["sample_id", "patient_id", "split", *attributes]].reset_index(drop=True).copy()
    base.insert(3, "dataset", samples.name)
    base["condition"] = condition.name
    base["recon"] = condition.recon
    base["degradation"] = condition.degradation
    base["level"] = float(condition.level)
    base["mitigation"] = condition.mitigation_label
    base["seed"] = int(seed)
    return base
