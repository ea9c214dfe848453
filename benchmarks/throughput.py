"""Synthetic-generation and degradation throughput, vectorised vs per-image loop.

Run with ``make bench`` or ``.venv/bin/python benchmarks/throughput.py``.
Both ways are measured side by side in one run and printed as a ratio.
Target: >= 2,000 synthetic 64x64 chest images/s.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_degradation  # noqa: E402
import bench_synthetic  # noqa: E402


def _print(title: str, rows: list[dict]) -> None:
    print(f"\n{title}")
    keys = list(rows[0])
    print("  ".join(f"{k:>20}" for k in keys))
    for row in rows:
        print("  ".join(f"{v:>20.1f}" if isinstance(v, float) else f"{v!s:>20}" for v in row.values()))


if __name__ == "__main__":
    _print("synthetic generation (images/s)", bench_synthetic.run())
    _print("degradation (images/s)", bench_degradation.run())
