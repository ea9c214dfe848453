"""Undefined is undefined: a change that is NaN carries no CI, no p and no significance mark anywhere.

The old bug wrote such rows with a finite CI, p = 0, p_adj = 0 (and, in the
new layout, ``significant`` true).  PLANTED["undefined"] in conftest is such a
row; each test looks at one place of the report: the tables, figure 3, the
headlines and the verdict list.
"""

import re

import numpy as np
import pandas as pd
import pytest

from reconfair.report.figures_bias import plot_bias_ci
from reconfair.report.tables import bias_change_table, to_latex

NAN = float("nan")


def _bug_rows():
    """Two targets x one condition: ``t`` defined and significant, ``u`` undefined with the bug's numbers."""
    return pd.DataFrame({
        "dataset": "d", "task": "classification", "target": ["t", "u"], "condition": "x@1/unet", "recon": "unet",
        "degradation": "x", "level": 1.0, "mitigation": "none", "attribute": "sex", "metric": "eodd",
        "value_original": [0.1, 0.1], "value": [0.3, NAN], "delta": [0.2, NAN], "ci_low": [0.1, 0.1],
        "ci_high": [0.3, 0.3], "p_value": [0.001, 0.0], "p_adjusted": [0.01, 0.0], "significant": [True, True],
        "mdc": [0.05, 0.05]})


def test_tables_show_nothing_for_an_undefined_change():
    table = bias_change_table(_bug_rows()).set_index("target")
    assert table.loc["t", ["ci_low", "ci_high", "p_adjusted"]].tolist() == [0.1, 0.3, 0.01]
    assert bool(table.loc["t", "significant"]) and table.loc["t", "p"] == "p_adj = 0.010"
    undefined = table.loc["u"]
    assert undefined[["ci_low", "ci_high", "p_value", "p_adjusted", "mdc"]].isna().all()
    assert not bool(undefined["significant"]) and undefined["p"] == ""
    row = [line for line in to_latex(bias_change_table(_bug_rows())).splitlines() if line.startswith("d & ") and
           " & u & " in line][0].split(" & ")
    columns = list(bias_change_table(_bug_rows()).columns)
    assert [row[columns.index(c)] for c in ("delta", "ci_low", "ci_high", "p_value", "p_adjusted")] == ["--"] * 5
    assert row[columns.index("significant")] == "no"


def test_the_run_tables_clear_the_planted_bug_row(uncertain_run, layout):
    _, key, _ = layout.planted["undefined"]
    csv = pd.read_csv(uncertain_run / "metrics" / "fairness.csv")
    mine = lambda t: t[(t["target"] == key[2]) & (t["condition"] == key[3]) & (t["attribute"] == key[4])  # noqa: E731
                       & (t["metric"] == key[5])]
    assert mine(csv)["p_adjusted"].tolist() == [0.0] and mine(csv)["ci_low"].tolist() == [0.1]  # the bug, as written
    table = pd.read_csv(uncertain_run / "tables" / "bias_change.csv", keep_default_na=False, na_values=[""])
    (record,) = mine(table).to_dict("records")
    assert all(np.isnan(record[c]) for c in ("ci_low", "ci_high", "p_value", "p_adjusted"))
    assert record["significant"] is False or record["significant"] == "False"
    assert record["p"] != record["p"]  # empty cell
    tex = (uncertain_run / "tables" / "bias_change.tex").read_text().splitlines()
    line = [t for t in tex if f" & {key[2]} & {key[3]} & {key[4]} & " in t][0].split(" & ")
    header = tex[2].rstrip(" \\").split(" & ")
    assert line[header.index("p\\_adjusted")] == "--" and line[header.index("significant")] == "no"


def test_figure_three_draws_no_marker_ci_or_star_for_it(tmp_path):
    path = plot_bias_ci(_bug_rows(), dataset="d", task="classification", attributes=["sex"],
                        condition_order=["original", "x@1/unet"], out_dir=tmp_path)
    svg = path.with_suffix(".svg").read_text()
    drawn = set(re.findall(r'id="((?:marker|ci|star)-sex-\d+)"', svg))
    # rows: t at 0, u at 1; only t is drawn, and it is the only star
    assert drawn == {"marker-sex-0", "ci-sex-0", "star-sex-0"}


def test_figure_three_of_the_run_stars_only_significant_defined_rows(uncertain_run, layout):
    svg = (uncertain_run / "figures" / "bias_change_ci_synthetic-chest_classification.svg").read_text()
    stars = set(re.findall(r'id="star-([^"]+)"', svg))
    markers = set(re.findall(r'id="marker-([^"]+)"', svg))
    # rows top to bottom: targets alphabetically, then conditions mildest first (10,000 then 3,000 photons)
    rows = [(t, c) for t in ("cardiomegaly", "effusion", "nodule") for c in (layout.high, layout.low)]
    expected = {f"{p[1][4]}-{rows.index((p[1][2], p[1][3]))}" for p in layout.planted.values()
                if p[0] == "fairness" and p[1][0] == layout.chest and p[1][5] == "eodd" and p[2]["significant"]
                and np.isfinite(p[2]["delta"])}
    assert stars == expected == {"sex-5", "age_group-2"}
    _, key, _ = layout.planted["undefined"]
    assert f"{key[4]}-{rows.index((key[2], key[3]))}" not in markers


def test_headlines_show_no_ci_or_p_for_it(uncertain_run, layout, find):
    html = (uncertain_run / "report.html").read_text()
    assert "[0.100, 0.300]" not in html  # the bug row's CI, nowhere on the page
    _, key, _ = layout.planted["undefined"]
    (headline,) = [li["text"] for li in find(html, "li", within="summary")
                   if li["attrs"]["data-condition"] == key[3] and "EODD by sex" in li["text"]]
    # the undefined target is not the "strongest" one, though its p_adj (0) was the smallest in the CSV
    assert "strongest: cardiomegaly" not in headline.split("EODD by sex", 1)[1].split(";")[1]


def test_verdict_lists_no_undefined_change(uncertain_run, layout, find):
    html = (uncertain_run / "report.html").read_text()
    _, key, _ = layout.planted["undefined"]
    items = find(html, "li", within="verdict")
    assert items and not [i for i in items if i["attrs"]["data-condition"] == key[3]
                          and i["attrs"]["data-metric"] == key[5] and key[2] in i["text"]]


def test_the_real_runs_undefined_rows_carry_no_interval_p_or_mark(tiny_run):
    """The tiny run has undefined changes (groups short of class members): the metrics layer writes none of
    CI, p, p_adj or significance for them, and neither does the report's table."""
    fairness = pd.read_csv(tiny_run / "metrics" / "fairness.csv")
    undefined = fairness[(fairness["condition"] != "original") & fairness["delta"].isna()
                         & ~fairness["metric"].isin(["auroc_gap", "worst_group_auroc"])]  # not bootstrapped here
    assert len(undefined) > 0
    for column in ("ci_low", "ci_high", "p_value", "p_adjusted", "se", "mdc"):
        assert undefined[column].isna().all(), column
    assert (~undefined["significant"]).all() and (undefined["uncertainty_reason"] == "delta undefined").all()
    table = pd.read_csv(tiny_run / "tables" / "bias_change.csv")
    rows = table[table["delta"].isna()]
    assert len(rows) > 0 and rows["p_adjusted"].isna().all() and not rows["significant"].any()
