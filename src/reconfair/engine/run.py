"""Run a whole study: data -> diagnostic models -> conditions -> table -> metrics -> report.

The run directory receives ``config.yaml`` (resolved), ``samples.parquet``,
``metrics/*.csv`` (with ``mitigation.csv`` and ``lambda_sweep.csv`` when the
study mitigates), ``examples/`` (a few images for the report),
``manifest.json`` (versions, seed, replicates, stages, skipped samples) and the report:
``report.html``, ``figures/``, ``tables/`` and ``summary.md``
(:func:`reconfair.report.write_report`, also ``reconfair report RUN_DIR``).
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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

import reconfair
from reconfair.config import StudyConfig, dump_config
from reconfair.engine.device import resolve_device
from reconfair.engine.cache import Cache, default_cache_dir
from reconfair.engine.conditions import dataset_conditions
from reconfair.engine.datasets import build_dataset
from reconfair.engine.examples import write_examples
from reconfair.engine.executors import EXECUTORS, run_remote_stages
from reconfair.engine.mitigation import write_mitigation_tables
from reconfair.engine.plan import plan_study
from reconfair.engine.stages import condition_rows, diagnostic_models
from reconfair.engine.table import canonical, write_samples
from reconfair.engine.validate import validate_study
from reconfair.metrics.evaluate import EvaluationTables
from reconfair.metrics.replicates import write_seed_summaries
from reconfair.metrics.settings import EvaluationSettings
from reconfair.metrics.uncertainty import evaluate_with_uncertainty
from reconfair.progress import console, progress_bar
from reconfair.report import write_report
from reconfair.report.summary import summary_frame


@dataclass(frozen=True)
class RunResult:
    """Where a run wrote its outputs, and the main tables."""

    out_dir: Path
    samples: pd.DataFrame
    tables: EvaluationTables
    summary: pd.DataFrame


def run_study(
    config: StudyConfig,
    out_dir: str | Path,
    *,
    progress: bool = True,
    cache_dir: str | Path | None = None,
    executor: str = "local",
    address: str | None = None,
) -> RunResult:
    """Execute ``config`` and write every output under ``out_dir``.

    ``cache_dir`` holds trained models and per-condition rows (default:
    :func:`~reconfair.engine.cache.default_cache_dir`).  ``executor="ray"``
    computes the cacheable stages as parallel Ray tasks first (at ``address``,
    default: a local instance); see :mod:`reconfair.engine.executors`.
    """
    validate_study(config)
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; expected one of: {', '.join(EXECUTORS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(dump_config(config), encoding="utf-8")
    cache = Cache(cache_dir if cache_dir is not None else default_cache_dir(out))
    cache.log_path = out / "run.log"  # one line per stage found or computed, written as it happens
    with open(cache.log_path, "a", encoding="utf-8") as log:
        log.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} run started: {config.name}, cache {cache.root}\n")
    remote_events = (
        run_remote_stages(config, cache.root, address=address, progress=progress) if executor == "ray" else []
    )
    device = resolve_device(config.device)
    with _stage_display(config, cache, enabled=progress):
        frames, condition_order, timings, skipped = _collect_rows(config, cache, device=device, progress=progress)
    samples_table = canonical(pd.concat(frames, ignore_index=True))
    write_samples(samples_table, out / "samples.parquet")
    settings = EvaluationSettings.from_config(config.evaluation, attributes=config.attributes, seed=config.seed)
    tables = evaluate_with_uncertainty(samples_table, settings)
    _log_notes(cache.log_path, tables.notes)
    write_mitigation_tables(samples_table, tables, config, cache, out / "metrics", settings=settings)
    tables.to_csv(out / "metrics")
    write_seed_summaries(tables, out / "metrics")
    write_examples(config, cache, out, device)  # a few images for the report's figure 6 (cache hits)
    summary = summary_frame(
        tables,
        attributes=config.attributes,
        condition_order=condition_order,
        dataset_order=[d.name for d in config.datasets],
    )
    # the manifest first: the report's provenance section reads it
    _write_manifest(out, config, device=device, timings=timings, cache=cache, executor=executor,
                    remote_events=remote_events, skipped=skipped, tables=tables)
    write_report(out)  # figures/, tables/, summary.md, report.html from the run directory alone
    return RunResult(out_dir=out, samples=samples_table, tables=tables, summary=summary)


def _log_notes(log_path: Path, notes: tuple[str, ...]) -> None:
    """Warnings of the evaluation (uninformative models, unreachable corrections): run.log and the console."""
    if not notes:
        return
    with open(log_path, "a", encoding="utf-8") as log:
        for note in notes:
            log.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} warning: {note}\n")
    for note in notes:
        console.print(f"[yellow]warning:[/] {note}", highlight=False, soft_wrap=True)


def _collect_rows(
    config: StudyConfig, cache: Cache, *, device: torch.device, progress: bool
) -> tuple[list[pd.DataFrame], list[str], dict[str, float], dict[str, dict]]:
    """Every condition's rows, data set by data set and model replicate by replicate (training what the cache lacks).

    Replicate ``k`` (``0 <= k < config.replicates``) trains its own
    diagnostic and reconstruction models; every replicate sees the same
    data set, splits and degraded inputs.  Also returns the timings and, per
    data set, the samples its adapter skipped (``on_missing: skip``): their
    count and ``sample_id``/``path``/``reason``.
    """
    timings: dict[str, float] = {}
    skipped: dict[str, dict] = {}
    frames, condition_order = [], []
    for dataset_config in config.datasets:
        started = time.perf_counter()
        samples = build_dataset(dataset_config, seed=config.seed, lazy=True)
        dropped = list(samples.info.get("skipped", []))
        skipped[dataset_config.name] = {"count": len(dropped), "samples": dropped}
        conditions = dataset_conditions(dataset_config, config.attributes)
        condition_order += [c.name for c in conditions if c.name not in condition_order]
        for replicate in range(config.replicates):
            models, model_keys = diagnostic_models(samples, dataset_config, seed=config.seed, device=device,
                                                   cache=cache, progress=progress, replicate=replicate)
            title = f"conditions {samples.name}" + (f" (replicate {replicate})" if config.replicates > 1 else "")
            with progress_bar(title, total=len(conditions), enabled=progress) as advance:
                for condition in conditions:
                    frames.append(
                        condition_rows(
                            samples,
                            condition,
                            models,
                            model_keys=model_keys,
                            dataset_config=dataset_config,
                            config=config,
                            cache=cache,
                            device=device,
                            progress=progress,
                            replicate=replicate,
                        )
                    )
                    advance(info=condition.name)
        timings[dataset_config.name] = time.perf_counter() - started
    return frames, condition_order, timings, skipped


@contextmanager
def _stage_display(config: StudyConfig, cache: Cache, *, enabled: bool) -> Iterator[None]:
    """A live bar over the plan's cacheable stages, advanced as each is found or computed."""
    if not enabled:
        yield
        return
    stages = [s for s in plan_study(config, cache) if s.key is not None]
    cached = sum(s.status == "cached" for s in stages)
    title = f"stages ({cached} cached, {len(stages) - cached} to compute)"
    with progress_bar(title, total=len(stages)) as advance:
        cache.on_event = lambda event: advance(info=f"{event['status']} {event['stage']}")
        try:
            yield
        finally:
            cache.on_event = None

def _write_manifest(
    out: Path,
    config: StudyConfig,
    *,
    device: torch.device,
    timings: dict[str, float],
    cache: Cache,
    executor: str,
    remote_events: list[dict[str, str]],
    skipped: dict[str, dict],
    tables: EvaluationTables,
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
        "replicates": config.replicates,
        "seconds_per_dataset": timings,
        "synthetic_data": all(d.source is None for d in config.datasets),
        "skipped_samples": skipped,
        "cache": str(cache.root),
        "executor": executor,
        "stages": cache.events,
        "remote_stages": remote_events,
        "evaluation": {"bootstrap": config.evaluation.bootstrap, "n_boot": tables.n_boot,
                       "family": config.evaluation.family, "adjust": config.evaluation.adjust,
                       "alpha": config.evaluation.alpha},
        "diagnostic_models": [] if tables.models is None else json.loads(tables.models.to_json(orient="records")),
        "notes": list(tables.notes),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    console.log(f"wrote {out}")
