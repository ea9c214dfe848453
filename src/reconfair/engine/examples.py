"""Example cases for the report: a few test images through every stage, saved as arrays.

The report may not recompute predictions, so the run stores what figure 6
shows: for each data set a few test samples (chosen deterministically, positives
for the top target preferred) seen clean, degraded and reconstructed at the most
severe level of each degradation, with the classifier's saliency for the top
target (Grad-CAM at the last convolution, or input gradients:
:mod:`reconfair.diagnose.saliency`) and, where the data set has a
segmentation task, the true and predicted masks.  Degradation and
reconstruction use the same per-sample generators as
:mod:`reconfair.engine.inference`, so the images equal those the diagnostic
models saw in the run (tested: their PSNR equals the table's).
With several model replicates, the models are those of replicate 0.

This is the ``examples`` stage: its inputs are the test split's images, the
diagnostic models and the reconstructors it shows; it is cached unless one
of those is a plug-in or a user checkpoint.  It is planned only when
``report.examples`` resolves to true (:func:`reconfair.config.report.resolve_report`:
by default for synthetic data only).

Written to ``<out>/examples/<dataset>.npz`` plus ``examples/index.json``:

- ``sample_ids`` (C,), ``columns`` (K,): ``"original"``, then per degradation
  ``"<operator>@<level>/degraded"`` and the condition names at that level;
- ``images`` (C, K, H, W) float32, column 0 the clean image;
- classification: ``target`` (the top target), ``labels`` (C,), ``scores``
  (C, K) probabilities, ``saliency_method`` (how the maps were made) and ``saliency``
  (C, K, H, W) float16 in [0, 1] (absent for an ONNX model);
- segmentation: ``mask_true`` (C, H, W) and ``mask_pred`` (C, K, H, W) uint8.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from reconfair.config.report import resolve_report
from reconfair.diagnose import saliency_maps
from reconfair.engine.diagnostic import model_ref
from reconfair.engine.graph import Graph, Stage
from reconfair.engine.images import split_inputs
from reconfair.engine.inference import condition_images
from reconfair.metrics.task import binarize
from reconfair.vocabulary import ORIGINAL, condition_name

__all__ = ["ExamplesKind", "example_conditions", "pick_cases", "N_CASES"]

N_CASES = 2
"""Test samples shown per data set."""
PHOTON_MODALITIES = ("xray", "ct")


def example_conditions(conditions: list[Any]) -> list[Any]:
    """The conditions shown as examples: every unmitigated reconstruction at each degradation's most severe level.

    The one place that decides which conditions appear in figure 6 (fewest
    photons for dose operators, highest acceleration for MRI).  ``conditions``
    are a data set's, as planned.
    """
    chosen = []
    shown = [c for c in conditions if not c.is_original and c.mitigation is None]
    for degradation in dict.fromkeys(c.degradation for c in shown):
        of_kind = [c for c in shown if c.degradation == degradation]
        photons = of_kind[0].operator.modality in PHOTON_MODALITIES
        worst = min(c.level for c in of_kind) if photons else max(c.level for c in of_kind)
        chosen += [c for c in of_kind if c.level == worst]
    return chosen


class ExamplesKind:
    """Plans the ``examples`` stage (replicate 0's models); computes the arrays of every data set."""

    name = "examples"
    unit = ""

    def plan(self, graph: Graph) -> None:
        config = graph.config
        if not resolve_report(config.report, real_data=any(d.source is not None for d in config.datasets)).examples:
            return  # report.examples false (the default with real data): no patient images leave the run
        inputs: dict[str, str] = {}
        cacheable = True
        for index, dataset_config in enumerate(config.datasets):
            inputs[f"images:{index}"] = split_inputs(graph, index, ["test"])["images:test"]
            for task in dataset_config.diagnostic_tasks:
                inputs[f"model:{index}:{task.kind}"] = model_ref(graph, index, 0, task.kind)
            for condition in example_conditions(graph.memo["conditions"][index]):
                if condition.trains_reconstructor:
                    inputs[f"recon:{index}:{condition.name}"] = graph.find(
                        "reconstructor", dataset=index, replicate=0, condition=condition.name).ref
                cacheable &= condition.cacheable
        graph.add(self.name, label="examples for the report", params={},
                  config_slice={"seed": config.seed, "cases": N_CASES, "saliency": "grad-cam"} if cacheable else None,
                  inputs=inputs)

    def compute(self, stage: Stage, context: Any) -> dict[str, dict[str, np.ndarray]]:
        out = {}
        for index, dataset_config in enumerate(context.config.datasets):
            arrays = _dataset_examples(context, stage, index)
            if arrays is not None:
                out[dataset_config.name] = arrays
        return out

    def write(self, output: dict[str, dict[str, np.ndarray]], folder: Path) -> None:
        write_example_files(output, folder)

    def load(self, stage: Stage, context: Any, folder: Path) -> dict[str, dict[str, np.ndarray]]:
        index = json.loads((folder / "index.json").read_text(encoding="utf-8"))
        out = {}
        for name, facts in index.items():
            with np.load(folder / facts["file"]) as data:
                out[name] = {key: data[key] for key in data.files}
        return out


def write_example_files(examples: dict[str, dict[str, np.ndarray]], folder: Path) -> Path:
    """``<dataset>.npz`` per data set and ``index.json`` in ``folder`` (created)."""
    folder.mkdir(parents=True, exist_ok=True)
    index = {}
    for name, arrays in examples.items():
        np.savez_compressed(folder / f"{name}.npz", **arrays)
        index[name] = {
            "file": f"{name}.npz",
            "sample_ids": arrays["sample_ids"].tolist(),
            "columns": arrays["columns"].tolist(),
            "target": str(arrays["target"]) if "target" in arrays else None,
            "segmentation": "mask_true" in arrays,
        }
    (folder / "index.json").write_text(json.dumps(index, indent=2), encoding="utf-8")
    return folder


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


def _dataset_examples(context: Any, stage: Stage, index: int) -> dict[str, np.ndarray] | None:
    from reconfair.engine.images import images_of
    from reconfair.engine.reconstruction import build_reconstructor

    config, device = context.config, context.device
    samples = context.dataset(index)
    models = {role.split(":")[2]: context.output(ref) for role, ref in stage.inputs.items()
              if role.startswith(f"model:{index}:")}
    classifier = models.get("classification")
    target = _top_target(samples.table, classifier.targets) if classifier is not None else None
    rows = pick_cases(samples.table, target)
    if rows.size == 0:
        return None
    test = images_of(context, _one_input(stage, f"images:{index}", "images:test"), splits=["test"])
    position = {sample_id: i for i, sample_id in enumerate(test.table["sample_id"])}
    cases = test.subset([position[s] for s in samples.table["sample_id"].iloc[rows]])
    clean, masks = cases.batch(0, len(cases))
    ids = cases.table["sample_id"].tolist()
    columns, images = [ORIGINAL], [clean]
    for condition in example_conditions(context.graph_conditions[index]):
        role = f"recon:{index}:{condition.name}"
        reconstructor = (context.output(stage.inputs[role]) if role in stage.inputs
                         else build_reconstructor(condition.entry, condition.operator, dataset=samples.name))
        measured, recon = condition_images(clean, ids, condition, reconstructor, seed=config.seed,
                                           dataset=samples.name, device=device)  # the draws inference used
        degraded_name = condition_name(condition.degradation, condition.level, "degraded")
        if degraded_name not in columns:
            columns.append(degraded_name)
            images.append(measured.clamp(0.0, 1.0))
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
        maps, method = saliency_maps(classifier.network, flat, j, layer=_saliency_layer(classifier))
        arrays["saliency_method"] = np.array(method, dtype=str)
        if maps is not None:
            arrays["saliency"] = maps.reshape(stack.shape[:2] + flat.shape[-2:])
    segmenter = models.get("segmentation")
    if segmenter is not None and masks is not None:
        predicted = binarize(segmenter.predict(flat, device=device), segmenter.threshold)
        arrays["mask_true"] = masks[:, 0].numpy().astype(np.uint8)
        arrays["mask_pred"] = np.asarray(predicted, dtype=np.uint8).reshape(stack.shape[:2] + flat.shape[-2:])
    return arrays


def _one_input(stage: Stage, role: str, as_role: str) -> Stage:
    """A view of ``stage`` whose only input is ``role``, renamed ``as_role`` (for :func:`images_of`)."""
    from dataclasses import replace

    index = int(role.split(":")[1])
    return replace(stage, inputs={as_role: stage.inputs[role]}, params={**stage.params, "dataset": index})


def _top_target(table: Any, targets: tuple[str, ...]) -> str:
    """The classification target with the most positive test samples (first in model order on ties)."""
    test = table[table["split"] == "test"]
    counts = [int((test[f"label_{t}"] == 1).sum()) for t in targets]
    return targets[int(np.argmax(counts))]


def _saliency_layer(model: Any) -> str | None:
    """The Grad-CAM layer a supplied model names (``model.saliency_layer``); trained models: the last convolution."""
    config = getattr(model, "config", None)
    return getattr(config, "saliency_layer", None)
