"""End to end: CheXpert, UCSF-PDGM and folder fixtures (published layouts) through `reconfair run`."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from reconfair.cli import app
from reconfair.config import load_config
from reconfair.engine.datasets import build_dataset

_spec = importlib.util.spec_from_file_location(
    "real_fixtures", Path(__file__).resolve().parents[1] / "data" / "real_fixtures.py"
)
rf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rf)

LOST = "train-patient00004-study2-view1_frontal"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    base = tmp_path_factory.mktemp("real-run")
    chexpert, pdgm, folder = rf.make_chexpert(base, n_patients=30), rf.make_ucsf(base, n_cases=30), rf.make_folder(base, n_patients=30)
    (chexpert / "train" / "patient00004" / "study2" / "view1_frontal.jpg").unlink()  # skipped, not fatal
    one_epoch = {"model": {"epochs": 1}}
    study = {
        "name": "real", "seed": 5, "device": "cpu", "attributes": ["sex", "age_group"],
        "evaluation": {"min_group_size": 2, "bootstrap": 20},
        "datasets": [
            {"name": "chexpert", "image_size": 32, "reconstructors": ["baseline"],
             "degradations": [{"operator": "radiograph-lowdose", "levels": [3000]}],
             "tasks": [{"kind": "classification", **one_epoch}],
             "source": {"kind": "chexpert", "root": "CheXpert-v1.0", "demographics": "CHEXPERT DEMO.xlsx",
                        "labels": ["Cardiomegaly", "Edema"], "on_missing": "skip"}},
            {"name": "ucsf-pdgm", "image_size": 32, "reconstructors": ["baseline"],
             "degradations": [{"operator": "mri-undersampling", "levels": [4]}],
             "tasks": [{"kind": "classification", **one_epoch}, {"kind": "segmentation", **one_epoch}],
             "source": {"kind": "ucsf-pdgm", "root": str(pdgm)}},
            {"name": "my-folder", "image_size": 32, "reconstructors": ["baseline"],
             "degradations": [{"operator": "mri-undersampling", "levels": [4]}],
             "tasks": [{"kind": "classification", **one_epoch}, {"kind": "segmentation", **one_epoch}],
             "source": {"kind": "folder", "csv": str(folder / "index.csv"), "image_column": "file",
                        "patient_column": "subject", "attributes": {"sex": "Gender", "age": "Age"},
                        "labels": {"has_lesion": "Lesion"}, "mask_column": "mask"}},
        ],
    }
    path = base / "real.yaml"
    path.write_text(yaml.safe_dump(study))
    out = base / "out"
    runner = CliRunner()
    with pytest.MonkeyPatch.context() as patch:  # the relative CheXpert root resolves against the working directory
        patch.chdir(base)
        result = runner.invoke(app, ["run", str(path), "--out", str(out), "--no-progress"])
        config = load_config(path)
    assert result.exit_code == 0, result.output
    return out, config


def test_run_writes_rows_for_every_real_dataset(run):
    out, _ = run
    table = pd.read_parquet(out / "samples.parquet")
    assert set(table["dataset"]) == {"chexpert", "ucsf-pdgm", "my-folder"}
    seg = table[table["task"] == "segmentation"]
    assert set(seg["dataset"]) == {"ucsf-pdgm", "my-folder"} and seg["dice"].between(0, 1).all()
    cls = table[table["task"] == "classification"]
    assert set(cls.loc[cls["dataset"] == "chexpert", "target"]) == {"cardiomegaly", "edema"}
    assert set(cls.loc[cls["dataset"] == "ucsf-pdgm", "target"]) == {"tumor_type", "tumor_grade"}
    assert cls["y_score"].between(0, 1).all()
    for relative in ("metrics/performance.csv", "metrics/fairness.csv", "summary.md", "manifest.json"):
        assert (out / relative).is_file(), relative
    assert LOST not in set(table["sample_id"])


def test_manifest_counts_the_skipped_sample_and_drops_the_synthetic_notice(run):
    out, _ = run
    manifest = json.loads((out / "manifest.json").read_text())
    skipped = manifest["skipped_samples"]
    assert skipped["chexpert"]["count"] == 1 and skipped["chexpert"]["samples"][0]["sample_id"] == LOST
    assert skipped["ucsf-pdgm"]["count"] == 0 and manifest["synthetic_data"] is False
    assert "synthetic phantoms" not in (out / "report.html").read_text(encoding="utf-8")


def test_rows_carry_the_adapters_attributes_and_labels(run):
    out, config = run
    table = pd.read_parquet(out / "samples.parquet")
    built = build_dataset(config.datasets[0], seed=config.seed, lazy=True).table.set_index("sample_id")
    rows = table[(table["dataset"] == "chexpert") & (table["condition"] == "original")]
    for column in ("patient_id", "split", "attr_sex", "attr_age", "attr_age_group"):
        assert rows[column].tolist() == built.loc[rows["sample_id"], column].tolist(), column
    edema = rows[rows["target"] == "edema"]
    k = edema["patient_id"].str[len("patient"):].astype(int) - 1
    np.testing.assert_array_equal(edema["y_true"].to_numpy(), np.where(k % 3 == 0, 1.0, 0.0))
    assert (edema["attr_sex"] == np.where(k % 2 == 0, "F", "M")).all()


def test_no_patient_is_in_two_splits(run):
    out, _ = run
    table = pd.read_parquet(out / "samples.parquet")
    assert (table.groupby(["dataset", "patient_id"])["split"].nunique() == 1).all()
    assert set(table["split"]) == {"val", "test"}
