"""Metrics: per-sample image and task metrics, the by-group frame, fairness.

Layers, each built on the one below:

1. per sample: :func:`psnr`, :func:`ssim`, :func:`nrmse` (torch, batched),
   :func:`dice`; per label: :func:`auroc`, :func:`equal_error_threshold`;
2. per group of one attribute: :func:`classification_groups`,
   :func:`segmentation_groups` (the only place where grouping happens);
3. fairness scalars, thin wrappers over that frame, all returning
   :class:`FairnessResult`: :func:`eodd`, :func:`eodd_max`, :func:`eop`,
   :func:`dp`, :func:`auroc_gap`, :func:`worst_group_auroc`,
   :func:`delta_dice`, :func:`ser`;
4. :func:`evaluate`: the per-sample table to ``metrics/*.csv``;
   :func:`evaluate_with_uncertainty` (one :class:`EvaluationSettings`) adds
   the paired patient-bootstrap SE, 95% CI, a test with its nominal size,
   adjusted p-values within stated families, significance, minimum
   detectable changes, model sanity and model replicates
   (:func:`bootstrap_deltas`, :func:`attach_uncertainty`).

Examples
--------
>>> from reconfair.metrics import classification_groups, eodd
>>> frame = classification_groups([1, 0, 1, 0], [0.9, 0.1, 0.3, 0.6], ["F", "F", "M", "M"],
...                               threshold=0.5)
>>> eodd(frame).value
1.0
"""

from reconfair.metrics.evaluate import EvaluationTables, evaluate
from reconfair.metrics.fairness import (
    CLASSIFICATION_FAIRNESS,
    SEGMENTATION_FAIRNESS,
    FairnessResult,
    auroc_gap,
    delta_dice,
    dp,
    eodd,
    eodd_max,
    eop,
    ser,
    worst_group_auroc,
)
from reconfair.metrics.groups import classification_groups, group_codes, segmentation_groups
from reconfair.metrics.image import nrmse, psnr, ssim
from reconfair.metrics.task import auroc, binarize, dice, grouped_auroc
from reconfair.metrics.threshold import equal_error_threshold
from reconfair.metrics.settings import EvaluationSettings
from reconfair.metrics.uncertainty import attach_uncertainty, bootstrap_deltas, evaluate_with_uncertainty

__all__ = [
    "psnr",
    "ssim",
    "nrmse",
    "auroc",
    "grouped_auroc",
    "dice",
    "binarize",
    "equal_error_threshold",
    "classification_groups",
    "segmentation_groups",
    "group_codes",
    "FairnessResult",
    "eodd",
    "eodd_max",
    "eop",
    "dp",
    "auroc_gap",
    "worst_group_auroc",
    "delta_dice",
    "ser",
    "CLASSIFICATION_FAIRNESS",
    "SEGMENTATION_FAIRNESS",
    "evaluate",
    "EvaluationTables",
    "bootstrap_deltas",
    "attach_uncertainty",
    "evaluate_with_uncertainty",
    "EvaluationSettings",
]
