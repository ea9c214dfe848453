"""Figure 5: bias before and after mitigation, and the λ trade-off (image quality / AUROC vs EODD).

Reads ``metrics/mitigation.csv`` (one row per mitigated condition x target x
attribute x metric: ``value_unmitigated``, ``value_mitigated``, ``delta`` =
mitigated − unmitigated with its CI and adjusted p) and
``metrics/lambda_sweep.csv`` (one row per λ tried: ``psnr``, macro ``auroc``,
``eodd``; ``mitigation_kind == "none"`` is the unmitigated reference and
``selected`` marks the λ chosen).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from reconfair.vocabulary import NONE
from reconfair.vocabulary import parse_mitigation as parse_label
from reconfair.report.labels import FAIRNESS_METRIC, METRIC_NAMES, ci, signed
from reconfair.report.style import GREY, color_for, pyplot, save, significant

MAIN_METRICS = tuple(FAIRNESS_METRIC.values())


def mitigation_main_rows(mitigation: pd.DataFrame) -> pd.DataFrame:
    """Rows of the main fairness metrics (EODD, Dice gap), or every row when neither is present."""
    main = mitigation[mitigation["metric"].isin(MAIN_METRICS)]
    return main if not main.empty else mitigation


def plot_mitigation_change(mitigation: pd.DataFrame, *, out_dir: str | Path) -> Path:
    """Bias before (hollow) and after (filled) mitigation per condition and target, one panel per attribute.

    The text beside each row is the change (mitigated − unmitigated) with its
    95 % CI; ``*`` marks adjusted p < 0.05.
    """
    rows = mitigation_main_rows(mitigation)
    if rows.empty:
        raise ValueError("mitigation table has no rows")
    keys = rows[["dataset", "target", "degradation", "level", "recon", "mitigation", "metric"]].drop_duplicates()
    parsed = keys["mitigation"].map(parse_label)  # eodd:3.16 before eodd:10, not as strings
    keys = keys.assign(_kind=parsed.map(lambda p: p[0]), _lam=parsed.map(lambda p: p[1]))
    keys = keys.sort_values(["dataset", "metric", "target", "degradation", "level", "recon", "_kind", "_lam"],
                            kind="stable").drop(columns=["_kind", "_lam"])
    key_tuples = list(keys.itertuples(index=False, name=None))
    position = {key: i for i, key in enumerate(key_tuples)}
    labels = [f"{d} · {t} · {lv:g}/{r} + {m}" for d, t, _, lv, r, m, _ in key_tuples]
    attributes = list(dict.fromkeys(rows["attribute"]))
    kinds = sorted({m.split(":")[0] for m in rows["mitigation"]})
    with pyplot() as plt:
        fig, axes = plt.subplots(1, len(attributes), figsize=(3.2 * len(attributes) + 2.8, 1.0 + 0.24 * len(keys)),
                                 sharey=True, squeeze=False)
        for ax, attribute in zip(axes[0], attributes):
            for record in rows[rows["attribute"] == attribute].itertuples(index=False):
                y = position[(record.dataset, record.target, record.degradation, record.level, record.recon,
                              record.mitigation, record.metric)]
                colour = color_for(kinds, record.mitigation.split(":")[0])
                ax.plot([record.value_unmitigated, record.value_mitigated], [y, y], color=GREY, linewidth=1)
                ax.plot(record.value_unmitigated, y, "o", markersize=4, color=GREY, markerfacecolor="white")
                ax.plot(record.value_mitigated, y, "o", markersize=4, color=colour)
                text = f"{signed(record.delta)} {ci(record.ci_low, record.ci_high)}"
                text += " *" if significant(record.p_adjusted) else ""
                ax.annotate(text, (1.0, y), xycoords=("axes fraction", "data"), xytext=(3, 0),
                            textcoords="offset points", fontsize=6, va="center")
            ax.set_title(attribute)
            ax.set_xlabel("bias: unmitigated (hollow) → mitigated (filled)")
        axes[0, 0].set_yticks(range(len(labels)), labels, fontsize=6)
        axes[0, 0].invert_yaxis()
        handles = [plt.Line2D([], [], marker="o", linestyle="", color=color_for(kinds, k), label=k) for k in kinds]
        axes[0, -1].legend(handles=handles, loc="lower left", bbox_to_anchor=(1.0, 1.0), ncol=len(kinds))
        metrics = ", ".join(METRIC_NAMES.get(m, m) for m in dict.fromkeys(rows["metric"]))
        fig.suptitle(f"bias before and after mitigation ({metrics}); Δ [95% CI], * p_adj < 0.05",
                     x=0.01, ha="left", fontsize=9)
        fig.tight_layout()
        return save(fig, out_dir, "mitigation_bias_change")


def plot_lambda_tradeoff(sweep: pd.DataFrame, *, out_dir: str | Path) -> Path:
    """PSNR and macro AUROC against EODD along the λ path of each mitigation kind.

    One row of two panels per data set x condition x attribute; the star is
    the selected λ, the cross the unmitigated reference.
    """
    if sweep.empty:
        raise ValueError("lambda sweep table has no rows")
    groups = list(sweep.groupby(["dataset", "degradation", "level", "recon", "attribute"], sort=True))
    kinds = sorted(k for k in sweep["mitigation_kind"].unique() if k != NONE)
    with pyplot() as plt:
        fig, axes = plt.subplots(len(groups), 2, figsize=(7.2, 2.4 * len(groups)), squeeze=False)
        for r, ((dataset, degradation, level, recon, attribute), part) in enumerate(groups):
            for c, quality in enumerate(("psnr", "auroc")):
                ax = axes[r, c]
                reference = part[part["mitigation_kind"] == NONE]
                ax.plot(reference["eodd"], reference[quality], "x", color="black", markersize=6,
                        label="unmitigated")
                for kind in kinds:
                    path = part[part["mitigation_kind"] == kind].sort_values("lam")
                    if path.empty:
                        continue
                    colour = color_for(kinds, kind)
                    ax.plot(path["eodd"], path[quality], "-o", color=colour, markersize=3, label=kind)
                    for record in path.itertuples(index=False):
                        if np.isfinite(record.eodd) and np.isfinite(getattr(record, quality)) and np.isfinite(
                                record.lam):  # methods without a weight (reweighting) have no λ to print
                            ax.annotate(f"λ={record.lam:g}", (record.eodd, getattr(record, quality)), fontsize=5,
                                        xytext=(2, 2), textcoords="offset points")
                    chosen = path[path["selected"].astype(str).str.lower().isin(["true", "1"])]
                    ax.plot(chosen["eodd"], chosen[quality], "*", color=colour, markersize=10,
                            markeredgecolor="black", markeredgewidth=0.6)
                ax.set_xlabel(f"EODD by {attribute}")
                ax.set_ylabel("PSNR (dB)" if quality == "psnr" else "macro AUROC")
                if c == 0:
                    ax.set_title(f"{dataset}: {degradation}@{level:g}/{recon}", loc="left")
            axes[r, 1].legend(loc="best")
        fig.suptitle("λ trade-off (★ selected λ, × unmitigated)", x=0.01, ha="left", fontsize=9)
        fig.tight_layout()
        return save(fig, out_dir, "mitigation_tradeoff")
