"""Figure 6: example cases from ``examples/<dataset>.npz`` (written by :mod:`reconfair.engine.examples`).

Columns: clean, degraded, each reconstruction at the most severe level.  Rows
per case: the image, the error map |image − clean|, the classifier's
saliency for the top target (with its probability; the title says how it was
made: Grad-CAM, input gradients, or none for an ONNX model), and the
segmentation overlay (true outline green, predicted mask orange).  Rows are
named by sample id, or by its hash with ``report.ids: hash``
(:func:`case_labels`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from reconfair.config.report import shown_id
from reconfair.report.labels import RECON_NAMES, level_label
from reconfair.report.style import PALETTE, pyplot, save
from reconfair.vocabulary import NONE, ORIGINAL, parse_condition

TRUTH_COLOUR, PREDICTED_COLOUR = PALETTE[2], PALETTE[1]


def column_title(column: str) -> str:
    """``"clean"``, ``"degraded\\n3,000 photons"`` or the reconstructor's name.

    >>> column_title("radiograph-lowdose@3000/degraded"), column_title("mri-undersampling@8/unet")
    ('degraded\\n3,000 photons', 'U-Net\\n8× acceleration')
    """
    if column == ORIGINAL:
        return "clean"
    parsed = parse_condition(column)
    recon = parsed.recon
    name = "degraded" if recon == "degraded" else RECON_NAMES.get(recon, recon)
    name = name.replace(" (identity)", "") if recon == "identity" else name
    if parsed.mitigation != NONE:
        name += f" + {parsed.mitigation}"
    return f"{name}\n{level_label(parsed.operator, parsed.level)}"


def case_labels(arrays: dict[str, np.ndarray], *, ids: Literal["keep", "hash"] = "keep") -> list[str]:
    """The row label of each case: its sample id, kept or hashed (``report.ids``; :func:`shown_id`).

    >>> case_labels({"sample_ids": np.array(["img-P00"])}, ids="hash")
    ['73934c1defb5']
    """
    return [shown_id(str(s), ids=ids) for s in arrays["sample_ids"]]


def plot_examples(arrays: dict[str, np.ndarray], *, dataset: str, out_dir: str | Path,
                  ids: Literal["keep", "hash"] = "keep") -> Path:
    """The example grid of one data set; writes ``examples_<dataset>.png``/``.svg``, returns the PNG path.

    Each case's rows are labelled with :func:`case_labels` (``ids``: ``keep`` or ``hash``).
    """
    images = arrays["images"].astype(np.float32)
    columns = [str(c) for c in arrays["columns"]]
    ids = case_labels(arrays, ids=ids)
    n_cases, n_cols = images.shape[:2]
    kinds = ["image", "error"] + (["saliency"] if "saliency" in arrays else []) + (
        ["segmentation"] if "mask_true" in arrays else [])
    target = str(arrays["target"]) if "target" in arrays else ""
    errors = np.abs(images - images[:, :1])
    error_max = float(np.percentile(errors[:, 1:], 99.5)) if n_cols > 1 else 1.0
    with pyplot() as plt:
        n_rows = n_cases * len(kinds)
        fig, axes = plt.subplots(n_rows, n_cols, figsize=(1.25 * n_cols + 0.6, 1.25 * n_rows), squeeze=False)
        for case in range(n_cases):
            for k, kind in enumerate(kinds):
                row = case * len(kinds) + k
                for col in range(n_cols):
                    ax = axes[row, col]
                    ax.set_xticks([])
                    ax.set_yticks([])
                    ax.grid(False)
                    for spine in ax.spines.values():
                        spine.set_visible(False)
                    image = images[case, col]
                    if kind == "image":
                        ax.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
                    elif kind == "error":
                        if col == 0:
                            ax.text(0.5, 0.5, "reference", ha="center", va="center", fontsize=6,
                                    transform=ax.transAxes)
                        else:
                            ax.imshow(errors[case, col], cmap="magma", vmin=0, vmax=max(error_max, 1e-6),
                                      interpolation="nearest")
                    elif kind == "saliency":
                        ax.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
                        ax.imshow(arrays["saliency"][case, col].astype(np.float32), cmap="inferno", vmin=0, vmax=1,
                                  alpha=0.6, interpolation="nearest")
                        ax.set_xlabel(f"p({target}) = {arrays['scores'][case, col]:.2f}", fontsize=6, labelpad=1)
                    else:
                        _segmentation(ax, image, arrays["mask_true"][case], arrays["mask_pred"][case, col])
                    if row == 0:
                        ax.set_title(column_title(columns[col]), fontsize=6.5)
                label = {"image": ids[case], "error": "|error|", "saliency": f"saliency\n{target}",
                         "segmentation": "mask"}[kind]
                axes[row, 0].set_ylabel(label, fontsize=6)
        method = str(arrays["saliency_method"]) if "saliency_method" in arrays else ("input gradient" if target else "")
        fig.suptitle(f"{dataset}: example test cases at the most severe level"
                     + (f"\nsaliency of p({target}): {method}" if method else ""), x=0.01, ha="left", fontsize=9)
        width, height = fig.get_size_inches()  # fixed margins: tight_layout is slow with many panels
        fig.subplots_adjust(left=0.45 / width, right=1 - 0.05 / width, bottom=0.2 / height,
                            top=1 - 0.75 / height, wspace=0.08, hspace=0.3)
        return save(fig, out_dir, f"examples_{dataset}")


def _segmentation(ax, image: np.ndarray, truth: np.ndarray, predicted: np.ndarray) -> None:
    from matplotlib.colors import ListedColormap

    ax.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    shown = np.ma.masked_where(predicted == 0, predicted)
    ax.imshow(shown, cmap=ListedColormap([PREDICTED_COLOUR]), alpha=0.5, interpolation="nearest")
    if truth.any() and not truth.all():
        ax.contour(truth.astype(float), levels=[0.5], colors=[TRUTH_COLOUR], linewidths=0.8)
