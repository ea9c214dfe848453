"""The report's tables, exported as CSV (full precision) and LaTeX (booktabs, rounded).

:func:`report_tables` builds them from the run's metric tables:

- ``summary``: one row per data set x task x condition (:func:`~reconfair.report.summary.summary_frame`);
- ``performance``: the task metric per target and condition, its change versus the
  original images with the bootstrap CI and adjusted p;
- ``bias_change``: the main fairness metric (EODD, Dice gap) per target, condition and
  attribute: original value, value, change, CI, p, adjusted p, ``significant``;
- ``replicates``: with model replicates, the main metric's change per replicate
  (:func:`~reconfair.report.replicates.replicate_table`);

Both ``performance`` and ``bias_change`` carry the uncertainty columns the run
wrote (``p_floor``, ``test``, ``family``, ``mdc`` ...), ``significant`` by
:func:`~reconfair.report.evidence.significance`, ``p`` (the p-values in words,
``p < 0.002`` at the bootstrap's floor) and, with ``metrics/models.csv``,
``model_status``.  A row whose change is undefined has no CI, no p and is not
significant.
- ``mitigation``: the main rows of ``metrics/mitigation.csv`` when the run has one.

>>> frame = pd.DataFrame({"condition": ["a_b"], "delta": [-0.0123456], "n": [3]})
>>> print(to_latex(frame))
\\begin{tabular}{lrr}
\\toprule
condition & delta & n \\\\
\\midrule
a\\_b & $-$0.01235 & 3 \\\\
\\bottomrule
\\end{tabular}
<BLANKLINE>
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from reconfair.report.evidence import clear_undefined, model_flags, p_of, significance, uninformative_mask
from reconfair.report.figures_mitigation import mitigation_main_rows
from reconfair.report.labels import FAIRNESS_METRIC, TASK_METRIC
from reconfair.report.replicates import replicate_table
from reconfair.report.style import SIGNIFICANCE
from reconfair.vocabulary import ORIGINAL

LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                 "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
UNCERTAINTY = ("ci_low", "ci_high", "p_value", "p_adjusted")
EXTRA = ("p_floor", "test", "family", "family_size", "mdc", "mdc_family", "gap", "gap_change", "gap_ci_low",
         "gap_ci_high", "n_boot", "n_replicates", "delta_sd_replicates", "uncertainty_reason")
"""Columns of the rewritten metrics layer, carried into the tables when the run has them."""


def performance_table(performance: pd.DataFrame, *, alpha: float = SIGNIFICANCE,
                      models: pd.DataFrame | None = None) -> pd.DataFrame:
    """Task metric rows (AUROC per target and macro, Dice) with ``delta`` versus the original images."""
    keys = ["dataset", "task", "target"]
    rows = performance[[TASK_METRIC.get(t) == m for t, m in zip(performance["task"], performance["metric"])]]
    original = rows[rows["condition"] == ORIGINAL][[*keys, "value"]].rename(columns={"value": "value_original"})
    merged = rows.drop(columns=[c for c in ("value_original", "delta") if c in rows.columns]).merge(
        original, on=keys, how="left")
    merged["delta"] = merged["value"] - merged["value_original"]
    columns = [*keys, "condition", "metric", "value_original", "value", "delta"]
    return _with_evidence(merged, columns, alpha, models)


def bias_change_table(fairness: pd.DataFrame, *, alpha: float = SIGNIFICANCE,
                      models: pd.DataFrame | None = None) -> pd.DataFrame:
    """Main fairness metric rows of every non-original condition, with ``significant`` (passes the correction)."""
    main = fairness[[FAIRNESS_METRIC.get(t) == m for t, m in zip(fairness["task"], fairness["metric"])]]
    main = main[main["condition"] != ORIGINAL]
    columns = ["dataset", "task", "target", "condition", "attribute", "metric", "value_original", "value", "delta"]
    return _with_evidence(main, columns, alpha, models)


def _with_evidence(rows: pd.DataFrame, columns: list[str], alpha: float, models: pd.DataFrame | None
                   ) -> pd.DataFrame:
    """``columns``, then the uncertainty columns present, ``significant``, ``p`` and ``model_status``."""
    rows = clear_undefined(rows.reset_index(drop=True), alpha)
    present = [*columns, *(c for c in (*UNCERTAINTY, *EXTRA) if c in rows.columns)]
    out = rows[present].copy()
    tested = "p_adjusted" in rows.columns or "significant" in rows.columns
    if tested:
        out["significant"] = significance(rows, alpha)
        out["p"] = [p_of(record) for _, record in rows.iterrows()]
    flagged = model_flags(models)
    if models is not None and "status" in models.columns:
        out["model_status"] = np.where(uninformative_mask(rows, flagged), "uninformative", "ok")
    return out


def report_tables(summary: pd.DataFrame, performance: pd.DataFrame, fairness: pd.DataFrame,
                  mitigation: pd.DataFrame | None, *, alpha: float = SIGNIFICANCE,
                  models: pd.DataFrame | None = None,
                  replicates: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """The named tables of the report, in display order."""
    tables = {"summary": summary, "performance": performance_table(performance, alpha=alpha, models=models),
              "bias_change": bias_change_table(fairness, alpha=alpha, models=models)}
    if replicates is not None and not replicates.empty:
        tables["replicates"] = replicate_table(replicates, fairness)
    if mitigation is not None and not mitigation.empty:
        tables["mitigation"] = mitigation_main_rows(mitigation).reset_index(drop=True)
    return tables


def write_tables(tables: dict[str, pd.DataFrame], out_dir: str | Path) -> list[Path]:
    """Write ``<name>.csv`` and ``<name>.tex`` for every table; return the paths."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in tables.items():
        table.to_csv(folder / f"{name}.csv", index=False)
        (folder / f"{name}.tex").write_text(to_latex(table), encoding="utf-8")
        written += [folder / f"{name}.csv", folder / f"{name}.tex"]
    return written


def to_latex(table: pd.DataFrame, digits: int = 4) -> str:
    """A booktabs ``tabular`` of ``table``: text escaped, numbers to ``digits`` significant digits."""
    numeric = [pd.api.types.is_numeric_dtype(table[c]) and not pd.api.types.is_bool_dtype(table[c])
               for c in table.columns]
    spec = "".join("r" if n else "l" for n in numeric)
    lines = [rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
             " & ".join(_escape(str(c)) for c in table.columns) + r" \\", r"\midrule"]
    for record in table.itertuples(index=False):
        lines.append(" & ".join(_cell(v, digits) for v in record) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)


def _cell(value, digits: int) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(value)
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            return "--"
        return f"{value:.{digits}g}".replace("-", "$-$")
    return _escape(str(value)) if value is not None and value is not pd.NA else "--"


def _escape(text: str) -> str:
    return "".join(LATEX_SPECIAL.get(ch, ch) for ch in text)
