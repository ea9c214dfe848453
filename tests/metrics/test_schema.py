"""The per-sample table's input contract: read_table and check_samples against hand-built tables."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from reconfair.metrics.schema import check_samples, read_table

FILE = "mytable"  # no message may contain the file name: the caller adds it


def _classification(n: int = 8) -> pd.DataFrame:
    """Classification only, required and task columns plus one attribute: no optional column."""
    return pd.DataFrame({
        "sample_id": [f"{i:03d}" for i in range(n)],
        "split": ["val", "test"] * (n // 2),
        "dataset": "toy",
        "task": "classification",
        "target": "nodule",
        "condition": "original",
        "y_true": [1.0, 0.0, 1.0, np.nan, 0.0, 1.0, 0.0, 1.0][:n],
        "y_score": [0.9, 0.1, 0.65, 0.5, 0.2, 0.8, 0.3, 0.7][:n],
        "attr_sex": ["F", "M", "F", "M", "F", "M", "F", "M"][:n],
    })


def _csv(tmp_path, table: pd.DataFrame, name: str = FILE + ".csv"):
    path = tmp_path / name
    table.to_csv(path, index=False)
    return path


def _error(path, **kwargs) -> str:
    with pytest.raises(ValueError) as info:
        read_table(path, **kwargs)
    message = str(info.value)
    assert FILE not in message and str(path) not in message
    return message


def test_classification_only_csv_reads_cleanly_and_keeps_its_values(tmp_path):
    written = _classification()
    table = read_table(_csv(tmp_path, written))
    for absent in ("dice", "psnr", "ssim", "nrmse", "mitigation", "seed", "recon", "degradation", "level",
                   "patient_id"):
        assert absent not in table.columns
    pd.testing.assert_frame_equal(table, written, check_dtype=False)
    assert table["y_score"].tolist() == [0.9, 0.1, 0.65, 0.5, 0.2, 0.8, 0.3, 0.7]
    assert np.isnan(table["y_true"][3])


def test_segmentation_only_csv_needs_no_classification_columns(tmp_path):
    written = pd.DataFrame({"sample_id": ["a", "b"], "split": "test", "dataset": "brain", "task": "segmentation",
                            "target": "tumor", "condition": "original", "dice": [1.0, 0.25]})
    pd.testing.assert_frame_equal(read_table(_csv(tmp_path, written)), written, check_dtype=False)


def test_numeric_looking_ids_and_text_stay_strings(tmp_path):
    written = _classification().assign(patient_id=[f"{i // 2:04d}" for i in range(8)], target="1",
                                       condition="2", dataset="10", attr_site=["01", "2"] * 4)
    path = tmp_path / f"{FILE}.csv"
    written.to_csv(path, index=False)
    assert "007," in path.read_text()  # the file holds a bare number
    table = read_table(path)
    assert table["sample_id"].tolist()[-1] == "007"
    assert table["patient_id"].tolist()[:3] == ["0000", "0000", "0001"]
    assert set(table["target"]) == {"1"} and set(table["condition"]) == {"2"} and set(table["dataset"]) == {"10"}
    assert table["attr_site"].tolist()[:2] == ["01", "2"]


def test_parquet_and_csv_give_the_same_table(tmp_path):
    written = _classification().assign(patient_id=[f"p{i // 2}" for i in range(8)], seed=3,
                                       level=[np.nan, 3000.0] * 4, psnr=np.linspace(20.0, 31.5, 8) / 3)
    csv = _csv(tmp_path, written)
    parquet = tmp_path / f"{FILE}.parquet"
    written.to_parquet(parquet, index=False)
    from_csv, from_parquet = read_table(csv), read_table(parquet)
    pd.testing.assert_frame_equal(from_csv, from_parquet)
    pd.testing.assert_frame_equal(from_csv, written, check_dtype=False)
    # Parquet's own types for text columns become strings, as the CSV reader reads them.
    typed = written.assign(attr_site=[1, 2] * 4, sample_id=range(8))
    typed.to_parquet(parquet, index=False)
    _csv(tmp_path, typed)
    pd.testing.assert_frame_equal(read_table(parquet), read_table(csv))
    assert read_table(parquet)["attr_site"].tolist()[:2] == ["1", "2"]
    assert read_table(parquet)["sample_id"].tolist()[:2] == ["0", "1"]


def test_y_score_outside_0_1_names_the_row_sample_and_value(tmp_path):
    table = _classification()
    table.loc[5, "y_score"] = 1.2
    table.loc[7, "y_score"] = -0.5
    message = _error(_csv(tmp_path, table))
    assert "y_score = 1.2 in row 5 (sample_id '005', condition 'original', target 'nodule')" in message
    assert "outside [0, 1]" in message and "2 classification row(s)" in message
    assert "pass --scores logits if these are logits" in message
    with pytest.raises(ValueError) as direct:
        check_samples(table)
    assert str(direct.value) == message
    table.loc[[5, 7], "y_score"] = [np.inf, 0.5]
    with pytest.raises(ValueError, match=r"y_score = inf in row 5"):
        check_samples(table)


def test_y_score_outside_0_1_in_segmentation_rows_is_not_checked():
    rows = pd.DataFrame({"sample_id": ["a"], "split": "test", "dataset": "d", "task": "segmentation",
                         "target": "tumor", "condition": "original", "dice": [0.5], "y_score": [7.0]})
    check_samples(rows)


def test_logits_become_probabilities_without_overflow(tmp_path):
    logits = np.array([0.0, 2.5, -3.0, 40.0, -40.0, 800.0, -800.0, -1e308])
    path = _csv(tmp_path, _classification().assign(y_score=logits))
    with np.errstate(over="ignore"):
        expected = 1.0 / (1.0 + np.exp(-logits))  # by hand; exp(800) overflows to inf here, giving 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = read_table(path, scores="logits")
    np.testing.assert_allclose(table["y_score"], expected, rtol=1e-14, atol=0)
    assert table["y_score"].tolist()[:2] == [0.5, 1 / (1 + np.exp(-2.5))]
    assert table["y_score"].tolist()[5:] == [1.0, 0.0, 0.0]
    assert "y_score = 2.5 in row 1" in _error(path)  # the same file read as probabilities


def test_logits_keep_missing_scores_missing(tmp_path):
    path = _csv(tmp_path, _classification().assign(y_score=[np.nan, 0.0, 1, 2, 3, 4, 5, 6]))
    scores = read_table(path, scores="logits")["y_score"]
    assert np.isnan(scores[0]) and scores[1] == 0.5


def test_unknown_scores_value_names_scores(tmp_path):
    message = _error(_csv(tmp_path, _classification()), scores="percent")
    assert message == "scores: expected one of ('probabilities', 'logits'), got 'percent'"


def test_duplicate_key_names_the_first_duplicate_and_counts_them(tmp_path):
    table = _classification()
    repeated = pd.concat([table, table.iloc[[2, 6, 2]]], ignore_index=True)
    message = _error(_csv(tmp_path, repeated))
    assert message.startswith("duplicate key: row 8 repeats row 2 (sample_id '002', condition 'original', "
                              "target 'nodule'); 3 row(s) repeat an earlier key")
    assert "(sample_id, condition, target) must appear once" in message


def test_the_same_sample_id_in_two_data_sets_is_not_a_duplicate():
    table = _classification(4)
    check_samples(pd.concat([table, table.assign(dataset="other")], ignore_index=True))


def test_duplicate_key_includes_seed_and_replicate_when_present():
    table = _classification(4)
    two_seeds = pd.concat([table.assign(seed=0), table.assign(seed=1)], ignore_index=True)
    check_samples(two_seeds)  # the same sample under two seeds is two keys
    replicated = pd.concat([two_seeds.assign(replicate=0), two_seeds.assign(replicate=1)], ignore_index=True)
    check_samples(replicated)
    with pytest.raises(ValueError) as info:
        check_samples(pd.concat([replicated, replicated.iloc[[13]]], ignore_index=True))
    assert str(info.value).startswith(
        "duplicate key: row 16 repeats row 13 (sample_id '001', condition 'original', target 'nodule', "
        "seed 1, replicate 1); 1 row(s) repeat an earlier key; each (sample_id, condition, target, seed, "
        "replicate) must appear once")


def test_missing_columns_name_what_is_needed(tmp_path):
    message = _error(_csv(tmp_path, _classification().drop(columns=["condition", "dataset"])))
    assert message.startswith("missing required column(s) ['dataset', 'condition']; every per-sample table needs")
    assert _error(_csv(tmp_path, _classification().drop(columns="y_score"))).startswith(
        "the table has classification rows but lacks column(s) ['y_score']")
    segmentation = pd.DataFrame({"sample_id": ["a"], "split": "test", "dataset": "d", "task": "segmentation",
                                 "target": "tumor", "condition": "original"})
    with pytest.raises(ValueError, match=r"segmentation rows but lacks column\(s\) \['dice'\]"):
        check_samples(segmentation)


def test_bad_values_name_the_column_and_row():
    table = _classification()
    with pytest.raises(ValueError, match=r"column 'target' has 2 missing value\(s\), the first in row 3 "
                                         r"\(sample_id '003'"):
        check_samples(table.assign(target=["a", "a", "a", None, "a", None, "a", "a"]))
    with pytest.raises(ValueError, match=r"unknown task value\(s\) \['detection'\] in column 'task' \(first in "
                                         r"row 1 \(sample_id '001'"):
        check_samples(table.assign(task=["classification", "detection"] * 4))
    with pytest.raises(ValueError, match=r"column 'y_score' holds 2 non-number\(s\), the first 'high' in row 4 "):
        check_samples(table.assign(y_score=["0.1", "0.2", "0.3", "0.4", "high", "0.5", "", "0.7"]))  # "" too
    segmentation = pd.DataFrame({"sample_id": ["a", "b"], "split": "test", "dataset": "d", "task": "segmentation",
                                 "target": "tumor", "condition": "original", "dice": [0.5, np.nan]})
    with pytest.raises(ValueError, match=r"dice = nan in row 1 \(sample_id 'b'.*Dice is always defined"):
        check_samples(segmentation)
    with pytest.raises(TypeError, match="DataFrame"):
        check_samples(table.to_dict())


def test_unreadable_files_are_clear_errors(tmp_path):
    assert _error(tmp_path / f"{FILE}.xlsx").startswith(
        "unsupported file type '.xlsx': expected a per-sample table ending in .parquet or .csv")
    assert _error(tmp_path / FILE).startswith("unsupported file type '(no suffix)'")
    assert _error(tmp_path / f"{FILE}.csv").startswith("no such file")
    (tmp_path / f"{FILE}.parquet").mkdir()
    assert _error(tmp_path / f"{FILE}.parquet").startswith("is a folder, not a file")
    empty = tmp_path / f"{FILE}.csv"
    empty.write_text("")
    assert _error(empty).startswith("the file is empty")
    empty.write_text("sample_id,split,dataset,task,target,condition\n")
    assert _error(empty).startswith("the table has no rows")
    corrupt = tmp_path / f"{FILE}2.parquet"
    corrupt.write_bytes(b"not a parquet file at all")
    assert _error(corrupt).startswith("cannot be read as Parquet (ArrowInvalid: ")
