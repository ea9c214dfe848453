"""The public API (reconfair.api, re-exported lazily by the package): the CLI's paths from Python."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
import yaml
from typer.testing import CliRunner

import reconfair
from reconfair import api
from reconfair.cli import app
from reconfair.config import ConfigError, StudyConfig

ROOT = Path(__file__).resolve().parents[1]
RECON = "radiograph-lowdose@3000/identity"


def samples_table(n_patients: int = 60, seed: int = 0) -> pd.DataFrame:
    """A per-sample table made by hand: 2 images per patient, val/test by patient, original and one condition."""
    rng = np.random.default_rng(seed)
    patients = np.repeat(np.arange(n_patients), 2)
    n = patients.size
    y_true = rng.integers(0, 2, n_patients).astype(float)[patients]  # one label per patient
    sex = np.where(patients % 2 == 0, "F", "M")
    rows = []
    for condition, noise in (("original", 0.25), (RECON, 0.4)):
        score = np.clip(0.5 + (y_true - 0.5) * 0.6 + rng.normal(0, noise, n) - 0.15 * (sex == "F") * y_true, 0, 1)
        rows.append(pd.DataFrame({
            "sample_id": [f"s{i:03d}" for i in range(n)], "patient_id": [f"p{p:03d}" for p in patients],
            "split": np.where(patients % 3 == 0, "val", "test"), "dataset": "d", "task": "classification",
            "target": "nodule", "condition": condition,
            "recon": "none" if condition == "original" else "identity",
            "degradation": "none" if condition == "original" else "radiograph-lowdose",
            "level": np.nan if condition == "original" else 3000.0,
            "y_true": y_true, "y_score": score, "attr_sex": sex,
            "attr_age_group": np.where(patients % 4 < 2, "<50", ">=50"), "attr_race": np.where(patients % 5 == 0,
                                                                                             "R1", "R2"),
        }))
    return pd.concat(rows, ignore_index=True)


def _csvs(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.glob("*.csv"))}


# the package: cheap to import, the API names on first use


def test_the_api_names_import_from_the_package():
    from reconfair import evaluate, load_config, run_study

    assert (evaluate, load_config, run_study) == (api.evaluate, api.load_config, api.run_study)
    assert {"evaluate", "load_config", "run_study"} <= set(dir(reconfair)) and set(reconfair.__all__) >= {
        "evaluate", "load_config", "run_study", "__version__"}
    with pytest.raises(AttributeError, match="no attribute 'run_studdy'"):
        reconfair.run_studdy  # noqa: B018


def test_importing_the_package_imports_no_torch_nor_the_api():
    code = ("import sys, reconfair; assert reconfair.__version__; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'reconfair', 'pandas')))")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.strip() == "['reconfair']", done.stdout + done.stderr


# load_config


def test_load_config_takes_a_file_a_mapping_or_a_study(tmp_path):
    data = {"datasets": [{"name": "synthetic-chest"}], "attributes": ["sex"]}
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(data))
    from_file, from_text = api.load_config(path), api.load_config(str(path))
    from_mapping = api.load_config(data)
    assert isinstance(from_file, StudyConfig) and from_file == from_text == from_mapping
    assert api.load_config(from_file) is from_file


def test_relative_paths_resolve_against_the_file_or_base_dir(tmp_path):
    folder = {"name": "scans", "image_size": 32,
              "degradations": [{"operator": "mri-undersampling", "levels": [4]}],
              "source": {"kind": "folder", "csv": "data/index.csv", "image_column": "file",
                         "patient_column": "subject", "attributes": {"sex": "Gender"}, "labels": ["Lesion"]}}
    data = {"datasets": [folder], "attributes": ["sex"]}
    (tmp_path / "configs").mkdir()
    path = tmp_path / "configs" / "study.yaml"
    path.write_text(yaml.safe_dump(data))
    assert api.load_config(path).datasets[0].source.csv == str(tmp_path / "configs" / "data" / "index.csv")
    assert api.load_config(data, base_dir=tmp_path).datasets[0].source.csv == str(tmp_path / "data" / "index.csv")


@pytest.mark.parametrize(("data", "field"), [
    ({"datasets": [{"name": "synthetic-chest", "n_patients": 5}]}, "datasets[0].n_patients"),
    ({"datasets": [{"name": "synthetic-chest"}], "colour": "red"}, "colour: unknown key 'colour'"),
    ({"datasets": [{"name": "synthetic-chest", "degradations": [{"operator": "x-ray", "levels": [1]}]}]},
     "datasets[0].degradations[0].operator: unknown operator 'x-ray'"),  # a stage check, not structure
    ({"datasets": [{"name": "synthetic-chest"}], "attributes": ["sex", "income"]},
     "attributes[1]: unknown attribute 'income'"),
])
def test_load_config_errors_name_the_field(tmp_path, data, field):
    with pytest.raises(ConfigError) as mapping_error:
        api.load_config(data)
    assert field in str(mapping_error.value)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=re.escape(f"{path}: invalid configuration")) as file_error:
        api.load_config(path)
    assert field in str(file_error.value)


def test_a_study_config_is_checked_against_the_stages_too():
    unchecked = StudyConfig.model_validate({"datasets": [{"name": "synthetic-chest"}], "attributes": ["income"]})
    with pytest.raises(ConfigError, match=r"attributes\[0\]: unknown attribute 'income'"):
        api.load_config(unchecked)


@pytest.mark.parametrize(("args", "kwargs", "message"), [
    ((42,), {}, "config: expected a YAML file path, a mapping or a StudyConfig, got int"),
    (("study.yaml",), {"base_dir": "/data"}, "base_dir: applies to a mapping only"),
])
def test_load_config_refuses_what_it_cannot_read(args, kwargs, message):
    with pytest.raises(TypeError, match=re.escape(message)):
        api.load_config(*args, **kwargs)


def test_run_study_is_the_engines_with_the_config_loaded(tmp_path, monkeypatch):
    seen = {}

    def engine_run(study, out_dir, **options):
        seen.update(study=study, out_dir=out_dir, **options)
        return "result"

    import reconfair.engine.run

    monkeypatch.setattr(reconfair.engine.run, "run_study", engine_run)
    data = {"datasets": [{"name": "synthetic-chest"}], "attributes": ["sex"]}
    assert reconfair.run_study(data, tmp_path / "out", progress=False, cache_dir=tmp_path / "c") == "result"
    assert seen == {"study": api.load_config(data), "out_dir": tmp_path / "out", "progress": False,
                    "cache_dir": tmp_path / "c", "executor": "local", "address": None}
    with pytest.raises(ConfigError, match="datasets"):
        reconfair.run_study({"attributes": ["sex"]}, tmp_path / "out")


# evaluate: the same tables as `reconfair evaluate`


@pytest.fixture(scope="module")
def table_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("evaluate") / "samples.parquet"
    samples_table().to_parquet(path, index=False)
    return path


@pytest.mark.parametrize("options", [
    {},  # every default
    {"attributes": "sex,sex*age_group", "threshold": "0.5", "bootstrap": "40", "family": "report",
     "patient_level": True, "adjust": "bh", "alpha": 0.1, "seed": 3, "min_group_size": 3},
])
def test_evaluate_gives_the_commands_csv_files(table_file, tmp_path, options):
    flags = {"attributes": "--attributes", "threshold": "--threshold", "bootstrap": "--bootstrap",
             "family": "--family", "adjust": "--adjust", "alpha": "--alpha", "seed": "--seed",
             "min_group_size": "--min-group-size"}
    argv = ["evaluate", str(table_file), "--out", str(tmp_path / "cli")]
    for name, value in options.items():
        argv += ["--patient-level"] if name == "patient_level" else [flags[name], str(value)]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    from_frame = reconfair.evaluate(pd.read_parquet(table_file), **options)
    from_frame.to_csv(tmp_path / "api")
    cli, frame = _csvs(tmp_path / "cli"), _csvs(tmp_path / "api")
    assert set(cli) >= {"performance.csv", "groups.csv", "fairness.csv"} and cli == frame
    reconfair.evaluate(table_file, **options).to_csv(tmp_path / "path")
    assert _csvs(tmp_path / "path") == cli


def test_the_api_and_the_command_share_their_defaults():
    command = typer.main.get_command(app).commands["evaluate"]
    cli = {param.name: param.default for param in command.params}
    cli["bootstrap_budget_s"] = cli.pop("bootstrap_budget")
    signature = inspect.signature(api.evaluate).parameters
    shared = [name for name in signature if name in cli]
    assert set(cli) - set(shared) == {"samples", "out"}
    assert api.evaluation_settings(**{n: cli[n] for n in shared if n != "scores"}) == api.evaluation_settings()
    assert cli["scores"] == signature["scores"].default


def test_evaluate_reads_csv_and_logits_as_the_command_does(tmp_path):
    table = samples_table(n_patients=30)
    logits = table.assign(y_score=np.log(table["y_score"].clip(1e-6, 1 - 1e-6) / (1 - table["y_score"].clip(
        1e-6, 1 - 1e-6))))
    logits.to_csv(tmp_path / "logits.csv", index=False)
    options = {"attributes": ["sex"], "bootstrap": 0, "min_group_size": 2}
    from_csv = reconfair.evaluate(tmp_path / "logits.csv", scores="logits", **options)
    from_frame = reconfair.evaluate(logits, scores="logits", **options)
    pd.testing.assert_frame_equal(from_csv.fairness, from_frame.fairness)
    assert logits["y_score"].min() < 0  # the caller's frame is not modified


@pytest.mark.parametrize(("options", "message"), [
    ({"threshold": "median"}, "threshold: expected one of"),
    ({"bootstrap": -1}, "bootstrap: expected a number of resamples"),
    ({"scores": "odds"}, "scores: expected one of ('probabilities', 'logits'), got 'odds'"),
    ({"attributes": ["income"]}, "income"),
])
def test_evaluate_errors_name_the_keyword(options, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        reconfair.evaluate(samples_table(n_patients=12), **{"bootstrap": 0, **options})


def test_evaluate_names_a_file_it_cannot_read(tmp_path):
    missing = tmp_path / "nowhere.parquet"
    with pytest.raises(ValueError, match=re.escape(f"{missing}: no such file")):
        reconfair.evaluate(missing)
    with pytest.raises(TypeError, match="expected a pandas DataFrame"):
        reconfair.evaluate([1, 2, 3])


# docs/api.md: its examples run, in order, in an empty folder


def python_blocks(path: Path) -> list[str]:
    """The ```python blocks of a Markdown file, in order."""
    return re.findall(r"^```python\n(.*?)^```", path.read_text(encoding="utf-8"), flags=re.S | re.M)


def test_the_api_documentation_runs(tmp_path, monkeypatch):
    blocks = python_blocks(ROOT / "docs" / "api.md")
    assert len(blocks) >= 4
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "docs_api"}
    for number, block in enumerate(blocks, start=1):
        try:
            exec(compile(block, f"docs/api.md block {number}", "exec"), namespace)
        except Exception as error:  # noqa: BLE001 - name the block that failed
            raise AssertionError(f"docs/api.md python block {number} failed: {error!r}\n{block}") from error
    assert (tmp_path / "runs" / "tiny" / "report.html").is_file()
