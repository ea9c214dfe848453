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
    expected = bootstrap_deltas(read_samples(path), attributes=["sex"], min_group_size=2, n_boot=50, seed=7,
                                adjust="bh").query("metric == 'eodd'")
    np.testing.assert_allclose(noisy["p_adjusted"], expected["p_adjusted"])
    assert fairness.query("condition == 'noisy' and metric == 'auroc_gap'")["ci_low"].isna().all()
    result = runner.invoke(app, [*args, "--bootstrap-group-auroc", "--out", str(tmp_path / "g")])
    assert result.exit_code == 0, result.output
    gap = pd.read_csv(tmp_path / "g" / "fairness.csv").query("condition == 'noisy' and metric == 'auroc_gap'")
    expected = bootstrap_deltas(read_samples(path), attributes=["sex"], min_group_size=2, n_boot=50, seed=7,
                                adjust="bh", group_auroc=True).query("metric == 'auroc_gap'")
    assert not gap.empty and gap["ci_low"].notna().all()
    np.testing.assert_allclose(gap[["ci_low", "ci_high"]], expected[["ci_low", "ci_high"]])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--adjust", "bonferroni"], "--adjust: expected holm or bh, got 'bonferroni'"),
    ],
)
def test_evaluate_bad_bootstrap_option_exits_2(tmp_path, args, message):
    result = runner.invoke(app, ["evaluate", str(_samples_csv(tmp_path)), "--out", str(tmp_path / "m"),
                                 "--bootstrap", "20", *args])
    assert result.exit_code == 2 and message in " ".join(result.output.split()), result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--threshold", "high"], "--threshold: expected fixed-validation, refit or a number"),
        (["--attributes", "income"], "unknown attribute 'income'"),
    ],
)
def test_evaluate_bad_input_exits_2_naming_it(tmp_path, args, message):
    result = runner.invoke(app, ["evaluate", str(_samples_csv(tmp_path)), "--out", str(tmp_path / "m"), *args])
    assert result.exit_code == 2 and message in result.output, result.output


def test_evaluate_missing_columns_are_named(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("sample_id,split\na,test\n")
    result = runner.invoke(app, ["evaluate", str(path), "--out", str(tmp_path / "m")])
    assert result.exit_code == 2 and "missing columns" in result.output and "bad.csv" in result.output


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
