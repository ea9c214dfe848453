"""Headline sentences: exact wording on hand-made tables, numbers checked against a real run's tables."""

import numpy as np
import pandas as pd
import pytest

from reconfair.report.headline import condition_headline, headlines
from reconfair.report.evidence import p_of
from reconfair.report.labels import ci, p_text, signed

NAN = float("nan")
UNET = "radiograph-lowdose@3000/unet"


def _perf(rows):
    return pd.DataFrame(rows, columns=["dataset", "task", "target", "condition", "metric", "value", "ci_low",
                                       "ci_high", "p_adjusted"])


def _fair(rows):
    return pd.DataFrame(rows, columns=["dataset", "task", "target", "condition", "attribute", "metric", "value",
                                       "delta", "ci_low", "ci_high", "p_adjusted"])


def test_single_target_classification_sentence():
    perf = _perf([("d", "classification", "t", "original", "auroc", 0.9, NAN, NAN, NAN),
                  ("d", "classification", "t", UNET, "auroc", 0.85, -0.08, -0.02, 0.003)])
    fair = _fair([("d", "classification", "t", "original", "sex", "eodd", 0.05, 0.0, NAN, NAN, NAN),
                  ("d", "classification", "t", UNET, "sex", "eodd", 0.081, 0.031, 0.012, 0.05, 0.0123),
                  ("d", "classification", "t", UNET, "sex", "eop", 0.2, 0.1, 0.0, 0.2, 0.5)])
    text = condition_headline(perf, fair, dataset="d", task="classification", condition=UNET, attributes=["sex"])
    assert text == ("U-Net at 3,000 photons (radiograph-lowdose@3000/unet): AUROC down, Δ −0.050 "
                    "[−0.080, −0.020], p_adj = 0.003; EODD by sex +0.031 [0.012, 0.050], p_adj = 0.012.")
    original = condition_headline(perf, fair, dataset="d", task="classification", condition="original",
                                  attributes=["sex"])
    assert original == "original images (original): AUROC 0.900; inherent EODD by sex 0.050."


def test_several_targets_use_macro_and_name_the_strongest_target():
    perf = _perf([
        ("d", "classification", "a", "original", "auroc", 0.90, NAN, NAN, NAN),
        ("d", "classification", "b", "original", "auroc", 0.80, NAN, NAN, NAN),
        ("d", "classification", "macro", "original", "auroc", 0.85, NAN, NAN, NAN),
        ("d", "classification", "a", UNET, "auroc", 0.91, -0.01, 0.03, 0.6),
        ("d", "classification", "b", UNET, "auroc", 0.70, -0.15, -0.05, 0.01),
        ("d", "classification", "macro", UNET, "auroc", 0.805, NAN, NAN, NAN),
    ])
    fair = _fair([
        ("d", "classification", "a", UNET, "sex", "eodd", 0.1, 0.02, -0.01, 0.05, 0.5),
        ("d", "classification", "b", UNET, "sex", "eodd", 0.3, 0.10, 0.04, 0.16, 0.02),
    ])
    text = condition_headline(perf, fair, dataset="d", task="classification", condition=UNET, attributes=["sex"])
    # macro: 0.805 - 0.85 = -0.045; only b is significant; EODD mean (0.02 + 0.10) / 2 = 0.06, b strongest
    assert text == ("U-Net at 3,000 photons (radiograph-lowdose@3000/unet): macro AUROC down, Δ −0.045 "
                    "(significant: b −0.100 [−0.150, −0.050], p_adj = 0.010); EODD by sex +0.060 "
                    "(mean of 2 targets; strongest: b +0.100 [0.040, 0.160], p_adj = 0.020).")


def test_stable_when_nothing_is_significant_and_no_bootstrap_said_so():
    perf = _perf([("d", "segmentation", "tumor", "original", "dice", 0.8, NAN, NAN, NAN),
                  ("d", "segmentation", "tumor", "mri-undersampling@8/unet", "dice", 0.79, -0.03, 0.01, 0.4)])
    fair = _fair([("d", "segmentation", "tumor", "mri-undersampling@8/unet", "sex", "delta_dice", 0.1, 0.02,
                   NAN, NAN, NAN)])
    text = condition_headline(perf, fair, dataset="d", task="segmentation", condition="mri-undersampling@8/unet",
                              attributes=["sex"])
    assert text == ("U-Net at 8× acceleration (mri-undersampling@8/unet): Dice stable, Δ −0.010 [−0.030, 0.010], "
                    "p_adj = 0.400; Dice gap by sex +0.020.")
    no_boot = perf.assign(p_adjusted=NAN, ci_low=NAN, ci_high=NAN)
    text = condition_headline(no_boot, fair, dataset="d", task="segmentation",
                              condition="mri-undersampling@8/unet", attributes=["sex"])
    assert text.split(": ", 1)[1].startswith("Dice, Δ −0.010;")


def test_headlines_follow_the_given_condition_order():
    perf = _perf([("d", "segmentation", "tumor", c, "dice", 0.8, NAN, NAN, NAN)
                  for c in ("original", "mri-undersampling@8/unet", "mri-undersampling@4/unet")])
    items = headlines(perf, _fair([]), datasets=["d"], attributes=["sex"],
                      conditions=["original", "mri-undersampling@4/unet", "mri-undersampling@8/unet"])
    assert [h.condition for h in items] == ["original", "mri-undersampling@4/unet", "mri-undersampling@8/unet"]


def test_headline_numbers_match_the_runs_metric_tables(tiny_run):
    """Recompute by hand from metrics/*.csv what the summary says for the segmentation task."""
    performance = pd.read_csv(tiny_run / "metrics" / "performance.csv")
    fairness = pd.read_csv(tiny_run / "metrics" / "fairness.csv")
    html = (tiny_run / "report.html").read_text()
    seg = performance[(performance["task"] == "segmentation") & (performance["metric"] == "dice")]
    original = float(seg.loc[seg["condition"] == "original", "value"].iloc[0])
    models = pd.read_csv(tiny_run / "metrics" / "models.csv").set_index(["task", "target"])
    uninformative = models.loc[("segmentation", "tumor"), "status"] == "uninformative"
    checked = 0
    for record in seg[seg["condition"] != "original"].itertuples():
        delta = record.value - original
        if uninformative:  # the numbers without an interval or p, and no verdict
            expected = f"Δ {signed(delta)} (model uninformative: no verdict: {models.loc[('segmentation', 'tumor'), 'reason']}"
        else:
            expected = f"Δ {signed(delta)} {ci(record.ci_low, record.ci_high)}, {p_of(record._asdict())}"
        assert expected.replace("<", "&lt;") in html, expected
        gaps = fairness[(fairness["task"] == "segmentation") & (fairness["condition"] == record.condition)
                        & (fairness["metric"] == "delta_dice")]
        for gap in gaps.itertuples():
            if np.isfinite(gap.delta):
                interval = "(model uninformative: no verdict)" if uninformative else ci(gap.ci_low, gap.ci_high)
                part = f"Dice gap by {gap.attribute} {signed(gap.delta)} {interval}".rstrip()
                assert part in html, part
                checked += 1
    assert checked >= 2
    # hand check of the sign convention on one value: delta = value - value_original
    row = fairness[(fairness["task"] == "segmentation") & (fairness["condition"] != "original")].iloc[0]
    assert row["delta"] == pytest.approx(row["value"] - row["value_original"])


# --- the rewritten metrics layer: model sanity, minimum detectable change, p at the bootstrap's floor ---------


def _models(status="uninformative", target="t", reason="validation AUROC 0.22 <= 0.55 (at or below chance)"):
    return pd.DataFrame({"dataset": ["d"], "task": ["classification"], "target": [target], "metric": ["auroc"],
                         "val_value": [0.22], "val_n": [40], "score_sd": [0.1], "status": [status],
                         "reason": [reason]})


def test_an_uninformative_model_gets_no_verdict_never_stable():
    perf = _perf([("d", "classification", "t", "original", "auroc", 0.3, NAN, NAN, NAN),
                  ("d", "classification", "t", UNET, "auroc", 0.31, -0.02, 0.04, 0.9)])
    fair = _fair([("d", "classification", "t", UNET, "sex", "eodd", 0.4, 0.2, 0.1, 0.3, 0.001)])
    text = condition_headline(perf, fair, dataset="d", task="classification", condition=UNET, attributes=["sex"],
                              models=_models())
    assert text == ("U-Net at 3,000 photons (radiograph-lowdose@3000/unet): AUROC Δ +0.010 (model uninformative: "
                    "no verdict: validation AUROC 0.22 <= 0.55 (at or below chance)); EODD by sex +0.200 "
                    "(model uninformative: no verdict).")
    assert "stable" not in text and "p_adj" not in text
    fine = condition_headline(perf, fair, dataset="d", task="classification", condition=UNET, attributes=["sex"],
                              models=_models(status="ok", reason=""))
    assert "AUROC stable" in fine and "EODD by sex +0.200 [0.100, 0.300], p_adj = 0.001" in fine


def test_several_targets_leave_the_uninformative_one_out_of_the_verdict():
    perf = _perf([("d", "classification", "a", "original", "auroc", 0.9, NAN, NAN, NAN),
                  ("d", "classification", "t", "original", "auroc", 0.3, NAN, NAN, NAN),
                  ("d", "classification", "macro", "original", "auroc", 0.6, NAN, NAN, NAN),
                  ("d", "classification", "a", UNET, "auroc", 0.9, -0.02, 0.02, 0.8),
                  ("d", "classification", "t", UNET, "auroc", 0.1, -0.3, -0.1, 0.001),  # significant, but flagged
                  ("d", "classification", "macro", UNET, "auroc", 0.5, NAN, NAN, NAN)])
    fair = _fair([("d", "classification", "a", UNET, "sex", "eodd", 0.1, 0.01, -0.02, 0.04, 0.7),
                  ("d", "classification", "t", UNET, "sex", "eodd", 0.4, 0.3, 0.2, 0.4, 0.001)])
    text = condition_headline(perf, fair, dataset="d", task="classification", condition=UNET, attributes=["sex"],
                              models=_models())
    # only target a counts: its AUROC is not significant -> stable; t is named as having no verdict
    assert text == ("U-Net at 3,000 photons (radiograph-lowdose@3000/unet): macro AUROC stable, Δ −0.100 "
                    "(no target of 1 changed significantly; model uninformative: no verdict on t); EODD by sex "
                    "+0.155 (mean of 2 targets; strongest: a +0.010 [−0.020, 0.040], p_adj = 0.700; "
                    "model uninformative: no verdict on t).")


def test_not_significant_sits_beside_the_minimum_detectable_change():
    perf = _perf([("d", "segmentation", "tumor", "original", "dice", 0.8, NAN, NAN, NAN),
                  ("d", "segmentation", "tumor", "mri-undersampling@8/unet", "dice", 0.79, -0.03, 0.01, 0.4)])
    fair = _fair([("d", "segmentation", "tumor", "mri-undersampling@8/unet", "sex", "delta_dice", 0.1, 0.004,
                   -0.02, 0.03, 0.4)]).assign(mdc=0.03, mdc_family=0.045)
    text = condition_headline(perf.assign(mdc=0.05), fair, dataset="d", task="segmentation",
                              condition="mri-undersampling@8/unet", attributes=["sex"])
    assert text.endswith("Dice stable, Δ −0.010 [−0.030, 0.010], p_adj = 0.400 (a change below 0.050 could not "
                         "have been seen); Dice gap by sex +0.004 [−0.020, 0.030], p_adj = 0.400, not significant "
                         "(a change below 0.045 could not have been seen).")  # mdc_family (alpha/m) before mdc
    only_mdc = condition_headline(perf, fair.drop(columns="mdc_family"), dataset="d", task="segmentation",
                                  condition="mri-undersampling@8/unet", attributes=["sex"])
    assert only_mdc.endswith("not significant (a change below 0.030 could not have been seen).")


def test_p_at_the_bootstrap_floor_is_a_bound_not_a_number():
    floor = 2 / 1001
    fair = _fair([("d", "classification", "t", UNET, "sex", "eodd", 0.3, 0.247, 0.142, 0.351, 0.0359),
                  ("d", "classification", "t", UNET, "age", "eodd", 0.3, 0.1, 0.05, 0.15, floor)]).assign(
        p_value=floor, p_floor=floor, significant=True)
    perf = _perf([("d", "classification", "t", "original", "auroc", 0.9, NAN, NAN, NAN),
                  ("d", "classification", "t", UNET, "auroc", 0.9, -0.01, 0.01, 1.0)])
    text = condition_headline(perf, fair, dataset="d", task="classification", condition=UNET,
                              attributes=["sex", "age"])
    assert "EODD by sex +0.247 [0.142, 0.351], p < 0.002, p_adj ≤ 0.036" in text
    assert "EODD by age +0.100 [0.050, 0.150], p_adj < 0.002." in text
    assert "0.000" not in text.split("EODD", 1)[1]  # no p printed as 0.000


def test_the_significant_column_and_alpha_decide_not_a_fixed_005():
    perf = _perf([("d", "classification", "t", "original", "auroc", 0.9, NAN, NAN, NAN),
                  ("d", "classification", "t", UNET, "auroc", 0.85, -0.08, -0.02, 0.03)])
    fair = _fair([])
    at_001 = condition_headline(perf, fair, dataset="d", task="classification", condition=UNET, attributes=[],
                                alpha=0.01)
    assert "AUROC stable" in at_001  # 0.03 >= alpha 0.01
    assert "AUROC down" in condition_headline(perf, fair, dataset="d", task="classification", condition=UNET,
                                              attributes=[])
    flagged = condition_headline(perf.assign(significant=[False, False]), fair, dataset="d", task="classification",
                                 condition=UNET, attributes=[])
    assert "AUROC stable" in flagged  # the metrics layer's column wins over p_adj < 0.05


def test_an_undefined_change_has_no_ci_no_p_in_the_headline():
    """The old bug: delta NaN but the CSV holds a CI, p = 0 and significant; the headline shows none of it."""
    perf = _perf([("d", "classification", "t", "original", "auroc", 0.9, NAN, NAN, NAN),
                  ("d", "classification", "t", UNET, "auroc", 0.9, -0.01, 0.01, 1.0)])
    fair = _fair([("d", "classification", "t", UNET, "sex", "eodd", NAN, NAN, 0.1, 0.3, 0.0)]).assign(
        p_value=0.0, significant=True, reason="fewer than 2 groups with defined tpr/fpr (1 usable)")
    text = condition_headline(perf, fair, dataset="d", task="classification", condition=UNET, attributes=["sex"])
    assert text.endswith("; EODD by sex n/a (fewer than 2 groups with defined tpr/fpr (1 usable)).")
    assert "[0.100, 0.300]" not in text and "p_adj < " not in text
