"""Report tables: LaTeX escaping, deltas, condition order, labels."""

import numpy as np
import pandas as pd

from reconfair.report.labels import condition_label, number, severity_order
from reconfair.report.rundata import order_conditions
from reconfair.report.tables import bias_change_table, performance_table, to_latex


def test_latex_escapes_text_and_marks_missing_values():
    frame = pd.DataFrame({"name": ["a&b_c%"], "value": [np.nan], "flag": [True]})
    tex = to_latex(frame)
    assert r"a\&b\_c\%" in tex and "-- & yes" in tex
    assert tex.startswith(r"\begin{tabular}{lrl}") and r"\bottomrule" in tex


def test_performance_table_delta_is_value_minus_original_per_target():
    perf = pd.DataFrame({"dataset": "d", "task": "classification", "target": ["t", "t", "u", "u"],
                         "condition": ["original", "x@1/y", "original", "x@1/y"], "metric": "auroc",
                         "value": [0.9, 0.8, 0.7, 0.75]})
    table = performance_table(perf).set_index(["target", "condition"])
    assert np.isclose(table.loc[("t", "x@1/y"), "delta"], -0.1)
    assert np.isclose(table.loc[("u", "x@1/y"), "delta"], 0.05)


def test_bias_change_table_keeps_the_main_metric_and_flags_significance():
    fair = pd.DataFrame({"dataset": "d", "task": "classification", "target": "t", "attribute": "sex",
                         "condition": ["original", "x@1/y", "x@1/y"], "metric": ["eodd", "eodd", "eop"],
                         "value_original": 0.1, "value": [0.1, 0.2, 0.3], "delta": [0.0, 0.1, 0.2],
                         "ci_low": 0.0, "ci_high": 0.2, "p_value": 0.01, "p_adjusted": [np.nan, 0.049, 0.01]})
    table = bias_change_table(fair)
    assert table[["condition", "metric", "significant"]].values.tolist() == [["x@1/y", "eodd", True]]


def test_conditions_follow_the_configuration_with_mitigations_after_their_base():
    config = {"datasets": [{"degradations": [{"operator": "radiograph-lowdose", "levels": [1e5, 3e3]}],
                            "reconstructors": [{"name": "baseline"}, {"name": "unet"}]}]}
    names = ["radiograph-lowdose@3000/unet+eodd:0.316", "radiograph-lowdose@100000/unet", "original",
             "radiograph-lowdose@3000/identity", "radiograph-lowdose@3000/unet", "radiograph-lowdose@100000/identity"]
    assert order_conditions(names, config) == [
        "original", "radiograph-lowdose@100000/identity", "radiograph-lowdose@100000/unet",
        "radiograph-lowdose@3000/identity", "radiograph-lowdose@3000/unet", "radiograph-lowdose@3000/unet+eodd:0.316"]


def test_labels():
    assert condition_label("ct-lowdose@10000/fbp+adversarial:1") == (
        "FBP at 10,000 photons, with adversarial debiasing (λ = 1)")
    assert condition_label("ct-lowdose@10000/fbp+adversarial-dp:1") == (
        "FBP at 10,000 photons, with demographic-parity adversarial debiasing (λ = 1)")
    assert number(-0.0001) == "0.000" and number(float("inf")) == "n/a"
    assert severity_order("mri-undersampling", [16.0, 4.0, 8.0]) == [4.0, 8.0, 16.0]


def test_tables_carry_the_new_columns_p_in_words_and_model_status():
    floor = 2 / 1001
    perf = pd.DataFrame({"dataset": "d", "task": "classification", "target": ["t", "t", "u", "u"],
                         "condition": ["original", "x@1/y", "original", "x@1/y"], "metric": "auroc",
                         "value": [0.9, 0.8, 0.3, 0.35], "ci_low": [np.nan, -0.15, np.nan, -0.1],
                         "ci_high": [np.nan, -0.05, np.nan, 0.2], "p_value": [np.nan, floor, np.nan, 0.5],
                         "p_adjusted": [np.nan, 0.004, np.nan, 1.0], "p_floor": [np.nan, floor, np.nan, floor],
                         "significant": [False, True, False, False], "mdc": [np.nan, 0.03, np.nan, 0.2],
                         "test": ["", "percentile", "", "percentile"]})
    models = pd.DataFrame({"dataset": "d", "task": "classification", "target": ["t", "u"], "metric": "auroc",
                           "status": ["ok", "uninformative"], "reason": ["", "validation AUROC 0.3"]})
    table = performance_table(perf, models=models).set_index(["target", "condition"])
    assert table.loc[("t", "x@1/y"), "p"] == "p < 0.002, p_adj ≤ 0.004"
    assert table.loc[("u", "x@1/y"), "p"] == "p_adj = 1.000"
    assert table.loc[("t", "x@1/y"), "significant"] and not table.loc[("u", "x@1/y"), "significant"]
    assert table["model_status"].tolist() == ["ok", "ok", "uninformative", "uninformative"]
    assert {"p_floor", "mdc", "test"} <= set(table.columns)
    assert "model_status" not in performance_table(perf).columns  # no models.csv, no column
