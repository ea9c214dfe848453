"""A report of real data can leave the hospital: no patient images, no raw sample ids (``report:`` block).

One folder data set (tests/data/real_fixtures.py), run twice into the same
folder on one cache: first with ``report: {examples: true, ids: keep}`` (the
images are embedded, so the checks below can fail), then with the defaults
for real data (``examples: false``, ``ids: hash``), which must remove what the
first run showed.
"""

from __future__ import annotations

import base64
import importlib.util
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from reconfair.config import StudyConfig
from reconfair.config.report import ReportConfig, resolve_report, shown_id
from reconfair.engine.datasets import build_dataset
from reconfair.report import write_report
from reconfair.report.build import EXAMPLES_OFF
from reconfair.report.figures_examples import case_labels, plot_examples

_spec = importlib.util.spec_from_file_location(
    "real_fixtures", Path(__file__).resolve().parents[1] / "data" / "real_fixtures.py")
rf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rf)

DATASET = "my-folder"
EMBEDDED = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]+)"')
PLOTS = ("quality_task_vs_level_", "bias_change_distribution", "bias_change_ci_", "inherent_vs_added_")
"""Stems of the figures drawn from the metric tables (no image data)."""


def study(folder: Path, report: dict | None) -> dict:
    config = {
        "name": "private", "seed": 3, "device": "cpu", "attributes": ["sex"],
        "evaluation": {"min_group_size": 2, "bootstrap": 0},
        "datasets": [{
            "name": DATASET, "image_size": 32, "reconstructors": ["baseline"],
            "degradations": [{"operator": "mri-undersampling", "levels": [4]}],
            "tasks": [{"kind": "classification", "model": {"epochs": 1}}],
            "source": {"kind": "folder", "csv": str(folder / "index.csv"), "image_column": "file",
                       "patient_column": "subject", "attributes": {"sex": "Gender"},
                       "labels": {"has_lesion": "Lesion"}},
        }],
    }
    return config if report is None else {**config, "report": report}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from reconfair.engine.run import run_study

    base = tmp_path_factory.mktemp("private")
    folder = rf.make_folder(base, n_patients=30)
    out, cache = base / "run", base / "cache"
    shown = StudyConfig.model_validate(study(folder, {"examples": True, "ids": "keep"}))
    run_study(shown, out, progress=False, cache_dir=cache)
    kept = base / "kept"
    shutil.copytree(out, kept)
    default = StudyConfig.model_validate(study(folder, None))
    run_study(default, out, progress=False, cache_dir=cache)  # the same folder: what the first run showed goes
    table = build_dataset(default.datasets[0], seed=default.seed, lazy=True).table
    return {"default": out, "kept": kept, "base": base,
            "sample_ids": sorted(table["sample_id"]), "patient_ids": sorted(set(table["patient_id"]))}


def embedded(html: str) -> dict[str, bytes]:
    """alt (figure stem) -> PNG bytes of every image inlined in a report."""
    return {alt: base64.b64decode(data) for data, alt in EMBEDDED.findall(html)}


def without_images(html: str) -> str:
    return EMBEDDED.sub("", html)


def test_the_defaults_for_real_data_hide_images_and_hash_ids():
    assert resolve_report(StudyConfig.model_validate(study(Path("/d"), None)).report, real_data=True) == ReportConfig(
        examples=False, ids="hash")


def test_a_real_data_report_holds_no_patient_image_and_no_sample_id(runs):
    out = runs["default"]
    html = (out / "report.html").read_text(encoding="utf-8")
    images = embedded(html)
    assert images and all(alt.startswith(PLOTS) for alt in images), sorted(images)  # only the plots
    assert all(data.startswith(b"\x89PNG") for data in images.values())
    assert not (out / "examples").exists()  # written by the first run, removed by this one
    assert not list((out / "figures").glob("examples_*"))
    assert EXAMPLES_OFF in html
    text = without_images(html)
    leaked = [s for s in runs["sample_ids"] if s in html]
    assert not leaked, leaked
    patients = [p for p in runs["patient_ids"] if re.search(rf"\b{re.escape(p)}\b", text)]
    assert not patients, patients
    assert str(runs["base"] / "scans" / "index.csv") in text  # the data set's CSV path stays in config.yaml


def test_with_examples_on_the_same_report_would_fail_those_checks(runs):
    kept = runs["kept"]
    html = (kept / "report.html").read_text(encoding="utf-8")
    images = embedded(html)
    assert f"examples_{DATASET}" in images and not all(alt.startswith(PLOTS) for alt in images)
    assert (kept / "examples" / f"{DATASET}.npz").is_file() and EXAMPLES_OFF not in html
    with np.load(kept / "examples" / f"{DATASET}.npz") as archive:
        assert set(archive["sample_ids"]) <= set(runs["sample_ids"])


def test_hashed_ids_name_the_example_rows(runs, tmp_path):
    """examples: true with the default ids for real data (hash): figure 6 is drawn with hashed row labels."""
    folder = tmp_path / "hashed"
    shutil.copytree(runs["kept"], folder)
    config = yaml.safe_load((folder / "config.yaml").read_text())
    config["report"] = {"examples": True}
    (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    html = write_report(folder).read_text(encoding="utf-8")
    assert "hashed sample ids (report.ids: hash)" in html
    with np.load(folder / "examples" / f"{DATASET}.npz") as archive:
        arrays = {k: archive[k] for k in archive.files}
    labels = case_labels(arrays, ids="hash")
    assert labels == [shown_id(s, ids="hash") for s in arrays["sample_ids"]]
    assert all(re.fullmatch(r"[0-9a-f]{12}", label) for label in labels)
    figure = (folder / "figures" / f"examples_{DATASET}.png").read_bytes()
    assert figure == plot_examples(arrays, dataset=DATASET, out_dir=tmp_path / "by-hand", ids="hash").read_bytes()
    assert figure != (runs["kept"] / "figures" / f"examples_{DATASET}.png").read_bytes()  # only the labels differ
    assert not [s for s in runs["sample_ids"] if s in html]


def test_the_plan_of_a_real_study_has_no_examples_stage(runs, tmp_path):
    from reconfair.engine.cache import Cache
    from reconfair.engine.plan import plan_study

    folder = runs["base"] / "scans"
    kinds = lambda report: {s.stage for s in plan_study(  # noqa: E731
        StudyConfig.model_validate(study(folder, report)), Cache(tmp_path / report_name(report)))}
    assert "examples" not in kinds(None) and "report" in kinds(None)
    assert "examples" in kinds({"examples": True})


def report_name(report: dict | None) -> str:
    return "none" if report is None else "-".join(f"{k}{v}" for k, v in report.items())


def test_a_bad_report_block_in_config_yaml_names_it(runs, tmp_path):
    from reconfair.report import RunDirectoryError

    folder = tmp_path / "bad"
    shutil.copytree(runs["kept"], folder, ignore=shutil.ignore_patterns(".cache"))
    config = yaml.safe_load((folder / "config.yaml").read_text())
    config["report"] = {"ids": "md5"}
    (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    with pytest.raises(RunDirectoryError, match=r"config\.yaml: report\.ids: Input should be 'keep' or 'hash' "
                                                r"\(received 'md5'\); expected report: \{examples: true\|false"):
        write_report(folder)
