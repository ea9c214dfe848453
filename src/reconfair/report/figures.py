"""Figures (matplotlib, imported lazily, Agg backend, colour-blind-safe palette)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

# Okabe-Ito palette: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
LEVEL_LABELS = {
    "radiograph-lowdose": ("photons per pixel N0 (lower = more noise)", True),
    "ct-lowdose": ("photons per detector bin N0 (lower = more noise)", True),
    "mri-undersampling": ("acceleration (higher = fewer samples)", False),
}


def plot_quality_and_task(performance: pd.DataFrame, *, dataset: str, out_dir: str | Path) -> Path:
    """Image quality (PSNR, SSIM) and task performance (macro AUROC, Dice) vs level.

    One row of panels per degradation operator; task panels show the
    original-image value as a dashed line.  Returns the PNG path.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    rows = performance[performance["dataset"] == dataset]
    if rows.empty:
        raise ValueError(f"no performance rows for data set {dataset!r}")
    task_metrics = [m for m in ("auroc", "dice") if m in set(rows["metric"])]
    panels = ["psnr", "ssim", *task_metrics]
    operators = sorted(set(rows["degradation"]) - {"none"})
    fig, axes = plt.subplots(
        len(operators), len(panels), figsize=(3.6 * len(panels), 3.0 * len(operators)), squeeze=False
    )
    for r, operator in enumerate(operators):
        label, log_scale = LEVEL_LABELS.get(operator, ("level", False))
        for c, metric in enumerate(panels):
            ax = axes[r, c]
            selected = rows[(rows["metric"] == metric) & (rows["degradation"] == operator)]
            if metric == "auroc":
                selected = selected[selected["target"] == "macro"]
            for k, (recon, part) in enumerate(selected.groupby("recon", sort=True)):
                part = part.sort_values("level")
                ax.plot(part["level"], part["value"], marker="o", color=PALETTE[k % len(PALETTE)], label=recon)
            original = rows[(rows["metric"] == metric) & (rows["condition"] == "original")]
            if metric == "auroc":
                original = original[original["target"] == "macro"]
            if not original.empty and np.isfinite(original["value"].iloc[0]):
                ax.axhline(original["value"].iloc[0], color="grey", linestyle="--", label="original")
            if log_scale:
                ax.set_xscale("log")
                ax.invert_xaxis()
            ax.set_xlabel(label)
            ax.set_ylabel({"auroc": "macro AUROC", "dice": "mean Dice"}.get(metric, metric.upper()))
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        axes[r, 0].set_title(f"{dataset}: {operator}", loc="left", fontsize=9)
    fig.tight_layout()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"quality_task_vs_level_{dataset}.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
