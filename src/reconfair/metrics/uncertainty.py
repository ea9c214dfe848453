"""Bootstrap uncertainty of every reconstructed-minus-original delta (DESIGN section 6).

:func:`bootstrap_deltas` runs :func:`reconfair.metrics.bootstrap.paired_bootstrap`
on the per-sample table: for every classification run ``(dataset, task[,
seed])`` and every condition other than ``"original"``, the
paired patient bootstrap of ``metric(condition) - metric(original)`` for the
AUROC of each target and each fairness metric of each target x attribute; for
every segmentation run, likewise for mean Dice, ``delta_dice`` and ``ser``.
The decision threshold follows :func:`reconfair.metrics.evaluate.evaluate`'s
threshold policy (fixed-validation, refit or a number; with refit the
original and the reconstructed condition each use their own threshold), so
the deltas equal the point estimates.  P-values are adjusted (Holm or Benjamini-Hochberg) across
the whole family of tests in the returned table.

:func:`attach_uncertainty` merges ``se, ci_low, ci_high, p_value, p_adjusted,
n_boot_valid`` into the fairness table and into the AUROC and mean-Dice rows
of the performance table of :class:`~reconfair.metrics.evaluate.EvaluationTables`.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> y = rng.integers(0, 2, 120).astype(float)
>>> clean = 0.5 * y + 0.5 * rng.random(120)
>>> rows = []
>>> for condition, score in (("original", clean), ("noisy", 0.5 * clean + 0.5 * rng.random(120))):
...     rows.append(pd.DataFrame({"sample_id": np.arange(120), "y_true": y, "y_score": score,
...                               "condition": condition, "attr_sex": np.tile(["F", "M"], 60),
...                               "split": np.where(np.arange(120) < 40, "val", "test")}))
>>> samples = pd.concat(rows).assign(dataset="toy", task="classification", target="nodule")
>>> boot = bootstrap_deltas(samples, attributes=["sex"], n_boot=50)
>>> boot[["condition", "attribute", "metric", "n_boot_valid"]].values.tolist()[:2]
[['noisy', '', 'auroc', 50], ['noisy', 'sex', 'eodd', 50]]
>>> bool((boot["p_adjusted"] >= boot["p_value"]).all())
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from reconfair.metrics.bootstrap import RESULT_COLUMNS, paired_bootstrap
from reconfair.metrics.bootstrap_segmentation import paired_dice_bootstrap
from reconfair.metrics.evaluate import (
    CONDITION_OPTIONAL,
    ORIGINAL,
    RUN_OPTIONAL,
    EvaluationTables,
    _attribute_columns,
    _attribute_values,
    _check_schema,
    _check_threshold_policy,
    _describe,
    _fit_thresholds,
)
from reconfair.metrics.multiple_testing import adjust_p_values

__all__ = ["bootstrap_deltas", "attach_uncertainty", "UNCERTAINTY_COLUMNS", "ADJUST_METHODS"]

UNCERTAINTY_COLUMNS = ("se", "ci_low", "ci_high", "p_value", "p_adjusted", "n_boot_valid")
"""Columns :func:`attach_uncertainty` adds to the fairness and performance tables."""
ADJUST_METHODS = ("holm", "bh")
PATIENT_COLUMN = "patient_id"
UNMITIGATED = "unmitigated"
CONTROL = "control"
AGAINST = (ORIGINAL, UNMITIGATED, CONTROL)
NO_MITIGATION = "none"
CONTROL_MITIGATION = "finetune"
"""The mitigation label of the control: the same fine-tuning with no mitigation."""


def _wide(part: pd.DataFrame, targets: list[Any]) -> pd.DataFrame:
    return part.pivot(index="sample_id", columns="target", values=["y_true", "y_score"]).reindex(
        columns=pd.MultiIndex.from_product([["y_true", "y_score"], targets]))


def _per_sample(original: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """One row per sample_id of the per-sample columns (patient, attributes); must not vary by target."""
    table = original[["sample_id", *columns]].drop_duplicates()
    if table["sample_id"].duplicated().any():
        culprit = table.loc[table["sample_id"].duplicated(), "sample_id"].iloc[0]
        raise ValueError(f"sample_id {culprit!r} has different values of {columns} across its rows; "
                         "patient and attribute columns must be constant per sample")
    return table.set_index("sample_id")


def _patients_and_groups(
    original: pd.DataFrame, common: pd.Index, attribute_columns: dict[str, str], patient: str
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Resampling unit and group values (intersections joined) of the paired samples ``common``."""
    columns = list(dict.fromkeys(c for col in attribute_columns.values() for c in col.split("×")))
    meta = _per_sample(original, [*([patient] if patient != "sample_id" else []), *columns]).loc[common]
    patients = meta[patient].to_numpy() if patient != "sample_id" else common.to_numpy()
    groups = {a: _attribute_values(meta, column).to_numpy() for a, column in attribute_columns.items()}
    return patients, groups


def _bootstrap_condition(original: pd.DataFrame, part: pd.DataFrame, thresholds: tuple[np.ndarray, np.ndarray],
                         targets: list[Any],
                         attribute_columns: dict[str, str], patient: str, options: dict[str, Any]
                         ) -> tuple[pd.DataFrame, int, int]:
    """The paired bootstrap of one condition against the original rows of its run."""
    left, right = _wide(original, targets), _wide(part, targets)
    common = left.index.intersection(right.index).sort_values()
    dropped = len(left.index.union(right.index)) - len(common)
    left, right = left.loc[common], right.loc[common]
    y_left, y_right = left["y_true"].to_numpy(np.float64), right["y_true"].to_numpy(np.float64)
    differ = ~np.isnan(y_left) & ~np.isnan(y_right) & (y_left != y_right)
    if differ.any():
        row, col = np.argwhere(differ)[0]
        raise ValueError(f"sample_id {common[row]!r}, target {targets[col]!r}: y_true differs between the "
                         f"original ({y_left[row, col]}) and this condition ({y_right[row, col]})")
    # a (sample, target) pair missing on either side is left out (label NaN)
    labels = np.where(np.isnan(y_right), np.nan, y_left)
    patients, groups = _patients_and_groups(original, common, attribute_columns, patient)
    table = paired_bootstrap(labels, left["y_score"].to_numpy(np.float64), right["y_score"].to_numpy(np.float64),
                             patients, groups=groups, threshold=thresholds[0], threshold_recon=thresholds[1],
                             targets=[str(t) for t in targets], **options)
    return table, len(common), dropped


def _bootstrap_segmentation(original: pd.DataFrame, part: pd.DataFrame, target: Any,
                            attribute_columns: dict[str, str], patient: str, options: dict[str, Any]
                            ) -> tuple[pd.DataFrame, int, int]:
    """The paired bootstrap of mean Dice, delta_dice and SER of one condition against the original."""
    left, right = original.set_index("sample_id")["dice"], part.set_index("sample_id")["dice"]
    for side, name in ((left, "original"), (right, "this condition")):
        if side.index.duplicated().any():
            raise ValueError(f"sample_id {side.index[side.index.duplicated()][0]!r} has several "
                             f"segmentation rows in {name} for target {target!r}")
    common = left.index.intersection(right.index).sort_values()
    dropped = len(left.index.union(right.index)) - len(common)
    patients, groups = _patients_and_groups(original, common, attribute_columns, patient)
    table = paired_dice_bootstrap(left.loc[common].to_numpy(np.float64), right.loc[common].to_numpy(np.float64),
                                  patients, groups=groups, target=str(target), **options)
    return table.assign(target=target), len(common), dropped


def bootstrap_deltas(
    samples: pd.DataFrame,
    *,
    attributes: Sequence[str],
    min_group_size: int = 10,
    split: str = "test",
    threshold: str | float = "fixed-validation",
    n_boot: int = 1000,
    seed: int = 0,
    adjust: str = "holm",
    group_auroc: bool = False,
    against: str = ORIGINAL,
) -> pd.DataFrame:
    """Paired patient bootstrap of every performance and fairness delta (classification and segmentation).

    Classification: AUROC per target and the fairness metrics per target x
    attribute.  Segmentation (``task == "segmentation"``, column ``dice``):
    mean Dice (metric ``"dice"``) per target, and ``delta_dice`` and ``ser``
    per target x attribute, from weighted group means of Dice per resample
    (see :mod:`reconfair.metrics.bootstrap_segmentation`).

    Parameters
    ----------
    samples : pandas.DataFrame
        The per-sample table of :func:`~reconfair.metrics.evaluate.evaluate`;
        the resampling unit is ``patient_id`` when present, else ``sample_id``.
        Each condition is paired with the original rows of its run by
        ``sample_id`` (and target); unpaired samples are left out and counted.
    attributes, min_group_size, split
        As in :func:`~reconfair.metrics.evaluate.evaluate`.
    threshold : {"fixed-validation", "refit"} or float, default "fixed-validation"
        The decision threshold policy of evaluate; thresholds are fitted once
        on the full val rows and held fixed across resamples.
    n_boot : int, default 1000
        Resamples per condition.
    seed : int, default 0
        Bootstrap seed (the same draw for every condition of a run).
    adjust : {"holm", "bh"}, default "holm"
        Multiple-testing correction over every test in the returned table.
    group_auroc : bool, default False
        Also bootstrap ``auroc_gap`` and ``worst_group_auroc``.
    against : {"original", "unmitigated", "control"}, default "original"
        The reference of each delta: the original images, or (for the
        mitigated conditions only, ``mitigation != "none"``) the same
        reconstructor without mitigation, i.e. the condition named like it
        up to ``+<mitigation>``, or (``"control"``, for the mitigations other
        than the control) that reconstructor's ``+finetune`` control, when
        the run has it.  ``estimate_original`` is then the reference's
        value, and the adjustment runs over this family alone.

    Returns
    -------
    pandas.DataFrame
        One row per run x condition x target x (attribute, metric) (attribute
        ``""`` for AUROC): the run and condition columns, ``target, attribute,
        metric``, the bootstrap summary (``estimate_original, estimate, delta,
        se, ci_low, ci_high, p_value, n_boot_valid``), ``p_adjusted``,
        ``n_paired`` (samples paired) and ``reason`` (dropped samples).

    Raises
    ------
    ValueError
        An unknown ``adjust``, a schema or attribute
        error (as in evaluate), a run without original rows, or labels that
        differ between the original and a condition.
    """
    _check_schema(samples)
    policy = _check_threshold_policy(threshold)
    if against not in AGAINST:
        raise ValueError(f"against must be one of {AGAINST}, got {against!r}")
    if against in (UNMITIGATED, CONTROL) and "mitigation" not in samples.columns:
        raise ValueError(f"against={against!r} needs a 'mitigation' column in the per-sample table")
    if adjust not in ADJUST_METHODS:
        raise ValueError(f"adjust must be one of {ADJUST_METHODS}, got {adjust!r}")
    attribute_columns = _attribute_columns(samples, attributes)
    optional = [c for c in RUN_OPTIONAL if c in samples.columns]
    run_keys = ["dataset", "task", *optional]
    target_keys = ["dataset", "task", "target", *optional]
    condition_keys = ["condition", *(c for c in CONDITION_OPTIONAL if c in samples.columns)]
    patient = PATIENT_COLUMN if PATIENT_COLUMN in samples.columns else "sample_id"
    head = [*run_keys, *condition_keys, "target", "attribute", "metric"]
    columns = [*head, *RESULT_COLUMNS, "p_adjusted", "n_paired", "reason"]
    classification = samples.loc[samples["task"] == "classification"]
    data = classification.loc[classification["split"] == split]
    segmentation = samples.loc[(samples["task"] == "segmentation") & (samples["split"] == split)]
    for column in [*target_keys, "condition"]:
        for frame in (data, segmentation):
            if frame[column].isna().any():
                raise ValueError(f"column {column!r} has {int(frame[column].isna().sum())} missing values")

    def cuts(keys: dict[str, Any], targets: list[Any], condition: str) -> np.ndarray:
        """Threshold per target of one run and condition, by the policy of evaluate."""
        if not isinstance(policy, str):
            return np.full(len(targets), policy)
        fitted = _fit_thresholds(classification, target_keys, [
            tuple(keys[k] if k != "target" else t for k in target_keys) for t in targets], condition=condition)
        return np.array(list(fitted.values()))
    options = {"n_boot": n_boot, "seed": seed, "min_group_size": min_group_size, "group_auroc": group_auroc}
    frames = []
    for key, run in data.groupby(run_keys, sort=True):
        keys = dict(zip(run_keys, key))
        original = run.loc[run["condition"] == ORIGINAL]
        if original.empty:
            raise ValueError(f"no rows with split == {split!r} and condition == {ORIGINAL!r} for "
                             f"{_describe(keys)}; every condition is compared with the original images")
        targets = sorted(run["target"].unique())
        original_cuts = cuts(keys, targets, ORIGINAL)
        for condition, part in run.groupby(condition_keys, sort=True, dropna=False):
            ident = {**keys, **dict(zip(condition_keys, condition if isinstance(condition, tuple) else (condition,)))}
            reference = _reference(ident, against, present=set(run["condition"]))
            if reference is None:
                continue
            try:
                base, base_cuts = original, original_cuts
                if reference != ORIGINAL:
                    base = _reference_rows(run, reference)
                    base_cuts = cuts(keys, targets, reference) if policy == "refit" else original_cuts
                recon_cuts = cuts(keys, targets, ident["condition"]) if policy == "refit" else original_cuts
                table, n_paired, dropped = _bootstrap_condition(base, part, (base_cuts, recon_cuts),
                                                                targets, attribute_columns, patient, options)
            except ValueError as err:
                raise ValueError(f"{_describe(ident)}: {err}") from err
            table["target"] = table["target"].map(dict(zip(map(str, targets), targets)))
            frames.append(table.assign(**ident, n_paired=n_paired,
                                       reason=f"dropped {dropped} unpaired samples" if dropped else ""))
    seg_options = {"n_boot": n_boot, "seed": seed, "min_group_size": min_group_size}
    for key, run in segmentation.groupby(target_keys, sort=True):
        keys = dict(zip(target_keys, key))
        original = run.loc[run["condition"] == ORIGINAL]
        if original.empty:
            raise ValueError(f"no rows with split == {split!r} and condition == {ORIGINAL!r} for "
                             f"{_describe(keys)}; every condition is compared with the original images")
        for condition, part in run.groupby(condition_keys, sort=True, dropna=False):
            ident = {**keys, **dict(zip(condition_keys, condition if isinstance(condition, tuple) else (condition,)))}
            reference = _reference(ident, against, present=set(run["condition"]))
            if reference is None:
                continue
            try:
                base = original if reference == ORIGINAL else _reference_rows(run, reference)
                table, n_paired, dropped = _bootstrap_segmentation(base, part, keys["target"],
                                                                   attribute_columns, patient, seg_options)
            except ValueError as err:
                raise ValueError(f"{_describe(ident)}: {err}") from err
            frames.append(table.assign(**ident, n_paired=n_paired,
                                       reason=f"dropped {dropped} unpaired samples" if dropped else ""))
    if not frames:
        return pd.DataFrame(columns=columns)
    out = pd.concat(frames, ignore_index=True)
    out["p_adjusted"] = adjust_p_values(out["p_value"].to_numpy(np.float64), method=adjust)
    return out[columns]


def _reference(ident: dict[str, Any], against: str, *, present: set[str]) -> str | None:
    """The condition ``ident`` is compared with, or ``None`` when it is not tested (or its control is not run)."""
    if against == ORIGINAL:
        return None if ident["condition"] == ORIGINAL else ORIGINAL
    mitigation = ident.get("mitigation", NO_MITIGATION)
    if mitigation == NO_MITIGATION or (against == CONTROL and mitigation == CONTROL_MITIGATION):
        return None
    base = str(ident["condition"]).rsplit("+", 1)[0]
    if against == UNMITIGATED:
        return base
    control = f"{base}+{CONTROL_MITIGATION}"
    return control if control in present else None


def _reference_rows(run: pd.DataFrame, reference: str) -> pd.DataFrame:
    rows = run.loc[run["condition"] == reference]
    if rows.empty:
        raise ValueError(f"no rows of the unmitigated condition {reference!r} to compare the mitigated one with")
    return rows


def attach_uncertainty(tables: EvaluationTables, boot: pd.DataFrame) -> EvaluationTables:
    """Add ``se, ci_low, ci_high, p_value, p_adjusted, n_boot_valid`` to fairness and AUROC/Dice rows.

    Rows are matched on the run and condition columns, ``target``,
    ``attribute`` and ``metric``; rows without a bootstrap (the original
    condition, metrics not bootstrapped such as image quality) get NaN.
    Segmentation rows get the ``dice`` (performance), ``delta_dice`` and
    ``ser`` (fairness) bootstraps.

    >>> empty = pd.DataFrame(columns=["dataset", "task", "target", "condition", "attribute", "metric"])
    >>> tables = EvaluationTables(empty.drop(columns="attribute"), empty, empty)
    >>> boot = empty.reindex(columns=[*empty.columns, *UNCERTAINTY_COLUMNS])
    >>> list(attach_uncertainty(tables, boot).fairness.columns)[-6:]
    ['se', 'ci_low', 'ci_high', 'p_value', 'p_adjusted', 'n_boot_valid']
    """
    missing = [c for c in ("target", "attribute", "metric", *UNCERTAINTY_COLUMNS) if c not in boot.columns]
    if missing:
        raise ValueError(f"boot lacks column(s) {missing}; pass the output of bootstrap_deltas")
    frames = {}
    for name in ("fairness", "performance"):
        table = getattr(tables, name).drop(columns=[c for c in UNCERTAINTY_COLUMNS
                                                    if c in getattr(tables, name).columns])
        keys = [c for c in boot.columns if c in table.columns and c not in UNCERTAINTY_COLUMNS
                and c not in ("estimate_original", "estimate", "delta", "reason")]
        part = boot if name == "fairness" else boot.loc[boot["attribute"] == ""].drop(columns="attribute")
        if name == "performance":
            keys = [k for k in keys if k != "attribute"]
        extra = part[[*keys, *UNCERTAINTY_COLUMNS]]
        if extra.empty:
            frames[name] = table.assign(**{c: np.nan for c in UNCERTAINTY_COLUMNS})
            frames[name]["n_boot_valid"] = frames[name]["n_boot_valid"].astype("Int64")
            continue
        if extra.duplicated(keys).any():
            raise ValueError(f"boot has several rows per {keys}; pass one bootstrap_deltas table")
        merged = table.merge(extra, on=keys, how="left", validate="many_to_one")
        merged["n_boot_valid"] = merged["n_boot_valid"].astype("Int64")
        frames[name] = merged
    return EvaluationTables(performance=frames["performance"], groups=tables.groups, fairness=frames["fairness"])


def evaluate_with_uncertainty(
    samples: pd.DataFrame,
    *,
    attributes: Sequence[str],
    min_group_size: int = 10,
    split: str = "test",
    threshold: str | float = "fixed-validation",
    patient_level: bool = False,
    n_boot: int = 1000,
    seed: int = 0,
    adjust: str = "holm",
    group_auroc: bool = False,
) -> EvaluationTables:
    """The metric tables of a per-sample table, with bootstrap uncertainty when ``n_boot > 0``.

    The one path from ``samples.parquet`` to ``metrics/`` (``reconfair run``
    and ``reconfair evaluate``): optional patient-level aggregation, then
    :func:`~reconfair.metrics.evaluate.evaluate`, :func:`bootstrap_deltas` and
    :func:`attach_uncertainty` with the same settings.
    """
    from reconfair.metrics.aggregate import aggregate_patients
    from reconfair.metrics.evaluate import evaluate

    rows = aggregate_patients(samples) if patient_level else samples
    settings = {"attributes": attributes, "min_group_size": min_group_size, "split": split, "threshold": threshold}
    tables = evaluate(rows, **settings)
    if n_boot <= 0:
        return tables
    boot = bootstrap_deltas(rows, **settings, n_boot=n_boot, seed=seed, adjust=adjust, group_auroc=group_auroc)
    return attach_uncertainty(tables, boot)
