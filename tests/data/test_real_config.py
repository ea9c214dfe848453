"""Configs of real data sets: validated without their files, defaults by source, clear errors, cache keys."""

from pathlib import Path

import pytest
import yaml

from reconfair.config import ConfigError, DatasetConfig, dump_config, load_config, parse_config
from reconfair.data.facts import dataset_facts_for
from reconfair.engine.keys import dataset_slice
from reconfair.engine.validate import parse_study

REPO = Path(__file__).resolve().parents[2]


def _study(**dataset):
    return {"attributes": ["sex"], "datasets": [{"name": "mine", **dataset}]}


@pytest.mark.parametrize("name", ["chexpert", "ucsf-pdgm", "folder"])
def test_shipped_configs_validate_without_their_files(name):
    config = load_config(REPO / "configs" / f"{name}.yaml")
    dataset = config.datasets[0]
    assert dataset.source.kind == name and not Path(dataset.source.root).exists()
    assert parse_config(yaml.safe_load(dump_config(config))) == config  # round-trips


def test_shipped_config_facts():
    chexpert = load_config(REPO / "configs" / "chexpert.yaml").datasets[0]
    facts = dataset_facts_for(chexpert)
    assert facts["labels"] == ("atelectasis", "cardiomegaly", "consolidation", "edema", "pleural_effusion")
    assert facts["attributes"] == ("sex", "age", "age_group", "race")
    assert facts["groups"]["race"] == ("Asian", "Black", "Other", "White")
    pdgm = load_config(REPO / "configs" / "ucsf-pdgm.yaml").datasets[0]
    assert [t.kind for t in pdgm.tasks] == ["classification", "segmentation"]
    assert pdgm.source.slices == "tumor" and pdgm.source.slices_per_volume == 3
    folder = load_config(REPO / "configs" / "folder.yaml").datasets[0]
    assert dataset_facts_for(folder)["labels"] == ("effusion",) and dataset_facts_for(folder)["segmentation"]
    assert [t.kind for t in folder.tasks] == ["classification", "segmentation"]


def test_defaults_by_source_kind():
    chexpert, pdgm = parse_config({"attributes": ["sex"], "datasets": [
        {"name": "cx", "source": {"kind": "chexpert", "root": "/d/cx"}},
        {"name": "pdgm", "source": {"kind": "ucsf-pdgm", "root": "/d/pdgm"}},
    ]}).datasets
    assert chexpert.degradations[0].operator == "radiograph-lowdose"
    assert chexpert.degradations[0].levels == (1e5, 1e4, 3e3)
    assert [t.kind for t in chexpert.tasks] == ["classification"]
    assert (pdgm.degradations[0].operator, pdgm.degradations[0].levels) == ("mri-undersampling", (4, 8, 16))
    assert [t.kind for t in pdgm.tasks] == ["classification", "segmentation"]
    assert dataset_facts_for(chexpert)["labels"][:2] == ("enlarged_cardiomediastinum", "cardiomegaly")
    assert len(dataset_facts_for(chexpert)["labels"]) == 12


def test_relative_root_resolves_against_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = DatasetConfig(name="cx", source={"kind": "chexpert", "root": "data/CheXpert-v1.0"}).source
    assert source.root == str(tmp_path / "data" / "CheXpert-v1.0")
    pinned = DatasetConfig.model_validate({"name": "cx", "source": {"kind": "chexpert", "root": "cx"}},
                                          context={"base_dir": "/configs"}).source
    assert pinned.root == "/configs/cx"


@pytest.mark.parametrize(
    ("dataset", "expected"),
    [
        ({"source": {"kind": "chexpert", "root": "/d"}, "n_patients": 50},
         "n_patients: applies to synthetic data only; remove it for the chexpert data set 'mine'"),
        ({"source": {"kind": "chexpert", "root": "/d"}, "effects": {"sex": {"F": {"contrast": 0.5}}}},
         "effects: applies to synthetic data only"),
        ({}, "source: 'mine' is not a synthetic data set (synthetic-brain, synthetic-chest); describe real data"),
        ({"name": "synthetic-chest", "source": {"kind": "chexpert", "root": "/d"}},
         "'synthetic-chest' is a synthetic data set and takes no source"),
        ({"source": {"kind": "chexpert", "root": "/d", "colour": "red"}},
         "datasets[0].source.chexpert: unknown key 'colour' for source kind 'chexpert'; allowed keys: csv, demographics"),
        ({"source": {"kind": "dicomdir", "root": "/d"}}, "does not match any of the expected tags: 'chexpert', 'ucsf-pdgm', 'folder'"),
        ({"source": {"kind": "folder", "csv": "/d/i.csv", "labels": ["y"]}}, "degradations: a folder data set needs"),
        ({"source": {"kind": "chexpert", "root": "/d", "labels": ["Nodule"]}},
         "unknown CheXpert finding 'Nodule'; expected one of: No Finding, Enlarged Cardiomediastinum"),
        ({"source": {"kind": "chexpert", "root": "/d", "stratify": ["race"]}},
         "source.stratify: unknown key 'race'; expected attributes (sex, age, age_group)"),
        ({"source": {"kind": "chexpert", "root": "/d"}, "tasks": [{"kind": "segmentation"}]},
         "tasks: mine has no segmentation masks"),
        ({"source": {"kind": "ucsf-pdgm", "root": "/d", "slices": [9, 3]}}, "expected 'tumor' or [start, stop)"),
        ({"name": "my data", "source": {"kind": "chexpert", "root": "/d"}}, "datasets[0].name: String should match"),
    ],
)
def test_bad_real_data_configs_name_the_field(dataset, expected):
    with pytest.raises(ConfigError) as info:
        parse_study(_study(**dataset), source="study.yaml")
    assert expected in str(info.value), str(info.value)


def test_race_is_an_attribute_only_with_demographics():
    with pytest.raises(ConfigError, match="attributes\\[1\\]: unknown attribute 'race' for data set cx; expected one of sex, age, age_group"):
        parse_study({"attributes": ["sex", "race"], "datasets": [{"name": "cx", "source": {"kind": "chexpert", "root": "/d"}}]})
    config = parse_config({"attributes": ["sex", "race"], "datasets": [
        {"name": "cx", "source": {"kind": "chexpert", "root": "/d", "demographics": "CHEXPERT DEMO.xlsx"}}]})
    assert config.datasets[0].source.demographics == "CHEXPERT DEMO.xlsx"


def test_dataset_slice_fingerprints_index_files_and_leaves_synthetic_keys_alone(tmp_path):
    synthetic = dataset_slice(DatasetConfig(name="synthetic-brain"), seed=0)  # (the chest adds its generator version)
    assert "source" not in synthetic["dataset"] and set(synthetic) == {"dataset", "seed"}
    (tmp_path / "index.csv").write_text("path,patient_id,y\n")
    config = DatasetConfig(name="mine", source={"kind": "folder", "csv": str(tmp_path / "index.csv"), "labels": ["y"]},
                           degradations=[{"operator": "mri-undersampling", "levels": [4]}])
    before = dataset_slice(config, seed=0)
    assert before["index_files"][0]["file"] == "index.csv" and len(before["index_files"][0]["sha256"]) == 64
    assert dataset_slice(config, seed=0) == before
    (tmp_path / "index.csv").write_text("path,patient_id,y\na.png,p1,1\n")
    assert dataset_slice(config, seed=0) != before
