"""The overview: per data set x task, condition (rows) x attribute (columns) of the main fairness change.

Each cell holds the change of the task's main fairness metric (EODD for
classification, the Dice gap for segmentation) with its 95 % CI.  With several
targets the cell shows the target with the strongest evidence (smallest
adjusted p, then largest |Δ|) and names it; without p-values, the mean over
targets (no CI).  Significant cells (passing the correction) are bold with
``*``.  The background is a diverging, colour-blind-safe scale from the
Okabe-Ito palette: vermillion where the metric rises, blue where it falls,
stronger for larger |Δ| (relative to the largest |Δ| of that metric in the report).  Cells
without a value carry the reason in their ``title`` (shown on hover): the
change is undefined, or the model is uninformative.

Examples
--------
>>> shade(0.0, 1.0), shade(1.0, 1.0), shade(-0.5, 1.0)
('#ffffff', '#e69e66', '#b2d5e8')
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

import numpy as np
import pandas as pd

from reconfair.report.evidence import ci_of, clear_undefined, flag_for, model_flags, p_of, significance
from reconfair.report.labels import FAIRNESS_METRIC, METRIC_NAMES, condition_label, number, signed
from reconfair.report.replicates import replicate_count
from reconfair.report.style import PALETTE, SIGNIFICANCE
from reconfair.vocabulary import ORIGINAL

RISE, FALL = PALETTE[3], PALETTE[0]  # vermillion, blue
STRENGTH = 0.6
"""The largest share of the palette colour in a cell (the rest is white, so black text stays legible)."""


@dataclass(frozen=True)
class Cell:
    """One condition x attribute cell of the overview."""

    condition: str
    attribute: str
    delta: float
    text: str
    title: str
    significant: bool = False
    target: str = ""
    status: str = "ok"
    """``ok``, ``n/a`` (change undefined), ``no verdict`` (model uninformative) or ``missing`` (no row)."""
    sd: float = math.nan


def shade(delta: float, scale: float) -> str:
    """The cell background: white mixed with vermillion (Δ > 0) or blue (Δ < 0) by ``|Δ| / scale``."""
    if not (math.isfinite(delta) and math.isfinite(scale) and scale > 0):
        return "#ffffff"
    share = STRENGTH * min(1.0, abs(delta) / scale)
    colour = RISE if delta > 0 else FALL
    rgb = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(255 + (c - 255) * share):02x}" for c in rgb)


def overview_cells(fairness: pd.DataFrame, *, dataset: str, task: str, attributes: Sequence[str],
                   conditions: Sequence[str], models: pd.DataFrame | None = None,
                   alpha: float = SIGNIFICANCE) -> list[list[Cell]]:
    """Rows of cells (one row per reconstructed condition present, in ``conditions`` order)."""
    metric = FAIRNESS_METRIC[task]
    rows = fairness[(fairness["dataset"] == dataset) & (fairness["task"] == task) & (fairness["metric"] == metric)
                    & (fairness["condition"] != ORIGINAL)]
    rows = clear_undefined(rows, alpha)
    rows = rows.assign(_significant=significance(rows, alpha))
    flagged = model_flags(models)
    present = set(rows["condition"])
    out = []
    for condition in [c for c in conditions if c in present]:
        out.append([_cell(rows[(rows["condition"] == condition) & (rows["attribute"] == attribute)],
                          condition, attribute, flagged, dataset, task) for attribute in attributes])
    return out


def _cell(rows: pd.DataFrame, condition: str, attribute: str, flagged, dataset: str, task: str) -> Cell:
    if rows.empty:
        return Cell(condition, attribute, math.nan, "–", "no row in metrics/fairness.csv", status="missing")
    bad = {str(t): flag_for(flagged, dataset, task, str(t)) for t in rows["target"]}
    informative = rows[[not bad[str(t)] for t in rows["target"]]]
    skipped = [f"{t}: model uninformative: no verdict ({reason})" for t, reason in bad.items() if reason]
    if informative.empty:
        return Cell(condition, attribute, math.nan, "no verdict", "; ".join(skipped), status="no verdict")
    finite = informative[np.isfinite(informative["delta"].to_numpy(dtype=float))]
    if finite.empty:
        reasons = [f"{r['target']}: {_reason(r)}" if len(informative) > 1 else _reason(r)
                   for _, r in informative.iterrows()]
        return Cell(condition, attribute, math.nan, "n/a", "; ".join([*reasons, *skipped]), status="n/a")
    several = len(informative) > 1
    tested = finite[np.isfinite(finite["p_adjusted"].to_numpy(dtype=float))] if "p_adjusted" in finite else finite[:0]
    if several and tested.empty:
        mean = float(finite["delta"].mean())
        title = [f"mean of {len(finite)} targets (no p-values)", *skipped]
        return Cell(condition, attribute, mean, signed(mean), "; ".join(title), target=f"mean of {len(finite)}")
    chosen = (tested.assign(_size=-tested["delta"].abs()).sort_values(["p_adjusted", "_size"], kind="stable")
              if several else finite).iloc[0]
    delta = float(chosen["delta"])
    interval, p = ci_of(chosen), p_of(chosen)
    star = bool(chosen["_significant"])
    text = signed(delta) + (f" {interval}" if interval else "") + (" *" if star else "")
    title = [f"{chosen['target']}" + (f", strongest evidence of {len(informative)} targets; mean over targets "
                                      f"{signed(float(finite['delta'].mean()))}" if several else "")]
    title.append(p or "no p-value")
    reason = chosen.get("uncertainty_reason", "")
    if not interval and isinstance(reason, str) and reason:
        title.append(f"no CI: {reason}")
    sd = float(chosen.get("delta_sd_replicates", math.nan))
    return Cell(condition, attribute, delta, text, "; ".join([*title, *skipped]), significant=star,
                target=str(chosen["target"]) if several else "", sd=sd)


def _reason(record: pd.Series) -> str:
    for column in ("reason", "uncertainty_reason"):
        value = record.get(column, "")
        if isinstance(value, str) and value:
            return f"change undefined: {value}"
    return "change undefined"


CI_CAVEAT = (
    "The CI of a max − min change (EODD, EOP, DP, Dice gap, SER) is conservative where the group gaps are near 0, "
    "and biased toward 0 where the reconstruction opens a gap the original images did not have; the test (on the "
    "signed group gaps) keeps its size in both cases (docs/statistics.md, section 8).")
"""What the simulations say about the intervals, stated wherever they are shown."""
CAPTION = (
    "Change of the main fairness metric (EODD for classification, the Dice gap for segmentation), reconstructed "
    "minus original images, with its 95 % CI. Bold with * = passes the multiple-testing correction. Vermillion: "
    "the metric rises (more bias), blue: it falls; darker = larger |Δ|. With several targets each cell shows the "
    "target with the strongest evidence (smallest p_adj), named under the value; hover a cell for its p, the mean "
    "over targets and, for n/a, the reason. " + CI_CAVEAT)


def overview_html(fairness: pd.DataFrame, *, datasets: Sequence[str], attributes: Sequence[str],
                  conditions: Sequence[str], models: pd.DataFrame | None = None, alpha: float = SIGNIFICANCE,
                  replicates: pd.DataFrame | None = None) -> str:
    """``<section id="overview">`` with one table per data set x task (deterministic HTML)."""
    k = replicate_count(fairness, replicates)
    out = ['<section id="overview"><h2>Overview</h2>', f'<p class="note">{escape(CAPTION)}</p>']
    grids = {(dataset, task): overview_cells(fairness, dataset=dataset, task=task, attributes=attributes,
                                             conditions=conditions, models=models, alpha=alpha)
             for dataset in datasets for task in FAIRNESS_METRIC}
    scales = {}  # one colour scale per metric, shared by the data sets
    for task, metric in FAIRNESS_METRIC.items():
        finite = [abs(c.delta) for (_, t), grid in grids.items() if t == task for row in grid for c in row
                  if math.isfinite(c.delta)]
        scales[metric] = max(finite) if finite else math.nan
    for dataset in datasets:
        for task, metric in FAIRNESS_METRIC.items():
            grid = grids[(dataset, task)]
            if not grid:
                continue
            scale = scales[metric]
            name = METRIC_NAMES[metric]
            out.append(f"<h3>{escape(dataset)} · {escape(task)}: Δ {escape(name)}</h3>")
            head = ['<th class="text">condition</th>']
            for attribute in attributes:
                head.append(f"<th>{escape(attribute)}</th>")
                if k > 1:
                    head.append(f"<th>{escape(attribute)}: sd over {k} replicates</th>")
            out.append(f'<table class="overview" id="overview-{escape(dataset)}-{escape(task)}"><thead><tr>'
                       + "".join(head) + "</tr></thead><tbody>")
            for row in grid:
                condition = row[0].condition
                cells = [f'<td class="text" title="{escape(condition)}">{escape(condition_label(condition))}</td>']
                for cell in row:
                    cells.append(_cell_html(cell, scale))
                    if k > 1:
                        cells.append(f'<td class="sd" data-value="{_value(cell.sd)}">{escape(number(cell.sd))}</td>')
                out.append(f'<tr data-condition="{escape(condition)}">' + "".join(cells) + "</tr>")
            out.append(f"</tbody></table><p class=\"note\">colour scale: ±{escape(number(scale))} = full colour</p>")
    if len(out) == 2:
        out.append('<p class="note">no fairness rows of reconstructed conditions</p>')
    out.append("</section>")
    return "\n".join(out)


def _cell_html(cell: Cell, scale: float) -> str:
    body = escape(cell.text)
    if cell.significant:
        body = f"<strong>{body}</strong>"
    if cell.target:
        body += f'<br><span class="target">{escape(cell.target)}</span>'
    classes = ["cell", cell.status.replace(" ", "-")] + (["sig"] if cell.significant else [])
    return (f'<td class="{" ".join(classes)}" data-attribute="{escape(cell.attribute)}" '
            f'data-value="{_value(cell.delta)}" title="{escape(cell.title)}" '
            f'style="background:{shade(cell.delta, scale)}">{body}</td>')


def _value(value: float) -> str:
    return repr(float(value)) if math.isfinite(value) else ""
