"""Calibration of the bias-change tests: size under two nulls, power under a planted change, CI coverage.

Run with ``.venv/bin/python benchmarks/calibration.py`` (``--replicates N``,
default 1000; ``--patients N``, default 800; ``--no-group-auroc`` leaves out
the AUROC gap and worst-group AUROC, 4x faster).  Each replicate is a simulated
study (``reconfair.metrics.calibration``: two groups, one image per patient,
B = 500 paired patient resamples).  Printed per design and metric, side by
side in one run:

- ``rejection``: our test's rejection rate at alpha = 0.05 (target 3-7 % under
  ``null`` and ``inherent``);
- ``reference``: the signed-gap Wald test with analytic variances on the same
  replicates (no bootstrap), and ``power gap`` = ours - reference under
  ``planted`` (target within 10 points);
- ``coverage``: how often our 95 % CI holds the true change (target >= 93 %
  under the nulls; above 97 % the interval is conservative there);
- ``gap coverage``: how often the CI of the signed gap change M - F (the
  ``gap_change`` column) holds its true value (EOP, DP, Dice gap);
- ``mdc``: the mean minimum detectable change (80 % power, alpha 0.05), beside
  the true change.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from reconfair.metrics.calibration import DESIGNS, simulate, summarize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--patients", type=int, default=800)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-group-auroc", action="store_true", help="leave out the AUROC gap and worst-group AUROC")
    args = parser.parse_args()
    frames = []
    for design in DESIGNS:
        start = time.perf_counter()
        table = summarize(simulate(design, n_replicates=args.replicates, n_patients=args.patients, seed=args.seed,
                                   group_auroc=not args.no_group_auroc))
        print(f"{design}: {args.replicates} replicates in {time.perf_counter() - start:.1f} s")
        frames.append(table)
    out = pd.concat(frames, ignore_index=True)
    out["power gap"] = (out["rejection"] - out["rejection_reference"]).where(out["design"] == "planted")
    shown = out.rename(columns={"rejection_reference": "reference", "mean_mdc": "mdc", "gap_coverage": "gap coverage"})[
        ["design", "metric", "truth", "rejection", "reference", "power gap", "coverage", "gap coverage", "mdc"]]
    with pd.option_context("display.width", 160, "display.max_rows", 100):
        print(shown.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
