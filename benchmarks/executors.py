"""Wall time of a study with the local executor vs the Ray executor, side by side.

Each executor starts from an empty cache.  By default the grid is the quick demo's
(``--full``: the whole demo grid, about 10 minutes locally on 2 cores).  Ray's
gain depends on the cores available: with 2 cores, parallel stages compete with
each stage's own torch threads.  ``--cpus 8`` starts a local Ray instance that
believes it has 8 CPUs (a simulated 8-CPU cluster on this machine's cores).
It also prints, from the Ray tasks' start and end times, how many stages
started while another kind of stage was still running (no waves).

Run with ``.venv/bin/python benchmarks/executors.py [--full] [--cpus N]`` (needs ``pip install reconfair[ray]``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from reconfair.config.demo import demo_config
from reconfair.engine.run import run_study


def _timed(config, executor: str, folder: Path) -> tuple[float, pd.DataFrame]:
    started = time.perf_counter()
    result = run_study(config, folder / executor, progress=False, cache_dir=folder / f"{executor}-cache",
                       executor=executor)
    return time.perf_counter() - started, result.samples


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the whole demo grid instead of the quick one")
    parser.add_argument("--cpus", type=int, default=None, help="CPUs the local Ray instance declares")
    options = parser.parse_args()
    import json

    import ray

    ray.init(num_cpus=options.cpus, include_dashboard=False, log_to_driver=False)
    config = demo_config(quick=not options.full)
    with tempfile.TemporaryDirectory() as folder:
        local_s, local_rows = _timed(config, "local", Path(folder))
        ray_s, ray_rows = _timed(config, "ray", Path(folder))
        events = json.loads((Path(folder) / "ray" / "manifest.json").read_text())["remote_stages"]
    cpus = int(ray.cluster_resources().get("CPU", 0))
    print(f"grid: {config.name} ({len(local_rows)} rows), Ray CPUs: {cpus}")
    print(f"local: {local_s:.1f} s   ray: {ray_s:.1f} s   ray/local wall time: {ray_s / local_s:.2f}")
    same = local_rows.equals(ray_rows)
    print(f"identical samples table: {same}")
    trainings = [e for e in events if e["stage"] in ("diagnostic", "reconstructor", "mitigated-reconstructor")]
    early = [e for e in events if e["stage"] == "inference"
             and any(t["started"] < e["started"] < t["finished"] for t in trainings)]
    print(f"ray tasks: {len(events)}; inference stages started while a model still trained: {len(early)} "
          f"of {sum(e['stage'] == 'inference' for e in events)}")
