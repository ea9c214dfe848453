import pytest
import yaml
from typer.testing import CliRunner

from reconfair.cli import app

runner = CliRunner()


def _write(tmp_path, data):
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_validate_accepts_the_shipped_demo_config():
    result = runner.invoke(app, ["validate", "configs/demo.yaml"])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"datasets": [{"name": "synthetic-chest"}], "unknown_key": 1}, "unknown_key"),
        (
            {"datasets": [{"name": "synthetic-chest", "degradations": [{"operator": "radiograph-lowdose", "levels": [-3000]}]}]},
            "datasets[0].degradations[0]",
        ),
        ({"datasets": [{"name": "synthetic-chest"}], "attributes": ["ethnicity"]}, "attributes[0]"),
    ],
)
@pytest.mark.parametrize("command", ["validate", "run"])
def test_bad_config_exits_2_naming_the_field(tmp_path, data, field, command):
    result = runner.invoke(app, [command, str(_write(tmp_path, data))])
    assert result.exit_code == 2
    assert field in result.output


def test_missing_config_file_exits_2(tmp_path):
    result = runner.invoke(app, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "no such configuration file" in result.output


def _samples_csv(tmp_path):
    import pandas as pd

    rows = []
    for i in range(40):
        y = i % 2
        for split in ("val", "test"):
            for condition, shift in (("original", 0.0), ("noisy", 0.2)):
                rows.append({
                    "sample_id": f"{split}{i}", "patient_id": f"p{split}{i}", "split": split,
                    "dataset": "toy", "task": "classification", "target": "finding", "condition": condition,
                    "recon": "none", "degradation": "none", "level": float("nan"), "mitigation": "none",
                    "seed": 0, "y_true": float(y), "y_score": min(1.0, 0.3 + 0.4 * y + shift + 0.005 * i),
                    "dice": float("nan"), "psnr": float("nan"), "ssim": float("nan"), "nrmse": float("nan"),
                    "attr_sex": "FM"[i % 4 // 2], "attr_age_group": "ab"[i % 3 == 0],
                })
    path = tmp_path / "samples.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_evaluate_command_writes_the_metric_tables(tmp_path):
    import pandas as pd

    from reconfair.metrics.evaluate import evaluate
    from reconfair.engine.table import read_samples

    path = _samples_csv(tmp_path)
    result = runner.invoke(app, ["evaluate", str(path), "--out", str(tmp_path / "m"),
                                 "--attributes", "sex,sex*age_group", "--threshold", "refit", "--min-group-size", "2",
                                 "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    written = pd.read_csv(tmp_path / "m" / "fairness.csv")
    expected = evaluate(read_samples(path), attributes=["sex", "sex*age_group"], threshold="refit", min_group_size=2)
    columns = ["condition", "attribute", "metric", "value", "value_original", "delta", "n_groups"]
    pd.testing.assert_frame_equal(written[columns], expected.fairness[columns].reset_index(drop=True), check_dtype=False)
    assert set(written["attribute"]) == {"sex", "sex×age_group"}
    assert "p_adjusted" not in written.columns


def test_evaluate_bootstrap_adds_uncertainty_columns(tmp_path):
    import numpy as np
    import pandas as pd

    from reconfair.engine.table import read_samples
    from reconfair.metrics.settings import EvaluationSettings
    from reconfair.metrics.uncertainty import bootstrap_deltas

    path = _samples_csv(tmp_path)
    args = ["evaluate", str(path), "--attributes", "sex", "--min-group-size", "2", "--bootstrap", "50",
            "--seed", "7", "--adjust", "bh"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    fairness = pd.read_csv(tmp_path / "m" / "fairness.csv")
    performance = pd.read_csv(tmp_path / "m" / "performance.csv")
    for column in ("se", "ci_low", "ci_high", "p_value", "p_adjusted", "n_boot_valid"):
        assert column in fairness.columns and column in performance.columns
    noisy = fairness.query("condition == 'noisy' and metric == 'eodd'")
    assert noisy["n_boot_valid"].eq(50).all() and noisy["ci_low"].notna().all()
    assert fairness.query("condition == 'original'")["p_value"].isna().all()
    expected = bootstrap_deltas(read_samples(path), EvaluationSettings(
        attributes=("sex",), min_group_size=2, bootstrap=50, seed=7, adjust="bh")).query("metric == 'eodd'")
    np.testing.assert_allclose(noisy["p_adjusted"], expected["p_adjusted"])
    assert fairness.query("condition == 'noisy' and metric == 'auroc_gap'")["ci_low"].isna().all()
    result = runner.invoke(app, [*args, "--bootstrap-group-auroc", "--out", str(tmp_path / "g")])
    assert result.exit_code == 0, result.output
    gap = pd.read_csv(tmp_path / "g" / "fairness.csv").query("condition == 'noisy' and metric == 'auroc_gap'")
    expected = bootstrap_deltas(read_samples(path), EvaluationSettings(
        attributes=("sex",), min_group_size=2, bootstrap=50, seed=7, adjust="bh", group_auroc=True)).query(
        "metric == 'auroc_gap'")
    assert not gap.empty and gap["ci_low"].notna().all()
    np.testing.assert_allclose(gap[["ci_low", "ci_high"]], expected[["ci_low", "ci_high"]])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--adjust", "bonferroni"], "--adjust: expected one of ('holm', 'bh'), got 'bonferroni'"),
        (["--threshold", "high"],
         "--threshold: expected one of ('fixed-validation', 'refit') or a number in [0, 1], got 'high'"),
        (["--threshold", "1.5"], "--threshold: expected one of ('fixed-validation', 'refit') or a number in [0, 1], "
                                 "got 1.5"),
        (["--bootstrap", "many"], "--bootstrap: expected a number of resamples >= 0 or 'auto', got 'many'"),
        (["--bootstrap", "-1"], "--bootstrap: expected a number of resamples >= 0 or 'auto', got -1"),
        (["--family", "patient"], "--family: expected one of ('report', 'metric', 'target')"),
        (["--alpha", "1.5"], "--alpha: expected a number in (0, 1), got 1.5"),
        (["--bootstrap-budget", "0"], "--bootstrap-budget: expected a positive number of seconds, got 0.0"),
        (["--min-group-size", "0"], "--min-group-size: expected a positive integer, got 0"),
        (["--seed", "-1"], "--seed: expected an integer >= 0, got -1"),
        (["--scores", "percent"], "--scores: expected one of ('probabilities', 'logits'), got 'percent'"),
    ],
)
def test_evaluate_bad_option_exits_2_naming_the_option(tmp_path, args, message):
    path = _samples_csv(tmp_path)
    result = runner.invoke(app, ["evaluate", str(path), "--out", str(tmp_path / "m"), *args])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {path}: {message}"), result.stderr
    assert result.stderr.count("\n") == 1 and not (tmp_path / "m").exists()


@pytest.mark.parametrize("args", [["--attributes", "income"]])
def test_evaluate_unknown_attribute_exits_2_naming_it(tmp_path, args):
    result = runner.invoke(app, ["evaluate", str(_samples_csv(tmp_path)), "--out", str(tmp_path / "m"), *args])
    assert result.exit_code == 2 and "unknown attribute 'income'" in result.output, result.output


def test_evaluate_missing_columns_are_named(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("sample_id,split\na,test\n")
    result = runner.invoke(app, ["evaluate", str(path), "--out", str(tmp_path / "m")])
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"error: {path}: missing required column(s) ['dataset', 'task', 'target', 'condition']"), result.stderr


def _classification_only(tmp_path, name, *, scores="probabilities"):
    """Four test and four val samples, conditions original and noisy; no optional column at all."""
    import numpy as np
    import pandas as pd

    probabilities = {("val", "original"): [0.8, 0.3, 0.6, 0.1], ("val", "noisy"): [0.8, 0.3, 0.6, 0.1],
                     ("test", "original"): [0.9, 0.2, 0.4, 0.6], ("test", "noisy"): [0.8, 0.3, 0.7, 0.1]}
    rows = []
    for (split, condition), values in probabilities.items():
        for i, p in enumerate(values):
            rows.append({"sample_id": f"{split}{i:02d}", "split": split, "dataset": "toy", "task": "classification",
                         "target": "finding", "condition": condition, "y_true": float(1 - i % 2),
                         "y_score": float(np.log(p / (1 - p))) if scores == "logits" else p,
                         "attr_sex": "FFMM"[i]})
    path = tmp_path / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("scores", ["probabilities", "logits"])
def test_evaluate_classification_only_table_against_hand_values(tmp_path, scores):
    import pandas as pd

    path = _classification_only(tmp_path, "classification.csv", scores=scores)
    result = runner.invoke(app, ["evaluate", str(path), "--out", str(tmp_path / "m"), "--attributes", "sex",
                                 "--threshold", "0.5", "--min-group-size", "1", "--bootstrap", "0",
                                 "--scores", scores])
    assert result.exit_code == 0, result.output
    performance = pd.read_csv(tmp_path / "m" / "performance.csv")
    # no psnr, ssim or nrmse column: no image-quality rows; the model's own score on val/original
    assert set(performance["metric"]) == {"auroc", "val_auroc"}
    # val/original: positives 0.8, 0.6 above negatives 0.3, 0.1
    assert performance.query("metric == 'val_auroc'")["value"].tolist() == [1.0]
    auroc = performance.query("target == 'finding' and metric == 'auroc'").set_index("condition")["value"]
    # original: positives 0.9, 0.4 against negatives 0.2, 0.6 -> 3 of 4 pairs; noisy: 0.8, 0.7 vs 0.3, 0.1 -> 4 of 4
    assert auroc.to_dict() == pytest.approx({"original": 0.75, "noisy": 1.0})
    eodd = pd.read_csv(tmp_path / "m" / "fairness.csv").query("metric == 'eodd'").set_index("condition")
    # threshold 0.5, original: F TPR 1 FPR 0, M TPR 0 FPR 1 -> (1 + 1) / 2; noisy: both TPR 1 FPR 0 -> 0
    assert eodd["value"].to_dict() == pytest.approx({"original": 1.0, "noisy": 0.0})
    assert eodd.loc["noisy", "delta"] == pytest.approx(-1.0)


def test_evaluate_accepts_auto_bootstrap_family_alpha_and_logits(tmp_path):
    """The new options pass EvaluationSettings: the first error is the table's own (its duplicate key)."""
    import pandas as pd

    path = _classification_only(tmp_path, "twice.csv", scores="logits")
    pd.concat([pd.read_csv(path)] * 2).to_csv(path, index=False)
    result = runner.invoke(app, ["evaluate", str(path), "--out", str(tmp_path / "m"), "--bootstrap", "auto",
                                 "--bootstrap-budget", "30", "--family", "target", "--alpha", "0.01",
                                 "--scores", "logits", "--threshold", "0.5", "--adjust", "bh"])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {path}: duplicate key: row 16 repeats row 0 (sample_id 'val00', "
                                    "condition 'original', target 'finding'); 16 row(s) repeat"), result.stderr


def _bad_tables(tmp_path):
    """name -> (path, start of the message): each a different way for the input to be wrong."""
    import pandas as pd

    good = pd.read_csv(_classification_only(tmp_path, "good.csv"), dtype={"sample_id": str})
    cases = {}
    path = tmp_path / "nodice.csv"
    good.assign(task="segmentation").to_csv(path, index=False)
    cases["missing column"] = (path, "the table has segmentation rows but lacks column(s) ['dice']")
    path = tmp_path / "overone.csv"
    good.assign(y_score=good["y_score"].where(good.index != 5, 1.2)).to_csv(path, index=False)
    cases["y_score"] = (path, "y_score = 1.2 in row 5 (sample_id 'val01', condition 'noisy', target 'finding') "
                              "is outside [0, 1]")
    path = tmp_path / "repeats.parquet"
    pd.concat([good, good.iloc[[3]]]).to_parquet(path)
    cases["duplicate"] = (path, "duplicate key: row 16 repeats row 3 (sample_id 'val03'")
    path = tmp_path / "table.xlsx"
    path.write_text("x")
    cases["suffix"] = (path, "unsupported file type '.xlsx': expected a per-sample table ending in .parquet or .csv")
    cases["no file"] = (tmp_path / "absent.csv", "no such file")
    path = tmp_path / "empty.csv"
    path.write_text("")
    cases["empty"] = (path, "the file is empty")
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"not parquet")
    cases["unreadable"] = (path, "cannot be read as Parquet")
    return cases


@pytest.mark.parametrize("case", ["missing column", "y_score", "duplicate", "suffix", "no file", "empty",
                                  "unreadable"])
def test_evaluate_each_error_names_the_file_once(tmp_path, case):
    path, message = _bad_tables(tmp_path)[case]
    result = runner.invoke(app, ["evaluate", str(path), "--out", str(tmp_path / "m")])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {path}: {message}"), result.stderr
    assert result.stderr.count(path.name) == 1 and result.stderr.count("\n") == 1, result.stderr


def test_evaluate_patient_level_collapses_images_per_patient(tmp_path):
    import pandas as pd

    rows = pd.read_csv(_samples_csv(tmp_path))
    doubled = pd.concat([rows, rows.assign(sample_id=rows["sample_id"] + "-b")])  # two images per patient
    path = tmp_path / "two.csv"
    doubled.to_csv(path, index=False)
    args = ["--min-group-size", "2", "--attributes", "sex", "--bootstrap", "0"]
    image = runner.invoke(app, ["evaluate", str(path), "--out", str(tmp_path / "i"), *args])
    patient = runner.invoke(app, ["evaluate", str(path), "--out", str(tmp_path / "p"), "--patient-level", *args])
    assert image.exit_code == 0 and patient.exit_code == 0, patient.output
    n_image = pd.read_csv(tmp_path / "i" / "performance.csv").query("metric == 'auroc'")["n"].iloc[0]
    n_patient = pd.read_csv(tmp_path / "p" / "performance.csv").query("metric == 'auroc'")["n"].iloc[0]
    assert n_image == 2 * n_patient


def test_evaluate_summarises_replicate_seeds(tmp_path):
    import numpy as np
    import pandas as pd

    rows = pd.read_csv(_samples_csv(tmp_path))
    second = rows.assign(seed=1, y_score=np.clip(rows["y_score"] + 0.05 * (rows.index % 3), 0, 1))
    path = tmp_path / "seeds.csv"
    pd.concat([rows, second]).to_csv(path, index=False)
    result = runner.invoke(app, ["evaluate", str(path), "--out", str(tmp_path / "m"), "--attributes", "sex",
                                 "--min-group-size", "2", "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    fairness = pd.read_csv(tmp_path / "m" / "fairness.csv")
    seeds = pd.read_csv(tmp_path / "m" / "seeds_fairness.csv")
    row = seeds.query("condition == 'noisy' and metric == 'eodd'").iloc[0]
    per_seed = fairness.query("condition == 'noisy' and metric == 'eodd'")["value"]
    assert row["n_seeds"] == 2
    assert row["value_mean"] == pytest.approx(per_seed.mean(), abs=1e-12)
    assert row["value_sd"] == pytest.approx(per_seed.std(ddof=1), abs=1e-12)
