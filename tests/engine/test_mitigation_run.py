"""Mitigation as a grid axis: conditions, cache, the comparison with the unmitigated model, the sweep."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from reconfair.cli import app
from reconfair.config import ConfigError, parse_config
from reconfair.engine.cache import Cache
from reconfair.engine.mitigation import HOLDOUT_FILE
from reconfair.engine.plan import plan_study
from reconfair.metrics.bootstrap import paired_fairness_bootstrap
from reconfair.metrics.threshold import equal_error_threshold

TINY = {
    "name": "tiny-mitigation",
    "seed": 1,
    "device": "cpu",
    "attributes": ["sex", "age_group"],
    "datasets": [{
        "name": "synthetic-chest",
        "n_patients": 60,
        "image_size": 32,
        "degradations": [{"operator": "radiograph-lowdose", "levels": [3000]}],
        "reconstructors": ["baseline", {"name": "unet", "settings": {"epochs": 1}}],
        "mitigations": ["reweighting", {"kind": "eodd", "lambdas": [1, 10], "epochs": 1},
                        {"kind": "adversarial", "lambdas": [1], "epochs": 1},
                        {"kind": "adversarial", "criterion": "demographic-parity", "lambdas": [1], "epochs": 1},
                        {"kind": "finetune", "epochs": 1}],
        "tasks": [{"kind": "classification", "model": {"epochs": 1}}],
    }],
    # 12 test patients: a group loses its class members in some resamples, so CIs need a lower bar
    "evaluation": {"min_group_size": 1, "bootstrap": 30, "min_valid_fraction": 0.5},
}
LABELS = ["none", "reweighting", "eodd:1", "eodd:10", "adversarial:1", "adversarial-dp:1", "finetune"]


def _run(config_path, out, cache):
    result = CliRunner().invoke(app, ["run", str(config_path), "--out", str(out), "--cache", str(cache),
                                      "--no-progress"])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("mitigation")
    (root / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    first = _run(root / "tiny.yaml", root / "a", root / "cache")
    second = _run(root / "tiny.yaml", root / "b", root / "cache")
    return root, first, second


def test_every_mitigation_and_lambda_is_a_condition_of_the_table(study):
    _, out, _ = study
    table = pd.read_parquet(out / "samples.parquet")
    unet = table[table["recon"] == "unet"]
    assert sorted(unet["mitigation"].unique()) == sorted(LABELS)
    names = {f"radiograph-lowdose@3000/unet+{m}" for m in LABELS[1:]} | {"radiograph-lowdose@3000/unet"}
    assert set(unet["condition"]) == names
    assert set(table.loc[table["recon"] != "unet", "mitigation"]) == {"none"}
    # mitigated rows share the patients, labels and attributes of the unmitigated ones
    base = unet[unet["mitigation"] == "none"].set_index(["sample_id", "target"])
    for label in LABELS[1:]:
        part = unet[unet["mitigation"] == label].set_index(["sample_id", "target"])
        pd.testing.assert_series_equal(part["y_true"].sort_index(), base["y_true"].sort_index())


def test_second_run_is_all_cached_with_the_same_table(study):
    _, first, second = study
    pd.testing.assert_frame_equal(pd.read_parquet(first / "samples.parquet"),
                                  pd.read_parquet(second / "samples.parquet"), check_exact=True)
    stages = json.loads((second / "manifest.json").read_text())["stages"]
    assert stages and {s["status"] for s in stages} == {"cached"}
    assert sum(s["stage"] == "mitigated-reconstructor" for s in stages) == len(LABELS) - 1


def test_mitigation_table_is_the_paired_bootstrap_of_mitigated_minus_unmitigated(study):
    _, out, _ = study
    effects = pd.read_csv(out / "metrics" / "mitigation.csv")
    fairness = pd.read_csv(out / "metrics" / "fairness.csv")
    assert set(effects["mitigation"]) == set(LABELS[1:])
    rows = effects[(effects["mitigation"] == "eodd:10") & (effects["attribute"] == "sex")
                   & (effects["metric"] == "eodd") & effects["value_unmitigated"].notna()]
    row = rows.iloc[0]
    target = row["target"]
    value = fairness.set_index(["condition", "target", "attribute", "metric"])["value"]
    assert row["value_unmitigated"] == pytest.approx(value["radiograph-lowdose@3000/unet", target, "sex", "eodd"])
    assert row["value_mitigated"] == pytest.approx(value[row["condition"], target, "sex", "eodd"])
    assert row["delta"] == pytest.approx(row["value_mitigated"] - row["value_unmitigated"])
    # independent recomputation of the bootstrap on the two conditions' test rows
    table = pd.read_parquet(out / "samples.parquet")
    val = table[(table["condition"] == "original") & (table["split"] == "val") & (table["target"] == target)]
    threshold = equal_error_threshold(val["y_true"], val["y_score"])
    test = table[(table["split"] == "test") & (table["target"] == target)]
    a = test[test["condition"] == "radiograph-lowdose@3000/unet"].sort_values("sample_id")
    b = test[test["condition"] == row["condition"]].sort_values("sample_id")
    direct = paired_fairness_bootstrap(a["y_true"], a["y_score"], b["y_score"], a["attr_sex"], a["patient_id"],
                                       threshold=threshold, n_boot=30, seed=1, min_group_size=1,
                                       min_valid_fraction=0.5)["eodd"]
    assert (row["ci_low"], row["ci_high"], row["se"]) == pytest.approx((direct.ci_low, direct.ci_high, direct.se))


def test_mitigations_against_the_control_are_the_paired_bootstrap_of_mitigated_minus_control(study):
    _, out, _ = study
    effects = pd.read_csv(out / "metrics" / "mitigation_vs_control.csv")
    assert set(effects["mitigation"]) == set(LABELS[1:]) - {"finetune"}  # the control is the reference
    row = effects[(effects["mitigation"] == "eodd:10") & (effects["attribute"] == "sex")
                  & (effects["metric"] == "eodd") & effects["value_unmitigated"].notna()].iloc[0]
    target, control = row["target"], "radiograph-lowdose@3000/unet+finetune"
    value = pd.read_csv(out / "metrics" / "fairness.csv").set_index(["condition", "target", "attribute", "metric"])
    assert row["value_unmitigated"] == pytest.approx(value.loc[(control, target, "sex", "eodd"), "value"])
    assert row["delta"] == pytest.approx(row["value_mitigated"] - row["value_unmitigated"])
    table = pd.read_parquet(out / "samples.parquet")
    val = table[(table["condition"] == "original") & (table["split"] == "val") & (table["target"] == target)]
    test = table[(table["split"] == "test") & (table["target"] == target)]
    a = test[test["condition"] == control].sort_values("sample_id")
    b = test[test["condition"] == row["condition"]].sort_values("sample_id")
    direct = paired_fairness_bootstrap(a["y_true"], a["y_score"], b["y_score"], a["attr_sex"], a["patient_id"],
                                       threshold=equal_error_threshold(val["y_true"], val["y_score"]), n_boot=30,
                                       seed=1, min_group_size=1, min_valid_fraction=0.5)["eodd"]
    assert (row["ci_low"], row["ci_high"], row["se"]) == pytest.approx((direct.ci_low, direct.ci_high, direct.se))


def test_without_a_control_nothing_is_compared_with_it(study):
    from reconfair.metrics.mitigation import mitigation_effects
    from reconfair.metrics.settings import EvaluationSettings

    _, out, _ = study
    table = pd.read_parquet(out / "samples.parquet")
    settings = EvaluationSettings(attributes=("sex",), min_group_size=2, bootstrap=5)
    effects = mitigation_effects(table[table["mitigation"] != "finetune"], settings, against="control")
    assert effects.empty and list(effects.columns) == list(pd.read_csv(out / "metrics" / "mitigation.csv").columns)
    with pytest.raises(ValueError, match="against must be"):
        mitigation_effects(table, settings, against="original")


def test_lambda_sweep_marks_the_hold_out_choice(study):
    root, out, _ = study
    sweep = pd.read_csv(out / "metrics" / "lambda_sweep.csv")
    assert set(sweep["attribute"]) == {"sex", "age_group"}
    assert len(sweep) == 2 * len(LABELS)
    config = parse_config(TINY)
    cache = Cache(root / "cache")
    eodd = {s.params["condition"].mitigation.weight:
            json.loads((cache.folder(s.stage, s.key) / HOLDOUT_FILE).read_text())
            for s in plan_study(config, cache)
            if s.stage == "mitigated-reconstructor" and s.params["condition"].mitigation.kind == "eodd"}
    within = {w: s for w, s in eodd.items() if s["psnr"] >= s["base_psnr"] - 1.0
              and s["balanced_accuracy"] >= s["base_balanced_accuracy"] - 0.05}
    best = min(within or eodd, key=lambda w: (eodd[w]["eodd"], w) if within else (-eodd[w]["balanced_accuracy"], w))
    chosen = sweep[(sweep["mitigation_kind"] == "eodd") & sweep["selected"]]["lam"].unique()
    assert chosen.tolist() == [best]
    assert not sweep.loc[sweep["mitigation_kind"] == "none", "selected"].any()
    for kind in ("reweighting", "adversarial", "adversarial-dp"):  # a sweep of one is its own choice (per criterion)
        assert sweep.loc[sweep["mitigation_kind"] == kind, "selected"].all()
    assert not sweep.loc[sweep["mitigation_kind"] == "finetune", "selected"].any()  # the control is a reference
    reference = sweep[sweep["mitigation_kind"] == "none"]
    assert np.isnan(reference["lam"]).all() and (reference["condition"] == "radiograph-lowdose@3000/unet").all()


def test_adding_a_lambda_computes_only_its_own_stages(study, tmp_path):
    root, _, _ = study
    grown = json.loads(json.dumps(TINY))
    grown["datasets"][0]["mitigations"][1]["lambdas"] = [1, 10, 3]
    (tmp_path / "grown.yaml").write_text(yaml.safe_dump(grown))
    out = _run(tmp_path / "grown.yaml", tmp_path / "c", root / "cache")
    computed = [s for s in json.loads((out / "manifest.json").read_text())["stages"] if s["status"] == "computed"]
    # its model and rows, then the statistics and mitigation tables that read every condition (no other model)
    assert sorted(s["stage"] for s in computed) == ["evaluate", "inference", "mitigated-reconstructor",
                                                    "mitigation-tables"]


@pytest.mark.parametrize("change, message", [
    ({"reconstructors": ["baseline"]}, "no learned reconstructor to mitigate"),
    ({"mitigations": [{"kind": "eodd", "reconstructors": ["pix2pix"]}]}, "'pix2pix' is not a learned reconstructor"),
    ({"mitigations": [{"kind": "reweighting", "lambdas": [1]}]}, "reweighting takes no lambdas"),
    ({"mitigations": [{"kind": "eodd", "levels": [10]}]}, "level 10 is not among the degradation levels"),
    ({"mitigations": [{"kind": "eodd", "attributes": ["race"]}]}, "'race' is not a categorical attribute"),
    ({"mitigations": ["eodd", {"kind": "eodd", "lambdas": [2]}]}, "each kind may appear once"),
])
def test_bad_mitigation_settings_name_the_field(change, message):
    config = json.loads(json.dumps(TINY))
    config["datasets"][0].update(change)
    with pytest.raises(ConfigError, match=message):
        parse_config(config)
