"""Is each diagnostic model informative at all?  A verdict about a constant model is no verdict.

:func:`model_sanity` reads each model's predictions on the ``val`` rows of
the original images (the evaluation split's original rows when a table has no
``val`` rows) and flags it ``uninformative`` when

- its scores are near-constant: standard deviation below :data:`MIN_SCORE_SD`
  (0.02), or
- its AUROC is at or below :data:`CHANCE_AUROC` (0.55: at or below chance), or
  undefined, or
- (segmentation) its mean Dice is below :data:`MIN_DICE` (0.1).

A model here is one diagnostic output: a classifier's target, or a
segmenter.  Changes measured through an uninformative model say nothing
about the reconstruction: the report gives them no verdict.

Examples
--------
>>> rows = pd.DataFrame({"dataset": "d", "task": "classification", "target": "t", "condition": "original",
...     "split": "val", "y_true": [0.0, 1.0] * 50, "y_score": [0.50, 0.51] * 50})
>>> model_sanity(rows)[["target", "val_value", "status", "reason"]].values.tolist()
[['t', 1.0, 'uninformative', 'near-constant scores (sd 0.005 < 0.02)']]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reconfair.metrics.task import auroc
from reconfair.vocabulary import ORIGINAL

__all__ = ["MIN_SCORE_SD", "CHANCE_AUROC", "MIN_DICE", "MODEL_COLUMNS", "model_sanity", "sanity_notes"]

MIN_SCORE_SD = 0.02
CHANCE_AUROC = 0.55
MIN_DICE = 0.1
MODEL_COLUMNS = ("metric", "val_value", "val_n", "score_sd", "split_used", "status", "reason")


def model_sanity(samples: pd.DataFrame) -> pd.DataFrame:
    """One row per dataset x task x target (x seed, x replicate when present): the model's sanity.

    Columns: the keys, then ``metric`` (``auroc`` or ``dice``), ``val_value``,
    ``val_n``, ``score_sd`` (classification), ``split_used``, ``status``
    (``ok`` or ``uninformative``) and ``reason``.
    """
    keys = ["dataset", "task", "target", *(c for c in ("seed", "replicate") if c in samples.columns)]
    original = samples.loc[samples["condition"] == ORIGINAL]
    rows = []
    for key, run in original.groupby(keys, sort=True):
        part, used = run.loc[run["split"] == "val"], "val"
        if part.empty:
            used = ", ".join(sorted(map(str, run["split"].unique())))
            part = run
        ident = dict(zip(keys, key))
        if ident["task"] == "classification":
            labels = part["y_true"].to_numpy(dtype=np.float64)
            labelled = ~np.isnan(labels)
            scores = part["y_score"].to_numpy(dtype=np.float64)[labelled]
            value = auroc(labels[labelled], scores)
            sd = float(scores.std()) if scores.size else float("nan")
            problems = []
            if not sd >= MIN_SCORE_SD:
                problems.append(f"near-constant scores (sd {sd:.3g} < {MIN_SCORE_SD:g})")
            if not np.isfinite(value):
                problems.append("validation AUROC undefined (one class)")
            elif value <= CHANCE_AUROC:
                problems.append(f"validation AUROC {value:.3g} <= {CHANCE_AUROC:g} (at or below chance)")
            rows.append({**ident, "metric": "auroc", "val_value": value, "val_n": int(labelled.sum()),
                         "score_sd": sd, "split_used": used, "problems": problems})
        else:
            dice = part["dice"].to_numpy(dtype=np.float64)
            value = float(dice.mean()) if dice.size else float("nan")
            problems = [] if value >= MIN_DICE else [f"validation Dice {value:.3g} < {MIN_DICE:g}"]
            rows.append({**ident, "metric": "dice", "val_value": value, "val_n": int(dice.size),
                         "score_sd": float("nan"), "split_used": used, "problems": problems})
    table = pd.DataFrame(rows, columns=[*keys, "metric", "val_value", "val_n", "score_sd", "split_used", "problems"])
    table["status"] = ["uninformative" if p else "ok" for p in table["problems"]]
    table["reason"] = ["; ".join(p) for p in table["problems"]]
    return table.drop(columns="problems")


def sanity_notes(models: pd.DataFrame) -> list[str]:
    """One warning per uninformative model."""
    notes = []
    several = "replicate" in models.columns and models["replicate"].nunique() > 1
    for row in models[models["status"] == "uninformative"].to_dict("records"):
        replicate = f" (replicate {row['replicate']})" if several else ""
        notes.append(f"{row['dataset']} {row['task']} model for {row['target']}{replicate} is uninformative: "
                     f"{row['reason']}; its changes get no verdict")
    return notes
