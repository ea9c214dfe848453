"""Synthetic-data throughput: the vectorised generators vs a per-image loop.

The batched path times one whole ``make_synthetic_*`` call (parameters,
rendering, table, splits).  The loop path calls the same generator once per
image (``n_patients=1``, one image each), the straightforward way to write a
phantom generator.  Each figure is the best of ``repeats`` runs (the least
disturbed by other processes on a shared machine).

Run with ``.venv/bin/python benchmarks/bench_synthetic.py``.
Target: >= 2,000 synthetic 64x64 chest images/s on a 2-core CPU.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import torch

from reconfair.data.synthetic_brain import make_synthetic_brain
from reconfair.data.synthetic_chest import make_synthetic_chest

GENERATORS: dict[str, tuple[Callable, float]] = {
    # name -> (generator, mean images per patient with the default images_per_patient)
    "synthetic-chest": (make_synthetic_chest, 2.0),
    "synthetic-brain": (make_synthetic_brain, 1.0),
}


def _best_rate(call: Callable[[], int], repeats: int) -> float:
    """Images per second of the fastest of ``repeats`` calls (``call`` returns its image count)."""
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        count = call()
        best = max(best, count / (time.perf_counter() - start))
    return best


def run(sizes: Sequence[int] = (64, 256), n_images: int = 4000, repeats: int = 3) -> list[dict]:
    """Measure images/s, batched vs loop, for each data set and image size.

    ``n_images`` is the batched workload at 64 x 64; larger sizes use
    proportionally fewer images (same pixel count, at least 64), and the loop
    path a twentieth of that (at least 16 images).
    """
    rows = []
    for name, (make, per_patient) in GENERATORS.items():
        make(n_patients=2, image_size=32)  # warm up imports and kernels
        for size in sizes:
            n = max(64, int(n_images * (64 / size) ** 2))
            n_patients = max(1, int(n / per_patient))
            n_loop = max(16, n // 20)

            def batched() -> int:
                return len(make(n_patients=n_patients, image_size=size, seed=0))

            def loop() -> int:
                for i in range(n_loop):
                    make(n_patients=1, image_size=size, seed=i, images_per_patient=(1, 1))
                return n_loop

            fast, slow = _best_rate(batched, repeats), _best_rate(loop, repeats)
            rows.append(
                {
                    "dataset": name,
                    "size": size,
                    "batched_img_per_s": fast,
                    "loop_img_per_s": slow,
                    "ratio": fast / slow,
                }
            )
    return rows


def _table(rows: list[dict]) -> str:
    keys = list(rows[0])
    lines = ["  ".join(f"{k:>18}" for k in keys)]
    for row in rows:
        lines.append("  ".join(f"{v:>18.1f}" if isinstance(v, float) else f"{v!s:>18}" for v in row.values()))
    return "\n".join(lines)


if __name__ == "__main__":
    print(f"torch threads: {torch.get_num_threads()}")
    start = time.perf_counter()
    results = run()
    print(_table(results))
    chest64 = next(r for r in results if r["dataset"] == "synthetic-chest" and r["size"] == 64)
    verdict = "meets" if chest64["batched_img_per_s"] >= 2000 else "MISSES"
    print(f"chest 64x64: {chest64['batched_img_per_s']:.0f} images/s ({verdict} the 2,000/s target); "
          f"benchmark took {time.perf_counter() - start:.1f} s")
