"""The headline: one sentence per data set x task x condition, from the metric tables.

For a reconstructed condition it states the task change (AUROC or Dice:
*stable*, *down*, *up* or *mixed*, by the bootstrap CIs after correction) and,
per attribute, the change of the main fairness metric (EODD, Dice gap) with
its 95 % CI and adjusted p.  Several targets: the macro (or mean) change, and
the target with the strongest evidence.  The original images get their task
value and their inherent bias.

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

from reconfair.report.labels import (
    FAIRNESS_METRIC, METRIC_NAMES, ORIGINAL, TASK_METRIC, ci, condition_label, number, p_text, signed,
)
from reconfair.report.style import significant


@dataclass(frozen=True)
class Headline:
    """One sentence about one condition of one data set and task."""

    dataset: str
    task: str
    condition: str
    text: str


def headlines(performance: pd.DataFrame, fairness: pd.DataFrame, *, datasets: Sequence[str],
              conditions: Sequence[str], attributes: Sequence[str]) -> list[Headline]:
    """A headline per data set x task x condition present, in the given orders."""
    out = []
    for dataset in datasets:
        for task in TASK_METRIC:
            here = performance[(performance["dataset"] == dataset) & (performance["task"] == task)]
            present = set(here["condition"])
            for condition in [c for c in conditions if c in present]:
                text = condition_headline(performance, fairness, dataset=dataset, task=task, condition=condition,
                                          attributes=attributes)
                out.append(Headline(dataset, task, condition, text))
    return out


def condition_headline(performance: pd.DataFrame, fairness: pd.DataFrame, *, dataset: str, task: str,
                       condition: str, attributes: Sequence[str]) -> str:
    """The sentence for one condition (see the module docstring for the wording)."""
    perf = performance[(performance["dataset"] == dataset) & (performance["task"] == task)]
    fair = fairness[(fairness["dataset"] == dataset) & (fairness["task"] == task)
                    & (fairness["metric"] == FAIRNESS_METRIC[task])]
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
        parts.append(_task_part(perf, metric, condition))
        for attribute in attributes:
            mine = fair[(fair["condition"] == condition) & (fair["attribute"] == attribute)]
            if not mine.empty:
                parts.append(_fairness_part(mine, f"{fairness_name} by {attribute}"))
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


def _with_task_delta(perf: pd.DataFrame, metric: str, condition: str) -> pd.DataFrame:
    rows = _task_rows(perf, metric, condition)
    original = _task_rows(perf, metric, ORIGINAL).set_index("target")["value"]
    return rows.assign(delta=rows["value"].to_numpy(dtype=float) - rows["target"].map(original).to_numpy(dtype=float))


def _direction(rows: pd.DataFrame) -> str:
    """stable / down / up / mixed from the significant changes; '' without a bootstrap."""
    if "p_adjusted" not in rows.columns or not np.isfinite(rows["p_adjusted"].to_numpy(dtype=float)).any():
        return ""
    flagged = [float(d) for d, p in zip(rows["delta"], rows["p_adjusted"]) if significant(float(p))]
    down, up = any(d < 0 for d in flagged), any(d > 0 for d in flagged)
    return "mixed" if down and up else "down" if down else "up" if up else "stable"


def _task_part(perf: pd.DataFrame, metric: str, condition: str) -> str:
    rows = _with_task_delta(perf, metric, condition)
    word = _direction(rows)
    name = METRIC_NAMES[metric]
    if len(rows) == 1:
        record = rows.iloc[0]
        head = f"{name} {word}".strip() + f", Δ {signed(record['delta'])}"
        return _join(head, _ci_of(record), _p_of(record), sep=" ", comma_before_p=True)
    delta = _summary_value(perf, metric, condition) - _summary_value(perf, metric, ORIGINAL)
    text = f"macro {name} {word}".strip() + f", Δ {signed(delta)}"
    if not word:
        return text + " (no bootstrap)"
    flagged = rows[[significant(float(p)) for p in rows["p_adjusted"]]]
    if flagged.empty:
        return text + f" (no target of {len(rows)} changed significantly)"
    shown = ", ".join(f"{r['target']} {signed(r['delta'])} {_ci_of(r)}, {_p_of(r)}".replace("  ", " ")
                      for _, r in flagged.iterrows())
    return text + f" (significant: {shown})"


def _fairness_part(rows: pd.DataFrame, name: str) -> str:
    if len(rows) == 1:
        record = rows.iloc[0]
        if not np.isfinite(float(record["delta"])):
            return f"{name} n/a" + (f" ({record['reason']})" if isinstance(record.get("reason"), str)
                                    and record["reason"] else "")
        return _join(f"{name} {signed(record['delta'])}", _ci_of(record), _p_of(record), sep=" ",
                     comma_before_p=True)
    mean = _finite_mean(rows["delta"].to_numpy(dtype=float))
    text = f"{name} {signed(mean)} (mean of {len(rows)} targets"
    best = _strongest(rows)
    if best is None:
        return text + ")"
    detail = _join(f"{best['target']} {signed(best['delta'])}", _ci_of(best), _p_of(best), sep=" ",
                   comma_before_p=True)
    return text + f"; strongest: {detail})"


def _strongest(rows: pd.DataFrame) -> pd.Series | None:
    """The row with the smallest adjusted p (then the largest |Δ|); None without bootstrap p-values."""
    if "p_adjusted" not in rows.columns:
        return None
    finite = rows[np.isfinite(rows["p_adjusted"].to_numpy(dtype=float)) & np.isfinite(rows["delta"].to_numpy(float))]
    if finite.empty:
        return None
    ranked = finite.assign(_size=-finite["delta"].abs()).sort_values(["p_adjusted", "_size"], kind="stable")
    return ranked.iloc[0]


def _ci_of(record: pd.Series) -> str:
    return ci(float(record.get("ci_low", np.nan)), float(record.get("ci_high", np.nan)))


def _p_of(record: pd.Series) -> str:
    return p_text(float(record.get("p_adjusted", np.nan)))


def _join(head: str, interval: str, p: str, *, sep: str, comma_before_p: bool) -> str:
    text = head + (sep + interval if interval else "")
    return text + ((", " if comma_before_p else sep) + p if p else "")


def _finite_mean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")
