"""``write_report(run_dir)``: every figure, table, ``summary.md`` and ``report.html`` of a run.

Reads only the run directory (``samples.parquet``, ``metrics/*.csv``,
``config.yaml``, ``manifest.json``, ``examples/*.npz``); never the cache, never
a model.  Output bytes depend only on those inputs, so regenerating gives
identical files.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from reconfair.metrics.evaluate import EvaluationTables
from reconfair.report.figures_bias import plot_bias_ci, plot_bias_distribution, plot_inherent_vs_added
from reconfair.report.figures_examples import plot_examples
from reconfair.report.figures_mitigation import plot_lambda_tradeoff, plot_mitigation_change
from reconfair.report.figures_observers import delta_d_prime_table, plot_detectability
from reconfair.report.figures_quality import plot_quality_and_task
from reconfair.report.headline import headlines
from reconfair.report.html import FigureEntry, VerdictEntry, render_html
from reconfair.report.labels import recon_order
from reconfair.report.overview import CI_CAVEAT, overview_html
from reconfair.report.provenance import provenance
from reconfair.report.replicates import plot_replicates, replicate_count, with_replicate_spread
from reconfair.report.rundata import RunData, load_run
from reconfair.report.summary import SYNTHETIC_NOTICE, summary_frame, write_summary
from reconfair.report.tables import report_tables, write_tables
from reconfair.report.verdict import family_banners, family_line, findings, model_banners, no_finding_text
from reconfair.vocabulary import ORIGINAL

NO_MITIGATION = "no mitigation configured: the run wrote no metrics/mitigation.csv or metrics/lambda_sweep.csv"
EMPTY_MITIGATION = "no mitigation results: metrics/mitigation.csv and metrics/lambda_sweep.csv have no rows"
ONE_REPLICATE = "one model replicate per model (replicates: 1): no per-replicate spread to show"
NO_EXAMPLES = "no examples/ in this run directory (written by `reconfair run`)"
EXAMPLES_OFF = ("not embedded: report.examples is false (default for real data); set report: {examples: true} "
                "to show patient images")


def write_report(run_dir: str | Path) -> Path:
    """Regenerate ``figures/``, ``tables/``, ``summary.md`` and ``report.html`` in ``run_dir``; return the HTML path.

    Raises :class:`~reconfair.report.rundata.RunDirectoryError` (a ValueError)
    when ``run_dir`` lacks ``samples.parquet`` or ``metrics/``.
    """
    run = load_run(run_dir)
    notes = _restrict_to_one_seed(run)
    run.fairness = with_replicate_spread(run.fairness, run.replicates_fairness)
    root = run.root
    figures_dir = root / "figures"
    order = run.condition_order()
    attributes = run.attributes
    alpha = run.alpha
    datasets = [d for d in run.datasets if d in set(run.performance["dataset"])]
    tables = EvaluationTables(performance=run.performance, groups=run.groups, fairness=run.fairness)
    summary = summary_frame(tables, attributes=attributes, condition_order=order, dataset_order=datasets)
    write_summary(summary, root / "summary.md", synthetic=run.synthetic)
    named = {name: _in_order(table, datasets, order)
             for name, table in report_tables(summary, run.performance, run.fairness, run.mitigation, alpha=alpha,
                                              models=run.models, replicates=run.replicates_fairness).items()}
    if run.observers is not None:
        named["observers_delta"] = _in_order(delta_d_prime_table(run.observers), datasets, order)
    write_tables(named, root / "tables")
    figures = _figures(run, datasets=datasets, attributes=attributes, order=order, out=figures_dir)
    family = family_line(run.evaluation, run.families, [run.fairness, run.performance])
    found = findings(run.performance, run.fairness, models=run.models, alpha=alpha,
                     several_datasets=len(datasets) > 1)
    power = run.evaluation.get("power", 0.8)
    verdict = VerdictEntry(family=family, findings=tuple(found), none=() if found else tuple(
        no_finding_text(run.fairness, run.performance, family=family, datasets=datasets,
                        power=float(power) if isinstance(power, (int, float)) else 0.8)))
    page = render_html(
        title=f"reconfair report: {run.config.get('name', root.name)}",
        notice=SYNTHETIC_NOTICE if run.synthetic else None,
        verdict=verdict,
        banners=[*model_banners(run.models), *family_banners(run.families)],
        overview=overview_html(run.fairness, datasets=datasets, attributes=attributes, conditions=order,
                               models=run.models, alpha=alpha, replicates=run.replicates_fairness),
        headlines=headlines(run.performance, run.fairness, datasets=datasets, conditions=order,
                            attributes=attributes, models=run.models, alpha=alpha),
        figures=figures,
        tables=named,
        provenance=provenance(run, family=family),
        config_text=(root / "config.yaml").read_text(encoding="utf-8") if (root / "config.yaml").is_file() else "",
        notes=notes,
    )
    path = root / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


def _restrict_to_one_seed(run: RunData) -> list[str]:
    """With replicate seeds, figures and text show the lowest seed (mean ± sd is in metrics/seeds_*.csv)."""
    seeds = sorted(set(run.performance["seed"])) if "seed" in run.performance.columns else []
    if len(seeds) < 2:
        return []
    run.performance = run.performance[run.performance["seed"] == seeds[0]]
    run.fairness = run.fairness[run.fairness["seed"] == seeds[0]]
    return [f"{len(seeds)} replicate seeds: figures, headlines and tables show seed {seeds[0]}; "
            "mean ± sd over seeds is in metrics/seeds_performance.csv and metrics/seeds_fairness.csv."]


def _figures(run: RunData, *, datasets: list[str], attributes: list[str], order: list[str], out: Path
             ) -> list[FigureEntry]:
    perf, fair = run.performance, run.fairness

    def mine(dataset: str) -> list[str]:
        """The data set's own conditions in order: its baseline comes first, so colours match across data sets."""
        present = set(perf.loc[perf["dataset"] == dataset, "condition"])
        return [c for c in order if c in present]

    tasks = [(d, t) for d in datasets for t in ("classification", "segmentation")
             if not fair[(fair["dataset"] == d) & (fair["task"] == t)].empty]
    entries = [FigureEntry(
        "1", "Image quality and task performance vs degradation level",
        "PSNR and SSIM against the clean image, macro AUROC and mean Dice, per reconstructor; the dashed line "
        "is the original images' value.",
        tuple(plot_quality_and_task(perf, dataset=d, out_dir=out, recons=recon_order(mine(d))) for d in datasets))]
    distribution: tuple[Path, ...] = ()
    if not fair[fair["condition"] != ORIGINAL].empty:
        distribution = (plot_bias_distribution(fair, datasets=datasets, attributes=attributes, out_dir=out),)
    entries.append(FigureEntry(
        "2", "Distribution of bias change by attribute",
        "Change of EODD (classification) or the Dice gap (segmentation), reconstructed minus original, pooled "
        "over targets and reconstructed conditions; black bars and numbers are medians.",
        distribution, note="no reconstructed conditions"))
    entries.append(FigureEntry(
        "3", "Bias change with 95% CIs",
        "Paired patient-bootstrap 95% CI of each change; filled markers and * = significant after the run's "
        f"multiple-testing correction (alpha = {run.alpha:g}); an undefined change has no marker. {CI_CAVEAT}",
        _some(plot_bias_ci(fair, dataset=d, task=t, attributes=attributes, condition_order=mine(d), out_dir=out,
                           alpha=run.alpha)
              for d, t in tasks), note="no reconstructed conditions"))
    entries.append(FigureEntry(
        "4", "Inherent bias (original) beside added bias (reconstructed)",
        "Left: the fairness metric on original images per target. Right: its change per reconstructor and "
        "level (bars: mean over targets; dots: targets), on the same scale.",
        _some(plot_inherent_vs_added(fair, dataset=d, task=t, attributes=attributes, condition_order=mine(d),
                                     out_dir=out)
              for d, t in tasks), note="no reconstructed conditions"))
    mitigation: list[Path] = []
    if run.mitigation is not None and not run.mitigation.empty:
        mitigation.append(plot_mitigation_change(run.mitigation, out_dir=out))
    if run.lambda_sweep is not None and not run.lambda_sweep.empty:
        mitigation.append(plot_lambda_tradeoff(run.lambda_sweep, out_dir=out))
    written = run.mitigation is not None or run.lambda_sweep is not None
    entries.append(FigureEntry(
        "5", "Bias mitigation: before/after and the λ trade-off",
        "Bias before (hollow) and after (filled) mitigation with the change's 95% CI; PSNR and macro AUROC "
        "against EODD along each method's λ path (star: selected λ).",
        tuple(mitigation), note=EMPTY_MITIGATION if written else NO_MITIGATION))
    shown = run.report
    examples: tuple[Path, ...] = ()
    if shown.examples:
        examples = tuple(plot_examples(run.examples[d], dataset=d, out_dir=out, ids=shown.ids)
                         for d in datasets if d in run.examples)
    else:  # nor an earlier report's pictures of patients beside this one
        for stale in sorted(out.glob("examples_*.png")) + sorted(out.glob("examples_*.svg")):
            stale.unlink()
    entries.append(FigureEntry(
        "6", "Example cases",
        "Clean, degraded and reconstructed test images at the most severe level; error maps |image − clean|; "
        "the classifier's saliency for its top target (Grad-CAM at its last convolution, input gradients when no layer "
        "can be hooked, none for an ONNX model: the figure's title says which); segmentation (green: truth outline, "
        "orange: prediction)." + (" Rows are named by hashed sample ids (report.ids: hash)." if shown.ids == "hash"
                                  else ""),
        examples, note=NO_EXAMPLES if shown.examples else EXAMPLES_OFF))
    replicas = run.replicates_fairness
    spread: tuple[Path, ...] = ()
    if replicas is not None and replicate_count(fair, replicas) > 1:
        spread = _some(plot_replicates(replicas, fair, dataset=d, task=t, attributes=attributes,
                                       condition_order=mine(d), out_dir=out) for d, t in tasks)
    entries.append(FigureEntry(
        "7", "Change per model replicate",
        "The main fairness metric's change for each independently trained model replicate (grey dots) beside the "
        "estimate combined over replicates (black diamond, 95% CI).",
        spread, note=ONE_REPLICATE))
    if run.observers is not None:  # only with a detection task
        entries.append(FigureEntry(
            "8", "Detectability of an inserted signal vs degradation level",
            "Model observers' d′ on signal-present/absent pairs of the test split (band: 95% patient-bootstrap "
            "CI), beside PSNR and the classifier's macro AUROC, per reconstructor; dashed: the original images. "
            "Δd′ by group is in the table observers_delta (docs/observers.md).",
            _some(plot_detectability(run.observers, perf, dataset=d, out_dir=out, recons=recon_order(mine(d)))
                  for d in dict.fromkeys(run.observers["dataset"])),
            note="no detection rows"))
    return entries


def _in_order(table: pd.DataFrame, datasets: list[str], conditions: list[str]) -> pd.DataFrame:
    """Rows by data set and condition as configured (then task, target, attribute, as found)."""
    if not {"dataset", "condition"} <= set(table.columns):
        return table
    rank = {c: i for i, c in enumerate(conditions)}
    keys = table.assign(_d=table["dataset"].map(lambda d: datasets.index(d) if d in datasets else len(datasets)),
                        _c=table["condition"].map(lambda c: rank.get(c, len(rank))))
    by = ["_d", *(c for c in ("task", "target") if c in table.columns), "_c"]
    return keys.sort_values(by, kind="stable").drop(columns=["_d", "_c"]).reset_index(drop=True)


def _some(paths) -> tuple[Path, ...]:
    return tuple(p for p in paths if p is not None)
