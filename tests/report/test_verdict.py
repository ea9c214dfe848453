"""The verdict list, the family line and the banners: hand-made tables and the planted run (conftest.PLANTED)."""

import shutil

import numpy as np
import pandas as pd
import pytest

from reconfair.report import write_report
from reconfair.report.verdict import family_banners, family_line, family_words, findings, no_finding_text

NAN = float("nan")
UNET = "radiograph-lowdose@30/unet"
PERF_COLUMNS = ["dataset", "task", "target", "condition", "metric", "value", "ci_low", "ci_high", "p_value",
                "p_adjusted"]


def _fair(rows):
    return pd.DataFrame(rows, columns=["dataset", "task", "target", "condition", "attribute", "metric", "delta",
                                       "ci_low", "ci_high", "p_value", "p_adjusted", "significant"])


def test_findings_rank_main_metric_then_task_then_others_by_size():
    fair = _fair([
        ("d", "classification", "nodule", UNET, "sex", "eodd", 0.10, 0.05, 0.15, 0.001, 0.01, True),
        ("d", "classification", "nodule", UNET, "age", "eodd", -0.25, -0.3, -0.2, 0.001, 0.01, True),
        ("d", "classification", "nodule", UNET, "sex", "dp", 0.40, 0.3, 0.5, 0.001, 0.01, True),  # larger, not main
        ("d", "classification", "nodule", UNET, "race", "eodd", 0.50, 0.1, 0.9, 0.2, 0.30, False),  # not significant
        ("d", "classification", "effusion", UNET, "sex", "eodd", NAN, 0.1, 0.9, 0.0, 0.0, True),  # undefined
        ("d", "classification", "flat", UNET, "sex", "eodd", 0.90, 0.8, 1.0, 0.001, 0.01, True),  # model flagged
        ("d", "classification", "nodule", "original", "sex", "eodd", 0.0, NAN, NAN, NAN, NAN, False),
    ])
    perf = pd.DataFrame([("d", "classification", "nodule", "original", "auroc", 0.9, NAN, NAN, NAN, NAN),
                         ("d", "classification", "nodule", UNET, "auroc", 0.8, -0.15, -0.05, 0.001, 0.004)],
                        columns=PERF_COLUMNS)
    models = pd.DataFrame({"dataset": "d", "task": "classification", "target": ["nodule", "flat"],
                           "metric": "auroc", "status": ["ok", "uninformative"], "reason": ["", "near-constant"]})
    found = findings(perf, fair, models=models)
    assert [(f.target, f.attribute, f.metric) for f in found] == [
        ("nodule", "age", "eodd"), ("nodule", "sex", "eodd"), ("nodule", "", "auroc"), ("nodule", "sex", "dp")]
    assert [f.text for f in found] == [
        "U-Net at 30 photons lowers EODD by age for nodule by −0.250 [−0.300, −0.200] (p_adj = 0.010).",
        "U-Net at 30 photons raises EODD by sex for nodule by +0.100 [0.050, 0.150] (p_adj = 0.010).",
        "U-Net at 30 photons lowers AUROC for nodule by −0.100 [−0.150, −0.050] (p_adj = 0.004).",
        "U-Net at 30 photons raises DP by sex for nodule by +0.400 [0.300, 0.500] (p_adj = 0.010).",
    ]


def test_an_undefined_change_never_enters_the_verdict():
    """The old bug's row (delta NaN, CI finite, p = 0, significant) gives no finding, with or without the column."""
    bug = _fair([("d", "classification", "t", UNET, "sex", "eodd", NAN, 0.1, 0.3, 0.0, 0.0, True)])
    empty = pd.DataFrame(columns=PERF_COLUMNS)
    assert findings(empty, bug) == []
    assert findings(empty, bug.drop(columns="significant")) == []


def test_family_words_and_counts():
    assert family_words({"adjust": "holm", "family": "metric"}) == (
        "Holm within one family per data set × task × attribute × metric")
    assert family_words({"adjust": "holm", "family": "target"}) == (
        "Holm within one family per data set × task × target × attribute × metric")
    families = pd.DataFrame({"family": [f"f{i}" for i in range(12)], "n_tests": [6] * 11 + [72]})
    assert family_line({"family": "metric"}, families, []) == (
        "Holm within one family per data set × task × attribute × metric; 12 families, largest 72 tests")
    # without families.csv: counted from the family / family_size columns of the tables
    fair = pd.DataFrame({"family": ["a", "a", "b", ""], "family_size": [2, 2, 5, 0]})
    assert family_line({"family": "metric"}, None, [fair]).endswith("; 2 families, largest 5 tests")
    assert family_line({}, None, [pd.DataFrame()]) == "Holm across one family: every test of the report"


def test_nothing_significant_says_so_with_the_largest_detectable_change():
    fair = _fair([("d", "classification", "t", UNET, "sex", "eodd", 0.01, -0.02, 0.04, 0.3, 0.9, False),
                  ("d", "classification", "u", UNET, "sex", "eodd", 0.02, -0.02, 0.06, 0.4, 1.0, False),
                  ("d", "classification", "u", UNET, "age", "eodd", NAN, NAN, NAN, NAN, NAN, False)]).assign(
        mdc=[0.03, 0.05, 0.2], mdc_family=[0.045, 0.09, 0.3])  # the undefined row's 0.3 must not count
    perf = pd.DataFrame(columns=PERF_COLUMNS)
    assert findings(perf, fair) == []
    lines = no_finding_text(fair, perf, family="Holm within X", datasets=["d"])
    assert lines == ["No change passes the multiple-testing correction (family: Holm within X).",
                     "d · classification: changes of EODD smaller than 0.090 could not have been seen (the largest "
                     "minimum detectable change at 80% power; the smallest is 0.045)."]
    untested = no_finding_text(fair.assign(p_adjusted=NAN), perf, family="x", datasets=["d"])
    assert untested[0].startswith("No change was tested")


def test_family_banner_only_for_unreachable_families():
    families = pd.DataFrame({"family": ["a/sex/eodd", "b/sex/eodd"], "n_tests": [72, 6], "adjust": "holm",
                             "alpha": 0.05, "first_cut": [0.05 / 72, 0.05 / 6], "min_p_floor": 2 / 1001,
                             "reachable": [False, True], "n_boot": 1000, "note": ""})
    assert family_banners(families) == [
        "With B = 1000, no p-value of family a/sex/eodd (72 tests) can pass Holm's first cut 0.05/72 = 0.00069; "
        "run with evaluation.bootstrap: auto or more resamples."]
    many = pd.concat([families.assign(family=[f"f{i}", "ok"], n_tests=[10 + i, 6]) for i in range(5)])
    (banner,) = family_banners(many)
    assert banner.startswith("With B = 1000, no p-value of 5 families (10 to 14 tests each: f0, f1, f2, …)")
    assert family_banners(None) == [] and family_banners(families.drop(columns="reachable")) == []


def test_the_planted_run_leads_with_its_verdict(uncertain_run, layout, find):
    html = (uncertain_run / "report.html").read_text()
    assert html.index('id="verdict"') < html.index('id="banners"') < html.index('id="overview"') < html.index(
        'id="summary"') < html.index('id="figures"')
    items = find(html, "li", within="verdict")
    # expected from PLANTED: significant, finite, informative model; main metric by |Δ|, task, then other metrics
    planted = layout.planted
    expected = ["main_big", "main_small", "task", "other"]
    keys = [(planted[n][1][3], planted[n][1][5]) for n in expected]
    assert [(i["attrs"]["data-condition"], i["attrs"]["data-metric"]) for i in items] == keys
    assert items[0]["text"] == ("synthetic-chest: no reconstruction (identity) at 3,000 photons raises EODD by sex "
                                "for nodule by +0.247 [0.142, 0.351] (p < 0.001, p_adj ≤ 0.036).")
    assert items[2]["text"] == ("synthetic-chest: no reconstruction (identity) at 3,000 photons lowers AUROC for "
                                "nodule by −0.080 [−0.120, −0.040] (p_adj = 0.010).")
    verdict = find(html, "section", id="verdict")[0]["text"]
    assert "tumor_type" not in verdict  # significant, but its model is uninformative
    assert "10,000 photons raises EODD by sex for cardiomegaly" not in verdict  # the undefined row
    families = pd.read_csv(uncertain_run / "metrics" / "families.csv")
    assert (f"Holm within one family per data set × task × attribute × metric; {families['family'].nunique()} "
            f"families, largest {families['n_tests'].max()} tests") in verdict


def test_banners_name_the_uninformative_model_and_the_unreachable_family(uncertain_run, layout, find):
    html = (uncertain_run / "report.html").read_text()
    banners = [b["text"] for b in find(html, "p", within="banners")]
    assert banners == [
        f"The classifier's validation AUROC for tumor_type (synthetic-brain) is 0.22 ({layout.uninformative_reason})"
        ": no verdict on tumor_type.",
        f"With B = {layout.b}, no p-value of family {layout.unreachable} (72 tests) can pass Holm's first cut "
        f"0.05/72 = {0.05 / 72:.2g}; run with evaluation.bootstrap: auto or more resamples."]
    headline = [li["text"] for li in find(html, "li", within="summary") if li["attrs"]["data-condition"]
                == layout.brain_unet and "EODD" in li["text"]][0]
    assert "model uninformative: no verdict on tumor_type" in headline


def test_no_finding_run_says_so(uncertain_run, tmp_path, find):
    run = tmp_path / "run"
    shutil.copytree(uncertain_run, run)
    for name in ("fairness", "performance"):
        table = pd.read_csv(run / "metrics" / f"{name}.csv")
        table["significant"] = False
        table.to_csv(run / "metrics" / f"{name}.csv", index=False)
    write_report(run)
    html = (run / "report.html").read_text()
    assert find(html, "li", within="verdict") == []
    lines = [p["text"] for p in find(html, "p", within="verdict")]
    assert lines[0].startswith("No change passes the multiple-testing correction (family: Holm within one family "
                               "per data set × task × attribute × metric; ")
    fair = pd.read_csv(run / "metrics" / "fairness.csv")
    chest = fair[(fair["dataset"] == "synthetic-chest") & (fair["metric"] == "eodd") & (fair["condition"] != "original")
                 & np.isfinite(fair["delta"])]
    largest = chest["mdc_family"].max()
    assert (f"synthetic-chest · classification: changes of EODD smaller than {largest:.3f} could not have been "
            "seen") in lines[1]


@pytest.mark.parametrize("drop", [["significant"], ["significant", "p_floor", "family", "family_size", "mdc",
                                                    "mdc_family", "test", "uncertainty_reason"]])
def test_older_tables_degrade_gracefully(uncertain_run, tmp_path, find, drop):
    """Without the new columns or files (older runs, `reconfair evaluate`): no crash, the fallbacks speak."""
    run = tmp_path / "run"
    shutil.copytree(uncertain_run, run)
    for name in ("fairness", "performance"):
        table = pd.read_csv(run / "metrics" / f"{name}.csv")
        table.drop(columns=[c for c in drop if c in table.columns]).to_csv(run / "metrics" / f"{name}.csv",
                                                                          index=False)
    for name in ("models.csv", "families.csv"):
        (run / "metrics" / name).unlink()
    write_report(run)
    html = (run / "report.html").read_text()
    assert 'id="banners"' not in html
    items = find(html, "li", within="verdict")
    # the fallback p_adj < 0.05: the planted rows, and now the uninformative model's too (nothing flags it)
    assert "tumor_type" in " ".join(i["text"] for i in items)
    assert all("cardiomegaly" not in i["text"] or "10,000" not in i["text"] or "EODD" not in i["text"]
               for i in items)
