"""Run a whole study: data -> diagnostic models -> conditions -> table -> metrics -> report.

The run directory receives ``config.yaml`` (resolved), ``samples.parquet``,
``metrics/*.csv``, ``figures/*.png``, ``summary.md`` and ``manifest.json``.
Trained models (diagnostic and reconstruction) and each condition's rows live
in the content-addressed :class:`~reconfair.engine.cache.Cache` (default
``<out>/.cache``, or ``$RECONFAIR_CACHE``), so a second run with the same
settings reuses them.

Reconstructed conditions are inferred on the evaluation split only, unless
the threshold policy is ``refit`` (which needs their validation rows too);
the original images are always inferred on ``val`` and the evaluation split.
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
from reconfair.diagnose import DiagnosticModel, load_model
from reconfair.engine.cache import Cache, default_cache_dir
from reconfair.engine.conditions import Condition, conditions_for
from reconfair.engine.datasets import build_dataset
from reconfair.engine.inference import infer_condition
from reconfair.engine.keys import diagnostic_slice, inference_slice, inferred_splits
from reconfair.engine.reconstruction import prepare_reconstructor
from reconfair.engine.table import canonical, read_samples, write_samples
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


def run_study(
    config: StudyConfig, out_dir: str | Path, *, progress: bool = True, cache_dir: str | Path | None = None
) -> RunResult:
    """Execute ``config`` and write every output under ``out_dir``.

    ``cache_dir`` holds trained models and per-condition rows (default:
    :func:`~reconfair.engine.cache.default_cache_dir`).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(dump_config(config), encoding="utf-8")
    cache = Cache(cache_dir if cache_dir is not None else default_cache_dir(out))
    device = resolve_device(config.device)
    timings: dict[str, float] = {}
    frames, condition_order = [], []
    for dataset_config in config.datasets:
        started = time.perf_counter()
        samples = build_dataset(dataset_config, seed=config.seed)
        models, model_keys = _diagnostic_models(
            samples, dataset_config, seed=config.seed, device=device, cache=cache, progress=progress
        )
        conditions = conditions_for(dataset_config.degradations, dataset_config.reconstructors)
        condition_order += [c.name for c in conditions if c.name not in condition_order]
        with progress_bar(f"conditions {samples.name}", total=len(conditions), enabled=progress) as advance:
            for condition in conditions:
                frames.append(
                    _condition_rows(
                        samples,
                        condition,
                        models,
                        model_keys=model_keys,
                        dataset_config=dataset_config,
                        config=config,
                        cache=cache,
                        device=device,
                        progress=progress,
                    )
                )
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
            group_auroc=config.evaluation.bootstrap_group_auroc,
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
    _write_manifest(out, config, device=device, timings=timings, cache=cache)
    return RunResult(out_dir=out, samples=samples_table, tables=tables, summary=summary)


def _condition_rows(
    samples: SampleSet,
    condition: Condition,
    models: dict[str, DiagnosticModel],
    *,
    model_keys: dict[str, str],
    dataset_config,
    config: StudyConfig,
    cache: Cache,
    device: torch.device,
    progress: bool,
) -> pd.DataFrame:
    """The condition's per-sample rows: from the cache, or reconstruct and diagnose."""
    splits = inferred_splits(config.evaluation, condition)
    reconstructor, recon_key = None, "original"
    if not condition.is_original:
        prepared = prepare_reconstructor(
            condition.entry,
            condition.operator,
            samples=samples,
            dataset_config=dataset_config,
            seed=config.seed,
            cache=cache,
            device=device,
            progress=progress,
        )
        reconstructor, recon_key = prepared.reconstructor, prepared.key
    evaluated = samples.subset(samples.table.index[samples.table["split"].isin(splits)].to_numpy())
    _check_plugin_files(reconstructor, evaluated)
    if recon_key is None:  # plug-ins: their outputs may change outside reconfair, so never cached
        return infer_condition(evaluated, condition, models, reconstructor=reconstructor, seed=config.seed, device=device)
    config_slice = inference_slice(
        dataset_config, config.seed, condition=condition, reconstructor_key=recon_key, model_keys=model_keys,
        splits=splits,
    )
    key = cache.key("inference", config_slice)
    found = cache.lookup("inference", key)
    if found is None:
        rows = infer_condition(evaluated, condition, models, reconstructor=reconstructor, seed=config.seed, device=device)
        found = cache.store("inference", key, lambda tmp: write_samples(rows, tmp / "rows.parquet"), config_slice=config_slice)
    return read_samples(found / "rows.parquet")


def _check_plugin_files(reconstructor, evaluated: SampleSet) -> None:
    """Fail before any inference when a folder plug-in lacks files for some samples."""
    missing = getattr(reconstructor, "missing", None)
    if missing is None:
        return
    absent = missing(evaluated.table["sample_id"].tolist())
    if absent:
        shown = ", ".join(absent[:5]) + (" ..." if len(absent) > 5 else "")
        raise ValueError(
            f"reconstructor {reconstructor.name!r}: {len(absent)} of {len(evaluated)} samples have no file in "
            f"{reconstructor.folder} (e.g. {shown}); write one <sample_id>.npy/.png/.nii.gz per sample"
        )


def _diagnostic_models(
    samples: SampleSet, dataset_config, *, seed: int, device: torch.device, cache: Cache, progress: bool
) -> tuple[dict[str, DiagnosticModel], dict[str, str]]:
    """One trained diagnostic model per task (from the cache when trained before), and cache keys."""
    train, val = samples.split("train"), samples.split("val")
    models, keys = {}, {}
    for task in dataset_config.tasks:
        config_slice = diagnostic_slice(dataset_config, task, seed)
        key = keys[task.kind] = cache.key("diagnostic", config_slice)
        found = cache.lookup("diagnostic", key)
        if found is not None:
            models[task.kind] = load_model(found / "model")
            continue
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
        cache.store("diagnostic", key, lambda tmp, m=model: m.save(tmp / "model"), config_slice=config_slice)
        models[task.kind] = model
    return models, keys


def _write_manifest(
    out: Path, config: StudyConfig, *, device: torch.device, timings: dict[str, float], cache: Cache
) -> None:
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
        "cache": str(cache.root),
        "stages": cache.events,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    console.log(f"wrote {out}")
