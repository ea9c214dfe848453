"""Peak memory of the inference stage at 1x, 4x and 16x data-set size, streamed vs held in memory.

Each measurement runs in a fresh process: build synthetic-chest (64 x 64,
``--patients`` x k patients), then push every image through the inference
stage (3,000-photon degradation, identity reconstruction, a CPU-small
classifier: untrained, since memory is what is measured).  ``streamed``
renders batch by batch from a lazy set (what ``reconfair run`` does);
``in memory`` materialises the whole set first (the old way).  Target:
streamed peak RSS flat within 20 % from 1x to 16x.

Run with ``.venv/bin/python benchmarks/streaming.py [--patients 500]``.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time


def _child(n_patients: int, streamed: bool) -> None:
    import torch

    from reconfair.config import DatasetConfig, DegradationConfig, ReconstructorConfig
    from reconfair.diagnose import DiagnosticModel
    from reconfair.engine.conditions import conditions_for
    from reconfair.engine.datasets import build_dataset
    from reconfair.engine.inference import infer_condition
    from reconfair.recon import make_reconstructor

    torch.set_num_threads(2)
    config = DatasetConfig(name="synthetic-chest", n_patients=n_patients, image_size=64)
    samples = build_dataset(config, seed=0, lazy=True)
    if not streamed:
        samples = samples.materialize()
    model = DiagnosticModel(kind="classification", targets=samples.label_names, preset="cpu-small", image_size=64)
    degradation = DegradationConfig(operator="radiograph-lowdose", levels=(3000,))
    condition = conditions_for([degradation], [ReconstructorConfig(name="baseline")])[1]
    started = time.perf_counter()
    rows = infer_condition(samples, condition, {"classification": model},
                           reconstructor=make_reconstructor("baseline", degradation=condition.operator), seed=0)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{len(samples)} {len(rows)} {peak_mb:.1f} {seconds:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=500, help="patients at 1x")
    parser.add_argument("--child", nargs=2, metavar=("N_PATIENTS", "MODE"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        _child(int(options.child[0]), options.child[1] == "streamed")
        return
    print(f"{'size':>5} {'mode':>10} {'images':>8} {'peak RSS MB':>12} {'vs 1x':>7} {'seconds':>8}")
    for mode in ("streamed", "in-memory"):
        base = None
        for factor in (1, 4, 16):
            out = subprocess.run([sys.executable, __file__, "--child", str(options.patients * factor), mode],
                                 capture_output=True, text=True, check=True).stdout.split()
            images, _, peak, seconds = int(out[0]), int(out[1]), float(out[2]), float(out[3])
            base = base or peak
            print(f"{factor:>4}x {mode:>10} {images:>8} {peak:>12.1f} {peak / base:>7.2f} {seconds:>8.1f}")


if __name__ == "__main__":
    main()
