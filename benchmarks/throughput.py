"""Data-path throughput: ours (batched) vs the per-image loop (the reference way), side by side in one run.

Run with ``make bench`` or ``PYTHONPATH=src .venv/bin/python benchmarks/throughput.py``.

- synthetic generation: one whole ``make_synthetic_*`` call vs calling the
  generator once per image (:mod:`bench_synthetic`), synthetic-chest and
  synthetic-brain at 64 x 64 and 256 x 256;
- low-dose degradation: ``radiograph-lowdose`` (N0 = 1e4) on a batch with one
  generator per sample vs one ``degrade`` call per image with its own
  generator; both must give identical images (checked before reporting).

Each figure is the best of a few runs (the least disturbed by other processes
on a shared machine); ``ratio`` is ours / loop throughput.  Targets: >= 2,000
synthetic 64 x 64 chest images/s; degradation >= 3,000 images/s at 64 x 64 and
>= 300 at 256 x 256.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

import bench_synthetic  # noqa: E402
from reconfair.physics import make_degradation  # noqa: E402
from reconfair.seeding import sample_generators  # noqa: E402

DEGRADE_IMAGES = {64: 512, 256: 48}
DEGRADE_TARGET = {64: 3000.0, 256: 300.0}


def _best_seconds(fn, repeats: int) -> tuple[float, torch.Tensor]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def degradation(sizes=(64, 256), repeats: int = 5) -> list[dict]:
    """``radiograph-lowdose`` images/s with per-sample generators: batched vs per-image loop."""
    op = make_degradation("radiograph-lowdose", 1e4)
    rows = []
    for size in sizes:
        n = DEGRADE_IMAGES[size]
        generator = torch.Generator().manual_seed(0)
        coords = torch.linspace(-1, 1, size)
        yy, xx = torch.meshgrid(coords, coords, indexing="ij")
        body = ((yy**2 / 0.8 + xx**2 / 0.6) < 0.8).float() * 0.6
        x = (body + 0.3 * torch.rand(n, 1, size, size, generator=generator)).clamp(0, 1)
        ids = [f"img{i:05d}" for i in range(n)]
        op.degrade(x[:2], generator=sample_generators(0, "bench", ids[:2]))  # warm-up
        ours_s, ours = _best_seconds(lambda: op.degrade(x, generator=sample_generators(0, "bench", ids)), repeats)
        loop_s, loop = _best_seconds(
            lambda: torch.cat(
                [op.degrade(x[i : i + 1], generator=sample_generators(0, "bench", [ids[i]])) for i in range(n)]
            ),
            repeats,
        )
        if not torch.equal(ours, loop):
            raise AssertionError(f"radiograph-lowdose at {size}: batched and per-image outputs differ")
        rows.append({"operator": "radiograph-lowdose", "size": size, "n_images": n,
                     "ours_img_per_s": n / ours_s, "loop_img_per_s": n / loop_s, "ratio": loop_s / ours_s})
    return rows


def _print(title: str, rows: list[dict]) -> None:
    print(f"\n{title}")
    keys = list(rows[0])
    print("  ".join(f"{k:>18}" for k in keys))
    for row in rows:
        print("  ".join(f"{v:>18.1f}" if isinstance(v, float) else f"{v!s:>18}" for v in row.values()))


if __name__ == "__main__":
    start = time.perf_counter()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads, {os.cpu_count()} CPUs, "
          f"load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    synthetic = [
        {"dataset": r["dataset"], "size": r["size"], "ours_img_per_s": r["batched_img_per_s"],
         "loop_img_per_s": r["loop_img_per_s"], "ratio": r["ratio"]}
        for r in bench_synthetic.run()
    ]
    _print("synthetic generation (images/s): ours vs per-image loop", synthetic)
    degraded = degradation()
    _print("low-dose degradation, per-sample generators (images/s): ours vs per-image loop", degraded)
    chest64 = next(r for r in synthetic if r["dataset"] == "synthetic-chest" and r["size"] == 64)
    print(f"\nchest 64x64: {chest64['ours_img_per_s']:.0f} images/s "
          f"({'meets' if chest64['ours_img_per_s'] >= 2000 else 'MISSES'} the 2,000/s target)")
    for r in degraded:
        target = DEGRADE_TARGET[r["size"]]
        print(f"radiograph-lowdose {r['size']}x{r['size']}: {r['ours_img_per_s']:.0f} images/s "
              f"({'meets' if r['ours_img_per_s'] >= target else 'MISSES'} the {target:,.0f}/s target)")
    print(f"benchmark took {time.perf_counter() - start:.1f} s")
