"""The overview tables (condition x attribute), the replicate spread and figure 7, the provenance facts."""

import re
import statistics

import numpy as np
import pandas as pd
import pytest

from reconfair.report.overview import overview_cells, overview_html

NAN = float("nan")


def _rgb(style):
    colour = re.search(r"background:#([0-9a-f]{6})", style).group(1)
    return tuple(int(colour[i:i + 2], 16) for i in (0, 2, 4))


def _cells(find, html, dataset, task):
    rows = {}
    for tr in find(html, "tr", within=f"overview-{dataset}-{task}"):
        if "data-condition" not in tr["attrs"]:
            continue
        cells = [c for c in tr["children"] if c["tag"] == "td" and "data-attribute" in c["attrs"]]
        rows[tr["attrs"]["data-condition"]] = {c["attrs"]["data-attribute"]: c for c in cells}
    return rows


def test_cells_pick_the_strongest_target_and_say_why_others_are_missing():
    fair = pd.DataFrame({
        "dataset": "d", "task": "classification", "condition": "x@1/unet", "metric": "eodd",
        "target": ["a", "b", "a", "b", "a"], "attribute": ["sex", "sex", "age", "age", "race"],
        "delta": [0.05, -0.2, NAN, NAN, 0.1], "ci_low": [0.0, -0.3, 0.1, NAN, 0.0],
        "ci_high": [0.1, -0.1, 0.2, NAN, 0.2], "p_adjusted": [0.3, 0.01, 0.0, NAN, 0.001],
        "reason": ["", "", "fewer than 2 groups", "fewer than 2 groups", ""]})
    models = pd.DataFrame({"dataset": ["d"], "task": ["classification"], "target": ["z"], "metric": ["auroc"],
                           "status": ["ok"], "reason": [""]})
    (row,) = overview_cells(fair, dataset="d", task="classification", attributes=["sex", "age", "race", "eth"],
                            conditions=["original", "x@1/unet"], models=models)
    sex, age, race, eth = row
    assert (sex.target, sex.text, sex.significant) == ("b", "−0.200 [−0.300, −0.100] *", True)
    assert "mean over targets −0.075" in sex.title  # (0.05 - 0.2) / 2
    assert (age.status, age.text) == ("n/a", "n/a") and age.title == (
        "a: change undefined: fewer than 2 groups; b: change undefined: fewer than 2 groups")
    assert (race.text, race.significant, race.target) == ("+0.100 [0.000, 0.200] *", True, "")
    assert eth.status == "missing"
    flagged = models.assign(target="b", status="uninformative", reason="near-constant scores (sd 0.014 < 0.02)")
    (row,) = overview_cells(fair, dataset="d", task="classification", attributes=["sex"],
                            conditions=["x@1/unet"], models=flagged)
    assert (row[0].target, row[0].significant) == ("", False)  # only a is left: one target, not significant
    assert "b: model uninformative: no verdict (near-constant scores (sd 0.014 < 0.02))" in row[0].title


def test_overview_of_the_planted_run(uncertain_run, layout, find):
    html = (uncertain_run / "report.html").read_text()
    chest = _cells(find, html, layout.chest, "classification")
    assert list(chest) == [layout.high, layout.low]  # mildest first, original left out
    big = chest[layout.low]["sex"]
    assert big["text"] == "+0.247 [0.142, 0.351] *nodule"  # value, CI, star; the target on its own line
    assert "sig" in big["attrs"]["class"] and big["children"][0]["tag"] == "strong"
    small = chest[layout.high]["age_group"]
    assert small["text"].startswith("−0.120 [−0.200, −0.040] *")
    red, _, blue = _rgb(big["attrs"]["style"])
    assert red > blue  # a rise is vermillion
    red, _, blue = _rgb(small["attrs"]["style"])
    assert blue > red  # a fall is blue
    not_sig = chest[layout.low]["age_group"]
    assert "*" not in not_sig["text"] and "sig" not in not_sig["attrs"]["class"].split()
    seg = _cells(find, html, layout.brain, "segmentation")
    fairness = pd.read_csv(uncertain_run / "metrics" / "fairness.csv")
    reason = fairness[(fairness["task"] == "segmentation") & (fairness["attribute"] == "age_group")
                      & (fairness["metric"] == "delta_dice") & fairness["delta"].isna()]["reason"].iloc[0]
    for condition, cells in seg.items():
        assert cells["age_group"]["text"] == "n/a" and reason in cells["age_group"]["attrs"]["title"]
    brain = _cells(find, html, layout.brain, "classification")
    # tumor_type's model is uninformative: its planted +0.5 (significant) is not what the cell shows
    cell = brain[layout.brain_unet]["sex"]
    assert "+0.500" not in cell["text"] and "*" not in cell["text"]
    assert "tumor_type: model uninformative: no verdict" in cell["attrs"]["title"]


def test_the_replicate_spread_is_the_sd_of_the_replicate_file(replicated_run, layout, find):
    html = (replicated_run / "report.html").read_text()
    replicas = pd.read_csv(replicated_run / "metrics" / "replicates_fairness.csv")
    header = [th["text"] for th in find(html, "th", within=f"overview-{layout.chest}-classification")]
    assert header == ["condition", "sex", "sex: sd over 3 replicates", "age_group", "age_group: sd over 3 replicates"]
    checked = 0
    for tr in find(html, "tr", within=f"overview-{layout.chest}-classification"):
        if "data-condition" not in tr["attrs"]:
            continue
        cells = [c for c in tr["children"] if c["tag"] == "td"]
        for cell, spread in zip(cells[1::2], cells[2::2]):
            target = cell["children"][-1]["text"]  # the strongest target's name, under the value
            mine = replicas[(replicas["condition"] == tr["attrs"]["data-condition"]) & (replicas["target"] == target)
                            & (replicas["attribute"] == cell["attrs"]["data-attribute"])
                            & (replicas["metric"] == "eodd")]
            expected = statistics.stdev(mine["delta"].tolist())
            assert float(spread["attrs"]["data-value"]) == pytest.approx(expected, rel=1e-12)
            checked += 1
    assert checked == 4


def test_replicate_table_and_figure_seven(replicated_run, layout):
    table = pd.read_csv(replicated_run / "tables" / "replicates.csv")
    replicas = pd.read_csv(replicated_run / "metrics" / "replicates_fairness.csv")
    main = replicas[replicas["metric"].isin(["eodd", "delta_dice"]) & (replicas["condition"] != "original")]
    assert len(table) == len(main) // 3
    for record in table.sample(5, random_state=0).itertuples():
        mine = main[(main["condition"] == record.condition) & (main["target"] == record.target)
                    & (main["attribute"] == record.attribute)].sort_values("replicate")
        got = [getattr(record, f"delta_replicate_{r}") for r in range(3)]
        np.testing.assert_allclose(got, mine["delta"].to_numpy(), equal_nan=True)
    svg = (replicated_run / "figures" / "replicates_synthetic-chest_classification.svg").read_text()
    dots = re.findall(r'id="replicate-([^"]+)"', svg)
    chest = main[(main["dataset"] == layout.chest)]
    assert len(dots) == int(np.isfinite(chest["delta"]).sum())  # one dot per finite replicate change
    fair = pd.read_csv(replicated_run / "metrics" / "fairness.csv")
    combined = fair[(fair["dataset"] == layout.chest) & (fair["metric"] == "eodd") & (fair["condition"] != "original")]
    assert len(re.findall(r'id="combined-(?:sex|age_group)-\d+"', svg)) == int(np.isfinite(combined["delta"]).sum())
    html = (replicated_run / "report.html").read_text()
    assert "Figure 7. Change per model replicate" in html and "replicates_synthetic-chest_classification" in html


def test_without_replicates_figure_seven_says_why(uncertain_run):
    html = (uncertain_run / "report.html").read_text()
    assert "one model replicate per model (replicates: 1)" in html and "sd over" not in html
    assert not list((uncertain_run / "figures").glob("replicates_*"))


def test_provenance_states_bootstrap_alpha_families_replicates(uncertain_run, replicated_run, find):
    facts = {}
    for run in (uncertain_run, replicated_run):
        html = (run / "report.html").read_text()
        rows = find(html, "tr", within="provenance-facts")
        facts[run] = {r["children"][0]["text"]: r["children"][1]["text"] for r in rows}
    mine = facts[uncertain_run]
    assert mine["bootstrap resamples"] == "auto (B = 1000 used)"
    assert mine["alpha"] == "0.05" and mine["multiple-testing correction"] == "holm"
    assert mine["families"].startswith("Holm within one family per data set × task × attribute × metric; ")
    assert mine["model replicates"] == "1 configured, 1 in the tables"
    assert facts[replicated_run]["bootstrap resamples"] == "1000 (B = 1000 used)"
    assert facts[replicated_run]["model replicates"] == "3 configured, 3 in the tables"


def test_overview_html_without_rows_says_so():
    empty = pd.DataFrame(columns=["dataset", "task", "target", "condition", "attribute", "metric", "delta"])
    html = overview_html(empty, datasets=["d"], attributes=["sex"], conditions=["original"])
    assert 'id="overview"' in html and "no fairness rows of reconstructed conditions" in html
