"""A tiny study run once for the report tests, and a copy of it with hand-made mitigation tables."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from reconfair.config import StudyConfig

TINY = {
    "name": "tiny-report",
    "seed": 5,
    "device": "cpu",
    "attributes": ["sex", "age_group"],
    "datasets": [
        {
            "name": "synthetic-chest",
            "n_patients": 60,
            "image_size": 32,
            "effects": {"sex": {"F": {"contrast": 0.6}}},
            "degradations": [{"operator": "radiograph-lowdose", "levels": [1e4, 3e3]}],
            "tasks": [{"kind": "classification", "model": {"epochs": 2}}],
        },
        {
            "name": "synthetic-brain",
            "n_patients": 40,
            "image_size": 32,
            "degradations": [{"operator": "mri-undersampling", "levels": [4]}],
            "reconstructors": ["baseline",
                               {"name": "unet", "settings": {"epochs": 1, "features": [4, 8, 8, 8, 8, 4]}}],
            "tasks": [{"kind": "classification", "model": {"epochs": 1}},
                      {"kind": "segmentation", "model": {"epochs": 1}}],
        },
    ],
    "evaluation": {"min_group_size": 2, "bootstrap": 50},
}


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A finished run directory of :data:`TINY` (written by run_study, so with its report)."""
    from reconfair.engine.run import run_study

    out = tmp_path_factory.mktemp("report") / "run"
    run_study(StudyConfig.model_validate(TINY), out, progress=False)
    return out


def mitigation_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hand-made ``mitigation.csv`` and ``lambda_sweep.csv`` in the lead's documented layout."""
    rows = []
    for mitigation, delta in (("reweighting", -0.02), ("eodd:0.316", -0.05)):
        for attribute in ("sex", "age_group"):
            for target in ("effusion", "macro"):
                rows.append({
                    "dataset": "synthetic-chest", "task": "classification", "target": target,
                    "degradation": "radiograph-lowdose", "level": 3000.0, "recon": "unet", "mitigation": mitigation,
                    "attribute": attribute, "metric": "eodd", "value_unmitigated": 0.12,
                    "value_mitigated": 0.12 + delta, "delta": delta, "se": 0.01, "ci_low": delta - 0.02,
                    "ci_high": delta + 0.02, "p_value": 0.01, "p_adjusted": 0.04 if mitigation != "reweighting" else 0.3,
                })
    mitigation = pd.DataFrame(rows)
    sweep = [{"dataset": "synthetic-chest", "degradation": "radiograph-lowdose", "level": 3000.0, "recon": "unet",
              "mitigation_kind": "none", "lam": np.nan, "psnr": 30.0, "auroc": 0.80, "attribute": "sex",
              "eodd": 0.12, "delta_eodd": 0.03, "selected": False}]
    for lam, psnr, auroc, eodd in ((0.1, 29.8, 0.80, 0.10), (0.316, 29.5, 0.79, 0.07), (1.0, 28.0, 0.75, 0.06)):
        sweep.append({**sweep[0], "mitigation_kind": "eodd", "lam": lam, "psnr": psnr, "auroc": auroc, "eodd": eodd,
                      "delta_eodd": eodd - 0.09, "selected": lam == 0.316})
    return mitigation, pd.DataFrame(sweep)


@pytest.fixture(scope="session")
def mitigated_run(tiny_run, tmp_path_factory):
    """A copy of the tiny run (without its cache) with mitigation tables, its report regenerated."""
    from reconfair.report import write_report

    out = tmp_path_factory.mktemp("mitigated") / "run"
    shutil.copytree(tiny_run, out, ignore=shutil.ignore_patterns(".cache"))
    mitigation, sweep = mitigation_frames()
    mitigation.to_csv(out / "metrics" / "mitigation.csv", index=False)
    sweep.to_csv(out / "metrics" / "lambda_sweep.csv", index=False)
    write_report(out)
    return out
