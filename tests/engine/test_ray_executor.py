"""The Ray executor on a local 2-CPU instance gives the local executor's table."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from reconfair.config import parse_config
from reconfair.engine.run import run_study

ray = pytest.importorskip("ray", reason="the Ray executor test needs `pip install reconfair[ray]`")

STUDY = {
    "name": "ray",
    "seed": 4,
    "device": "cpu",
    "attributes": ["sex"],
    "datasets": [
        {
            "name": "synthetic-chest",
            "n_patients": 40,
            "image_size": 32,
            "degradations": [{"operator": "radiograph-lowdose", "levels": [10000, 3000]}],
            "reconstructors": ["baseline", {"name": "unet", "settings": {"epochs": 1}}],
            "tasks": [{"kind": "classification", "model": {"epochs": 1}}],
        },
        {
            "name": "synthetic-brain",
            "n_patients": 30,
            "image_size": 32,
            "degradations": [{"operator": "mri-undersampling", "levels": [4]}],
            "reconstructors": ["baseline", {"name": "pix2pix", "settings": {"epochs": 1}}],
            "tasks": [{"kind": "segmentation", "model": {"epochs": 1}}],
        },
    ],
    "evaluation": {"min_group_size": 2, "bootstrap": 20},
}


@pytest.fixture
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_executor_gives_the_local_table(tmp_path, local_ray):
    """Both executors run every stage with the study's threads (default 2): bit-identical results, whatever
    the thread count of the process that calls them."""
    config = parse_config(STUDY)
    local = run_study(config, tmp_path / "local", progress=False, cache_dir=tmp_path / "local-cache")
    remote = run_study(config, tmp_path / "ray", progress=False, cache_dir=tmp_path / "ray-cache", executor="ray")
    pd.testing.assert_frame_equal(remote.samples, local.samples, check_exact=True)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "ray" / "metrics" / "fairness.csv"),
                                  pd.read_csv(tmp_path / "local" / "metrics" / "fairness.csv"))
    manifest = json.loads((tmp_path / "ray" / "manifest.json").read_text())
    assert manifest["executor"] == "ray"
    # every cacheable stage ran in a worker; the driver's pass only read them back
    computed_remotely = {(e["stage"], e["key"]) for e in manifest["remote_stages"] if e["status"] == "computed"}
    assert {e["status"] for e in manifest["stages"]} == {"cached"}
    assert {(e["stage"], e["key"]) for e in manifest["stages"]} == computed_remotely
    local_stages = json.loads((tmp_path / "local" / "manifest.json").read_text())["stages"]
    assert {(e["stage"], e["key"]) for e in local_stages} == computed_remotely


def test_unknown_executor_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown executor 'dask'; expected one of: local, ray"):
        run_study(parse_config(STUDY), tmp_path, progress=False, executor="dask")


@pytest.fixture
def faulty_ray(tmp_path, monkeypatch):
    """A local Ray whose first reconstructor task's worker is killed (SIGKILL) one second into the task."""
    from reconfair.engine.executors import FAULT_ENV

    marker = tmp_path / "killed.txt"
    monkeypatch.setenv(FAULT_ENV, f"reconstructor:1:{marker}")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield marker
    ray.shutdown()


GRID = {**STUDY, "threads": 1, "datasets": [{  # 1-thread stages: two run side by side on 2 CPUs
    **STUDY["datasets"][0], "degradations": [{"operator": "radiograph-lowdose", "levels": [3000]}],
    "reconstructors": ["baseline", {"name": "unet", "settings": {"epochs": 6, "patience": 6}}]}]}


def test_a_worker_killed_mid_task_is_retried_and_the_table_is_the_local_one(tmp_path, faulty_ray):
    config = parse_config(GRID)
    remote = run_study(config, tmp_path / "ray", progress=False, cache_dir=tmp_path / "ray-cache", executor="ray")
    assert faulty_ray.is_file() and "killing worker" in faulty_ray.read_text()  # the fault happened
    local = run_study(config, tmp_path / "local", progress=False, cache_dir=tmp_path / "local-cache")
    pd.testing.assert_frame_equal(remote.samples, local.samples, check_exact=True)
    assert (tmp_path / "ray" / "samples.parquet").read_bytes() == (tmp_path / "local" / "samples.parquet").read_bytes()


def test_ray_starts_a_stage_as_soon_as_its_inputs_exist(tmp_path, local_ray):
    """No waves: the baseline's inference (needing only the images and the classifier) starts while the U-Net
    (the only other training, 6 epochs) still trains, and each stage starts after all of its inputs finished."""
    from reconfair.engine.plan import plan_study
    from reconfair.engine.cache import Cache

    config = parse_config(GRID)
    run_study(config, tmp_path / "ray", progress=False, cache_dir=tmp_path / "cache", executor="ray")
    events = json.loads((tmp_path / "ray" / "manifest.json").read_text())["remote_stages"]
    span = {(e["stage"], e["key"]): (e["started"], e["finished"]) for e in events}
    plan = plan_study(config, Cache(tmp_path / "cache"))
    for stage in plan:
        if (stage.stage, stage.key) in span:
            for ref in stage.depends_on:
                source = plan.get(ref)
                assert span[(source.stage, source.key)][1] <= span[(stage.stage, stage.key)][0] + 0.05
    trainings = [span[(s.stage, s.key)] for s in plan if s.stage == "reconstructor"]
    baseline = next(s for s in plan if s.stage == "inference" and s.label.endswith("/identity"))
    assert span[(baseline.stage, baseline.key)][0] < max(finished for _, finished in trainings)


@pytest.mark.slow
def test_the_demo_config_gives_the_same_table_with_ray_and_locally(tmp_path):
    """configs/demo.yaml with default settings (threads 2), both executors from empty caches: bit-identical
    samples.parquet (about 25 minutes on 2 cores)."""
    from reconfair.config.demo import demo_config

    config = demo_config()
    ray.init(include_dashboard=False, log_to_driver=False)
    try:
        run_study(config, tmp_path / "ray", progress=False, cache_dir=tmp_path / "ray-cache", executor="ray")
    finally:
        ray.shutdown()
    run_study(config, tmp_path / "local", progress=False, cache_dir=tmp_path / "local-cache")
    assert (tmp_path / "ray" / "samples.parquet").read_bytes() == (tmp_path / "local" / "samples.parquet").read_bytes()
