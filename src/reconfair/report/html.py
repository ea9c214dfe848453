"""``report.html``: one self-contained page (images inlined, inline CSS and JS, no network).

Sections, in order: the synthetic-data notice (only when every data set is
synthetic), ``#verdict`` (the changes that pass the correction, ranked; the
family definition), ``#banners`` (uninformative models, families no p can
pass), ``#overview`` (condition x attribute tables of the main fairness change),
``#summary`` (a headline per condition, collapsed in one ``<details>`` per data
set x task), ``#figures``, ``#tables`` (sortable: click a header; numbers sort
by value), ``#provenance`` (versions, seeds, bootstrap, families, hashes, the
resolved configuration).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd

from reconfair.report.headline import Headline
from reconfair.report.verdict import Finding

SHOWN_FINDINGS = 8
"""Findings listed on the first screen; the rest sit in a collapsed ``<details>`` below them."""

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1200px;padding:0 1.2em 3em;
color:#1a1a1a;line-height:1.45}
h1{margin-top:1em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
.notice{background:#fff4d6;border-left:4px solid #E69F00;padding:.6em 1em}
.note{color:#555;font-style:italic}
figure{margin:1.5em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.92em;color:#333}
table{border-collapse:collapse;font-size:.8em;margin:.5em 0 1.5em}
th,td{padding:.15em .55em;border-bottom:1px solid #e3e3e3;text-align:right}
th{cursor:pointer;background:#f3f3f3;position:sticky;top:0;user-select:none}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
td.text,th.text{text-align:left}.scroll{max-height:32em;overflow:auto;border:1px solid #e3e3e3}
pre{background:#f7f7f7;padding:.8em;overflow:auto;font-size:.8em}
ul.headlines li{margin:.25em 0}
#verdict ol li{margin:.2em 0}.family{color:#333;font-size:.92em}
.banner{background:#f2f2f2;border-left:4px solid #D55E00;padding:.5em 1em;margin:.4em 0}
table.overview th{cursor:default;position:static;text-align:center}
table.overview td.cell{text-align:center;white-space:nowrap}
table.overview .target{font-size:.85em;color:#333}
details{margin:.4em 0}details>summary{cursor:pointer;font-weight:600}
"""

SORT_JS = """
(function () {
  function key(cell) {
    var raw = cell.getAttribute("data-value");
    if (raw !== null && raw !== "") { var n = parseFloat(raw); if (!isNaN(n)) { return [0, n]; } }
    return [1, cell.textContent.trim()];
  }
  function compare(a, b) {
    if (a[0] !== b[0]) { return a[0] - b[0]; }
    if (a[0] === 0) { return a[1] - b[1]; }
    return a[1] < b[1] ? -1 : (a[1] > b[1] ? 1 : 0);
  }
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    var headers = table.querySelectorAll("th");
    Array.prototype.forEach.call(headers, function (th, index) {
      th.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(headers, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (r, s) {
          var order = compare(key(r.cells[index]), key(s.cells[index]));
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
})();
"""


@dataclass(frozen=True)
class FigureEntry:
    """One report figure: its number and title, caption, and PNG files (none: ``note`` says why)."""

    number: str
    title: str
    caption: str
    paths: tuple[Path, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class VerdictEntry:
    """The verdict section: the family line, the ranked findings, or what to say when there are none."""

    family: str
    findings: tuple[Finding, ...] = ()
    none: tuple[str, ...] = ()


def render_html(*, title: str, notice: str | None, headlines: Sequence[Headline], figures: Sequence[FigureEntry],
                tables: dict[str, pd.DataFrame], provenance: dict[str, object], config_text: str,
                notes: Sequence[str] = (), verdict: VerdictEntry | None = None, banners: Sequence[str] = (),
                overview: str = "") -> str:
    """The whole page as a string (deterministic: same inputs, same bytes)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
    ]
    if notice:
        parts.append(f'<p class="notice" id="synthetic-notice">{escape(notice)}</p>')
    parts += [f'<p class="note">{escape(n)}</p>' for n in notes]
    if verdict is not None:
        parts.append(_verdict(verdict))
    if banners:
        parts.append('<div id="banners">' + "".join(f'<p class="banner">{escape(b)}</p>' for b in banners) + "</div>")
    if overview:
        parts.append(overview)
    parts.append(_summary(headlines))
    parts.append('<section id="figures"><h2>Figures</h2>')
    parts += [_figure(entry) for entry in figures]
    parts.append("</section>")
    parts.append('<section id="tables"><h2>Tables</h2><p class="note">Click a column header to sort. '
                 "The same tables are in tables/*.csv (full precision) and tables/*.tex.</p>")
    for name, table in tables.items():
        parts.append(f'<h3 id="table-{escape(name)}">{escape(name)}</h3>')
        parts.append(f'<div class="scroll">{table_html(table, name)}</div>')
    parts.append("</section>")
    parts.append(_provenance(provenance, config_text))
    parts.append(f"<script>{SORT_JS}</script></body></html>\n")
    return "\n".join(parts)


def _verdict(verdict: VerdictEntry) -> str:
    out = ['<section id="verdict"><h2>Verdict</h2>']
    if verdict.findings:
        out.append(f'<p class="family">Changes that pass the multiple-testing correction ({escape(verdict.family)}), '
                   "largest first:</p>")
        out.append(_findings(verdict.findings[:SHOWN_FINDINGS], start=1))
        rest = verdict.findings[SHOWN_FINDINGS:]
        if rest:
            out.append(f"<details><summary>{len(rest)} more finding{'s' if len(rest) > 1 else ''}</summary>"
                       + _findings(rest, start=SHOWN_FINDINGS + 1) + "</details>")
    else:
        out += [f'<p class="none">{escape(line)}</p>' for line in verdict.none]
    out.append("</section>")
    return "\n".join(out)


def _findings(findings: Sequence[Finding], *, start: int) -> str:
    items = "".join(f'<li data-condition="{escape(f.condition)}" data-metric="{escape(f.metric)}">{escape(f.text)}</li>'
                    for f in findings)
    return f'<ol class="verdict" start="{start}">{items}</ol>'


def _summary(headlines: Sequence[Headline]) -> str:
    out = ['<section id="summary"><h2>Details: one headline per condition</h2>']
    for (dataset, task), items in _grouped(headlines):
        out.append(f'<details data-dataset="{escape(dataset)}" data-task="{escape(task)}">'
                   f"<summary>{escape(dataset)} · {escape(task)} ({len(items)} conditions)</summary>"
                   '<ul class="headlines">')
        out += [f'<li data-condition="{escape(h.condition)}">{escape(h.text)}</li>' for h in items]
        out.append("</ul></details>")
    out.append("</section>")
    return "\n".join(out)


def _grouped(headlines: Sequence[Headline]) -> list[tuple[tuple[str, str], list[Headline]]]:
    groups: dict[tuple[str, str], list[Headline]] = {}
    for headline in headlines:
        groups.setdefault((headline.dataset, headline.task), []).append(headline)
    return list(groups.items())


def _figure(entry: FigureEntry) -> str:
    head = f'<h3 id="figure-{escape(entry.number)}">Figure {escape(entry.number)}. {escape(entry.title)}</h3>'
    if not entry.paths:
        return head + f'<p class="note">{escape(entry.note)}</p>'
    images = []
    for path in entry.paths:
        data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
        images.append(f'<figure><img src="data:image/png;base64,{data}" alt="{escape(Path(path).stem)}">'
                      f"<figcaption>{escape(Path(path).stem)}: {escape(entry.caption)}</figcaption></figure>")
    return head + "\n".join(images)


def table_html(table: pd.DataFrame, name: str) -> str:
    """A sortable ``<table>``: numeric cells carry their full value in ``data-value``.

    >>> print(table_html(pd.DataFrame({"a": ["x"], "b": [0.123456]}), "t"))
    <table class="sortable" id="t"><thead><tr><th class="text">a</th><th>b</th></tr></thead><tbody>
    <tr><td class="text">x</td><td data-value="0.123456">0.1235</td></tr>
    </tbody></table>
    """
    numeric = [pd.api.types.is_numeric_dtype(table[c]) and not pd.api.types.is_bool_dtype(table[c])
               for c in table.columns]
    head = "".join(("<th>" if n else '<th class="text">') + f"{escape(str(c))}</th>"
                   for c, n in zip(table.columns, numeric))
    rows = []
    for record in table.itertuples(index=False):
        cells = []
        for value, is_number in zip(record, numeric):
            if is_number:
                cells.append(_number_cell(value))
            else:
                cells.append(f'<td class="text">{escape(_text(value))}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<table class="sortable" id="{escape(name)}"><thead><tr>{head}</tr></thead><tbody>\n'
            + "\n".join(rows) + "\n</tbody></table>")


def _number_cell(value: object) -> str:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return '<td data-value="">n/a</td>'
    if not math.isfinite(number):
        return '<td data-value="">n/a</td>'
    if isinstance(value, (int, np.integer)):
        return f'<td data-value="{int(value)}">{int(value)}</td>'
    return f'<td data-value="{number!r}">{number:.4g}</td>'


def _text(value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    return str(value)


def _provenance(provenance: dict[str, object], config_text: str) -> str:
    rows = "".join(f'<tr><td class="text">{escape(str(k))}</td><td class="text">{escape(str(v))}</td></tr>'
                   for k, v in provenance.items() if not isinstance(v, pd.DataFrame))
    out = ['<section id="provenance"><h2>Provenance</h2>',
           f'<table id="provenance-facts"><tbody>{rows}</tbody></table>']
    for name, value in provenance.items():
        if isinstance(value, pd.DataFrame) and not value.empty:
            out.append(f"<h3>{escape(name)}</h3><div class=\"scroll\">{table_html(value, name)}</div>")
    out.append("<h3>config.yaml</h3><pre>" + escape(config_text) + "</pre></section>")
    return "\n".join(out)
