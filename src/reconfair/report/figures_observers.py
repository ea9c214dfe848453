"""Figure 8 and its table: model-observer detectability beside PSNR and the classifier's AUROC.

Reads ``metrics/observers.csv`` (written by the ``observer-stats`` stage)
and the run's performance table; recomputes nothing.

>>> stats = pd.DataFrame({"dataset": ["d"] * 2, "condition": ["original", "op@3/identity"], "recon": ["none", "identity"],
...                       "level": [float("nan"), 3.0], "observer": ["cho"] * 2, "attribute": ["", ""],
...                       "group": ["all"] * 2, "n": [20, 20], "d_prime": [2.0, 1.5], "auc": [0.9, 0.8],
...                       "delta_d_prime": [0.0, -0.5], "delta_ci_low": [0.0, -0.9], "delta_ci_high": [0.0, -0.1],
...                       "p_value": [1.0, 0.01]})
>>> delta_d_prime_table(stats)[["condition", "observer", "group", "delta_d_prime", "p_value"]].to_dict("records")
[{'condition': 'op@3/identity', 'observer': 'cho', 'group': 'all', 'delta_d_prime': -0.5, 'p_value': 0.01}]
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from reconfair.report.figures_quality import level_axis, task_rows
from reconfair.report.labels import LEVEL_AXES
from reconfair.report.rundata import unmitigated
from reconfair.report.style import GREY, color_for, pyplot, save
from reconfair.vocabulary import ORIGINAL

__all__ = ["DELTA_COLUMNS", "delta_d_prime_table", "plot_detectability"]

DELTA_COLUMNS = ("dataset", "condition", "observer", "attribute", "group", "n", "d_prime", "delta_d_prime",
                 "delta_ci_low", "delta_ci_high", "p_value", "reason")
"""The columns of the report's Δd′ table (those of ``metrics/observers.csv`` it shows)."""


def delta_d_prime_table(stats: pd.DataFrame) -> pd.DataFrame:
    """Δd′ against ``original`` per condition, observer and group (every group and intersection), as written."""
    rows = stats[stats["condition"] != ORIGINAL]
    return rows[[c for c in DELTA_COLUMNS if c in rows.columns]].reset_index(drop=True)


def plot_detectability(stats: pd.DataFrame, performance: pd.DataFrame, *, dataset: str, out_dir: str | Path,
                       recons: Sequence[str] | None = None) -> Path | None:
    """d′ of each observer, PSNR and macro AUROC against level, per reconstructor; one row per operator.

    The observers' panels show the whole test split (group ``all``) with its 95% CI as a band; the dashed
    grey line is the original images' value.  PSNR and AUROC are the run's (test split, every sample).
    Writes ``detectability_vs_level_<dataset>.png`` and ``.svg``; returns the PNG path (``None`` when the
    data set has no detection rows).
    """
    mine = stats[(stats["dataset"] == dataset) & (stats["group"] == "all")]
    if mine.empty:
        return None
    perf = unmitigated(performance[performance["dataset"] == dataset])
    observers = list(dict.fromkeys(mine["observer"]))
    panels = [("observer", o) for o in observers] + [("metric", "psnr")]
    if not perf[perf["metric"] == "auroc"].empty:
        panels.append(("metric", "auroc"))
    operators = list(dict.fromkeys(c.split("@")[0] for c in mine["condition"] if c != ORIGINAL))
    found = list(dict.fromkeys(mine.loc[mine["condition"] != ORIGINAL, "recon"]))
    recons = [r for r in (recons or []) if r in found] + [r for r in found if r not in (recons or [])]
    with pyplot() as plt:
        fig, axes = plt.subplots(max(len(operators), 1), len(panels), squeeze=False,
                                 figsize=(2.9 * len(panels), 2.5 * max(len(operators), 1)))
        for r, operator in enumerate(operators):
            label, photons = LEVEL_AXES.get(operator, ("level", False))
            for c, (what, name) in enumerate(panels):
                ax = axes[r, c]
                if what == "observer":
                    rows = mine[mine["observer"] == name]
                    selected = rows[rows["condition"].str.startswith(f"{operator}@")]
                    original = rows[rows["condition"] == ORIGINAL]
                    value = "d_prime"
                else:
                    rows = task_rows(perf, name) if name == "auroc" else perf[perf["metric"] == name]
                    selected = rows[rows["degradation"] == operator]
                    original = rows[rows["condition"] == ORIGINAL]
                    value = "value"
                for recon in recons:
                    part = selected[selected["recon"] == recon].sort_values("level")
                    if part.empty:
                        continue
                    colour = color_for(recons, recon)
                    ax.plot(part["level"], part[value], marker="o", markersize=3.5, color=colour, label=recon)
                    if what == "observer" and {"ci_low", "ci_high"} <= set(part.columns):
                        ax.fill_between(part["level"], part["ci_low"], part["ci_high"], color=colour, alpha=0.15,
                                        linewidth=0)
                if not original.empty and np.isfinite(original[value].iloc[0]):
                    ax.axhline(original[value].iloc[0], color=GREY, linestyle="--", linewidth=1, label="original")
                level_axis(ax, selected["level"], photons=photons)
                ax.set_xlabel(textwrap.fill(label, 34))
                ax.set_ylabel({"psnr": "PSNR (dB)", "auroc": "macro AUROC"}.get(name, f"{name.upper()} d′"))
            axes[r, 0].set_title(f"{dataset}: {operator}", loc="left")
            axes[r, -1].legend(loc="best")
        if not operators:
            axes[0, 0].set_title(f"{dataset}: original only", loc="left")
        fig.tight_layout()
        return save(fig, out_dir, f"detectability_vs_level_{dataset}")

