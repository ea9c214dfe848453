"""What a mitigation did: paired bootstrap against the unmitigated model, and the lambda trade-off.

:func:`mitigation_effects` compares every mitigated condition
(``mitigation != "none"``, e.g. ``radiograph-lowdose@3000/unet+eodd:1``)
with the same reconstructor unmitigated (``radiograph-lowdose@3000/unet``) on
the same patients: the paired patient bootstrap of ``metric(mitigated) -
metric(unmitigated)`` for AUROC and every fairness metric (Dice, the Dice gap
and SER for segmentation), with the evaluation's threshold policy and tests,
adjusted within this table's families.  :func:`lambda_sweep` lays out PSNR, macro AUROC and
EODD per lambda beside the unmitigated reference.

Examples
--------
>>> import pandas as pd
>>> perf = pd.DataFrame({"dataset": "d", "task": "classification", "condition": ["c@1/unet", "c@1/unet+eodd:1"] * 2,
...     "recon": "unet", "degradation": "c", "level": 1.0, "mitigation": ["none", "eodd:1"] * 2,
...     "target": ["macro", "macro", "x", "x"], "metric": ["auroc", "auroc", "psnr", "psnr"],
...     "value": [0.9, 0.88, 30.0, 29.0]})
>>> fair = pd.DataFrame({"dataset": "d", "task": "classification", "condition": ["c@1/unet", "c@1/unet+eodd:1"],
...     "recon": "unet", "degradation": "c", "level": 1.0, "mitigation": ["none", "eodd:1"], "target": "x",
...     "attribute": "sex", "metric": "eodd", "value": [0.2, 0.1], "delta": [0.05, -0.05]})
>>> sweep = lambda_sweep(perf, fair, selected={"c@1/unet+eodd:1"})
>>> sweep[["mitigation_kind", "lam", "psnr", "auroc", "eodd", "delta_eodd", "selected"]].values.tolist()
[['none', nan, 30.0, 0.9, 0.2, 0.05, False], ['eodd', 1.0, 29.0, 0.88, 0.1, -0.05, True]]
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd

from reconfair.metrics.settings import EvaluationSettings
from reconfair.metrics.uncertainty import CONTROL, UNMITIGATED, resolve_bootstrap
from reconfair.vocabulary import MITIGATION_METHODS, NONE, parse_mitigation

__all__ = ["EFFECT_COLUMNS", "SWEEP_COLUMNS", "lambda_sweep", "mitigation_effects"]

EFFECT_COLUMNS = (
    "dataset", "task", "target", "condition", "degradation", "level", "recon", "mitigation", "attribute", "metric",
    "value_unmitigated", "value_mitigated", "delta", "se", "ci_low", "ci_high", "p_value", "p_adjusted",
    "n_boot_valid", "n_boot", "test", "p_floor", "uncertainty_reason", "family", "family_size", "significant",
    "mdc", "mdc_family", "gap", "gap_change", "gap_ci_low", "gap_ci_high", "n_paired", "n_replicates",
)
SWEEP_COLUMNS = (
    "dataset", "degradation", "level", "recon", "condition", "mitigation_kind", "lam", "psnr", "auroc",
    "attribute", "eodd", "delta_eodd", "selected",
)


def mitigation_effects(samples: pd.DataFrame, settings: EvaluationSettings, *, against: str = UNMITIGATED
                       ) -> pd.DataFrame:
    """One row per mitigated condition x target x (attribute, metric): mitigated minus unmitigated.

    ``target == "macro"`` rows are not produced (AUROC is per target); the
    unmitigated and mitigated point estimates are ``value_unmitigated`` and
    ``value_mitigated``.  Empty (with the columns) when nothing is mitigated
    or ``settings.bootstrap`` is 0.  ``against="control"``: each mitigation
    minus the same reconstructor's ``finetune`` control (the same extra
    training without mitigation); ``value_unmitigated`` then holds the
    control's value.  The families of ``settings.family`` hold this table's
    tests alone.
    """
    from reconfair.metrics.aggregate import aggregate_patients

    if ("mitigation" not in samples.columns or (samples["mitigation"] == NONE).all()
            or settings.bootstrap == 0):
        return pd.DataFrame(columns=list(EFFECT_COLUMNS))
    if against not in (UNMITIGATED, CONTROL):
        raise ValueError(f"against must be {UNMITIGATED!r} or {CONTROL!r}, got {against!r}")
    rows = aggregate_patients(samples) if settings.patient_level else samples
    boot, _, _ = resolve_bootstrap(rows, settings, against=against)
    boot = boot.rename(columns={"estimate_original": "value_unmitigated", "estimate": "value_mitigated"})
    boot["attribute"] = boot["attribute"].replace("", np.nan)
    return boot.reindex(columns=list(EFFECT_COLUMNS))


def lambda_sweep(performance: pd.DataFrame, fairness: pd.DataFrame, *, selected: Collection[str]) -> pd.DataFrame:
    """PSNR, macro AUROC and per-attribute EODD (mean over targets) of each mitigated model and its reference.

    Classification only.  ``selected`` names the conditions chosen as best of
    their sweep (on the hold-out; see :func:`reconfair.engine.mitigation.select_lambdas`).
    """

    if "mitigation" not in performance.columns:
        return pd.DataFrame(columns=list(SWEEP_COLUMNS))
    keys = ["dataset", "degradation", "level", "recon"]
    perf = performance.loc[performance["task"] == "classification"]
    mitigated = perf.loc[perf["mitigation"] != NONE, keys].drop_duplicates()
    if mitigated.empty:
        return pd.DataFrame(columns=list(SWEEP_COLUMNS))
    perf = perf.merge(mitigated, on=keys)
    psnr = perf.loc[perf["metric"] == "psnr"].groupby("condition")["value"].mean()
    auroc = perf.loc[(perf["metric"] == "auroc") & (perf["target"] == "macro")].set_index("condition")["value"]
    fair = fairness.loc[(fairness["task"] == "classification") & (fairness["metric"] == "eodd")].merge(mitigated, on=keys)
    eodd = fair.groupby([*keys, "condition", "mitigation", "attribute"], sort=False)[["value", "delta"]].mean()
    out = eodd.reset_index().rename(columns={"value": "eodd", "delta": "delta_eodd"})
    parsed = out["mitigation"].map(parse_mitigation)
    out["mitigation_kind"] = parsed.map(lambda p: p[0])
    out["lam"] = parsed.map(lambda p: p[1])
    out["psnr"] = out["condition"].map(psnr)
    out["auroc"] = out["condition"].map(auroc)
    out["selected"] = out["condition"].isin(set(selected))
    order = out["mitigation_kind"].map({method: i for i, method in enumerate(MITIGATION_METHODS)})
    out = out.assign(_order=order).sort_values([*keys, "attribute", "_order", "lam"], kind="stable")
    return out[list(SWEEP_COLUMNS)].reset_index(drop=True)
