"""Command line: ``reconfair demo``, ``run``, ``validate``, ``evaluate``, ``report``, ``export``, ``plan`` and
``cache ls|gc|verify``.

Configuration and input problems exit with code 2 and a message naming the
field, file or column.  ``run`` and ``demo`` stopped by Ctrl-C (SIGINT) or
SIGTERM say where the finished stages are cached and which command resumes,
and exit 130.
"""

from __future__ import annotations

import math
import os
import shlex
import shutil
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.table import Table

from reconfair.config import ConfigError, StudyConfig
from reconfair.engine.validate import load_study

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Measure what medical image reconstruction does to downstream diagnostic AI and its fairness.",
)
out_console = Console(width=None if Console().is_terminal else 160)
err_console = Console(stderr=True)

EXIT_CONFIG_ERROR = 2
EXIT_INTERRUPTED = 130

# Options shared by the commands that run a study (one definition each).
PROGRESS_OPTION = typer.Option(True, "--progress/--no-progress", help="Show progress bars.")
RUN_CACHE_OPTION = typer.Option(
    None, "--cache", help="Cache of trained models and rows (default: $RECONFAIR_CACHE or OUT/.cache)."
)
EXECUTOR_OPTION = typer.Option("local", "--executor", help="local, or ray: independent stages in parallel.")
ADDRESS_OPTION = typer.Option(None, "--address", help="Ray cluster: auto or HOST:PORT (default: start a local one).")


@app.command()
def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Run directory to write."),
    quick: bool = typer.Option(False, "--quick", help="A tiny smoke-test version (seconds)."),
    progress: bool = PROGRESS_OPTION,
    cache: Path = RUN_CACHE_OPTION,
    executor: str = EXECUTOR_OPTION,
    address: str = ADDRESS_OPTION,
) -> None:
    """Run the demo study on the embedded synthetic data and print a summary.

    Ctrl-C or SIGTERM stops it (exit 130); finished stages stay cached and the same command resumes.
    """
    from reconfair.config.demo import demo_config

    command = ["reconfair", "demo", "--out", str(out)] + (["--quick"] if quick else [])
    _execute(demo_config(quick=quick), out, progress=progress, cache=cache, executor=executor, address=address,
             command=command)


@app.command()
def run(
    config: Path = typer.Argument(..., help="Study configuration (YAML)."),
    out: Path = typer.Option(None, "--out", help="Run directory (default: runs/<config name>)."),
    progress: bool = PROGRESS_OPTION,
    cache: Path = RUN_CACHE_OPTION,
    executor: str = EXECUTOR_OPTION,
    address: str = ADDRESS_OPTION,
) -> None:
    """Run the study described by CONFIG.

    Finished stages are cached: the same command resumes a run stopped by Ctrl-C, SIGTERM (exit 130) or a crash.

    A cached entry found damaged (checksums) is moved to the cache's quarantine/ and computed again.

    Concurrent runs on one cache compute each stage once (per-entry locks).

    Without a terminal, progress is plain timestamped lines, one per bar every $RECONFAIR_LOG_INTERVAL s (10).
    """
    study = _load_or_exit(config)
    out = out or Path("runs") / study.name
    _execute(study, out, progress=progress, cache=cache, executor=executor, address=address,
             command=["reconfair", "run", str(config), "--out", str(out)])


@app.command()
def validate(config: Path = typer.Argument(..., help="Study configuration (YAML).")) -> None:
    """Check CONFIG without running it; exit 2 with the problems if it is invalid."""
    study = _load_or_exit(config)
    n_conditions = sum(1 + sum(len(d.levels) for d in ds.degradations) * len(ds.reconstructors) for ds in study.datasets)
    out_console.print(
        f"{config}: valid ({len(study.datasets)} data set(s), {n_conditions} conditions, "
        f"attributes {', '.join(study.attributes)})"
    )


@app.command()
def evaluate(
    samples: Path = typer.Argument(..., help="Per-sample table (.parquet or .csv), schema in docs/samples-table.md."),
    out: Path = typer.Option(..., "--out", help="Folder for performance.csv, groups.csv, fairness.csv."),
    attributes: str = typer.Option(
        "sex,age_group,race", "--attributes", help="Comma-separated; intersections as sex*age_group."
    ),
    threshold: str = typer.Option(
        "fixed-validation", "--threshold", help="fixed-validation, refit, or a number in [0, 1]."
    ),
    min_group_size: int = typer.Option(
        10, "--min-group-size", help="Class members a rate needs: positives for TPR, negatives for FPR, samples "
        "for a selection rate or mean Dice; groups with fewer are excluded from it."
    ),
    split: str = typer.Option("test", "--split", help="Rows the metrics are computed on."),
    patient_level: bool = typer.Option(
        False, "--patient-level", help="One row per patient first: median score, mean Dice."
    ),
    scores: str = typer.Option(
        "probabilities", "--scores", help="What y_score holds: probabilities (in [0, 1]) or logits (sigmoid applied)."
    ),
    bootstrap: str = typer.Option(
        "1000", "--bootstrap", help="Paired patient-bootstrap resamples for SE/CI/p of each delta; 0 = skip; auto."
    ),
    bootstrap_budget: float = typer.Option(
        600.0, "--bootstrap-budget", help="Seconds --bootstrap auto may spend on resamples."
    ),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
    adjust: str = typer.Option("holm", "--adjust", help="Multiple-testing correction: holm or bh."),
    family: str = typer.Option(
        "metric", "--family", help="Multiple-testing family: report, metric (dataset x task x attribute x metric) "
        "or target (also per target)."
    ),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance level of the adjusted p-values."),
    group_auroc: bool = typer.Option(
        False, "--bootstrap-group-auroc", help="Also bootstrap the AUROC gap and worst-group AUROC (slower)."
    ),
) -> None:
    """Compute the metrics of a per-sample table made anywhere (no predictions are recomputed).

    Every error exits 2 with one line, ``error: SAMPLES: <message>``.
    """
    from reconfair.api import evaluation_settings, evaluation_table
    from reconfair.metrics.evaluate import OPTIONAL_TABLES
    from reconfair.metrics.replicates import write_seed_summaries
    from reconfair.metrics.uncertainty import evaluate_with_uncertainty

    try:  # the settings and table of reconfair.evaluate(), built the same way
        settings = evaluation_settings(
            attributes=attributes, min_group_size=min_group_size, split=split, threshold=threshold,
            patient_level=patient_level, bootstrap=bootstrap, bootstrap_budget_s=bootstrap_budget, seed=seed,
            adjust=adjust, family=family, alpha=alpha, group_auroc=group_auroc,
        )
        table = evaluation_table(samples, scores=scores)
    except ValueError as error:
        _input_error(samples, _option_message(str(error)))
    try:
        tables = evaluate_with_uncertainty(table, settings)
    except ValueError as error:
        _input_error(samples, str(error))
    for note in tables.notes:
        err_console.print(f"[yellow]warning:[/] {note}", highlight=False, soft_wrap=True)
    folder = tables.to_csv(out)
    seeds = write_seed_summaries(tables, folder)
    written = [f"{name}.csv" for name in ("performance", "groups", "fairness", *OPTIONAL_TABLES)
               if getattr(tables, name) is not None]
    out_console.print(f"wrote {folder}: {', '.join(written)}" + (f" (B = {tables.n_boot})" if tables.n_boot else ""),
                      highlight=False, soft_wrap=True)
    if seeds:
        out_console.print(f"wrote {', '.join(p.name for p in seeds)} (mean ± sd over replicate seeds)")


# Fields of EvaluationSettings (and read_table's ``scores``) -> the evaluate option that sets them.
EVALUATE_OPTIONS = {
    "attributes": "--attributes", "min_group_size": "--min-group-size", "split": "--split",
    "threshold": "--threshold", "patient_level": "--patient-level", "bootstrap": "--bootstrap",
    "bootstrap_budget_s": "--bootstrap-budget", "seed": "--seed", "adjust": "--adjust", "family": "--family",
    "alpha": "--alpha", "group_auroc": "--bootstrap-group-auroc", "scores": "--scores",
}


def _option_message(message: str) -> str:
    """``threshold: expected ...`` -> ``--threshold: expected ...``; other messages unchanged."""
    field, sep, rest = message.partition(": ")
    return f"{EVALUATE_OPTIONS[field]}: {rest}" if sep and field in EVALUATE_OPTIONS else message


def _input_error(path: Path, message: str) -> NoReturn:
    """Exit 2 with one line naming the file once: ``error: <path>: <message>``."""
    from rich.markup import escape

    line = " ".join(message.split())
    err_console.print(f"[bold red]error:[/] {escape(f'{path}: {line}')}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_CONFIG_ERROR)


@app.command()
def report(run_dir: Path = typer.Argument(..., help="A run directory (with samples.parquet and metrics/).")) -> None:
    """Regenerate RUN_DIR's figures, tables, summary.md and report.html (no predictions are recomputed)."""
    from reconfair.report import RunDirectoryError, write_report

    try:
        path = write_report(run_dir)
    except RunDirectoryError as error:
        _fail(str(error))
    out_console.print(f"wrote {path} (figures/, tables/, summary.md beside it)", highlight=False, soft_wrap=True)


@app.command("export")
def export_images(
    run_dir: Path = typer.Argument(..., help="A run directory (with config.yaml and manifest.json)."),
    out: Path = typer.Option(..., "--out", help="Folder to write the images and index.csv into."),
    fmt: str = typer.Option(None, "--format", help="npy (float32, exact), png (16-bit grey, clipped to [0, 1]) or "
                            "nifti (.nii.gz, float32); default: the config's export block, else npy."),
    conditions: str = typer.Option(None, "--conditions", help="Comma-separated condition names; default: all."),
    inputs: bool = typer.Option(None, "--inputs/--no-inputs", help="Write the model inputs (the measurements); "
                                "default: yes."),
    reconstructions: bool = typer.Option(None, "--reconstructions/--no-reconstructions",
                                         help="Write the reconstructions; default: yes."),
    splits: str = typer.Option(None, "--splits", help="Comma-separated splits; default: those inference reads."),
    cache: Path = typer.Option(None, "--cache", help="The run's cache; default: the one manifest.json names."),
    progress: bool = PROGRESS_OPTION,
) -> None:
    """Write each condition's model inputs and reconstructions of RUN_DIR, named by sample id, and index.csv.

    The inputs are the draws the run used: reconstruct them elsewhere, then read them back with a folder reconstructor.

    Options override the config's export block. Trained reconstructors come from the run's cache (docs/export.md).
    """
    from reconfair.engine.export import export_run

    def names(value: str | None) -> list[str] | None:
        return None if value is None else [part.strip() for part in value.split(",") if part.strip()]

    options = {"format": fmt, "conditions": names(conditions), "inputs": inputs, "reconstructions": reconstructions,
               "splits": names(splits)}
    try:
        index = export_run(run_dir, out, options=options, cache_dir=cache, progress=progress)
    except ConfigError as error:
        err_console.print(f"[bold red]error:[/] {error}", highlight=False, markup=True, soft_wrap=True)
        raise typer.Exit(EXIT_CONFIG_ERROR) from None
    except (ValueError, FileNotFoundError, TypeError, ImportError) as error:
        _fail(str(error))
    files = index["path"].nunique() if len(index) else 0
    out_console.print(f"wrote {files} files of {index['condition'].nunique() if len(index) else 0} condition(s) "
                      f"to {out} (index: {out / 'index.csv'}, {len(index)} rows)", highlight=False, soft_wrap=True)


@app.command()
def plan(
    config: Path = typer.Argument(..., help="Study configuration (YAML)."),
    out: Path = typer.Option(None, "--out", help="Run directory (default: runs/<config name>); locates OUT/.cache."),
    cache: Path = RUN_CACHE_OPTION,
) -> None:
    """Show the stage graph a run of CONFIG executes: each stage, its status, the stages it needs (by #) and,
    for cached stages, the seconds their computation took (nothing is run)."""
    from reconfair.engine.cache import Cache, default_cache_dir
    from reconfair.engine.plan import group_size_warnings, plan_study, summarize

    study = _load_or_exit(config)
    root = cache if cache is not None else default_cache_dir(out or Path("runs") / study.name)
    try:
        stages = plan_study(study, Cache(root))
        warnings = group_size_warnings(study)
    except ValueError as error:
        _fail(f"{config}: {error}")
    from reconfair.engine.plan import seconds_by_kind

    table = Table(title=f"{study.name}: plan (cache {root})", title_justify="left")
    for column in ("#", "stage", "label", "status", "estimate", "needs", "seconds"):
        table.add_column(column, justify="right" if column in ("#", "estimate", "seconds") else "left")
    colours = {"cached": "green", "pending": "yellow", "always": "cyan"}
    number = {stage.ref: i for i, stage in enumerate(stages, start=1)}
    for i, stage in enumerate(stages, start=1):
        estimate = f"{stage.estimate:,} {stage.unit}" if stage.unit else "-"
        needs = _ranges([number[ref] for ref in stage.depends_on])
        seconds = f"{stage.seconds:.1f}" if stage.seconds is not None else "-"
        table.add_row(str(i), stage.stage, stage.label, f"[{colours[stage.status]}]{stage.status}[/]", estimate,
                      needs or "-", seconds)
    out_console.print(table)
    out_console.print(summarize(stages))
    recorded = seconds_by_kind(stages)
    if recorded:
        total = sum(recorded.values())
        parts = ", ".join(f"{kind} {value:.1f} s" for kind, value in sorted(recorded.items(), key=lambda kv: -kv[1]))
        out_console.print(f"time recorded by the cached stages: {total:.1f} s ({parts})", highlight=False,
                          soft_wrap=True)
    for warning in warnings:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)


def _ranges(numbers: list[int]) -> str:
    """``[1, 2, 3, 5]`` -> ``"1-3,5"`` (the plan's ``needs`` column)."""
    numbers = sorted(set(numbers))
    parts, start = [], None
    for i, n in enumerate(numbers):
        if start is None:
            start = n
        if i + 1 == len(numbers) or numbers[i + 1] != n + 1:
            parts.append(str(start) if start == n else f"{start}-{n}")
            start = None
    return ",".join(parts)


cache_app = typer.Typer(
    no_args_is_help=True,
    help=(
        "Inspect, check and clean a cache of trained models and per-condition rows. The cache is --cache DIR, "
        "else $RECONFAIR_CACHE (a run's own cache is <run folder>/.cache); without either the command exits 2. "
        "Each entry records its files' sizes and sha256; a run that finds an entry damaged moves it to "
        "<cache>/quarantine/ and computes it again."
    ),
)
app.add_typer(cache_app, name="cache")
_CACHE_OPTION_HELP = "The cache folder (default: $RECONFAIR_CACHE; a run's own cache is <run folder>/.cache)."


@cache_app.command("ls")
def cache_ls(cache: Path = typer.Option(None, "--cache", help=_CACHE_OPTION_HELP)) -> None:
    """List the cache's entries: stage, key, size, when written, what they hold."""
    from datetime import datetime

    from reconfair.engine.cache import Cache, folder_size

    store = Cache(_cache_root(cache))
    entries = store.entries()
    table = Table(title=f"cache {store.root}", title_justify="left")
    for column in ("stage", "key", "size MB", "created", "description"):
        table.add_column(column, justify="right" if column == "size MB" else "left", no_wrap=column != "description")
    for entry in entries:
        created = datetime.fromtimestamp(entry.created).strftime("%Y-%m-%d %H:%M")
        table.add_row(entry.stage, entry.key, _megabytes(entry.size_bytes), created, entry.description)
    out_console.print(table)
    total = sum(e.size_bytes for e in entries)
    out_console.print(f"{len(entries)} entries, {_megabytes(total)} MB")
    leftovers = store.leftovers()
    if leftovers:
        size = sum(folder_size(p) for p in leftovers)
        out_console.print(
            f"{len(leftovers)} leftover folder(s), {_megabytes(size)} MB: `reconfair cache gc` removes them"
        )
    quarantined = store.quarantined()
    if quarantined:
        size = sum(folder_size(p) for p in quarantined)
        out_console.print(
            f"{len(quarantined)} damaged entr{'y' if len(quarantined) == 1 else 'ies'} in quarantine, "
            f"{_megabytes(size)} MB: `reconfair cache gc` removes them"
        )


@cache_app.command("verify")
def cache_verify(
    cache: Path = typer.Option(None, "--cache", help=_CACHE_OPTION_HELP),
    repair: bool = typer.Option(
        False, "--repair", help="Move damaged entries to <cache>/quarantine/ (the next run computes them again)."
    ),
) -> None:
    """Check every entry's files against the sizes and sha256 in its entry.json; exit 1 when any is damaged.

    Every file is hashed (a run's own check hashes files up to 256 MiB, and checks the size of larger ones).

    Without --repair nothing changes; a run moves the damaged entries it needs aside by itself.

    Entries written before checksums existed are listed as unchecked.
    """
    from rich.markup import escape

    from reconfair.engine.cache import Cache

    store = Cache(_cache_root(cache))
    checks = store.verify(repair=repair)
    for check in checks:
        name = escape(f"{check.stage} {check.key} ({check.description})")
        if check.ok and check.checked:
            line = f"[green]ok[/]        {name}"
        elif check.ok:
            line = f"[yellow]unchecked[/] {name}: no checksums (written before entries recorded them)"
        else:
            line = f"[bold red]damaged[/]   {name}: {escape('; '.join(check.problems))}"
            if check.quarantined is not None:
                line += f"; moved to {escape(str(check.quarantined))}"
        out_console.print(line, highlight=False, soft_wrap=True)
    damaged = [c for c in checks if not c.ok]
    unchecked = sum(c.ok and not c.checked for c in checks)
    summary = f"{len(checks)} entries: {len(checks) - len(damaged)} ok, {len(damaged)} damaged"
    summary += f" ({unchecked} unchecked)" if unchecked else ""
    if damaged:
        summary += (f"; moved to {store.root / 'quarantine'}" if repair
                    else "; `reconfair cache verify --repair` moves them aside (or delete their folders)")
    out_console.print(summary, highlight=False, soft_wrap=True)
    if damaged:
        raise typer.Exit(1)


@cache_app.command("gc")
def cache_gc(
    cache: Path = typer.Option(None, "--cache", help=_CACHE_OPTION_HELP),
    keep: list[Path] = typer.Option(
        None, "--keep", help="Also remove every entry that the plan of this config does not use (repeatable)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would be removed; remove nothing."),
    scratch: bool = typer.Option(
        False, "--scratch", help="Also remove scratch/: the resumable training state of interrupted runs."
    ),
) -> None:
    """Remove temporary folders of interrupted writes, quarantined entries and, with --keep, unused entries.

    Quarantined entries are damaged ones that a run or `cache verify --repair` moved aside.

    Do not collect a cache that a run is using.
    """
    from reconfair.engine.cache import Cache, folder_size
    from reconfair.engine.plan import plan_study

    store = Cache(_cache_root(cache))
    removals = [(path, "leftover") for path in store.leftovers(scratch=scratch)]
    removals += [(path, "quarantined: damaged") for path in store.quarantined()]
    if keep:
        used: set[tuple[str, str | None]] = set()
        for config in keep:  # every config is loaded and planned before anything is removed
            try:
                used |= {(s.stage, s.key) for s in plan_study(_load_or_exit(config), store)}
            except ValueError as error:
                _fail(f"{config}: {error}")
        removals += [(e.folder, f"unused {e.stage}: {e.description}") for e in store.entries()
                     if (e.stage, e.key) not in used]
    freed = 0
    verb = "would remove" if dry_run else "removed"
    for path, reason in removals:
        size = folder_size(path)
        freed += size
        if not dry_run:
            shutil.rmtree(path)
        out_console.print(f"{verb} {path} ({reason}, {_megabytes(size)} MB)", highlight=False, soft_wrap=True)
    out_console.print(f"{'would free' if dry_run else 'freed'} {_megabytes(freed)} MB in {len(removals)} folder(s)")


def _cache_root(cache: Path | None) -> Path:
    from reconfair.engine.cache import CACHE_ENV

    root = cache if cache is not None else (Path(os.environ[CACHE_ENV]) if os.environ.get(CACHE_ENV) else None)
    if root is None:
        _fail(
            f"no cache given: pass --cache DIR (a run's cache is <run folder>/.cache) or set ${CACHE_ENV}"
        )
    if not root.is_dir():
        source = "--cache" if cache is not None else f"${CACHE_ENV}"
        _fail(f"{source} {root}: no such folder; pass the folder a run wrote its cache to (<run folder>/.cache)")
    return root


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.2f}"


def _fail(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_CONFIG_ERROR)


def _load_or_exit(path: Path) -> StudyConfig:
    try:
        return load_study(path)
    except ConfigError as error:
        err_console.print(f"[bold red]error:[/] {error}", highlight=False, markup=True, soft_wrap=True)
        raise typer.Exit(EXIT_CONFIG_ERROR) from None


def _execute(
    study: StudyConfig,
    out: Path,
    *,
    progress: bool,
    cache: Path | None,
    executor: str = "local",
    address: str | None = None,
    command: list[str] | None = None,
) -> None:
    from reconfair.engine.cache import default_cache_dir
    from reconfair.engine.run import run_study
    from reconfair.report.summary import SYNTHETIC_NOTICE

    try:
        with _interrupt_on_sigterm():
            result = run_study(study, out, progress=progress, cache_dir=cache, executor=executor, address=address)
    except (ValueError, FileNotFoundError, TypeError, ImportError) as error:
        _fail(f"{error} (finished stages are kept in the cache and reused by the next run)")
    except KeyboardInterrupt as interrupt:
        root = cache if cache is not None else default_cache_dir(out)
        again = list(command or ["reconfair", "run", "..."])
        again += ["--cache", str(cache)] if cache is not None else []
        again += [] if progress else ["--no-progress"]
        again += ["--executor", executor] if executor != "local" else []
        again += ["--address", address] if address else []
        _interrupted(getattr(interrupt, "signal_name", "SIGINT"), out, root, shlex.join(again))
    print_summary(result.summary, title=study.name)
    if all(d.source is None for d in study.datasets):
        out_console.print(f"[dim]{SYNTHETIC_NOTICE}[/]")
    examples = "examples/, " if (out / "examples").is_dir() else ""  # none with report.examples false
    out_console.print(
        f"outputs in {out}: report.html, samples.parquet, metrics/*.csv, figures/, tables/, {examples}"
        "summary.md, manifest.json" + (", export/" if study.export is not None else "")
    )


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C's KeyboardInterrupt."""

    signal_name = "SIGTERM"


@contextmanager
def _interrupt_on_sigterm() -> Iterator[None]:
    """While inside, SIGTERM raises :class:`Terminated` in the main thread (the previous handler is restored)."""
    def handler(signum, frame):  # noqa: ARG001
        raise Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave SIGTERM alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupted(signal_name: str, out: Path, cache_root: Path, command: str) -> NoReturn:
    """Say what an interrupted run kept and how to resume it; exit 130."""
    import time

    from rich.markup import escape

    log = out / "run.log"
    if log.parent.is_dir():
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} interrupted ({signal_name})\n")
    err_console.print(
        f"[bold yellow]interrupted[/] ({signal_name}): finished stages are cached in {escape(str(cache_root))}; "
        f"run the same command again to resume:\n  {escape(command)}",
        highlight=False, soft_wrap=True,
    )
    sys.stderr.flush()
    raise typer.Exit(EXIT_INTERRUPTED)


def print_summary(summary, *, title: str) -> None:
    """One table per data set and task: quality, task metric, fairness change per attribute."""
    attributes = [c.removeprefix("change_") for c in summary.columns if c.startswith("change_")]
    for (dataset, task), part in summary.groupby(["dataset", "task"], sort=False):
        task_label = "AUROC" if task == "classification" else "Dice"
        fairness = "ΔEODD" if task == "classification" else "ΔDice-gap"
        table = Table(title=f"{title}: {dataset} {task}", title_justify="left")
        for column in ("condition", "PSNR", "SSIM", task_label, *(f"{fairness} {a}" for a in attributes)):
            table.add_column(column, justify="left" if column == "condition" else "right")
        for record in part.itertuples(index=False):
            row = record._asdict()
            cells = [row["condition"], _cell("", row["psnr"]), _cell("", row["ssim"]), _cell("", row["task_value"])]
            cells += [_cell("change_", row[f"change_{a}"]) for a in attributes]
            table.add_row(*cells)
        out_console.print(table)


def _cell(column: str, value: object) -> str:
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a"
        return f"{value:+.3f}" if column.startswith("change_") else f"{value:.3f}"
    return str(value)


def main() -> None:  # pragma: no cover - console entry point
    app()
