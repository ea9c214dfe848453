"""Patient-level aggregation of the per-sample table.

Where a patient has several images, per-image rows are not independent.
:func:`aggregate_patients` collapses them to one row per patient x condition
x target: the median score (classification) and the mean Dice
(segmentation), configurable.  A patient's label must agree across images;
image-quality columns are averaged.

Examples
--------
>>> import pandas as pd
>>> rows = pd.DataFrame({"sample_id": ["a1", "a2", "b1"], "patient_id": ["a", "a", "b"],
...     "split": "test", "dataset": "d", "task": "classification", "target": "t",
...     "condition": "original", "y_true": [1.0, 1.0, 0.0], "y_score": [0.2, 0.6, 0.3],
...     "attr_sex": ["F", "F", "M"]})
>>> aggregate_patients(rows)[["sample_id", "y_score", "n_images"]].to_dict("list")
{'sample_id': ['a', 'b'], 'y_score': [0.4, 0.3], 'n_images': [2, 1]}
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SCORE_REDUCTIONS = ("median", "mean", "max")
DICE_REDUCTIONS = ("mean", "median")
GROUP_KEYS = ("patient_id", "split", "dataset", "task", "target", "condition")
OPTIONAL_KEYS = ("recon", "degradation", "level", "mitigation", "seed")
MEAN_COLUMNS = ("psnr", "ssim", "nrmse")


def aggregate_patients(samples: pd.DataFrame, *, score: str = "median", dice: str = "mean") -> pd.DataFrame:
    """One row per patient x condition x target; ``sample_id`` becomes the patient id.

    Raises ``ValueError`` naming the patient when its label or an attribute
    differs between its images, or naming the missing column.
    """
    if score not in SCORE_REDUCTIONS:
        raise ValueError(f"score reduction must be one of {SCORE_REDUCTIONS}, got {score!r}")
    if dice not in DICE_REDUCTIONS:
        raise ValueError(f"dice reduction must be one of {DICE_REDUCTIONS}, got {dice!r}")
    missing = [c for c in GROUP_KEYS if c not in samples.columns]
    if missing:
        raise ValueError(f"patient-level aggregation needs column(s) {missing}; found {list(samples.columns)}")
    keys = [*GROUP_KEYS, *(c for c in OPTIONAL_KEYS if c in samples.columns)]
    constant = [c for c in samples.columns if c.startswith("attr_") or c == "y_true"]
    for column in constant:
        varying = samples.groupby(keys, dropna=False)[column].nunique(dropna=False) > 1
        if varying.any():
            patient = varying[varying].index[0][0]
            raise ValueError(
                f"patient {patient!r}: column {column!r} differs between its images; patient-level "
                "aggregation needs one value per patient (aggregate at image level instead)"
            )
    reductions: dict[str, tuple[str, str]] = {"n_images": ("sample_id", "size")}
    for column in constant:
        reductions[column] = (column, "first")
    if "y_score" in samples.columns:
        reductions["y_score"] = ("y_score", score)
    if "dice" in samples.columns:
        reductions["dice"] = ("dice", dice)
    for column in MEAN_COLUMNS:
        if column in samples.columns:
            reductions[column] = (column, "mean")
    grouped = samples.groupby(keys, sort=True, dropna=False).agg(**reductions).reset_index()
    grouped.insert(0, "sample_id", grouped["patient_id"].to_numpy())
    grouped["n_images"] = grouped["n_images"].astype(np.int64)
    return grouped
