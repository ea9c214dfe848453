"""A tiny study with a detection task through `reconfair run`: observers.csv, its d' by hand, caching, the report."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from typer.testing import CliRunner

from reconfair.cli import app
from reconfair.config import StudyConfig
from reconfair.engine.datasets import build_dataset
from reconfair.metrics.observers import d_prime, extract_rois, laguerre_gauss_channels, run_observer
from reconfair.physics.lesions import RandomLocation, make_pairs
from reconfair.physics.radiograph import RadiographLowDose
from reconfair.physics.signals import GaussianSignal
from reconfair.seeding import derive_seed, numpy_generator, sample_generators

SEED = 3
LEVELS = [10, 30, 100]
DETECTION = {"kind": "detection", "signal": {"kind": "gaussian", "amplitude": 0.3, "sigma": 1.5},
             "observers": ["npw", "cho"], "cho": {"channels": 4}, "max_backgrounds": 40}
TINY = {
    "name": "tiny-observers",
    "seed": SEED,
    "device": "cpu",
    "attributes": ["sex"],
    "datasets": [{
        "name": "synthetic-chest",
        "n_patients": 60,
        "image_size": 32,
        "degradations": [{"operator": "radiograph-lowdose", "levels": LEVELS}],
        "tasks": [{"kind": "classification", "model": {"epochs": 1}}, DETECTION],
    }],
    "evaluation": {"min_group_size": 2, "bootstrap": 50, "min_valid_fraction": 0.5},
    "report": {"examples": False},
}
REQUIRED = ["dataset", "condition", "recon", "level", "observer", "group", "d_prime", "auc", "ci_low", "ci_high",
            "p_value"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("observer-runs")
    config = root / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    outs = []
    for name in ("a", "b"):  # one cache: the second run finds every stage cached
        result = CliRunner().invoke(app, ["run", str(config), "--out", str(root / name), "--cache",
                                          str(root / "cache"), "--no-progress"])
        assert result.exit_code == 0, result.output
        outs.append(root / name)
    return outs


def overall(out, observer):
    stats = pd.read_csv(out / "metrics" / "observers.csv")
    rows = stats[(stats["group"] == "all") & (stats["observer"] == observer)]
    return dict(zip(rows["condition"], rows["d_prime"]))


def test_observers_csv_has_the_required_columns_and_every_condition(runs):
    stats = pd.read_csv(runs[0] / "metrics" / "observers.csv")
    assert set(REQUIRED) <= set(stats.columns)
    conditions = {"original", *(f"radiograph-lowdose@{level}/identity" for level in LEVELS)}
    assert set(stats["condition"]) == conditions
    assert set(stats["observer"]) == {"npw", "cho"}
    assert {"all", "F", "M"} <= set(stats["group"])
    assert (stats.loc[stats["condition"] == "original", "delta_d_prime"] == 0).all()


def reference_d_prime(level: float, observer: str) -> float:
    """The CHO/NPW d' of one condition from the library functions alone (the engine's documented draws)."""
    config = StudyConfig.model_validate(TINY)
    samples = build_dataset(config.datasets[0], seed=SEED)
    name = "synthetic-chest"
    signal = GaussianSignal(amplitude=0.3, sigma=1.5)
    roi = 2 * signal.extent + 1
    operator = RadiographLowDose(level=level)
    rois = {}
    for split in ("train", "test"):
        index = np.flatnonzero(samples.table["split"].to_numpy() == split)
        ids = samples.table["sample_id"].to_numpy(dtype=str)[index]
        order = np.argsort(ids, kind="stable")[:40]
        ids, images = [str(i) for i in ids[order]], samples.images[torch.as_tensor(index[order])]
        pairs = make_pairs(images, ids, signal=signal, domain="line-integral", policy=RandomLocation(),
                           seed=derive_seed(SEED, "lesion", name), mu=4.0)
        for present, image in ((True, pairs.present), (False, pairs.absent)):
            draw = "present" if present else "absent"
            stage = f"degrade/{name}/radiograph-lowdose@{float(level)!r}/lesion-{draw}"
            measured = operator.degrade(image, generator=sample_generators(SEED, stage, ids))
            rois[split, present] = extract_rois(measured.clamp(0, 1), pairs.centers.numpy(), roi)  # identity
    params = {"channels": laguerre_gauss_channels(roi, 4, signal.extent / 2)} if observer == "cho" else {}
    condition = f"radiograph-lowdose@{level}/identity"
    result = run_observer(observer, rois["train", True], rois["train", False], rois["test", True],
                          rois["test", False], generator=numpy_generator(SEED, "observer", name, condition, observer),
                          **params)
    assert result.d_prime == pytest.approx(d_prime(result.t_present, result.t_absent), abs=1e-12)
    return result.d_prime


@pytest.mark.parametrize("observer", ["cho", "npw"])
def test_d_prime_equals_a_direct_computation_with_the_library(runs, observer):
    found = overall(runs[0], observer)["radiograph-lowdose@30/identity"]
    assert found == pytest.approx(reference_d_prime(30, observer), abs=1e-9)


def test_cho_detectability_falls_with_dose_and_original_is_best(runs):
    cho = overall(runs[0], "cho")
    by_level = [cho[f"radiograph-lowdose@{level}/identity"] for level in LEVELS]
    assert by_level[0] < by_level[1] < by_level[2]  # identity radiograph: d' rises with N0
    assert cho["original"] > by_level[0] + 0.3


def test_second_run_is_fully_cached_with_an_identical_table(runs):
    a, b = (pd.read_csv(out / "metrics" / "observers.csv") for out in runs)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    manifest = json.loads((runs[1] / "manifest.json").read_text())
    observer_stages = [s for s in manifest["stages"] if s["stage"] in ("observer", "observer-stats")]
    assert len(observer_stages) == len(LEVELS) + 2
    assert {s["status"] for s in observer_stages} == {"cached"}


def test_report_embeds_the_detectability_figure_and_the_delta_table(runs):
    out = runs[0]
    assert (out / "figures" / "detectability_vs_level_synthetic-chest.png").is_file()
    html = (out / "report.html").read_text()
    assert "detectability_vs_level_synthetic-chest" in html
    assert "observers_delta" in html
    table = pd.read_csv(out / "tables" / "observers_delta.csv")
    assert "original" not in set(table["condition"]) and {"delta_d_prime", "p_value"} <= set(table.columns)


def test_without_observers_csv_the_report_has_no_detection_figure_or_table(runs, tmp_path):
    import shutil

    from reconfair.report import write_report

    out = tmp_path / "run"
    shutil.copytree(runs[0], out, ignore=shutil.ignore_patterns(".cache"))
    (out / "metrics" / "observers.csv").unlink()
    for stale in [*(out / "figures").glob("detectability_*"), *(out / "tables").glob("observers_delta.*")]:
        stale.unlink()
    html = write_report(out).read_text()
    assert "detectability" not in html and "observers_delta" not in html
    assert not list((out / "figures").glob("detectability_*")) and not (out / "tables" / "observers_delta.csv").exists()
