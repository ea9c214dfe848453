import numpy as np
import pandas as pd
import pytest

from reconfair.metrics.aggregate import aggregate_patients


def _rows():
    return pd.DataFrame({
        "sample_id": ["a1", "a2", "a3", "b1", "c1", "c2"],
        "patient_id": ["a", "a", "a", "b", "c", "c"],
        "split": "test", "dataset": "d", "task": "classification", "target": "t", "condition": "original",
        "level": np.nan,
        "y_true": [1.0, 1.0, 1.0, 0.0, np.nan, np.nan],
        "y_score": [0.1, 0.9, 0.4, 0.3, 0.2, 0.6],
        "psnr": [30.0, 32.0, 34.0, 20.0, np.nan, np.nan],
        "attr_sex": ["F", "F", "F", "M", "M", "M"],
    })


def test_median_score_and_mean_quality_per_patient_by_hand():
    out = aggregate_patients(_rows()).set_index("sample_id")
    assert out.loc["a", "y_score"] == 0.4 and out.loc["b", "y_score"] == 0.3 and out.loc["c", "y_score"] == pytest.approx(0.4)
    assert out.loc["a", "psnr"] == 32.0 and out.loc["a", "n_images"] == 3
    assert np.isnan(out.loc["c", "y_true"])  # unknown label kept unknown, not dropped
    assert out.loc["a", "attr_sex"] == "F"


def test_other_reductions():
    assert aggregate_patients(_rows(), score="max").set_index("sample_id").loc["a", "y_score"] == 0.9
    seg = _rows().assign(task="segmentation", dice=[0.5, 0.7, 0.9, 0.1, 0.2, 0.4])
    out = aggregate_patients(seg, dice="mean").set_index("sample_id")
    assert out.loc["a", "dice"] == pytest.approx(0.7) and out.loc["c", "dice"] == pytest.approx(0.3)


def test_patients_stay_separate_per_condition():
    rows = pd.concat([_rows(), _rows().assign(condition="noisy", y_score=0.5)])
    out = aggregate_patients(rows)
    assert len(out) == 6 and set(out.query("condition == 'noisy'")["y_score"]) == {0.5}


def test_inconsistent_label_or_attribute_is_named():
    bad = _rows()
    bad.loc[1, "y_true"] = 0.0
    with pytest.raises(ValueError, match="patient 'a': column 'y_true' differs"):
        aggregate_patients(bad)
    bad = _rows()
    bad.loc[5, "attr_sex"] = "F"
    with pytest.raises(ValueError, match="patient 'c': column 'attr_sex' differs"):
        aggregate_patients(bad)


def test_bad_reduction_is_named():
    with pytest.raises(ValueError, match="score reduction must be one of"):
        aggregate_patients(_rows(), score="mode")
