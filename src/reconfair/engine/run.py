"""Run a whole study: plan its stage graph, execute it, and write the run directory.

The run directory receives ``config.yaml`` (resolved), ``samples.parquet``,
``metrics/*.csv`` (with ``mitigation.csv`` and ``lambda_sweep.csv`` when the
study mitigates), ``examples/`` (a few images for the report, when
``report.examples``), ``manifest.json`` (versions, seed, replicates, threads,
stages and seconds per stage kind, skipped samples, each supplied model's
file hash or factory version) and the report: ``report.html``, ``figures/``,
``tables/`` and ``summary.md`` (:func:`reconfair.report.write_report`, also
``reconfair report RUN_DIR``).  Every stage's output lives in the
content-addressed :class:`~reconfair.engine.cache.Cache` (default
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
from reconfair.engine.cache import Cache, default_cache_dir
from reconfair.engine.context import RunContext, study_threads
from reconfair.engine.device import resolve_device
from reconfair.engine.executors import EXECUTORS, run_remote_stages
from reconfair.engine.graph import Stage, recorded_seconds, run_local
from reconfair.engine.plan import Plan, plan_study
from reconfair.engine.validate import validate_study
from reconfair.metrics.evaluate import EvaluationTables
from reconfair.progress import console, progress_bar
from reconfair.report.summary import summary_frame

__all__ = ["RunResult", "find_stage", "run_study", "stage_context", "stage_output"]


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

    ``cache_dir`` holds every stage's output (default:
    :func:`~reconfair.engine.cache.default_cache_dir`).  ``executor="ray"``
    computes the cacheable stages as Ray tasks, each started as soon as its
    inputs exist (at ``address``, default: a local instance); see
    :mod:`reconfair.engine.executors`.  Either way the stages run with
    ``config.threads`` torch threads, so the tables are the same.
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
    plan = plan_study(config, cache)
    remote_events = (
        run_remote_stages(config, plan, cache.root, address=address, progress=progress) if executor == "ray" else []
    )
    device = resolve_device(config.device)
    from reconfair.engine.kinds import KINDS

    context = RunContext(config, cache, list(plan), kinds=KINDS, device=device, progress=progress, out_dir=out,
                         conditions=plan.conditions)
    started = time.perf_counter()
    context.on_notes = lambda notes: _log_notes(cache.log_path, notes)
    context.on_manifest = lambda tables: _write_manifest(
        out, config, device=device, context=context, plan=plan, executor=executor, remote_events=remote_events,
        tables=tables, seconds=time.perf_counter() - started)
    with _stage_display(plan, cache, enabled=progress):
        run_local(plan, context)
    evaluate = next(s for s in plan if s.stage == "evaluate")
    samples_table, tables = context.output(evaluate.ref)
    summary = summary_frame(
        tables,
        attributes=config.attributes,
        condition_order=list(dict.fromkeys(c.name for conditions in plan.conditions.values() for c in conditions)),
        dataset_order=[d.name for d in config.datasets],
    )
    return RunResult(out_dir=out, samples=samples_table, tables=tables, summary=summary)


def find_stage(plan: Plan, kind: str, **params: object) -> Stage:
    """The stage of ``kind`` in ``plan`` whose params match (``dataset`` index, ``replicate``, ``condition`` name,
    ``split``, ``task``); ``ValueError`` listing the candidates when there is none."""
    def value(stage: Stage, name: str) -> object:
        found = stage.params.get(name)
        return getattr(found, "name", found) if name == "condition" else found

    for stage in plan:
        if stage.stage == kind and all(value(stage, name) == wanted for name, wanted in params.items()):
            return stage
    labels = [s.label for s in plan if s.stage == kind]
    raise ValueError(f"no {kind} stage with {params}; the plan has: {labels}")


def stage_context(config: StudyConfig, cache_dir: str | Path, *, device: str = "cpu",
                  progress: bool = False) -> tuple[Plan, RunContext]:
    """The plan of ``config`` and a context to compute or load any of its stages (no run directory)."""
    from reconfair.engine.kinds import KINDS

    cache = Cache(cache_dir)
    plan = plan_study(config, cache)
    context = RunContext(config, cache, list(plan), kinds=KINDS, device=resolve_device(device), progress=progress,
                         conditions=plan.conditions)
    return plan, context


def stage_output(config: StudyConfig, kind: str, *, cache_dir: str | Path, device: str = "cpu",
                 progress: bool = False, **params: object) -> object:
    """The output of one stage of ``config``'s graph: loaded from the cache, or computed with what it needs.

    For example ``stage_output(config, "reconstructor", cache_dir=..., dataset=0, replicate=0,
    condition="radiograph-lowdose@3000/unet")`` is the trained U-Net (trained now if the cache lacks it),
    ``stage_output(config, "diagnostic", ..., dataset=0, replicate=0, task="classification")`` the classifier.
    """
    plan, context = stage_context(config, cache_dir, device=device, progress=progress)
    return context.output(find_stage(plan, kind, **params).ref)


def _log_notes(log_path: Path, notes: tuple[str, ...]) -> None:
    """Warnings of the evaluation (uninformative models, unreachable corrections): run.log and the console."""
    if not notes:
        return
    with open(log_path, "a", encoding="utf-8") as log:
        for note in notes:
            log.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} warning: {note}\n")
    for note in notes:
        console.print(f"[yellow]warning:[/] {note}", highlight=False, soft_wrap=True)


@contextmanager
def _stage_display(plan: Plan, cache: Cache, *, enabled: bool) -> Iterator[None]:
    """A live bar over the plan's cacheable stages, advanced as each is found or computed."""
    if not enabled:
        yield
        return
    stages = [s for s in plan if s.key is not None]
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
    context: RunContext,
    plan: Plan,
    executor: str,
    remote_events: list[dict[str, str]],
    tables: EvaluationTables,
    seconds: float,
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
        "cpu": f"{platform.machine()} {torch.backends.cpu.get_cpu_capability()}",
        "seed": config.seed,
        "replicates": config.replicates,
        "threads": study_threads(config),
        "seconds": round(seconds, 3),
        "seconds_per_stage_kind": {kind: round(value, 3) for kind, value in context.timings.items()},
        "recorded_seconds_per_stage_kind": _recorded(plan, context.cache),
        "synthetic_data": all(d.source is None for d in config.datasets),
        "skipped_samples": _skipped(context),
        "cache": str(context.cache.root),
        "executor": executor,
        "stages": context.cache.events,
        "remote_stages": remote_events,
        "evaluation": {"bootstrap": config.evaluation.bootstrap, "n_boot": tables.n_boot,
                       "family": config.evaluation.family, "adjust": config.evaluation.adjust,
                       "alpha": config.evaluation.alpha},
        "diagnostic_models": [] if tables.models is None else json.loads(tables.models.to_json(orient="records")),
        "supplied_models": _supplied_models(config),
        "notes": list(tables.notes),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    console.log(f"wrote {out}")


def _supplied_models(config: StudyConfig) -> list[dict]:
    """Each supplied diagnostic model: data set, task, source, file/factory/network and its fingerprint."""
    from reconfair.diagnose import model_fingerprint

    return [{"dataset": dataset.name, "task": task.kind, "location": task.model.location,
             "output": task.model.output, **model_fingerprint(task.model)}
            for dataset in config.datasets for task in dataset.diagnostic_tasks if task.supplied]


def _skipped(context: RunContext) -> dict[str, dict]:
    """Per data set, the samples its adapter skipped (``on_missing: skip``): count and sample_id/path/reason."""
    out = {}
    for index, dataset_config in enumerate(context.config.datasets):
        dropped = list(context.dataset(index).info.get("skipped", []))
        out[dataset_config.name] = {"count": len(dropped), "samples": dropped}
    return out


def _recorded(plan: Plan, cache: Cache) -> dict[str, float]:
    """Seconds each stage kind's entries took to compute when they were written (in this run or before)."""
    totals: dict[str, float] = {}
    for stage in plan:
        value = None if stage.key is None else recorded_seconds(cache.folder(stage.stage, stage.key) / "entry.json")
        if value is not None:
            totals[stage.stage] = round(totals.get(stage.stage, 0.0) + value, 3)
    return totals
