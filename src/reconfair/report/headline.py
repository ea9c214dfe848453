"""The headline: one sentence per data set x task x condition, from the metric tables.

For a reconstructed condition it states the task change (AUROC or Dice:
*stable*, *down*, *up* or *mixed*, by the bootstrap CIs after correction) and,
per attribute, the change of the main fairness metric (EODD, Dice gap) with
its 95 % CI and adjusted p.  Several targets: the macro (or mean) change, and
the target with the strongest evidence.  The original images get their task
value and their inherent bias.

The rules of :mod:`reconfair.report.evidence` apply: an undefined change is
"n/a" with no CI or p; a p at the bootstrap's floor reads ``p < floor``; a
non-significant result sits beside its minimum detectable change when the run
reports one; a target whose model ``metrics/models.csv`` flags gets "model
uninformative: no verdict", never *stable*.

Examples
--------
>>> import pandas as pd
>>> perf = pd.DataFrame({"dataset": "d", "task": "classification", "target": "t", "metric": "auroc",
...     "condition": ["original", "radiograph-lowdose@3000/unet"], "value": [0.900, 0.896],
...     "ci_low": [float("nan"), -0.010], "ci_high": [float("nan"), 0.002], "p_adjusted": [float("nan"), 0.4]})
>>> fair = pd.DataFrame({"dataset": "d", "task": "classification", "target": "t", "metric": "eodd",
...     "attribute": "sex", "condition": ["original", "radiograph-lowdose@3000/unet"], "value": [0.05, 0.081],
...     "delta": [0.0, 0.031], "ci_low": [float("nan"), 0.012], "ci_high": [float("nan"), 0.050],
...     "p_adjusted": [float("nan"), 0.0123]})
>>> condition_headline(perf, fair, dataset="d", task="classification",
...                    condition="radiograph-lowdose@3000/unet", attributes=["sex"])
'U-Net at 3,000 photons (radiograph-lowdose@3000/unet): AUROC stable, Δ −0.004 [−0.010, 0.002], p_adj = 0.400; EODD by sex +0.031 [0.012, 0.050], p_adj = 0.012.'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from reconfair.report.evidence import (
    ci_of, clear_undefined, detectable, flag_for, model_flags, p_of, significance, uninformative_mask,
)
from reconfair.report.labels import (
    FAIRNESS_METRIC, METRIC_NAMES, TASK_METRIC, condition_label, number, signed,
)
from reconfair.report.style import SIGNIFICANCE
from reconfair.vocabulary import ORIGINAL

NO_VERDICT = "model uninformative: no verdict"
"""Said of a target whose diagnostic model metrics/models.csv flags as uninformative (never 'stable')."""

Flags = dict[tuple[str, str, str], str]


@dataclass(frozen=True)
class Headline:
    """One sentence about one condition of one data set and task."""

    dataset: str
    task: str
    condition: str
    text: str


def headlines(performance: pd.DataFrame, fairness: pd.DataFrame, *, datasets: Sequence[str],
              conditions: Sequence[str], attributes: Sequence[str], models: pd.DataFrame | None = None,
              alpha: float = SIGNIFICANCE) -> list[Headline]:
    """A headline per data set x task x condition present, in the given orders."""
    out = []
    for dataset in datasets:
        for task in TASK_METRIC:
            here = performance[(performance["dataset"] == dataset) & (performance["task"] == task)]
            present = set(here["condition"])
            for condition in [c for c in conditions if c in present]:
                text = condition_headline(performance, fairness, dataset=dataset, task=task, condition=condition,
                                          attributes=attributes, models=models, alpha=alpha)
                out.append(Headline(dataset, task, condition, text))
    return out


def condition_headline(performance: pd.DataFrame, fairness: pd.DataFrame, *, dataset: str, task: str,
                       condition: str, attributes: Sequence[str], models: pd.DataFrame | None = None,
                       alpha: float = SIGNIFICANCE) -> str:
    """The sentence for one condition (see the module docstring for the wording).

    ``models`` (``metrics/models.csv``) flags uninformative diagnostic models:
    their targets get "model uninformative: no verdict" instead of a direction.
    """
    perf = performance[(performance["dataset"] == dataset) & (performance["task"] == task)]
    fair = clear_undefined(fairness[(fairness["dataset"] == dataset) & (fairness["task"] == task)
                                    & (fairness["metric"] == FAIRNESS_METRIC[task])], alpha)
    flagged = {k: v for k, v in model_flags(models).items() if k[:2] == (dataset, task)}
    metric = TASK_METRIC[task]
    fairness_name = METRIC_NAMES[FAIRNESS_METRIC[task]]
    parts = []
    if condition == ORIGINAL:
        rows = _task_rows(perf, metric, ORIGINAL)
        value = _summary_value(perf, metric, ORIGINAL)
        name = "macro AUROC" if metric == "auroc" and len(rows) > 1 else METRIC_NAMES[metric]
        parts.append(f"{name} {number(value)}")
        for attribute in attributes:
            mine = fair[(fair["condition"] == ORIGINAL) & (fair["attribute"] == attribute)]
            if mine.empty:
                continue
            values = mine["value"].to_numpy(dtype=float)
            mean = _finite_mean(values)
            extra = f" (mean of {len(values)} targets)" if len(values) > 1 else ""
            parts.append(f"inherent {fairness_name} by {attribute} {number(mean)}{extra}")
    else:
        parts.append(_task_part(perf, metric, condition, flagged, alpha))
        for attribute in attributes:
            mine = fair[(fair["condition"] == condition) & (fair["attribute"] == attribute)]
            if not mine.empty:
                parts.append(_fairness_part(mine, f"{fairness_name} by {attribute}", flagged, alpha))
    return f"{condition_label(condition)} ({condition}): " + "; ".join(parts) + "."


def _task_rows(perf: pd.DataFrame, metric: str, condition: str) -> pd.DataFrame:
    rows = perf[(perf["metric"] == metric) & (perf["condition"] == condition)]
    return rows[rows["target"] != "macro"]


def _summary_value(perf: pd.DataFrame, metric: str, condition: str) -> float:
    """Macro AUROC (target ``macro``) or the single target's value."""
    rows = perf[(perf["metric"] == metric) & (perf["condition"] == condition)]
    macro = rows[rows["target"] == "macro"]
    chosen = macro if not macro.empty else rows
    return float(chosen["value"].iloc[0]) if not chosen.empty else float("nan")


def _with_task_delta(perf: pd.DataFrame, metric: str, condition: str, alpha: float) -> pd.DataFrame:
    rows = _task_rows(perf, metric, condition)
    original = _task_rows(perf, metric, ORIGINAL).set_index("target")["value"]
    delta = rows["value"].to_numpy(dtype=float) - rows["target"].map(original).to_numpy(dtype=float)
    return clear_undefined(rows.assign(delta=delta), alpha)


def _direction(rows: pd.DataFrame, alpha: float) -> str:
    """stable / down / up / mixed from the significant changes; '' without a bootstrap."""
    if "p_adjusted" not in rows.columns or not np.isfinite(rows["p_adjusted"].to_numpy(dtype=float)).any():
        return ""
    flagged = rows["delta"].to_numpy(dtype=float)[significance(rows, alpha)]
    down, up = bool((flagged < 0).any()), bool((flagged > 0).any())
    return "mixed" if down and up else "down" if down else "up" if up else "stable"


def _task_part(perf: pd.DataFrame, metric: str, condition: str, flagged: Flags, alpha: float) -> str:
    rows = _with_task_delta(perf, metric, condition, alpha)
    bad = uninformative_mask(rows, flagged)
    name = METRIC_NAMES[metric]
    if len(rows) == 1:
        record = rows.iloc[0]
        if bad[0]:
            return f"{name} Δ {signed(record['delta'])} ({NO_VERDICT}: {flag_for(flagged, *_key(record))})"
        word = _direction(rows, alpha)
        return _result(f"{name} {word}".strip() + f", Δ {signed(record['delta'])}", record, alpha,
                       say_not_significant=not word)
    delta = _summary_value(perf, metric, condition) - _summary_value(perf, metric, ORIGINAL)
    good = rows[~bad]
    if good.empty:
        return f"macro {name} Δ {signed(delta)} ({NO_VERDICT} on any target)"
    word = _direction(good, alpha)
    text = f"macro {name} {word}".strip() + f", Δ {signed(delta)}"
    skipped = f"; {NO_VERDICT} on {', '.join(rows.loc[bad, 'target'].astype(str))}" if bad.any() else ""
    if not word:
        return text + f" (no bootstrap{skipped})"
    shown = good[significance(good, alpha)]
    if shown.empty:
        return text + f" (no target of {len(good)} changed significantly{skipped})"
    listed = ", ".join(_result(f"{r['target']} {signed(r['delta'])}", r, alpha) for _, r in shown.iterrows())
    return text + f" (significant: {listed}{skipped})"


def _fairness_part(rows: pd.DataFrame, name: str, flagged: Flags, alpha: float) -> str:
    bad = uninformative_mask(rows, flagged)
    if len(rows) == 1:
        record = rows.iloc[0]
        if not np.isfinite(float(record["delta"])):
            return f"{name} n/a" + (f" ({record['reason']})" if isinstance(record.get("reason"), str)
                                    and record["reason"] else "")
        if bad[0]:
            return f"{name} {signed(record['delta'])} ({NO_VERDICT})"
        return _result(f"{name} {signed(record['delta'])}", record, alpha)
    mean = _finite_mean(rows["delta"].to_numpy(dtype=float))
    text = f"{name} {signed(mean)} (mean of {len(rows)} targets"
    skipped = f"; {NO_VERDICT} on {', '.join(rows.loc[bad, 'target'].astype(str))}" if bad.any() else ""
    best = _strongest(rows[~bad])
    if best is None:
        return text + skipped + ")"
    detail = _result(f"{best['target']} {signed(best['delta'])}", best, alpha)
    return text + f"; strongest: {detail}{skipped})"


def _result(head: str, record: pd.Series, alpha: float, *, say_not_significant: bool = True) -> str:
    """``head [CI], p_adj`` and, when not significant and the run knows it, the minimum detectable change."""
    interval, p = ci_of(record), p_of(record)
    text = head + (f" {interval}" if interval else "") + (f", {p}" if p else "")
    if p and not significance(record.to_frame().T, alpha)[0]:
        mdc = detectable(record)
        if np.isfinite(mdc):
            text += (", not significant" if say_not_significant else "") + \
                f" (a change below {number(mdc)} could not have been seen)"
    elif not interval and np.isfinite(float(record.get("delta", np.nan))):
        reason = record.get("uncertainty_reason", "")
        if isinstance(reason, str) and reason:
            text += f" (no CI: {reason})"
    return text


def _key(record: pd.Series) -> tuple[str, str, str]:
    return str(record["dataset"]), str(record["task"]), str(record["target"])


def _strongest(rows: pd.DataFrame) -> pd.Series | None:
    """The row with the smallest adjusted p (then the largest |Δ|); None without bootstrap p-values."""
    if "p_adjusted" not in rows.columns:
        return None
    finite = rows[np.isfinite(rows["p_adjusted"].to_numpy(dtype=float)) & np.isfinite(rows["delta"].to_numpy(float))]
    if finite.empty:
        return None
    ranked = finite.assign(_size=-finite["delta"].abs()).sort_values(["p_adjusted", "_size"], kind="stable")
    return ranked.iloc[0]


def _finite_mean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")
