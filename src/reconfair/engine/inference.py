"""Inference for one condition: degrade, reconstruct, measure quality, diagnose.

Produces the long per-sample rows (one per sample x target) that make up
``samples.parquet``.  Each sample's degradation noise comes from a generator
derived from (run seed, data set, condition, sample id), so rows do not
depend on the batch size.  Images are taken batch by batch
(:meth:`~reconfair.data.lazy.LazySampleSet.batch`), so a lazy set streams
through in bounded memory.  Degradation runs on the CPU (where the
generators live); reconstruction and diagnosis run on ``device``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from reconfair.data.lazy import LazySampleSet
from reconfair.data.sample import ATTR_PREFIX, SampleSet
from reconfair.diagnose import DiagnosticModel
from reconfair.engine.conditions import Condition
from reconfair.engine.memory import release_freed_memory
from reconfair.metrics.image import nrmse, psnr, ssim
from reconfair.metrics.task import binarize, dice
from reconfair.seeding import sample_generators

SEGMENTATION_TARGET = "tumor"


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
        images = _reconstructed(
            clean, ids, condition, reconstructor, seed=seed, dataset=samples.name, device=torch.device(device)
        )
        for name, fn in (("psnr", psnr), ("ssim", ssim), ("nrmse", nrmse)):
            values = np.full(len(ids), np.nan) if condition.is_original else fn(images, clean).double().numpy()
            quality[name].append(values)
        for task, model in models.items():
            predicted = model.predict(images, device=device)
            if task == "classification":
                scores[task].append(predicted.double().numpy())
            else:
                scores[task].append(np.asarray(dice(binarize(predicted), masks), dtype=np.float64))
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


def _reconstructed(
    clean: torch.Tensor,
    sample_ids: list[str],
    condition: Condition,
    reconstructor: Any,
    *,
    seed: int,
    dataset: str,
    device: torch.device,
) -> torch.Tensor:
    if condition.is_original:
        return clean
    stage = f"degrade/{dataset}/{condition.degradation}@{condition.level!r}"
    measured = condition.operator.degrade(clean, generator=sample_generators(seed, stage, sample_ids))
    return reconstruct_batch(
        reconstructor, measured, sample_ids, seed=seed, stage=f"recon/{dataset}/{condition.name}", device=device
    ).cpu()


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
    if getattr(reconstructor, "needs_sample_ids", False):
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
