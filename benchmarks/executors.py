"""Wall time of a study with the local executor vs the Ray executor, side by side.

Each executor starts from an empty cache.  By default the grid is the quick demo's
(``--full``: the whole demo grid, about 8 minutes locally on 2 cores).  Ray's
gain depends on the cores available: with 2 cores, parallel stages compete with
each stage's own torch threads.

Run with ``.venv/bin/python benchmarks/executors.py [--full]`` (needs ``pip install reconfair[ray]``).
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
    options = parser.parse_args()
    import ray

    ray.init(include_dashboard=False, log_to_driver=False)
    config = demo_config(quick=not options.full)
    with tempfile.TemporaryDirectory() as folder:
        local_s, local_rows = _timed(config, "local", Path(folder))
        ray_s, ray_rows = _timed(config, "ray", Path(folder))
    cpus = int(ray.cluster_resources().get("CPU", 0))
    print(f"grid: {config.name} ({len(local_rows)} rows), Ray CPUs: {cpus}")
    print(f"local: {local_s:.1f} s   ray: {ray_s:.1f} s   ray/local wall time: {ray_s / local_s:.2f}")
    same = local_rows.equals(ray_rows)
    print(f"identical samples table: {same} (bit-identity needs equal torch threads per stage)")
