"""write_report / `reconfair report`: every output, regenerated identically without touching the cache."""

import hashlib
import json
import platform
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from typer.testing import CliRunner

from reconfair.cli import app
from reconfair.metrics.image import psnr
from reconfair.report import RunDirectoryError, write_report
from reconfair.report.build import NO_MITIGATION
from reconfair.report.summary import SYNTHETIC_NOTICE

DATASETS = ("synthetic-chest", "synthetic-brain")
FIGURES = (
    *(f"quality_task_vs_level_{d}" for d in DATASETS),                       # 1
    "bias_change_distribution",                                              # 2
    "bias_change_ci_synthetic-chest_classification",                         # 3
    "bias_change_ci_synthetic-brain_classification",
    "bias_change_ci_synthetic-brain_segmentation",
    "inherent_vs_added_synthetic-chest_classification",                      # 4
    "inherent_vs_added_synthetic-brain_classification",
    "inherent_vs_added_synthetic-brain_segmentation",
    *(f"examples_{d}" for d in DATASETS),                                    # 6
)
MITIGATION_FIGURES = ("mitigation_bias_change", "mitigation_tradeoff")      # 5


def _state(folder):
    """sha256 and mtime of every file under ``folder``."""
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_run_writes_every_figure_as_png_and_svg(tiny_run):
    for stem in FIGURES:
        for suffix in (".png", ".svg"):
            path = tiny_run / "figures" / f"{stem}{suffix}"
            assert path.is_file() and path.stat().st_size > 1000, path
    for stem in MITIGATION_FIGURES:
        assert not (tiny_run / "figures" / f"{stem}.png").exists()
    html = (tiny_run / "report.html").read_text()
    assert NO_MITIGATION in html  # figure 5 is skipped with a visible note
    for name in ("summary", "performance", "bias_change"):
        assert (tiny_run / "tables" / f"{name}.csv").is_file()
        assert (tiny_run / "tables" / f"{name}.tex").read_text().startswith(r"\begin{tabular}")


def test_mitigation_tables_give_figure_five(mitigated_run):
    for stem in MITIGATION_FIGURES:
        assert (mitigated_run / "figures" / f"{stem}.png").stat().st_size > 1000
    html = (mitigated_run / "report.html").read_text()
    assert NO_MITIGATION not in html
    table = pd.read_csv(mitigated_run / "tables" / "mitigation.csv")
    assert set(table["mitigation"]) == {"reweighting", "eodd:0.316"} and (table["metric"] == "eodd").all()


def test_report_command_regenerates_identical_outputs_without_touching_predictions(tiny_run):
    cache_before = _state(tiny_run / ".cache")
    samples_before = _state(tiny_run)["samples.parquet"]
    outputs = lambda: {k: v[0] for k, v in _state(tiny_run).items()  # noqa: E731
                       if k.startswith(("figures/", "tables/")) or k in ("report.html", "summary.md")}
    first = outputs()
    result = CliRunner().invoke(app, ["report", str(tiny_run)])
    assert result.exit_code == 0, result.output
    assert "report.html" in result.output
    assert _state(tiny_run / ".cache") == cache_before
    assert _state(tiny_run)["samples.parquet"] == samples_before
    second = outputs()
    assert second == first  # byte-identical report.html, summary.md, figures (PNG and SVG) and tables
    assert len([k for k in second if k.startswith("figures/")]) == 2 * len(FIGURES)


def test_report_command_fails_clearly_without_a_run(tmp_path):
    result = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2
    assert "samples.parquet" in result.output and "metrics/performance.csv" in result.output
    result = CliRunner().invoke(app, ["report", str(tmp_path / "absent")])
    assert result.exit_code == 2 and "no such directory" in result.output
    with pytest.raises(RunDirectoryError):
        write_report(tmp_path)


def test_synthetic_notice_only_when_every_dataset_is_synthetic(tiny_run, tmp_path):
    assert SYNTHETIC_NOTICE in (tiny_run / "report.html").read_text()
    assert json.loads((tiny_run / "manifest.json").read_text())["synthetic_data"] is True
    real = tmp_path / "real"
    shutil.copytree(tiny_run, real, ignore=shutil.ignore_patterns(".cache", "figures", "examples"))
    config = yaml.safe_load((real / "config.yaml").read_text())
    config["datasets"][0].update(name="chexpert", source={"kind": "chexpert", "root": "/data/CheXpert-v1.0"})
    (real / "config.yaml").write_text(yaml.safe_dump(config))
    write_report(real)
    assert SYNTHETIC_NOTICE not in (real / "report.html").read_text()
    assert SYNTHETIC_NOTICE not in (real / "summary.md").read_text()


def test_provenance_names_versions_seed_and_hashes(tiny_run):
    html = (tiny_run / "report.html").read_text()
    manifest = json.loads((tiny_run / "manifest.json").read_text())
    digest = hashlib.sha256((tiny_run / "samples.parquet").read_bytes()).hexdigest()
    assert digest in html and manifest["torch"] in html
    # the CPU's instruction set: float rounding (and so trained weights) can differ between AVX2 and AVX-512
    assert manifest["cpu"] == f"{platform.machine()} {torch.backends.cpu.get_cpu_capability()}" and manifest["cpu"] in html
    assert all(stage["key"] in html for stage in manifest["stages"])
    assert "seed: 5" in html  # the resolved config.yaml is embedded


def test_examples_equal_the_images_inference_saw(tiny_run):
    """The stored reconstructions have exactly the PSNR that samples.parquet recorded for them."""
    samples = pd.read_parquet(tiny_run / "samples.parquet")
    index = json.loads((tiny_run / "examples" / "index.json").read_text())
    assert set(index) == set(DATASETS)
    for dataset, entry in index.items():
        with np.load(tiny_run / "examples" / entry["file"], allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
        assert (tiny_run / "examples" / entry["file"]).stat().st_size < 1_000_000
        columns = arrays["columns"].tolist()
        assert columns[0] == "original" and any(c.endswith("/degraded") for c in columns)
        assert arrays["images"].shape[:2] == (len(entry["sample_ids"]), len(columns))
        assert arrays["saliency"].shape == arrays["images"].shape and arrays["saliency"].max() <= 1
        assert entry["segmentation"] == (dataset == "synthetic-brain") == ("mask_pred" in arrays)
        clean = torch.from_numpy(arrays["images"][:, :1].astype(np.float32))
        for k, column in enumerate(columns):
            if column == "original" or column.endswith("/degraded"):
                continue
            image = torch.from_numpy(arrays["images"][:, k : k + 1].astype(np.float32))
            expected = (samples.set_index(["condition", "sample_id"]).sort_index()
                        .loc[[(column, s) for s in entry["sample_ids"]], "psnr"].groupby(level=1, sort=False).first())
            np.testing.assert_allclose(psnr(image, clean).double().numpy(), expected.to_numpy(), rtol=1e-5)
    # positives for the top target are preferred
    chest = np.load(tiny_run / "examples" / "synthetic-chest.npz", allow_pickle=False)
    assert (chest["labels"] == 1).all()


def test_a_run_without_the_new_columns_still_opens_with_verdict_and_overview(tiny_run, tmp_path):
    """A run folder written before the verdict columns (no significant, p_floor, models.csv, families.csv)."""
    old = tmp_path / "old"
    shutil.copytree(tiny_run, old, ignore=shutil.ignore_patterns(".cache"))
    for name in ("models.csv", "families.csv"):
        (old / "metrics" / name).unlink()
    new_columns = ["test", "p_floor", "uncertainty_reason", "family", "family_size", "significant", "mdc",
                   "mdc_family", "n_boot", "model_status"]
    for name in ("fairness.csv", "performance.csv"):
        table = pd.read_csv(old / "metrics" / name)
        table.drop(columns=[c for c in new_columns if c in table.columns]).to_csv(old / "metrics" / name, index=False)
    write_report(old)
    html = (old / "report.html").read_text()
    order = [html.index(f'id="{name}"') for name in ("verdict", "overview", "summary", "figures", "provenance")]
    assert order == sorted(order)
    assert 'id="banners"' not in html  # neither models.csv nor families.csv
    config = yaml.safe_load((old / "config.yaml").read_text())
    assert config["evaluation"]["family"] == "metric"
    assert "Holm within one family per data set × task × attribute × metric" in html
    assert html.count("<details") >= 3 and "<details open" not in html


def test_the_tiny_run_reports_its_uninformative_models(tiny_run):
    """The tiny run's models are trained for 1-2 epochs: models.csv flags some, and the report names each."""
    models = pd.read_csv(tiny_run / "metrics" / "models.csv")
    flagged = models[models["status"] == "uninformative"]
    html = (tiny_run / "report.html").read_text()
    for record in flagged.itertuples():
        assert f"no verdict on {record.target}" in html, record.target
    # the simulations' caveat on the intervals sits beside the overview and figure 3
    caveat = "conservative where the group gaps are near 0"
    overview = html[html.index('id="overview"'):html.index('id="summary"')]
    figure_three = html[html.index('id="figure-3"'):html.index('id="figure-4"')]
    assert caveat in overview and caveat in figure_three
    families = pd.read_csv(tiny_run / "metrics" / "families.csv")
    for record in families[~families["reachable"]].itertuples():
        assert record.family in html  # B = 50 cannot pass these families' first cut: the report says so


def test_the_new_layout_regenerates_identically(uncertain_run):
    names = ("report.html", "summary.md", "tables/bias_change.csv", "tables/performance.csv",
             "figures/bias_change_ci_synthetic-chest_classification.svg")
    first = {n: (uncertain_run / n).read_bytes() for n in names}
    write_report(uncertain_run)
    assert {n: (uncertain_run / n).read_bytes() for n in names} == first
