"""Example cases for the report: a few test images through every stage, saved as arrays.

The report may not recompute predictions, so the run stores what figure 6
shows: for each data set a few test samples (chosen deterministically, positives
for the top target preferred) seen clean, degraded and reconstructed at the most
severe level of each degradation, with the classifier's input-gradient saliency
for the top target and, where the data set has a segmentation task, the true
and predicted masks.  Degradation and reconstruction use the same per-sample
generators as :mod:`reconfair.engine.inference`, so the images equal those
the diagnostic models saw in the run (tested: their PSNR equals the table's).
With several model replicates, the models are those of replicate 0.

Written to ``<out>/examples/<dataset>.npz`` plus ``examples/index.json``:

- ``sample_ids`` (C,), ``columns`` (K,): ``"original"``, then per degradation
  ``"<operator>@<level>/degraded"`` and the condition names at that level;
- ``images`` (C, K, H, W) float32, column 0 the clean image;
- classification: ``target`` (the top target), ``labels`` (C,), ``scores``
  (C, K) probabilities and ``saliency`` (C, K, H, W) float16 in [0, 1];
- segmentation: ``mask_true`` (C, H, W) and ``mask_pred`` (C, K, H, W) uint8.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from reconfair.config import StudyConfig
from reconfair.engine.cache import Cache
from reconfair.engine.conditions import Condition, conditions_for
from reconfair.engine.datasets import build_dataset
from reconfair.engine.inference import reconstruct_batch
from reconfair.engine.reconstruction import prepare_reconstructor
from reconfair.engine.stages import diagnostic_models
from reconfair.metrics.task import binarize
from reconfair.seeding import sample_generators

__all__ = ["write_examples", "example_conditions", "pick_cases", "N_CASES"]

N_CASES = 2
"""Test samples shown per data set."""
PHOTON_MODALITIES = ("xray", "ct")


def example_conditions(dataset_config: Any) -> list[Condition]:
    """The conditions shown as examples: every reconstructor at each degradation's most severe level.

    The one place that decides which conditions appear in figure 6 (fewest
    photons for dose operators, highest acceleration for MRI).
    """
    chosen = []
    for spec in dataset_config.degradations:
        conditions = [c for c in conditions_for([spec], dataset_config.reconstructors) if not c.is_original]
        photons = conditions[0].operator.modality in PHOTON_MODALITIES
        worst = min(c.level for c in conditions) if photons else max(c.level for c in conditions)
        chosen += [c for c in conditions if c.level == worst]
    return chosen


def pick_cases(table: Any, target: str | None, n: int = N_CASES) -> np.ndarray:
    """Row positions of ``n`` test samples, evenly spread by sample id, positives for ``target`` first.

    >>> import pandas as pd
    >>> table = pd.DataFrame({"sample_id": list("abcdef"), "split": ["test"] * 5 + ["val"],
    ...                       "label_x": [0, 1, 0, 1, 1, 1]})
    >>> pick_cases(table, "x").tolist()
    [1, 4]
    """
    test = table.reset_index(drop=True)
    test = test[test["split"] == "test"].sort_values("sample_id", kind="stable")
    if test.empty:
        return np.empty(0, dtype=np.int64)
    positive = test[f"label_{target}"].to_numpy() == 1 if target else np.zeros(len(test), dtype=bool)
    pool = test.index[positive] if positive.sum() >= n else test.index
    spread = np.unique(np.linspace(0, len(pool) - 1, min(n, len(pool))).round().astype(np.int64))
    return np.asarray(pool[spread], dtype=np.int64)


def write_examples(config: StudyConfig, cache: Cache, out_dir: str | Path, device: torch.device) -> Path:
    """Write ``out_dir/examples/<dataset>.npz`` for every data set and ``index.json``; return the folder.

    Models and reconstructors come from ``cache`` (trained by the run before);
    only a few images are degraded, reconstructed and diagnosed.  Those
    lookups go through a silent view of the cache, so they add nothing to the
    run's stage events, manifest or log.
    """
    cache = Cache(cache.root)
    folder = Path(out_dir) / "examples"
    folder.mkdir(parents=True, exist_ok=True)
    index = {}
    for dataset_config in config.datasets:
        arrays = _dataset_examples(config, dataset_config, cache, torch.device(device))
        if arrays is None:
            continue
        np.savez_compressed(folder / f"{dataset_config.name}.npz", **arrays)
        index[dataset_config.name] = {
            "file": f"{dataset_config.name}.npz",
            "sample_ids": arrays["sample_ids"].tolist(),
            "columns": arrays["columns"].tolist(),
            "target": str(arrays["target"]) if "target" in arrays else None,
            "segmentation": "mask_true" in arrays,
        }
    (folder / "index.json").write_text(json.dumps(index, indent=2), encoding="utf-8")
    return folder


def _dataset_examples(config: StudyConfig, dataset_config: Any, cache: Cache, device: torch.device
                      ) -> dict[str, np.ndarray] | None:
    samples = build_dataset(dataset_config, seed=config.seed, lazy=True)
    models, _ = diagnostic_models(samples, dataset_config, seed=config.seed, device=device, cache=cache,
                                  progress=False)
    classifier = models.get("classification")
    target = _top_target(samples.table, classifier.targets) if classifier is not None else None
    rows = pick_cases(samples.table, target)
    if rows.size == 0:
        return None
    cases = samples.subset(rows)
    clean, masks = cases.batch(0, len(cases))
    ids = cases.table["sample_id"].tolist()
    columns, images = ["original"], [clean]
    for condition in example_conditions(dataset_config):
        stage = f"degrade/{samples.name}/{condition.degradation}@{condition.level!r}"  # as in engine.inference
        measured = condition.operator.degrade(clean, generator=sample_generators(config.seed, stage, ids))
        degraded_name = f"{condition.degradation}@{condition.level:g}/degraded"
        if degraded_name not in columns:
            columns.append(degraded_name)
            images.append(measured.clamp(0.0, 1.0))
        reconstructor = _reconstructor(condition, samples, dataset_config, config, cache, device)
        recon = reconstruct_batch(reconstructor, measured, ids, seed=config.seed,
                                  stage=f"recon/{samples.name}/{condition.name}", device=device).cpu()
        columns.append(condition.name)
        images.append(recon)
    stack = torch.stack(images, dim=1)  # C x K x 1 x H x W
    flat = stack.flatten(0, 1)
    arrays: dict[str, np.ndarray] = {
        "sample_ids": np.array(ids, dtype=str),
        "columns": np.array(columns, dtype=str),
        "images": stack[:, :, 0].numpy().astype(np.float32),  # exact: the report's error maps use them
    }
    if classifier is not None:
        j = classifier.targets.index(target)
        scores = classifier.predict(flat, device=device)[:, j]
        arrays["target"] = np.array(target, dtype=str)
        arrays["labels"] = cases.table[f"label_{target}"].to_numpy(dtype=np.float32)
        arrays["scores"] = scores.reshape(stack.shape[:2]).numpy().astype(np.float32)
        arrays["saliency"] = _saliency(classifier.network, flat, j).reshape(stack.shape[:2] + flat.shape[-2:])
    segmenter = models.get("segmentation")
    if segmenter is not None and masks is not None:
        predicted = binarize(segmenter.predict(flat, device=device))
        arrays["mask_true"] = masks[:, 0].numpy().astype(np.uint8)
        arrays["mask_pred"] = np.asarray(predicted, dtype=np.uint8).reshape(stack.shape[:2] + flat.shape[-2:])
    return arrays


def _reconstructor(condition: Condition, samples: Any, dataset_config: Any, config: StudyConfig, cache: Cache,
                   device: torch.device) -> Any:
    """The condition's reconstructor, from the cache (the one place examples obtain reconstructors)."""
    return prepare_reconstructor(
        condition.entry, condition.operator, samples=samples, dataset_config=dataset_config,
        seed=config.seed, cache=cache, device=device, progress=False,
    ).reconstructor


def _top_target(table: Any, targets: tuple[str, ...]) -> str:
    """The classification target with the most positive test samples (first in model order on ties)."""
    test = table[table["split"] == "test"]
    counts = [int((test[f"label_{t}"] == 1).sum()) for t in targets]
    return targets[int(np.argmax(counts))]


def _saliency(network: torch.nn.Module, images: torch.Tensor, target: int) -> np.ndarray:
    """Input-gradient saliency |d logit_target / d image|, each map scaled to [0, 1] (float16)."""
    network = network.to("cpu").eval()
    x = images.detach().clone().float().requires_grad_(True)
    with torch.enable_grad():
        logits = network(x)[:, target]
        (gradient,) = torch.autograd.grad(logits.sum(), x)
    maps = gradient.abs()[:, 0]
    peak = maps.flatten(1).amax(1).clamp(min=1e-12)[:, None, None]
    return (maps / peak).numpy().astype(np.float16)
