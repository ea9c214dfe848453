"""Figures 2-4: the distribution of bias change, bias change with CIs, inherent beside added bias.

All three read the fairness table (``metrics/fairness.csv``) and use each
task's main fairness metric: EODD for classification, the Dice gap for
segmentation (:data:`~reconfair.report.labels.FAIRNESS_METRIC`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from reconfair.report.evidence import clear_undefined, significance
from reconfair.report.labels import FAIRNESS_METRIC, METRIC_NAMES, recon_order, severity_order
from reconfair.report.rundata import unmitigated
from reconfair.report.style import GREY, PALETTE, SIGNIFICANCE, color_for, pyplot, save
from reconfair.vocabulary import ORIGINAL


def main_fairness(fairness: pd.DataFrame, dataset: str, task: str) -> pd.DataFrame:
    """Rows of the task's main fairness metric for one data set and task."""
    return fairness[(fairness["dataset"] == dataset) & (fairness["task"] == task)
                    & (fairness["metric"] == FAIRNESS_METRIC[task])]


def _panels(fairness: pd.DataFrame, datasets: Sequence[str]) -> list[tuple[str, str]]:
    tasks = [t for t in FAIRNESS_METRIC if t in set(fairness["task"])]
    return [(d, t) for d in datasets for t in tasks if not main_fairness(fairness, d, t).empty]


def plot_bias_distribution(fairness: pd.DataFrame, *, datasets: Sequence[str], attributes: Sequence[str],
                           out_dir: str | Path) -> Path:
    """Violins of the bias change (metric on reconstructed − on original) by attribute, medians marked.

    One panel per data set x task; each violin pools every target and
    reconstructed condition (unmitigated); dots are the individual changes.
    """
    panels = _panels(unmitigated(fairness[fairness["condition"] != ORIGINAL]), datasets)
    if not panels:
        raise ValueError("no fairness rows of reconstructed conditions to plot")
    with pyplot() as plt:
        fig, axes = plt.subplots(1, len(panels), figsize=(max(3.2, 0.9 * len(attributes) + 1.4) * len(panels), 3.0),
                                 squeeze=False)
        for ax, (dataset, task) in zip(axes[0], panels):
            rows = unmitigated(main_fairness(fairness, dataset, task))
            rows = rows[rows["condition"] != ORIGINAL]
            for i, attribute in enumerate(attributes):
                values = rows.loc[rows["attribute"] == attribute, "delta"].to_numpy(dtype=float)
                values = values[np.isfinite(values)]
                if values.size == 0:
                    continue
                colour = color_for(attributes, attribute)
                if values.size > 1 and np.ptp(values) > 0:
                    body = ax.violinplot(values, positions=[i], widths=0.8, showextrema=False)["bodies"][0]
                    body.set_facecolor(colour)
                    body.set_alpha(0.35)
                offsets = np.linspace(-0.12, 0.12, values.size) if values.size > 1 else np.zeros(1)
                ax.scatter(i + offsets, np.sort(values), s=6, color=colour, zorder=3)
                median = float(np.median(values))
                ax.hlines(median, i - 0.3, i + 0.3, color="black", linewidth=1.6, zorder=4)
                ax.annotate(f"{median:+.3f}", (i + 0.32, median), fontsize=6, va="center")
            ax.axhline(0, color=GREY, linewidth=0.8)
            ax.set_xticks(range(len(attributes)), attributes)
            ax.set_xlim(-0.6, len(attributes) - 0.2)
            ax.set_ylabel(f"Δ {METRIC_NAMES[FAIRNESS_METRIC[task]]} (reconstructed − original)")
            ax.set_title(f"{dataset} {task}", loc="left")
        fig.tight_layout()
        return save(fig, out_dir, "bias_change_distribution")


def plot_bias_ci(fairness: pd.DataFrame, *, dataset: str, task: str, attributes: Sequence[str],
                 condition_order: Sequence[str], out_dir: str | Path, alpha: float = SIGNIFICANCE) -> Path | None:
    """Bias change with its 95 % CI per target x condition, one panel per attribute.

    Filled markers and ``*``: significant after the run's multiple-testing
    correction (:func:`~reconfair.report.evidence.significance`); hollow: not
    significant.  A row whose change is undefined gets no marker, no CI and
    no star.  Colours follow the reconstructors' order in ``condition_order``.
    In the SVG every drawn element has an id: ``marker-``, ``ci-`` and
    ``star-<attribute>-<row>`` (row = position from the top).  Returns
    ``None`` without rows.
    """
    rows = main_fairness(fairness, dataset, task)
    rows = clear_undefined(rows[rows["condition"] != ORIGINAL], alpha)
    if rows.empty:
        return None
    rows = rows.assign(marked=significance(rows, alpha))
    order = {c: i for i, c in enumerate(condition_order)}
    keys = rows[["target", "condition"]].drop_duplicates()
    keys = keys.assign(_rank=keys["condition"].map(lambda c: order.get(c, len(order))))
    keys = keys.sort_values(["target", "_rank"], kind="stable")[["target", "condition"]]
    ylabels = [f"{t} · {c.split('@', 1)[-1]}" for t, c in keys.itertuples(index=False)]
    position = {key: i for i, key in enumerate(keys.itertuples(index=False, name=None))}
    recons = _ordered(recon_order(list(condition_order)), rows["recon"])
    with pyplot() as plt:
        fig, axes = plt.subplots(1, len(attributes), figsize=(2.6 * len(attributes) + 1.6, 0.9 + 0.16 * len(keys)),
                                 sharey=True, squeeze=False)
        for ax, attribute in zip(axes[0], attributes):
            for record in rows[rows["attribute"] == attribute].itertuples(index=False):
                if not np.isfinite(record.delta):
                    continue  # undefined: nothing to draw, whatever the CSV says about its CI or p
                y = position[(record.target, record.condition)]
                colour = color_for(recons, record.recon)
                star = bool(record.marked)
                low, high = getattr(record, "ci_low", np.nan), getattr(record, "ci_high", np.nan)
                if np.isfinite(low) and np.isfinite(high):
                    ax.hlines(y, low, high, color=colour, linewidth=1).set_gid(f"ci-{attribute}-{y}")
                ax.plot(record.delta, y, "o", markersize=3.5, color=colour, markerfacecolor=colour if star else "white",
                        gid=f"marker-{attribute}-{y}")
                if star:
                    ax.annotate("*", (high if np.isfinite(high) else record.delta, y), xytext=(2, -3),
                                textcoords="offset points", fontsize=8, color=colour).set_gid(f"star-{attribute}-{y}")
            ax.axvline(0, color=GREY, linewidth=0.8)
            ax.set_title(attribute)
            ax.set_xlabel(f"Δ {METRIC_NAMES[FAIRNESS_METRIC[task]]} [95% CI]")
        axes[0, 0].set_yticks(range(len(ylabels)), ylabels, fontsize=6)
        axes[0, 0].invert_yaxis()
        handles = [plt.Line2D([], [], marker="o", linestyle="", color=color_for(recons, r), label=r) for r in recons]
        handles.append(plt.Line2D([], [], marker="o", linestyle="", color="black", label="significant (*)"))
        handles.append(plt.Line2D([], [], marker="o", linestyle="", color="black", markerfacecolor="white",
                                  label="not significant"))
        axes[0, -1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0))
        fig.suptitle(f"{dataset} {task}: bias change by attribute", x=0.01, ha="left", fontsize=9)
        fig.tight_layout()
        return save(fig, out_dir, f"bias_change_ci_{dataset}_{task}")


def plot_inherent_vs_added(fairness: pd.DataFrame, *, dataset: str, task: str, attributes: Sequence[str],
                           condition_order: Sequence[str], out_dir: str | Path) -> Path | None:
    """Inherent bias (the metric on original images, per target) beside added bias (its change).

    One row per attribute.  Left: the original-image value per target.
    Right: the change per reconstructor and level, bars = mean over targets,
    dots = single targets.  Both panels share the y axis, so the two sizes
    compare directly.  Returns ``None`` without rows.
    """
    rows = unmitigated(main_fairness(fairness, dataset, task))
    original = rows[rows["condition"] == ORIGINAL]
    added = rows[rows["condition"] != ORIGINAL]
    if original.empty or added.empty:
        return None
    targets = list(dict.fromkeys(original["target"]))
    operators = list(dict.fromkeys(added["degradation"]))
    steps = [(op, lv) for op in operators
             for lv in severity_order(op, sorted(set(added.loc[added["degradation"] == op, "level"])))]
    recons = _ordered(recon_order(list(condition_order)), added["recon"])
    width = 0.8 / max(1, len(recons))
    metric = METRIC_NAMES[FAIRNESS_METRIC[task]]
    with pyplot() as plt:
        fig, axes = plt.subplots(len(attributes), 2, figsize=(2.2 + 0.5 * len(targets) + 0.9 * len(steps),
                                                              2.2 * len(attributes)),
                                 sharey="row", squeeze=False, gridspec_kw={"width_ratios": [max(1, len(targets)),
                                                                                              2 * len(steps)]})
        for r, attribute in enumerate(attributes):
            left, right = axes[r]
            inherent = original[original["attribute"] == attribute].set_index("target")["value"]
            left.bar(range(len(targets)), [inherent.get(t, np.nan) for t in targets], color=GREY, width=0.6)
            left.set_xticks(range(len(targets)), targets, rotation=30, ha="right")
            left.set_ylabel(f"{metric} by {attribute}")
            mine = added[added["attribute"] == attribute]
            labelled: set[str] = set()
            for k, recon in enumerate(recons):
                colour = color_for(recons, recon)
                for s, (op, lv) in enumerate(steps):
                    values = mine.loc[(mine["recon"] == recon) & (mine["degradation"] == op)
                                      & (mine["level"] == lv), "delta"].to_numpy(dtype=float)
                    values = values[np.isfinite(values)]
                    if values.size == 0:
                        continue
                    x = s - 0.4 + width * (k + 0.5)
                    right.bar(x, values.mean(), width=width * 0.9, color=colour, alpha=0.8,
                              label=None if recon in labelled else recon)
                    labelled.add(recon)
                    right.scatter(np.full(values.size, x), values, s=5, color="black", zorder=3)
            right.axhline(0, color=GREY, linewidth=0.8)
            right.set_xticks(range(len(steps)), [f"{lv:g}" if len(operators) == 1 else f"{op}@{lv:g}"
                                                 for op, lv in steps])
            if r == 0:
                left.set_title("inherent\n(original images)")
                right.set_title("added\n(reconstructed − original)")
        entries = {}  # reconstructor -> bar, over every row (a row whose changes are all undefined has none)
        for ax in axes[:, 1]:
            handles, names = ax.get_legend_handles_labels()
            entries.update({n: h for h, n in zip(handles, names) if n not in entries})
        if entries:
            axes[0, 1].legend(list(entries.values()), list(entries), loc="upper left", bbox_to_anchor=(1.01, 1.0))
        axes[-1, 1].set_xlabel("level (mildest → most severe)")
        fig.suptitle(f"{dataset} {task}: inherent vs added bias ({metric})", x=0.01, ha="left", fontsize=9)
        fig.tight_layout()
        return save(fig, out_dir, f"inherent_vs_added_{dataset}_{task}")


def _ordered(order: list[str], found: pd.Series) -> list[str]:
    present = list(dict.fromkeys(found))
    return [r for r in order if r in present] + [r for r in present if r not in order]


__all__ = ["plot_bias_distribution", "plot_bias_ci", "plot_inherent_vs_added", "main_fairness", "PALETTE"]
