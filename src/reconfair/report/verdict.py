"""The verdict: the changes that pass the multiple-testing correction, ranked, one sentence each.

A **finding** is a row of ``metrics/fairness.csv`` (any metric) or a task row
of ``metrics/performance.csv`` (AUROC per target and macro, Dice) of a
reconstructed condition that is significant (:func:`~reconfair.report.evidence.significance`:
finite change, passes the correction), whose diagnostic model is not flagged
uninformative.  Findings are ranked: the main fairness metric (EODD, Dice
gap) first, then the task metric, then the other fairness metrics; within
each, by |Δ|, largest first.

:func:`family_line` says in one line how the tests were corrected;
:func:`no_finding_text` what to say when nothing passes (with the largest
minimum detectable change).

Examples
--------
>>> import pandas as pd
>>> fair = pd.DataFrame({"dataset": "d", "task": "classification", "target": "nodule",
...     "condition": ["radiograph-lowdose@30/unet", "radiograph-lowdose@30/identity"], "attribute": "sex",
...     "metric": "eodd", "delta": [0.247, 0.02], "ci_low": [0.142, -0.01], "ci_high": [0.351, 0.05],
...     "p_value": [0.001, 0.2], "p_adjusted": [0.001, 0.8]})
>>> [f.text for f in findings(pd.DataFrame(columns=["dataset", "task", "target", "condition", "metric",
...                                                 "value"]), fair)]
['U-Net at 30 photons raises EODD by sex for nodule by +0.247 [0.142, 0.351] (p_adj = 0.001).']
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from reconfair.report.evidence import (
    ci_of, clear_undefined, detectable, flags, model_flags, p_of, significance, uninformative_mask,
)
from reconfair.report.labels import FAIRNESS_METRIC, METRIC_NAMES, ci, condition_label, number, signed
from reconfair.report.style import SIGNIFICANCE
from reconfair.report.tables import performance_table
from reconfair.vocabulary import ORIGINAL

ADJUST_NAMES = {"holm": "Holm", "bh": "Benjamini–Hochberg"}
COLUMN_WORDS = {"dataset": "data set"}
MAIN, TASK, OTHER = 0, 1, 2


@dataclass(frozen=True)
class Finding:
    """One change that passes the correction: where it is, how large, and its sentence."""

    dataset: str
    task: str
    condition: str
    target: str
    attribute: str
    metric: str
    delta: float
    tier: int
    text: str


def findings(performance: pd.DataFrame, fairness: pd.DataFrame, *, models: pd.DataFrame | None = None,
             alpha: float = SIGNIFICANCE, several_datasets: bool = False) -> list[Finding]:
    """The significant changes of informative models, ranked (see the module docstring)."""
    flagged = model_flags(models)
    task_rows = performance_table(performance, alpha=alpha) if not performance.empty else performance
    out: list[tuple[tuple, Finding]] = []
    for kind, table in (("fairness", fairness), ("task", task_rows)):
        if table.empty or "delta" not in table.columns:
            continue
        rows = clear_undefined(table[table["condition"] != ORIGINAL].reset_index(drop=True), alpha)
        keep = significance(rows, alpha) & ~uninformative_mask(rows, flagged)
        for position, (_, record) in enumerate(rows[keep].iterrows()):
            metric = str(record["metric"])
            tier = TASK if kind == "task" else MAIN if FAIRNESS_METRIC.get(str(record["task"])) == metric else OTHER
            attribute = str(record.get("attribute", "")) if kind == "fairness" else ""
            finding = Finding(str(record["dataset"]), str(record["task"]), str(record["condition"]),
                              str(record["target"]), attribute, metric, float(record["delta"]), tier,
                              sentence(record, attribute=attribute, dataset_prefix=several_datasets))
            out.append(((tier, -abs(finding.delta), kind, position), finding))
    return [finding for _, finding in sorted(out, key=lambda item: item[0])]


def sentence(record: pd.Series, *, attribute: str = "", dataset_prefix: bool = False) -> str:
    """``"U-Net at 30 photons raises EODD by sex for nodule by +0.247 [0.142, 0.351] (p_adj < 0.002)."``"""
    delta = float(record["delta"])
    verb = "raises" if delta > 0 else "lowers" if delta < 0 else "changes"
    metric = str(record["metric"])
    name = METRIC_NAMES.get(metric, metric)
    target = str(record["target"])
    what = (f"macro {name}" if target == "macro" else f"{name}") + (f" by {attribute}" if attribute else "")
    what += "" if target == "macro" else f" for {target}"
    label = condition_label(str(record["condition"]))
    subject = f"{record['dataset']}: {label}" if dataset_prefix else label[:1].upper() + label[1:]
    interval, p = ci_of(record), p_of(record)
    return f"{subject} {verb} {what} by {signed(delta)}" + (f" {interval}" if interval else "") + (
        f" ({p})" if p else "") + gap_words(record) + "."


GAP_RATES = {"tpr": "TPR", "fpr": "FPR", "selection_rate": "selection rate", "auroc": "AUROC", "dice": "Dice",
             "log(1 - dice)": "log(1 − Dice)"}


def gap_words(record: pd.Series) -> str:
    """``"; the TPR gap M − F moves by −0.128 [−0.170, −0.090]"``: the signed gap the test found moving.

    A max − min change can hide how the groups moved (a gap that reverses keeps
    its size); the signed gap's change and CI say it.  Empty without one.

    >>> gap_words(pd.Series({"gap": "tpr M - F", "gap_change": -0.128, "gap_ci_low": -0.17, "gap_ci_high": -0.09}))
    '; the TPR gap M − F moves by −0.128 [−0.170, −0.090]'
    """
    label, change = str(record.get("gap", "") or ""), record.get("gap_change", math.nan)
    try:
        change = float(change)
    except (TypeError, ValueError):
        return ""
    if not label or label == "nan" or not math.isfinite(change):
        return ""
    words = label
    for key, name in GAP_RATES.items():
        if label.startswith(key + " "):
            words = f"{name} gap {label[len(key) + 1:].replace(' - ', ' − ')}"
            break
    interval = ci(float(record.get("gap_ci_low", math.nan)), float(record.get("gap_ci_high", math.nan)))
    return f"; the {words} moves by {signed(change)}" + (f" {interval}" if interval else "")


def family_words(evaluation: dict[str, Any]) -> str:
    """The correction and its families in words, from the configuration's ``evaluation`` section.

    >>> family_words({"adjust": "holm", "family": "metric"})
    'Holm within one family per data set × task × attribute × metric'
    >>> family_words({"adjust": "bh", "family": "report"}), family_words({"family": ["dataset", "metric"]})
    ('Benjamini–Hochberg across one family: every test of the report', 'Holm within one family per data set × metric')
    """
    from reconfair.metrics.settings import FAMILIES

    adjust = ADJUST_NAMES.get(str(evaluation.get("adjust", "holm")), str(evaluation.get("adjust")))
    family = evaluation.get("family", "report")
    columns = FAMILIES.get(family, ()) if isinstance(family, str) else tuple(str(c) for c in family)
    if isinstance(family, str) and family not in FAMILIES:
        return f"{adjust} within families '{family}'"
    if not columns:
        return f"{adjust} across one family: every test of the report"
    return f"{adjust} within one family per " + " × ".join(COLUMN_WORDS.get(c, c) for c in columns)


def family_line(evaluation: dict[str, Any], families: pd.DataFrame | None, tables: Sequence[pd.DataFrame]) -> str:
    """``family_words`` plus the number of families and the largest, from ``families.csv`` (or the
    ``family`` / ``family_size`` columns of the tables)."""
    text = family_words(evaluation)
    if families is not None and not families.empty and "n_tests" in families.columns:
        sizes = families["n_tests"].to_numpy(dtype=float)
        count = len(families)
    else:
        pairs = pd.concat([t[["family", "family_size"]] for t in tables
                           if {"family", "family_size"} <= set(t.columns)], ignore_index=True) \
            if any({"family", "family_size"} <= set(t.columns) for t in tables) else pd.DataFrame()
        pairs = pairs[pairs["family"].astype(str).str.len() > 0].drop_duplicates("family") if not pairs.empty else pairs
        sizes = pairs["family_size"].to_numpy(dtype=float) if not pairs.empty else np.array([])
        count = len(pairs)
    sizes = sizes[np.isfinite(sizes)]
    if count and sizes.size:
        text += f"; {count} {'family' if count == 1 else 'families'}, largest {int(sizes.max())} tests"
    return text


def no_finding_text(fairness: pd.DataFrame, performance: pd.DataFrame, *, family: str,
                    datasets: Sequence[str], power: float = 0.8) -> list[str]:
    """What to say when nothing passes: that, and the largest minimum detectable change per data set x task."""
    tested = any("p_adjusted" in t.columns and np.isfinite(t["p_adjusted"].to_numpy(dtype=float)).any()
                 for t in (fairness, performance))
    if not tested:
        return ["No change was tested: the run has no bootstrap p-values (evaluation.bootstrap: 0 or "
                "`reconfair evaluate` without --bootstrap), so there is no verdict."]
    lines = [f"No change passes the multiple-testing correction (family: {family})."]
    for dataset in datasets:
        for task, metric in FAIRNESS_METRIC.items():
            rows = fairness[(fairness["dataset"] == dataset) & (fairness["task"] == task)
                            & (fairness["metric"] == metric) & (fairness["condition"] != ORIGINAL)]
            rows = clear_undefined(rows)
            values = np.array([detectable(r) for _, r in rows.iterrows()], dtype=float)
            values = values[np.isfinite(values)]
            if values.size == 0:
                continue
            lines.append(f"{dataset} · {task}: changes of {METRIC_NAMES[metric]} smaller than "
                         f"{number(values.max())} could not have been seen (the largest minimum detectable change "
                         f"at {power:.0%} power; the smallest is {number(values.min())}).")
    return lines


def model_banners(models: pd.DataFrame | None) -> list[str]:
    """One sentence per diagnostic model flagged uninformative in ``metrics/models.csv``."""
    if models is None or models.empty or "status" not in models.columns:
        return []
    out = []
    bad = models[models["status"].astype(str) == "uninformative"]
    for (dataset, task, target, metric), part in bad.groupby(["dataset", "task", "target", "metric"], sort=False):
        model = "classifier" if task == "classification" else "segmenter"
        values = ", ".join(number(float(v), 2) for v in part.get("val_value", pd.Series([math.nan])))
        reasons = "; ".join(dict.fromkeys(str(r) for r in part.get("reason", pd.Series([""])).fillna("") if str(r)))
        replicas = ""
        if "replicate" in models.columns:
            total = models[(models["dataset"] == dataset) & (models["target"] == target)
                           & (models["task"] == task)]["replicate"].nunique()
            replicas = f" in {part['replicate'].nunique()} of {total} replicates" if total > 1 else ""
        name = METRIC_NAMES.get(str(metric), str(metric))
        out.append(f"The {model}'s validation {name} for {target} ({dataset}) is {values}{replicas}"
                   + (f" ({reasons})" if reasons else "") + f": no verdict on {target}.")
    return out


def family_banners(families: pd.DataFrame | None, *, limit: int = 3) -> list[str]:
    """Families whose smallest reachable p cannot pass the correction's first cut (``reachable`` false)."""
    if families is None or families.empty or "reachable" not in families.columns:
        return []
    dead = families[~flags(families["reachable"])]
    if "n_tests" in dead.columns:
        dead = dead[dead["n_tests"].fillna(0).astype(int) > 0]  # nothing to pass in a family without tests
    if dead.empty:
        return []
    hint = "run with evaluation.bootstrap: auto or more resamples."

    def b_of(part: pd.DataFrame) -> str:
        values = sorted({int(v) for v in part.get("n_boot", pd.Series(dtype=float)).dropna()})
        return "B = " + "/".join(str(v) for v in values) if values else "these resamples"

    def adjust_of(part: pd.DataFrame) -> str:
        names = list(dict.fromkeys(ADJUST_NAMES.get(str(a), str(a)) for a in part.get("adjust", pd.Series(["holm"]))))
        return "/".join(names)

    if len(dead) <= limit:
        out = []
        for _, row in dead.iterrows():
            m = int(row["n_tests"])
            alpha = float(row.get("alpha", SIGNIFICANCE))
            cut = float(row.get("first_cut", alpha / m))
            out.append(f"With {b_of(row.to_frame().T)}, no p-value of family {row['family']} ({m} tests) can pass "
                       f"{adjust_of(row.to_frame().T)}'s first cut {number(alpha, 2)}/{m} = {cut:.2g}; {hint}")
        return out
    names = ", ".join(str(f) for f in dead["family"].head(limit))
    sizes = dead["n_tests"].astype(int)
    return [f"With {b_of(dead)}, no p-value of {len(dead)} families ({sizes.min()} to {sizes.max()} tests each: "
            f"{names}, …) can pass {adjust_of(dead)}'s first cut alpha/m; {hint}"]


__all__ = ["Finding", "findings", "sentence", "family_words", "family_line", "no_finding_text", "model_banners",
           "family_banners"]
