"""Figure 1: image quality and task performance against degradation level, per reconstructor."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from reconfair.report.labels import LEVEL_AXES, METRIC_NAMES
from reconfair.report.rundata import unmitigated
from reconfair.report.style import GREY, color_for, pyplot, save
from reconfair.vocabulary import NONE, ORIGINAL


def level_axis(ax: object, levels: Sequence[float] | pd.Series, *, photons: bool) -> None:
    """Ticks at the study's levels: photon counts on an inverted log axis (``100,000``), else ``4×``."""
    levels = sorted(set(pd.Series(levels).dropna()))
    if photons:
        ax.set_xscale("log")
        ax.invert_xaxis()
        ax.minorticks_off()
    if levels:
        ax.set_xticks(levels, [f"{v:,.0f}" if photons else f"{v:g}×" for v in levels])


def task_rows(performance: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The task metric's summary rows: macro AUROC for classification, mean Dice for segmentation."""
    rows = performance[performance["metric"] == metric]
    return rows[rows["target"] == "macro"] if metric == "auroc" else rows


def plot_quality_and_task(performance: pd.DataFrame, *, dataset: str, out_dir: str | Path,
                          recons: Sequence[str] | None = None) -> Path:
    """PSNR, SSIM, macro AUROC and mean Dice against level; one row of panels per operator.

    Each reconstructor is one line; task panels show the original-image value
    as a dashed grey line (the baseline a reconstruction is compared with).
    ``recons`` fixes the colour order (default: order of appearance).
    Writes ``quality_task_vs_level_<dataset>.png`` and ``.svg``; returns the PNG path.
    """
    rows = unmitigated(performance[performance["dataset"] == dataset])
    if rows.empty:
        raise ValueError(f"no performance rows for data set {dataset!r}")
    task_metrics = [m for m in ("auroc", "dice") if m in set(rows["metric"])]
    panels = ["psnr", "ssim", *task_metrics]
    operators = list(dict.fromkeys(d for d in rows["degradation"] if d != NONE))
    found = list(dict.fromkeys(rows.loc[rows["condition"] != ORIGINAL, "recon"]))
    recons = [r for r in (recons or []) if r in found] + [r for r in found if r not in (recons or [])]
    with pyplot() as plt:
        fig, axes = plt.subplots(len(operators), len(panels), figsize=(2.9 * len(panels), 2.5 * len(operators)),
                                 squeeze=False)
        for r, operator in enumerate(operators):
            label, photons = LEVEL_AXES.get(operator, ("level", False))
            for c, metric in enumerate(panels):
                ax = axes[r, c]
                selected = rows[rows["degradation"] == operator]
                selected = task_rows(selected, metric) if metric in task_metrics else selected[
                    selected["metric"] == metric]
                for recon in recons:
                    part = selected[selected["recon"] == recon].sort_values("level")
                    if part.empty:
                        continue
                    ax.plot(part["level"], part["value"], marker="o", markersize=3.5, color=color_for(recons, recon),
                            label=recon)
                original = task_rows(rows, metric) if metric in task_metrics else rows[rows["metric"] == metric]
                original = original[original["condition"] == ORIGINAL]
                if not original.empty and np.isfinite(original["value"].iloc[0]):
                    ax.axhline(original["value"].iloc[0], color=GREY, linestyle="--", linewidth=1,
                               label="original")
                level_axis(ax, selected["level"], photons=photons)
                ax.set_xlabel(label)
                name = {"auroc": "macro AUROC", "dice": "mean Dice", "psnr": "PSNR (dB)"}.get(metric)
                ax.set_ylabel(name or METRIC_NAMES.get(metric, metric))
            axes[r, 0].set_title(f"{dataset}: {operator}", loc="left")
            axes[r, -1].legend(loc="best")
        fig.tight_layout()
        return save(fig, out_dir, f"quality_task_vs_level_{dataset}")
