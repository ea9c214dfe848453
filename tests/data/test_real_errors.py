"""Bad real-data input: every error names the file or column at fault and what was found."""

import importlib.util
import logging
import shutil
from pathlib import Path

import pandas as pd
import pytest

from reconfair.config import DatasetConfig
from reconfair.engine.datasets import build_dataset

_spec = importlib.util.spec_from_file_location("real_fixtures", Path(__file__).with_name("real_fixtures.py"))
rf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rf)


def chexpert(root, **source):
    spec = {"kind": "chexpert", "root": str(root), "demographics": "CHEXPERT DEMO.csv", "labels": ["Edema"], **source}
    return DatasetConfig(name="cx", image_size=32, source=spec)


def folder(root, **source):
    spec = {"kind": "folder", "csv": str(root / "index.csv"), "image_column": "file", "patient_column": "subject",
            "attributes": {"sex": "Gender", "age": "Age"}, "labels": {"has_lesion": "Lesion"}, **source}
    return DatasetConfig(name="fo", image_size=32, degradations=[{"operator": "mri-undersampling", "levels": [4]}],
                         source=spec)


@pytest.fixture
def cx(tmp_path):
    return rf.make_chexpert(tmp_path, n_patients=6, demographics="csv")


@pytest.fixture
def fo(tmp_path):
    return rf.make_folder(tmp_path, n_patients=6)


def test_missing_index_file_is_named_with_what_the_folder_holds(cx):
    with pytest.raises(FileNotFoundError, match=r"CheXpert csv not found: .*valid\.csv; .* holds: CHEXPERT DEMO\.csv, train, train\.csv"):
        build_dataset(chexpert(cx, csv="valid.csv"), seed=0)


def test_unknown_columns_are_named_with_the_columns_found(cx, fo):
    with pytest.raises(ValueError, match=r"folder csv .*index\.csv lacks column\(s\) 'filename'; found columns: 'file', 'subject'"):
        build_dataset(folder(fo, image_column="filename"), seed=0)
    frame = pd.read_csv(cx / "train.csv").drop(columns=["Edema"])
    frame.to_csv(cx / "train.csv", index=False)
    with pytest.raises(ValueError, match=r"train\.csv lacks column\(s\) 'Edema'; found columns: 'Path', 'Sex'"):
        build_dataset(chexpert(cx), seed=0)


def test_missing_image_errors_then_skips_with_a_count_and_a_warning(cx, caplog):
    lost = cx / "train" / "patient00002" / "study2" / "view1_frontal.jpg"
    lost.unlink()
    with pytest.raises(ValueError, match=r"image not found for .*train\.csv line 6: looked for .*patient00002/study2/view1_frontal\.jpg"):
        build_dataset(chexpert(cx), seed=0)
    with caplog.at_level(logging.WARNING, logger="reconfair.data"):
        samples = build_dataset(chexpert(cx, on_missing="skip"), seed=0, lazy=True)
    assert [s["sample_id"] for s in samples.info["skipped"]] == ["train-patient00002-study2-view1_frontal"]
    assert "train-patient00002-study2-view1_frontal" not in set(samples.table["sample_id"])
    assert len(samples) == 6 + 3 - 1
    assert "cx: skipped 1 sample(s): train-patient00002-study2-view1_frontal" in caplog.text


def test_unreadable_image_is_named_when_loaded_or_skipped_when_verified(fo):
    (fo / "img" / "P03.png").write_bytes(b"not an image")
    samples = build_dataset(folder(fo), seed=0, lazy=True)  # images are read when first needed
    with pytest.raises(ValueError, match=r"img/P03\.png: cannot read png image"):
        samples.materialize()
    with pytest.raises(ValueError, match=r"index\.csv line 5: .*img/P03\.png: cannot read png image"):
        build_dataset(folder(fo, verify=True), seed=0, lazy=True)
    kept = build_dataset(folder(fo, verify=True, on_missing="skip"), seed=0)
    assert [s["sample_id"] for s in kept.info["skipped"]] == ["img-P03"]
    assert len(kept) == 5 and kept.images.shape == (5, 1, 32, 32)


def test_missing_attributes_name_the_column_and_the_value(cx, fo):
    frame = pd.read_csv(fo / "index.csv")
    frame.loc[2, "Gender"] = "unknown"
    frame.to_csv(fo / "index.csv", index=False)
    with pytest.raises(ValueError, match=r"index\.csv line 4: no usable sex in column 'Gender' \(got 'unknown'\)"):
        build_dataset(folder(fo), seed=0)
    demo = pd.read_csv(cx / "CHEXPERT DEMO.csv")
    demo.loc[1, "PRIMARY_RACE"] = "Patient Refused"
    demo.drop(index=2).to_csv(cx / "CHEXPERT DEMO.csv", index=False)
    with pytest.raises(ValueError, match=r"patient patient00002 has no usable race \(column 'PRIMARY_RACE' of .*CHEXPERT DEMO\.csv\)"):
        build_dataset(chexpert(cx), seed=0)
    skipped = build_dataset(chexpert(cx, on_missing="skip"), seed=0, lazy=True)
    reasons = {s["sample_id"]: s["reason"] for s in skipped.info["skipped"]}
    assert sorted(reasons) == ["train-patient00002-study1-view1_frontal", "train-patient00002-study2-view1_frontal",
                               "train-patient00003-study1-view1_frontal"]
    assert "patient patient00003 has no row in" in reasons["train-patient00003-study1-view1_frontal"]


def test_unknown_race_text_is_named(cx):
    demo = pd.read_csv(cx / "CHEXPERT DEMO.csv")
    demo.loc[0, "PRIMARY_RACE"] = "Martian"
    demo.to_csv(cx / "CHEXPERT DEMO.csv", index=False)
    with pytest.raises(ValueError, match=r"row of patient00001: PRIMARY_RACE value 'Martian' is not in the default race"):
        build_dataset(chexpert(cx), seed=0)


def test_bad_label_value_names_line_and_column(fo):
    frame = pd.read_csv(fo / "index.csv")
    frame.loc[0, "Lesion"] = 7
    frame.to_csv(fo / "index.csv", index=False)
    with pytest.raises(ValueError, match=r"index\.csv line 2, column 'Lesion': expected 1, 0 or blank, got '7'"):
        build_dataset(folder(fo), seed=0)


def test_ucsf_missing_sequence_and_clinical_row_are_named(tmp_path):
    root = rf.make_ucsf(tmp_path, n_cases=4)
    (root / "UCSF-PDGM-0003_nifti" / "UCSF-PDGM-0003_FLAIR.nii.gz").unlink()
    config = DatasetConfig(name="pdgm", image_size=32, source={"kind": "ucsf-pdgm", "root": str(root)})
    with pytest.raises(ValueError, match=r"UCSF-PDGM-0003_nifti: no \*_FLAIR\.nii\.gz; found UCSF-PDGM-0003_T2\.nii\.gz, "
                                         r"UCSF-PDGM-0003_tumor_segmentation\.nii\.gz"):
        build_dataset(config, seed=0)
    shutil.rmtree(root / "UCSF-PDGM-0003_nifti")
    clinical = pd.read_csv(root / "UCSF-PDGM-metadata_v2.csv")
    clinical[clinical["ID"] != "UCSF-PDGM-004"].to_csv(root / "UCSF-PDGM-metadata_v2.csv", index=False)
    with pytest.raises(ValueError, match=r"case UCSF-PDGM-0004 has no row in .*UCSF-PDGM-metadata_v2\.csv \(column 'ID'\)"):
        build_dataset(config, seed=0)
    empty = tmp_path / "empty"
    empty.mkdir()
    shutil.copy(root / "UCSF-PDGM-metadata_v2.csv", empty)
    with pytest.raises(FileNotFoundError, match=r"no case folders UCSF-PDGM-XXXX_nifti/ in .*empty; it holds: UCSF-PDGM-metadata_v2\.csv"):
        build_dataset(DatasetConfig(name="p", image_size=32, source={"kind": "ucsf-pdgm", "root": str(empty)}), seed=0)
