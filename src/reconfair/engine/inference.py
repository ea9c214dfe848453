"""Inference for one condition: degrade, reconstruct, measure quality, diagnose.

Produces the long per-sample rows (one per sample x target) that make up
``samples.parquet``.  Each sample's degradation noise comes from a generator
derived from (run seed, data set, condition, sample id), so rows do not
depend on the batch size.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import torch

from reconfair.data.sample import ATTR_PREFIX, SampleSet
from reconfair.diagnose import DiagnosticModel
from reconfair.engine.conditions import Condition
from reconfair.metrics.image import nrmse, psnr, ssim
from reconfair.metrics.task import binarize, dice
from reconfair.seeding import sample_generators

SEGMENTATION_TARGET = "tumor"


def infer_condition(
    samples: SampleSet,
    condition: Condition,
    models: Mapping[str, DiagnosticModel],
    *,
    seed: int,
    batch_size: int = 128,
    device: torch.device | str = "cpu",
) -> pd.DataFrame:
    """Rows of the per-sample table for ``samples`` seen under ``condition``."""
    quality = {"psnr": [], "ssim": [], "nrmse": []}
    scores: dict[str, list[np.ndarray]] = {task: [] for task in models}
    for start in range(0, len(samples), batch_size):
        clean = samples.images[start : start + batch_size]
        ids = samples.table["sample_id"].iloc[start : start + batch_size].tolist()
        images = _reconstructed(clean, ids, condition, seed=seed, dataset=samples.name)
        for name, fn in (("psnr", psnr), ("ssim", ssim), ("nrmse", nrmse)):
            values = np.full(len(ids), np.nan) if condition.is_original else fn(images, clean).double().numpy()
            quality[name].append(values)
        for task, model in models.items():
            predicted = model.predict(images, device=device)
            if task == "classification":
                scores[task].append(predicted.double().numpy())
            else:
                truth = samples.masks[start : start + batch_size]
                scores[task].append(np.asarray(dice(binarize(predicted), truth), dtype=np.float64))
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
    clean: torch.Tensor, sample_ids: list[str], condition: Condition, *, seed: int, dataset: str
) -> torch.Tensor:
    if condition.is_original:
        return clean
    stage = f"degrade/{dataset}/{condition.degradation}@{condition.level!r}"
    generators = sample_generators(seed, stage, sample_ids)
    measured = condition.operator.degrade(clean, generator=generators)
    recon_generators = sample_generators(seed, f"recon/{dataset}/{condition.name}", sample_ids)
    return condition.reconstructor.reconstruct(measured, generator=recon_generators)


def _base_columns(samples: SampleSet, condition: Condition, *, seed: int) -> pd.DataFrame:
    table = samples.table
    attributes = [c for c in table.columns if c.startswith(ATTR_PREFIX)]
    base = table[["sample_id", "patient_id", "split", *attributes]].reset_index(drop=True).copy()
    base.insert(3, "dataset", samples.name)
    base["condition"] = condition.name
    base["recon"] = condition.recon
    base["degradation"] = condition.degradation
    base["level"] = float(condition.level)
    base["mitigation"] = "none"
    base["seed"] = int(seed)
    return base
