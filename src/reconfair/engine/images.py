"""The ``images`` stage: each split's clean images, rendered or loaded once per data set and shared.

Every other stage reads clean images from here: the trainings their train and
val splits, each condition's inference its evaluation split (degraded afresh
per condition, with that condition's per-sample generators).  So a data set
is rendered (synthetic) or read and resized (real data) once per split, not
once per condition, and the entry (``images.npy``, ``masks.npy``) is read
through a memory map, batch by batch.

The key holds the data set's slice and, for real data, every image file of
the split by path, size and modification time (``source.fingerprint:
content`` hashes their bytes instead): editing an image in place invalidates
the split's entry and exactly the stages that read that split.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from reconfair.data.lazy import LazySampleSet
from reconfair.data.sample import SampleSet
from reconfair.engine.graph import Graph, Stage
from reconfair.engine.keys import dataset_slice

__all__ = ["ImagesKind", "SplitImages", "file_fingerprint", "images_of", "planned_table", "split_count",
           "split_inputs"]

SPLITS_PLANNED = ("train", "val", "test")


class SplitImages:
    """One split's clean images (a memory-mapped array) and masks, row ``i`` = the split's ``i``-th sample."""

    def __init__(self, sample_ids: list[str], images: np.ndarray, masks: np.ndarray | None) -> None:
        self.sample_ids = sample_ids
        self.images = images
        self.masks = masks
        self.position = {sample_id: i for i, sample_id in enumerate(sample_ids)}


def planned_table(graph_or_context: Any, index: int) -> pd.DataFrame:
    """Data set ``index``'s table (built once per plan or run)."""
    memo = graph_or_context.memo if isinstance(graph_or_context, Graph) else None
    if memo is None:
        return graph_or_context.dataset(index).table
    if ("table", index) not in memo:
        from reconfair.engine.datasets import build_dataset

        config = graph_or_context.config
        memo[("dataset", index)] = build_dataset(config.datasets[index], seed=config.seed, lazy=True)
        memo[("table", index)] = memo[("dataset", index)].table
    return memo[("table", index)]


def split_inputs(graph: Graph, index: int, splits: Any) -> dict[str, str]:
    """``{"images:<split>": ref}``: the inputs naming data set ``index``'s ``images`` stages of ``splits``."""
    return {f"images:{split}": graph.find("images", dataset=index, split=split).ref for split in splits}


def split_count(graph: Graph, index: int, splits: Any) -> int:
    """How many samples of data set ``index`` are in ``splits``."""
    return int(planned_table(graph, index)["split"].isin(list(splits)).sum())


def file_fingerprint(samples: Any, split: str, *, content: bool = False) -> str | None:
    """A hash of the split's image files (path, size, mtime; or their bytes), ``None`` for synthetic data."""
    files = samples.info.get("files") if isinstance(getattr(samples, "info", None), dict) else None
    if files is None:
        return None
    digest = hashlib.sha256()
    ids = samples.table.loc[samples.table["split"] == split, "sample_id"].tolist()
    for sample_id in ids:
        for path in files.get(sample_id, ()):
            path = Path(path)
            digest.update(str(path).encode("utf-8"))
            if content:
                digest.update(hashlib.sha256(path.read_bytes()).digest() if path.is_file() else b"missing")
            else:
                stat = path.stat() if path.exists() else None
                digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode() if stat else b"missing")
    return digest.hexdigest()


class ImagesKind:
    """Plans one ``images`` stage per data set and split; renders or loads it once."""

    name = "images"
    unit = "images"

    def plan(self, graph: Graph) -> None:
        config = graph.config
        for index, dataset_config in enumerate(config.datasets):
            table = planned_table(graph, index)
            samples = graph.memo[("dataset", index)]
            content = dataset_config.source is not None and dataset_config.source.fingerprint == "content"
            for split in SPLITS_PLANNED:
                count = int((table["split"] == split).sum())
                config_slice = {**dataset_slice(dataset_config, config.seed), "split": split}
                files = file_fingerprint(samples, split, content=content)
                if files is not None:
                    config_slice["files"] = files
                graph.add(self.name, label=f"{dataset_config.name} {split} images",
                          params={"dataset": index, "split": split}, config_slice=config_slice, estimate=count)

    def compute(self, stage: Stage, context: Any) -> SampleSet:
        samples = context.dataset(stage.params["dataset"]).split(stage.params["split"])
        return samples.materialize()

    def write(self, output: SampleSet, folder: Path) -> None:
        np.save(folder / "images.npy", output.images.numpy())
        if output.masks is not None:
            np.save(folder / "masks.npy", output.masks.numpy())
        (folder / "sample_ids.json").write_text(json.dumps(output.table["sample_id"].tolist()), encoding="utf-8")

    def load(self, stage: Stage, context: Any, folder: Path) -> SplitImages:
        ids = json.loads((folder / "sample_ids.json").read_text(encoding="utf-8"))
        expected = context.dataset(stage.params["dataset"]).split(stage.params["split"]).table["sample_id"].tolist()
        if ids != expected:
            raise ValueError(f"cache entry {folder} holds other samples than {stage.label} ({len(ids)} vs "
                             f"{len(expected)}); delete it or run `reconfair cache verify --repair`")
        masks = folder / "masks.npy"
        return SplitImages(ids, np.load(folder / "images.npy", mmap_mode="r"),
                           np.load(masks, mmap_mode="r") if masks.is_file() else None)


def images_of(context: Any, stage: Stage, *, splits: list[str] | None = None) -> LazySampleSet:
    """The data set's rows of ``splits`` (default: the stage's ``images:<split>`` inputs), in table order,
    as a lazy set whose batches are read from the ``images`` entries."""
    index = stage.params["dataset"]
    samples = context.dataset(index)
    parts: dict[str, SplitImages] = context.inputs(stage, "images")
    chosen = splits if splits is not None else sorted(parts)
    table = samples.table
    rows = np.flatnonzero(table["split"].isin(chosen).to_numpy())
    sub = table.iloc[rows].reset_index(drop=True)
    names = list(parts)
    which = np.array([names.index(s) for s in sub["split"]], dtype=np.int64)
    position = np.array([parts[s].position[i] for s, i in zip(sub["split"], sub["sample_id"])], dtype=np.int64)
    mask_dtype = next((p.masks.dtype for p in parts.values() if p.masks is not None), None)
    size = samples.image_size

    def render(picked: np.ndarray) -> tuple[torch.Tensor, torch.Tensor | None]:
        picked = np.asarray(picked, dtype=np.int64)
        images = np.empty((len(picked), 1, size, size), dtype=np.float32)
        masks = None if mask_dtype is None else np.empty((len(picked), 1, size, size), dtype=mask_dtype)
        for k, name in enumerate(names):
            chosen_rows = np.flatnonzero(which[picked] == k)
            if chosen_rows.size == 0:
                continue
            at = position[picked[chosen_rows]]
            images[chosen_rows] = parts[name].images[at]
            if masks is not None:
                masks[chosen_rows] = parts[name].masks[at]
        return torch.from_numpy(images), None if masks is None else torch.from_numpy(masks)

    return LazySampleSet(name=samples.name, table=sub, render=render, rows=np.arange(len(sub)), image_size=size,
                         info=dict(samples.info))


def materialized(context: Any, stage: Stage, split: str) -> SampleSet:
    """One split as an eager :class:`SampleSet` (training), from the stage's ``images:<split>`` input."""
    return images_of(context, stage, splits=[split]).materialize()
