"""The ``export`` stage and ``reconfair export``: each condition's model inputs and reconstructions as files.

A study with an ``export:`` block (:class:`~reconfair.config.ExportConfig`)
plans one ``export`` stage after the report; it writes into the run
directory, ``<out>/export/``, and is never cached.  ``reconfair export RUN_DIR
--out DIR`` (:func:`export_run`) does the same for a finished run, from its
``config.yaml`` and the cache its ``manifest.json`` names, reusing the run's
trained reconstructors.  Layout (``docs/export.md``)::

    DIR/index.csv
    DIR/<dataset>/inputs/<operator>@<level>/<sample_id>.<ext>
    DIR/<dataset>/reconstructions/original/<sample_id>.<ext>
    DIR/<dataset>/reconstructions/<operator>@<level>/<recon>[+<mitigation>]/<sample_id>.<ext>

Inputs are the measurements inference hands the reconstructors, drawn with
the run's per-sample generators (:func:`~reconfair.engine.inference.degrade_batch`),
so a reconstruction of them made elsewhere and read back by a ``folder``
reconstructor is paired with the run's own conditions.  Every folder of
files is itself a valid ``folder:`` reconstructor.  Reconstructions are those
of model replicate 0.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from reconfair.data.sample import ATTR_PREFIX, LABEL_PREFIX
from reconfair.engine.conditions import Condition
from reconfair.engine.graph import Graph, Stage
from reconfair.engine.images import images_of, split_count
from reconfair.engine.inference import check_plugin_files, condition_images, degrade_batch
from reconfair.engine.keys import inferred_splits
from reconfair.engine.memory import release_freed_memory
from reconfair.progress import console, progress_bar
from reconfair.recon.plugins import EXTENSIONS
from reconfair.vocabulary import ORIGINAL

__all__ = ["EXPORT_STAGE", "FORMAT_EXTENSIONS", "INDEX_COLUMNS", "INDEX_FILE", "ExportKind", "export_folders",
           "export_run", "export_splits", "exported_conditions", "write_export", "write_image"]

EXPORT_STAGE = "export"
INDEX_FILE = "index.csv"
FORMAT_EXTENSIONS = {"npy": ".npy", "png": ".png", "nifti": ".nii.gz"}
"""The file extension of each export format (all read back by :class:`~reconfair.recon.plugins.FolderReconstructor`)."""
INDEX_COLUMNS = ("sample_id", "patient_id", "split", "dataset", "condition", "kind", "path")
"""The first columns of ``index.csv``; the data sets' ``attr_*`` and ``label_*`` columns follow."""
BATCH_SIZE = 128


def exported_conditions(conditions: list[Condition], export: Any) -> list[Condition]:
    """The conditions of one data set that ``export`` selects (all when ``export.conditions`` is ``None``)."""
    if export.conditions is None:
        return list(conditions)
    return [c for c in conditions if c.name in export.conditions]


def export_splits(config: Any, condition: Condition) -> list[str]:
    """The splits exported for ``condition``: ``export.splits``, else those inference reads for it."""
    if config.export.splits is not None:
        return [s for s in ("train", "val", "test") if s in config.export.splits]
    return inferred_splits(config.evaluation, condition)


def export_folders(dataset: str, condition: Condition) -> tuple[PurePosixPath | None, PurePosixPath]:
    """``(inputs, reconstructions)`` folders of ``condition`` relative to the export folder (``None``: no inputs).

    Each part of a name keeps letters, digits and ``. _ @ + -``; any other character (the ``:`` of a
    plug-in operator or of ``eodd:0.316``) becomes ``_``.

    >>> from reconfair.config import DegradationConfig, ReconstructorConfig
    >>> from reconfair.engine.conditions import conditions_for
    >>> original, unet = conditions_for([DegradationConfig(operator="radiograph-lowdose", levels=(3000,))],
    ...                                 [ReconstructorConfig(name="unet")])
    >>> [str(p) for p in export_folders("chest", unet)]
    ['chest/inputs/radiograph-lowdose@3000', 'chest/reconstructions/radiograph-lowdose@3000/unet']
    >>> export_folders("chest", original)[1].as_posix()
    'chest/reconstructions/original'
    """
    if condition.is_original:
        return None, PurePosixPath(dataset, "reconstructions", ORIGINAL)
    head, _, recon = condition.name.partition("/")
    return (PurePosixPath(dataset, "inputs", _safe(head)),
            PurePosixPath(dataset, "reconstructions", _safe(head), _safe(recon)))


def _safe(part: str) -> str:
    return re.sub(r"[^A-Za-z0-9._@+-]", "_", part)


def write_image(path: Path, image: np.ndarray, fmt: str) -> None:
    """Write one H x W image as ``npy`` (float32, exact), ``png`` (16-bit grey, clipped to [0, 1]) or ``nifti``.

    Any file of the same sample in another format is removed, so the folder stays readable by a
    ``folder`` reconstructor (which refuses two files for one sample).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    stem = path.name.removesuffix(FORMAT_EXTENSIONS[fmt])
    for other in EXTENSIONS:
        sibling = path.with_name(stem + other)
        if sibling != path and sibling.is_file():
            sibling.unlink()
    image = np.asarray(image, dtype=np.float32)
    if fmt == "npy":
        np.save(path, image)
    elif fmt == "png":
        from PIL import Image

        Image.fromarray(np.round(np.clip(image, 0.0, 1.0) * 65535.0).astype(np.uint16)).save(path)
    elif fmt == "nifti":
        import nibabel as nib

        nib.save(nib.Nifti1Image(image, np.eye(4)), path)
    else:
        raise ValueError(f"unknown export format {fmt!r}; expected one of: {', '.join(FORMAT_EXTENSIONS)}")


class ExportKind:
    """Plans the ``export`` stage when the study has an ``export:`` block; writes ``<out>/export/``."""

    name = EXPORT_STAGE
    unit = "images"

    def plan(self, graph: Graph) -> None:
        from reconfair.engine.mitigation import MITIGATION_STAGE
        from reconfair.engine.reconstruction import RECON_STAGE

        config = graph.config
        if config.export is None:
            return
        inputs: dict[str, str] = {}
        estimate = 0
        for index in range(len(config.datasets)):
            for condition in exported_conditions(graph.memo["conditions"][index], config.export):
                splits = export_splits(config, condition)
                for split in splits:
                    inputs[f"images:{index}:{split}"] = graph.find("images", dataset=index, split=split).ref
                estimate += split_count(graph, index, splits)
                if config.export.reconstructions and condition.trains_reconstructor:
                    kind = RECON_STAGE if condition.mitigation is None else MITIGATION_STAGE
                    inputs[f"recon:{index}:{condition.name}"] = graph.find(kind, dataset=index, replicate=0,
                                                                           condition=condition.name).ref
        graph.add(self.name, label="export images", params={}, config_slice=None, inputs=inputs, estimate=estimate)

    def compute(self, stage: Stage, context: Any) -> pd.DataFrame:
        if context.out_dir is None:
            raise ValueError("the export stage writes into a run directory; call write_export(context, stage, "
                             "folder) to export elsewhere")
        return write_export(context, stage, Path(context.out_dir) / "export")

    def write(self, output: Any, folder: Path) -> None:
        raise TypeError("the export stage writes files into a folder and is never cached (its key is None)")

    def load(self, stage: Stage, context: Any, folder: Path) -> Any:
        raise TypeError("the export stage is never cached: it has no entry to load")


@dataclass(frozen=True)
class _Job:
    """One condition of one data set to export: its samples, its folders, whether its inputs are due."""

    index: int
    condition: Condition
    samples: Any
    inputs: PurePosixPath | None
    """Where its inputs are (``None``: not exported)."""
    reconstructions: PurePosixPath | None
    """Where its reconstructions go (``None``: not exported)."""
    write_inputs: bool
    """Whether this job writes the inputs (the first condition of its level does)."""


def write_export(context: Any, stage: Stage, folder: str | Path) -> pd.DataFrame:
    """Write the images ``context.config.export`` selects into ``folder``, and ``index.csv``; return the index.

    ``stage`` is the plan's ``export`` stage (its inputs: the images and the trained reconstructors).
    """
    config, export = context.config, context.config.export
    if export is None:
        raise ValueError("the study has no export block; add export: {} to its config")
    folder = Path(folder)
    extension = FORMAT_EXTENSIONS[export.format]
    jobs = _jobs(context, stage)
    total = sum(len(job.samples) * (job.write_inputs + (job.reconstructions is not None)) for job in jobs)
    frames = []
    with progress_bar(f"export images to {folder}", total=total, enabled=context.progress) as advance:
        for job in jobs:
            condition, samples = job.condition, job.samples
            reconstructor = _reconstructor(context, stage, job.index, condition) if job.reconstructions else None
            if reconstructor is not None:
                check_plugin_files(reconstructor, samples)
            due = job.write_inputs or job.reconstructions is not None
            for start in range(0, len(samples) if due else 0, BATCH_SIZE):
                release_freed_memory()  # as inference: resident memory stays bounded whatever the data set's size
                clean, _ = samples.batch(start, start + BATCH_SIZE)
                ids = samples.table["sample_id"].iloc[start:start + BATCH_SIZE].tolist()
                if job.reconstructions is not None:
                    measured, images = condition_images(clean, ids, condition, reconstructor, seed=config.seed,
                                                        dataset=samples.name, device=context.device)
                else:
                    measured = degrade_batch(clean, ids, condition, seed=config.seed, dataset=samples.name)
                for i, sample_id in enumerate(ids):
                    if job.write_inputs:
                        write_image(_file(folder, job.inputs, sample_id, extension), measured[i, 0].numpy(),
                                    export.format)
                    if job.reconstructions is not None:
                        write_image(_file(folder, job.reconstructions, sample_id, extension), images[i, 0].numpy(),
                                    export.format)
                advance(len(ids) * (job.write_inputs + (job.reconstructions is not None)), info=condition.name)
            kinds = (("input", job.inputs), ("reconstruction", job.reconstructions))
            frames += [_index_rows(samples, condition, kind, where, extension) for kind, where in kinds
                       if where is not None]
    index = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(INDEX_COLUMNS))
    folder.mkdir(parents=True, exist_ok=True)
    index.to_csv(folder / INDEX_FILE, index=False)
    return index


def _jobs(context: Any, stage: Stage) -> list[_Job]:
    """Every exported condition of every data set, in the study's order; a level's inputs are written once."""
    config, export = context.config, context.config.export
    jobs, written = [], set()
    for index, dataset_config in enumerate(config.datasets):
        for condition in exported_conditions(context.graph_conditions[index], export):
            splits = export_splits(config, condition)
            view = replace(stage, params={"dataset": index},
                           inputs={f"images:{s}": stage.inputs[f"images:{index}:{s}"] for s in splits})
            inputs, reconstructions = export_folders(dataset_config.name, condition)
            inputs = inputs if export.inputs else None
            first = inputs is not None and (inputs, tuple(splits)) not in written
            written.add((inputs, tuple(splits)))
            jobs.append(_Job(index, condition, images_of(context, view), inputs,
                             reconstructions if export.reconstructions else None, first))
    return jobs


def _reconstructor(context: Any, stage: Stage, index: int, condition: Condition) -> Any:
    """The condition's reconstructor: the run's trained model (an input of the stage), else built here."""
    from reconfair.engine.reconstruction import build_reconstructor

    if condition.is_original:
        return None
    role = f"recon:{index}:{condition.name}"
    if role in stage.inputs:
        return context.output(stage.inputs[role])
    return build_reconstructor(condition.entry, condition.operator, dataset=context.dataset(index).name)


def _file(root: Path, folder: PurePosixPath, sample_id: str, extension: str) -> Path:
    """``root/folder/<sample_id><extension>``, as a ``folder`` reconstructor looks it up (``/`` in an id nests)."""
    relative = PurePosixPath(f"{sample_id}{extension}")
    if relative.is_absolute() or ".." in relative.parts or not sample_id:
        raise ValueError(f"sample id {sample_id!r} cannot name a file inside the export folder; expected a "
                         "relative name without '..'")
    return root / folder / relative


def _index_rows(samples: Any, condition: Condition, kind: str, folder: PurePosixPath, extension: str) -> pd.DataFrame:
    table = samples.table.reset_index(drop=True)
    extra = [c for c in table.columns if c.startswith((ATTR_PREFIX, LABEL_PREFIX))]
    rows = table[["sample_id", "patient_id", "split"]].copy()
    rows["dataset"] = samples.name
    rows["condition"] = condition.name
    rows["kind"] = kind
    rows["path"] = [(folder / f"{sample_id}{extension}").as_posix() for sample_id in table["sample_id"]]
    return pd.concat([rows, table[extra]], axis=1)


def export_run(run_dir: str | Path, out: str | Path, *, options: Mapping[str, Any] | None = None,
               cache_dir: str | Path | None = None, progress: bool = True) -> pd.DataFrame:
    """Export a finished run's images into ``out`` (``reconfair export RUN_DIR --out DIR``); return the index.

    Reads ``RUN_DIR/config.yaml`` and the cache named in ``RUN_DIR/manifest.json`` (or ``cache_dir``);
    ``options`` (``inputs``, ``reconstructions``, ``format``, ``conditions``, ``splits``; ``None`` values
    ignored) override the config's ``export:`` block.  The run's trained reconstructors are loaded from
    the cache; a stage the cache lacks is computed, and said so.
    """
    from reconfair.config import read_config
    from reconfair.engine.run import find_stage, stage_context
    from reconfair.engine.validate import parse_study

    run_dir = Path(run_dir)
    config_path = run_dir / "config.yaml"
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir}: no such run directory; pass the --out folder of a `reconfair run`")
    if not config_path.is_file():
        raise FileNotFoundError(f"{config_path}: no such file; expected a run directory that `reconfair run` "
                                "wrote (with config.yaml and manifest.json)")
    root = Path(cache_dir) if cache_dir is not None else _manifest_cache(run_dir)
    data = read_config(config_path)
    if isinstance(data, dict):
        given = {key: value for key, value in (options or {}).items() if value is not None}
        data = {**data, "export": {**(data.get("export") or {}), **given}}
    study = parse_study(data, source=str(config_path), base_dir=run_dir)
    plan, context = stage_context(study, root, device=study.device, progress=progress)
    stage = find_stage(plan, EXPORT_STAGE)
    missing = _pending_inputs(plan, stage)
    if missing:
        console.print(f"[yellow]warning:[/] the cache {root} lacks {len(missing)} stage(s) the export needs "
                      f"({', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}); computing them now",
                      highlight=False, soft_wrap=True)
    return context.timed(stage, lambda: write_export(context, stage, Path(out)))


def _manifest_cache(run_dir: Path) -> Path:
    manifest = run_dir / "manifest.json"
    if not manifest.is_file():
        raise FileNotFoundError(f"{manifest}: no such file; a run writes it when it finishes (run the same "
                                "`reconfair run` command again to finish it), or name the run's cache with --cache DIR")
    try:
        root = Path(json.loads(manifest.read_text(encoding="utf-8"))["cache"])
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{manifest}: no readable 'cache' entry ({error!r}); name the run's cache with "
                         "--cache DIR") from None
    if not root.is_dir():
        raise FileNotFoundError(f"{manifest}: its cache {root} does not exist; name the run's cache with --cache DIR")
    return root


def _pending_inputs(plan: Any, stage: Stage) -> list[str]:
    """Labels of the cacheable stages ``stage`` needs, directly or not, that the cache lacks."""
    seen, todo, pending = set(), list(stage.depends_on), []
    while todo:
        ref = todo.pop()
        if ref in seen:
            continue
        seen.add(ref)
        needed = plan.get(ref)
        if needed.status == "pending":
            pending.append(needed.label)
        todo += list(needed.depends_on)
    return sorted(pending)

