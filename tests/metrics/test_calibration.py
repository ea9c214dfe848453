"""Size, power and coverage of the bias-change tests by simulation (reconfair.metrics.calibration).

The quick test (CI) runs 150 replicate studies per design with loose bounds;
the slow one (``-m slow``) runs 1,000 with the acceptance bounds.  The
reference is the signed-gap Wald test with analytic binomial variances,
computed without the bootstrap.
"""

from __future__ import annotations

import pytest

from reconfair.metrics.calibration import DESIGNS, simulate, summarize

GAP_METRICS = ("eodd", "eodd_max", "eop", "dp", "delta_dice", "ser")


def _summaries(n_replicates: int, seed: int, group_auroc: bool = False):
    return {design: summarize(simulate(design, n_replicates=n_replicates, seed=seed,
                                       group_auroc=group_auroc)).set_index("metric")
            for design in DESIGNS}


def _check(summaries, *, size: tuple[float, float], coverage: float, power_gap: float,
           group_auroc: bool = False) -> None:
    for design in ("null", "inherent"):
        table = summaries[design]
        metrics = GAP_METRICS + (("auroc", "dice") if design == "inherent" else ())
        if group_auroc:  # worst-group AUROC falls with the added noise in "null": a null only in "inherent"
            metrics += ("auroc_gap", "worst_group_auroc") if design == "inherent" else ("auroc_gap",)
        for metric in metrics:
            row = table.loc[metric]
            assert size[0] <= row["rejection"] <= size[1], (design, metric, row["rejection"])
            assert row["coverage"] >= coverage, (design, metric, row["coverage"])
        for metric in ("eodd", "eop", "dp", "delta_dice"):  # the reference has its nominal size too
            assert size[0] <= table.loc[metric, "rejection_reference"] <= size[1], (design, metric)
    for design, table in summaries.items():  # the signed gap's own interval has its nominal coverage everywhere
        for metric in ("eop", "dp", "delta_dice"):
            assert table.loc[metric, "gap_coverage"] >= coverage, (design, metric, table.loc[metric, "gap_coverage"])
    planted = summaries["planted"]
    for metric in ("eodd", "eop", "delta_dice"):
        row = planted.loc[metric]
        assert row["truth"] > 0.1 and row["rejection"] > 0.5, (metric, row["rejection"])
        assert abs(row["rejection"] - row["rejection_reference"]) <= power_gap, metric
    assert size[0] <= planted.loc["dp", "rejection"] <= size[1]  # DP does not change in this design


def test_calibration_quick():
    _check(_summaries(150, seed=11), size=(0.01, 0.11), coverage=0.88, power_gap=0.15)


@pytest.mark.slow
def test_calibration_full():
    _check(_summaries(1000, seed=12, group_auroc=True), size=(0.03, 0.07), coverage=0.93, power_gap=0.10,
           group_auroc=True)
