"""Real-data adapters on tiny fixtures in the published layouts: every mapped value checked by hand."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from reconfair.config import DatasetConfig
from reconfair.engine.datasets import build_dataset

_spec = importlib.util.spec_from_file_location("real_fixtures", Path(__file__).with_name("real_fixtures.py"))
rf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rf)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    base = tmp_path_factory.mktemp("real")
    return {"chexpert": rf.make_chexpert(base), "ucsf": rf.make_ucsf(base), "folder": rf.make_folder(base)}


def chexpert(root, **source):
    spec = {"kind": "chexpert", "root": str(root), "demographics": "CHEXPERT DEMO.xlsx",
            "labels": ["Cardiomegaly", "edema"], **source}
    return DatasetConfig(name="cx", image_size=32, source=spec)


def ucsf(root, **source):
    return DatasetConfig(name="pdgm", image_size=32, source={"kind": "ucsf-pdgm", "root": str(root), **source})


def folder(root, **source):
    spec = {"kind": "folder", "csv": str(root / "index.csv"), "image_column": "file", "patient_column": "subject",
            "attributes": {"sex": "Gender", "age": "Age", "site": "Site"}, "labels": {"has_lesion": "Lesion"},
            "mask_column": "mask", **source}
    return DatasetConfig(name="fo", image_size=32, degradations=[{"operator": "mri-undersampling", "levels": [4]}],
                         source=spec)


def test_chexpert_rows_labels_and_attributes_match_the_csv(data):
    table = build_dataset(chexpert(data["chexpert"]), seed=0, lazy=True).table
    assert len(table) == 36 + 18  # frontal views only: one study per patient, a second for odd k
    assert list(table.columns) == ["sample_id", "patient_id", "split", "attr_sex", "attr_age", "attr_age_group",
                                   "attr_race", "label_cardiomegaly", "label_edema"]
    expected_cardio = {"1.0": 1.0, "0.0": 0.0, "-1.0": np.nan, "": np.nan}
    races = ("White", "Black", "Asian", "White", "Other")
    for k in range(36):
        rows = table[table["patient_id"] == f"patient{k + 1:05d}"]
        first = rows[rows["sample_id"] == f"train-patient{k + 1:05d}-study1-view1_frontal"].iloc[0]
        np.testing.assert_equal(first["label_cardiomegaly"], expected_cardio[rf.CARDIO[k % 4]])
        assert first["label_edema"] == (1.0 if k % 3 == 0 else 0.0)
        assert set(rows["attr_sex"]) == {"F" if k % 2 == 0 else "M"}
        assert set(rows["attr_age"]) == {str(30 + k)}  # the youngest age, for every study of the patient
        assert set(rows["attr_race"]) == {races[k % 5]}
        assert set(rows["attr_age_group"]) == {"<48" if 30 + k < 48 else ">=48"}  # median of 30..65 = 47.5 -> 48
        if k % 2:
            assert rows.loc[rows["sample_id"].str.contains("study2"), "label_cardiomegaly"].tolist() == [1.0]


@pytest.mark.parametrize(("policy", "value"), [("zero", 0.0), ("one", 1.0)])
def test_chexpert_uncertain_policy(data, policy, value):
    table = build_dataset(chexpert(data["chexpert"], uncertain=policy), seed=0, lazy=True).table
    uncertain = table[table["sample_id"] == "train-patient00003-study1-view1_frontal"]  # k = 2: "-1.0"
    blank = table[table["sample_id"] == "train-patient00004-study1-view1_frontal"]  # k = 3: blank
    assert uncertain["label_cardiomegaly"].tolist() == [value]
    assert np.isnan(blank["label_cardiomegaly"].iloc[0])


def test_chexpert_race_groupings_and_csv_demographics(data, tmp_path):
    alternative = build_dataset(chexpert(data["chexpert"], race_grouping="alternative"), seed=0, lazy=True).table
    by_patient = alternative.groupby("patient_id")["attr_race"].first()
    assert [by_patient[f"patient{k + 1:05d}"] for k in range(5)] == ["White", "Black", "Asian", "Hispanic", "Hispanic"]
    custom = {"White": "W", "White, Hispanic": "W", "Black or African American": "B", "Asian, non-Hispanic": "A",
              "Other, Hispanic": "O"}
    table = build_dataset(chexpert(data["chexpert"], race_grouping=custom), seed=0, lazy=True).table
    assert table.groupby("patient_id")["attr_race"].first().head(5).tolist() == ["W", "B", "A", "W", "O"]
    root = rf.make_chexpert(tmp_path, n_patients=6, demographics="csv")
    csv_table = build_dataset(chexpert(root, demographics="CHEXPERT DEMO.csv"), seed=0, lazy=True).table
    assert csv_table.groupby("patient_id")["attr_race"].first().tolist() == ["White", "Black", "Asian", "White", "Other", "White"]


def test_chexpert_images_are_grey_unit_range_at_image_size(data):
    samples = build_dataset(chexpert(data["chexpert"]), seed=0, lazy=True)
    images, masks = samples.batch(0, 3)
    assert images.shape == (3, 1, 32, 32) and images.dtype == torch.float32 and masks is None
    ks = [int(p[len("patient"):]) - 1 for p in samples.table["patient_id"][:3]]
    np.testing.assert_allclose(images.mean((1, 2, 3)).numpy(), [rf.grey(k) / 255 for k in ks], atol=1.5 / 255)


def test_ucsf_picks_the_tumour_slice_and_maps_clinical_labels(data):
    samples = build_dataset(ucsf(data["ucsf"]), seed=0, lazy=True)
    table = samples.table
    assert table["sample_id"].tolist() == [f"UCSF-PDGM-{k + 2:04d}-z{rf.tumour_slice(k):03d}" for k in range(32)]
    assert table["label_tumor_type"].tolist() == [float(k % 3 == 0) for k in range(32)]
    assert table["label_tumor_grade"].tolist() == [float(k % 3 == 0) for k in range(32)]  # grades 4, 2, 3
    assert table["attr_sex"].tolist() == ["F" if k % 2 == 0 else "M" for k in range(32)]
    assert table["attr_age"].tolist() == [str(40 + k) for k in range(32)]
    images, masks = samples.batch(0, 2)
    assert images.shape == masks.shape == (2, 1, 32, 32)
    # whole tumour = labels {1, 2, 4} on the picked slice: the 6 x 6 square; no resampling at 32 x 32
    expected_mask = np.zeros((32, 32), dtype=np.float32)
    expected_mask[8:14, 9:15] = 1
    np.testing.assert_array_equal(masks[0, 0].numpy(), np.rot90(expected_mask))
    # per-volume normalisation: divided by the 99.5th percentile of the non-zero voxels, clipped
    x = np.arange(32, dtype=np.float32)[:, None]
    plane = np.zeros((32, 32), dtype=np.float32)
    plane[4:28, 4:28] = (100.0 * (1.0 + x / 31.0) * np.ones((32, 32), dtype=np.float32))[4:28, 4:28]
    scale = np.percentile(np.repeat(plane[plane > 0], 8), 99.5)
    np.testing.assert_allclose(images[0, 0].numpy(), np.rot90(np.clip(plane / scale, 0, 1)), rtol=1e-6, atol=1e-6)


def test_ucsf_mask_labels_slice_count_and_range(data):
    core = build_dataset(ucsf(data["ucsf"], mask_labels="core"), seed=0, lazy=True)
    assert core.table["sample_id"].iloc[0] == "UCSF-PDGM-0002-z002"  # a tie (4 voxels on z and z + 1): lower index
    assert float(core.batch(0, 1)[1].sum()) == 4.0
    two = build_dataset(ucsf(data["ucsf"], slices_per_volume=2), seed=0, lazy=True).table
    assert two["sample_id"].tolist()[:4] == ["UCSF-PDGM-0002-z002", "UCSF-PDGM-0002-z003",
                                             "UCSF-PDGM-0003-z003", "UCSF-PDGM-0003-z004"]
    ranged = build_dataset(ucsf(data["ucsf"], slices=[5, 7]), seed=0, lazy=True)
    assert ranged.table["sample_id"].tolist()[:2] == ["UCSF-PDGM-0002-z005", "UCSF-PDGM-0002-z006"]
    assert float(ranged.batch(0, 1)[1].sum()) == 0.0  # no tumour on z = 5 of case 0 (tumour at z = 2, 3)


def test_folder_reads_png_dicom_nifti_with_masks_labels_and_attributes(data):
    samples = build_dataset(folder(data["folder"]), seed=0, lazy=True)
    table = samples.table
    assert table["sample_id"].tolist()[:3] == ["img-P00", "img-P01", "img-P02"]
    assert table["label_has_lesion"].tolist() == [float(k % 2 == 0) for k in range(36)]
    assert table["attr_sex"].tolist() == ["F" if k % 2 == 0 else "M" for k in range(36)]
    assert table["attr_site"].tolist() == ["A" if k % 2 == 0 else "B" for k in range(36)]
    assert table["attr_age_group"].tolist() == ["<55" if 20 + 2 * k < 55 else ">=55" for k in range(36)]
    images, masks = samples.batch(0, 3)
    ramp = np.tile(np.arange(32, dtype=np.float32), (32, 1))
    np.testing.assert_allclose(images[0, 0].numpy(), ramp / 255, atol=1e-7)  # PNG: 8-bit values / 255
    np.testing.assert_allclose(images[1, 0].numpy(), ramp / 31, atol=1e-6)  # DICOM: min-max per image
    np.testing.assert_allclose(images[2, 0].numpy(), ramp / 31, atol=1e-6)  # NIfTI: min-max per image
    assert masks[:, 0].sum((1, 2)).tolist() == [64.0, 0.0, 64.0]


@pytest.mark.parametrize("which", ["chexpert", "ucsf", "folder"])
def test_splits_are_patient_disjoint_seeded_and_stratified(data, which):
    make = {"chexpert": chexpert, "ucsf": ucsf, "folder": folder}[which]
    a, b, c = (build_dataset(make(data[which]), seed=s, lazy=True).table for s in (0, 0, 1))
    assert a["split"].tolist() == b["split"].tolist()
    assert a["split"].tolist() != c["split"].tolist()
    assert (a.groupby("patient_id")["split"].nunique() == 1).all()
    for split in ("train", "val", "test"):
        others = set(a.loc[a["split"] != split, "patient_id"])
        assert not others & set(a.loc[a["split"] == split, "patient_id"])
    if which == "folder":  # strata sex x has_lesion: F&1 and M&0, 18 patients each, cut 0.6/0.2/0.2
        counts = a.groupby(["attr_sex", "split"]).size().unstack()
        assert counts["train"].between(10, 11).all() and counts["val"].between(3, 4).all()
        assert counts["test"].between(3, 4).all()
