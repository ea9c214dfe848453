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


def test_ray_executor_gives_the_local_table(tmp_path, one_torch_thread, local_ray):
    """Ray tasks use their 1-CPU share (one thread); so does the local run, for bit-identical results."""
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
