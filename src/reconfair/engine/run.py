"""Run a whole study: data -> diagnostic models -> conditions -> table -> metrics -> report.

The run directory receives ``config.yaml`` (resolved), ``models/``,
``samples.parquet``, ``metrics/*.csv``, ``figures/*.png``, ``summary.md`` and
``manifest.json``.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

import reconfair
from reconfair.config import StudyConfig, dump_config
from reconfair.data.sample import SampleSet
from reconfair.device import resolve_device
from reconfair.diagnose import DiagnosticModel
from reconfair.engine.conditions import conditions_for
from reconfair.engine.datasets import build_dataset
from reconfair.engine.inference import infer_condition
from reconfair.engine.table import canonical, write_samples
from reconfair.metrics.aggregate import aggregate_patients
from reconfair.metrics.evaluate import EvaluationTables, evaluate
from reconfair.metrics.replicates import write_seed_summaries
from reconfair.metrics.uncertainty import attach_uncertainty, bootstrap_deltas
from reconfair.progress import console, progress_bar
from reconfair.report.figures import plot_quality_and_task
from reconfair.report.summary import summary_frame, write_summary


@dataclass(frozen=True)
class RunResult:
    """Where a run wrote its outputs, and the main tables."""

    out_dir: Path
    samples: pd.DataFrame
    tables: EvaluationTables
    summary: pd.DataFrame


def run_study(config: StudyConfig, out_dir: str | Path, *, progress: bool = True) -> RunResult:
    """Execute ``config`` and write every output under ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(dump_config(config), encoding="utf-8")
    device = resolve_device(config.device)
    timings: dict[str, float] = {}
    frames, condition_order = [], []
    for dataset_config in config.datasets:
        started = time.perf_counter()
        samples = build_dataset(dataset_config, seed=config.seed)
        models = _train_models(samples, dataset_config, seed=config.seed, device=device, out=out, progress=progress)
        evaluated = samples.subset(samples.table.index[samples.table["split"].isin(["val", "test"])].to_numpy())
        conditions = conditions_for(dataset_config.degradations, dataset_config.reconstructors)
        condition_order += [c.name for c in conditions if c.name not in condition_order]
        with progress_bar(f"infer {samples.name}", total=len(conditions), enabled=progress) as advance:
            for condition in conditions:
                frames.append(infer_condition(evaluated, condition, models, seed=config.seed, device=device))
                advance(info=condition.name)
        timings[dataset_config.name] = time.perf_counter() - started
    samples_table = canonical(pd.concat(frames, ignore_index=True))
    write_samples(samples_table, out / "samples.parquet")
    evaluated_rows = aggregate_patients(samples_table) if config.evaluation.patient_level else samples_table
    tables = evaluate(
        evaluated_rows,
        attributes=config.attributes,
        min_group_size=config.evaluation.min_group_size,
        split=config.evaluation.split,
        threshold=config.evaluation.threshold,
    )
    if config.evaluation.bootstrap > 0:
        boot = bootstrap_deltas(
            evaluated_rows,
            attributes=config.attributes,
            min_group_size=config.evaluation.min_group_size,
            split=config.evaluation.split,
            threshold=config.evaluation.threshold,
            n_boot=config.evaluation.bootstrap,
            seed=config.seed,
            adjust=config.evaluation.adjust,
        )
        tables = attach_uncertainty(tables, boot)
    tables.to_csv(out / "metrics")
    write_seed_summaries(tables, out / "metrics")
    for dataset_config in config.datasets:
        plot_quality_and_task(tables.performance, dataset=dataset_config.name, out_dir=out / "figures")
    summary = summary_frame(
        tables,
        attributes=config.attributes,
        condition_order=condition_order,
        dataset_order=[d.name for d in config.datasets],
    )
    write_summary(summary, out / "summary.md", synthetic=True)
    _write_manifest(out, config, device=device, timings=timings)
    return RunResult(out_dir=out, samples=samples_table, tables=tables, summary=summary)


def _train_models(
    samples: SampleSet, dataset_config, *, seed: int, device: torch.device, out: Path, progress: bool
) -> dict[str, DiagnosticModel]:
    train, val = samples.split("train"), samples.split("val")
    models = {}
    for task in dataset_config.tasks:
        targets = samples.label_names if task.kind == "classification" else ("tumor",)
        seed_parts = (seed, samples.name, task.kind)
        model = DiagnosticModel(
            kind=task.kind,
            targets=targets,
            preset=task.model.preset,
            image_size=dataset_config.image_size,
            seed_parts=seed_parts,
        )
        model.fit(
            train,
            val,
            epochs=task.model.epochs,
            batch_size=task.model.batch_size,
            learning_rate=task.model.learning_rate,
            patience=task.model.patience,
            seed_parts=seed_parts,
            device=device,
            progress=progress,
        )
        model.save(out / "models" / f"{samples.name}-{task.kind}")
        models[task.kind] = model
    return models


def _write_manifest(out: Path, config: StudyConfig, *, device: torch.device, timings: dict[str, float]) -> None:
    import monai
    import numpy

    manifest = {
        "reconfair": reconfair.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "monai": monai.__version__,
        "numpy": numpy.__version__,
        "pandas": pd.__version__,
        "device": str(device),
        "seed": config.seed,
        "seconds_per_dataset": timings,
        "synthetic_data": True,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    console.log(f"wrote {out}")
