"""End-to-end: a tiny study through `reconfair run`, twice, and its outputs."""

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from reconfair.cli import app
from reconfair.engine.table import SAMPLE_COLUMNS

TINY = {
    "name": "tiny",
    "seed": 3,
    "device": "cpu",
    "attributes": ["sex", "age_group"],
    "datasets": [
        {
            "name": "synthetic-chest",
            "n_patients": 60,
            "image_size": 32,
            "effects": {"sex": {"F": {"contrast": 0.6}}},
            "degradations": [{"operator": "radiograph-lowdose", "levels": [1e4, 3e3]}],
            "tasks": [{"kind": "classification", "model": {"epochs": 2}}],
        },
        {
            "name": "synthetic-brain",
            "n_patients": 40,
            "image_size": 32,
            "degradations": [{"operator": "mri-undersampling", "levels": [4]}],
            "tasks": [{"kind": "classification", "model": {"epochs": 1}}, {"kind": "segmentation", "model": {"epochs": 1}}],
        },
    ],
    # a tiny study: groups lose their class members in some resamples, so CIs need a lower bar
    "evaluation": {"min_group_size": 2, "bootstrap": 50, "min_valid_fraction": 0.5},
}


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    config = root / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    outs = []
    for name in ("a", "b"):
        result = CliRunner().invoke(app, ["run", str(config), "--out", str(root / name), "--no-progress"])
        assert result.exit_code == 0, result.output
        outs.append(root / name)
    return outs


def test_same_config_gives_identical_samples_table(two_runs):
    a, b = (pd.read_parquet(out / "samples.parquet") for out in two_runs)
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_run_writes_every_output(two_runs):
    out = two_runs[0]
    for relative in ("config.yaml", "samples.parquet", "metrics/performance.csv", "metrics/groups.csv",
                     "metrics/fairness.csv", "summary.md", "manifest.json",
                     "figures/quality_task_vs_level_synthetic-chest.png",
                     "figures/quality_task_vs_level_synthetic-brain.png"):
        assert (out / relative).is_file(), relative
    # trained diagnostic models live in the run's cache (one per data set x task)
    assert len(list((out / ".cache" / "diagnostic").glob("*/model.safetensors"))) == 3
    summary = (out / "summary.md").read_text()
    assert "synthetic" in summary
    rows = [line.split(" | ") for line in summary.splitlines() if line.startswith("| synthetic")]
    # config order: chest before brain; within each, original then increasing severity
    assert [r[0].strip("| ") for r in rows][0] == "synthetic-chest"
    chest = [r[2] for r in rows if r[0].endswith("synthetic-chest")]
    assert chest == ["original", "radiograph-lowdose@10000/identity", "radiograph-lowdose@3000/identity"]


def test_samples_table_schema_and_contents(two_runs):
    table = pd.read_parquet(two_runs[0] / "samples.parquet")
    assert list(table.columns[: len(SAMPLE_COLUMNS)]) == list(SAMPLE_COLUMNS)
    assert {"attr_sex", "attr_age", "attr_age_group", "attr_race"} <= set(table.columns)
    assert set(table["split"]) == {"val", "test"}
    chest = table[table["dataset"] == "synthetic-chest"]
    assert set(chest["condition"]) == {"original", "radiograph-lowdose@10000/identity", "radiograph-lowdose@3000/identity"}
    # one row per sample x condition x target: original on val + test (the threshold is
    # fitted on val-original), reconstructions on the evaluation split (test) only
    n_val, n_test = (chest.loc[chest["split"] == s, "sample_id"].nunique() for s in ("val", "test"))
    assert len(chest) == (n_val + 3 * n_test) * chest["target"].nunique()
    assert set(chest.loc[chest["condition"] != "original", "split"]) == {"test"}
    original = chest[chest["condition"] == "original"]
    assert original["psnr"].isna().all() and original["recon"].eq("none").all() and original["level"].isna().all()
    degraded = chest[chest["condition"] != "original"]
    assert np.isfinite(degraded["psnr"]).all()
    # more photons -> less noise -> higher PSNR, sample by sample on average
    psnr = degraded.groupby("level")["psnr"].mean()
    assert psnr[1e4] > psnr[3e3]
    brain_seg = table[(table["dataset"] == "synthetic-brain") & (table["task"] == "segmentation")]
    assert brain_seg["dice"].between(0, 1).all() and brain_seg["y_score"].isna().all()
    assert set(brain_seg["condition"]) == {"original", "mri-undersampling@4/zero-filled"}
    scores = table.loc[table["task"] == "classification", "y_score"]
    assert scores.between(0, 1).all()


def test_resolved_config_round_trips(two_runs):
    from reconfair.config import load_config

    resolved = load_config(two_runs[0] / "config.yaml")
    assert resolved.seed == 3 and resolved.datasets[0].degradations[0].levels == (1e4, 3e3)


def test_fairness_table_reports_bias_change_against_original(two_runs):
    fairness = pd.read_csv(two_runs[0] / "metrics" / "fairness.csv")
    rows = fairness[(fairness["metric"] == "eodd") & (fairness["condition"] != "original")]
    assert not rows.empty
    finite = rows.dropna(subset=["value", "value_original"])
    np.testing.assert_allclose(finite["delta"], finite["value"] - finite["value_original"], rtol=0, atol=1e-12)


def test_fairness_table_has_bootstrap_uncertainty(two_runs):
    fairness = pd.read_csv(two_runs[0] / "metrics" / "fairness.csv")
    recon = fairness[(fairness["condition"] != "original") & fairness["metric"].isin(["eodd", "eop", "dp"])]
    chest = recon[recon["dataset"] == "synthetic-chest"]
    assert chest["n_boot_valid"].gt(0).any()
    finite = recon.dropna(subset=["ci_low", "ci_high", "delta"])
    assert not finite.empty
    assert ((finite["ci_low"] <= finite["delta"] + 1e-12) & (finite["delta"] <= finite["ci_high"] + 1e-12)).all()
    tested = fairness.dropna(subset=["p_value"])
    assert (tested["p_adjusted"] >= tested["p_value"]).all()
    assert fairness.loc[fairness["condition"] == "original", "p_value"].isna().all()
    segmentation = fairness[(fairness["task"] == "segmentation") & (fairness["condition"] != "original")]
    assert set(segmentation["metric"]) == {"delta_dice", "ser"}
    assert segmentation.loc[segmentation["metric"] == "delta_dice", "se"].notna().any()
    # the bootstrap seed is the study seed: the second run is identical
    again = pd.read_csv(two_runs[1] / "metrics" / "fairness.csv")
    pd.testing.assert_frame_equal(fairness, again)
