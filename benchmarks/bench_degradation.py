"""Throughput of the batched degradation operators versus a per-image loop.

For every registered operator at one representative level and each image
size, time ``op.degrade`` on a whole batch (one generator per sample) against
a plain Python loop applying the same operator to one image at a time (batch
size 1, the same per-sample generators).  Both paths must give identical
images; the benchmark checks that before reporting.

Run ``python benchmarks/bench_degradation.py`` (about 30-60 s on 2 CPU cores).
Each path is timed ``repeats`` times and the best time kept, since a shared
machine's other load inflates single timings.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch

from reconfair.physics import DEGRADATIONS, make_degradation
from reconfair.seeding import sample_generators

#: One representative (middle) study level per operator.
REPRESENTATIVE_LEVEL = {"radiograph-lowdose": 1e4, "ct-lowdose": 1e4, "mri-undersampling": 8.0}
#: Images per (operator, size) when ``n_images`` is not given.
DEFAULT_IMAGES = {64: 32, 128: 16, 256: 8}


def _clean_images(n: int, size: int, device: torch.device) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    coords = torch.linspace(-1, 1, size)
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    body = ((yy**2 / 0.8 + xx**2 / 0.6) < 0.8).float() * 0.6
    return (body + 0.3 * torch.rand(n, 1, size, size, generator=generator)).clamp(0, 1).to(device)


def _time(fn, repeats: int) -> tuple[float, torch.Tensor]:
    """Best wall time of ``repeats`` calls (the least disturbed by other load) and the output."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        if out.is_cuda:
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best, out


def run(
    sizes: Sequence[int] = (64, 256),
    n_images: int | None = None,
    *,
    repeats: int = 2,
    device: str | torch.device = "cpu",
) -> list[dict]:
    """Images per second, batched versus per-image loop, for every operator and size.

    Parameters
    ----------
    sizes
        Square image sizes to test.
    n_images
        Images per measurement; ``None`` uses 32 at size 64, 16 at 128 and 8
        at 256 (``max(4, 2048 // size)`` otherwise).
    repeats
        Timed runs per path; the best (shortest) is reported.
    device
        Where to run (generators are created on the same device).

    Returns
    -------
    list of dict
        One row per (operator, size): ``operator``, ``level``, ``size``,
        ``n_images``, ``batched_img_per_s``, ``loop_img_per_s``, ``ratio``
        (batched / loop throughput).
    """
    device = torch.device(device)
    rows = []
    for name in DEGRADATIONS.names():
        level = REPRESENTATIVE_LEVEL.get(name, DEGRADATIONS.get(name).study_levels[0])
        op = make_degradation(name, level)
        for size in sizes:
            n = n_images or DEFAULT_IMAGES.get(size, max(4, 2048 // size))
            x = _clean_images(n, size, device)
            ids = [f"img{i:05d}" for i in range(n)]
            op.degrade(x[:2], generator=sample_generators(0, "bench", ids[:2], device=device))  # warm-up
            batched_s, batched = _time(
                lambda: op.degrade(x, generator=sample_generators(0, "bench", ids, device=device)), repeats
            )
            loop_s, looped = _time(
                lambda: torch.cat(
                    [
                        op.degrade(x[i : i + 1], generator=sample_generators(0, "bench", [ids[i]], device=device))
                        for i in range(n)
                    ]
                ),
                repeats,
            )
            if not torch.equal(batched, looped):
                raise AssertionError(f"{name} at size {size}: batched and per-image outputs differ")
            rows.append(
                {
                    "operator": name,
                    "level": float(level),
                    "size": size,
                    "n_images": n,
                    "batched_img_per_s": n / batched_s,
                    "loop_img_per_s": n / loop_s,
                    "ratio": loop_s / batched_s,
                }
            )
    return rows


def _print_table(rows: list[dict]) -> None:
    header = f"{'operator':<20} {'level':>9} {'size':>5} {'n':>4} {'batched img/s':>14} {'loop img/s':>11} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['operator']:<20} {r['level']:>9g} {r['size']:>5} {r['n_images']:>4} "
            f"{r['batched_img_per_s']:>14.1f} {r['loop_img_per_s']:>11.1f} {r['ratio']:>6.2f}"
        )


if __name__ == "__main__":
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device cpu")
    _print_table(run())
