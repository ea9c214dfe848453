"""Point-estimate evaluation of the per-sample table (docs/statistics.md).

:func:`evaluate` turns ``samples.parquet`` (one row per sample x condition x
target) into three tables, written by ``EvaluationTables.to_csv(run_dir /
"metrics")`` as ``metrics/performance.csv``, ``metrics/groups.csv`` and
``metrics/fairness.csv``:

- **performance**: per dataset x task x target x condition, the task metric
  (``auroc`` or ``dice``) and the image-quality means (``psnr``, ``ssim``,
  ``nrmse``, over finite values only; ``n_excluded`` counts the others, e.g.
  NaN on original images or ``inf`` PSNR for identical images), plus a
  macro-mean AUROC per dataset x task x condition (``target == "macro"``,
  ``n`` = number of targets averaged, targets with undefined AUROC excluded and
  named in ``reason``), and per run the diagnostic model's score on the
  ``val`` rows of the original images (``val_auroc`` or ``val_dice``, on the
  original condition's row);
- **groups**: the by-group frame (:mod:`reconfair.metrics.groups`) for every
  attribute;
- **fairness**: every fairness scalar, with ``value_original`` (the same
  metric on the ``original`` condition), ``delta = value - value_original`` and
  ``delta_pct = 100 delta / |value_original|`` (NaN where ``value_original`` is
  0).

A "run" is one ``(dataset, task, target[, seed])``: one
diagnostic model's output for one label.  Its classification threshold is the
equal-error threshold fitted on its ``split == "val"`` rows of condition
``"original"`` and then held fixed for every condition (the deployed-model
view); metrics are computed on the rows of ``split`` (default ``"test"``).
Optional columns ``recon``, ``degradation``, ``level``, ``mitigation`` (per
condition: a mitigated reconstructor is one more way of producing images,
compared with the same original images), ``seed`` and ``replicate`` (per run:
each model replicate has its own threshold and its own rows) are carried into
every table when present.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reconfair.metrics.fairness import CLASSIFICATION_FAIRNESS, SEGMENTATION_FAIRNESS
from reconfair.metrics.groups import classification_groups, segmentation_groups
from reconfair.metrics.schema import check_samples
from reconfair.metrics.settings import EvaluationSettings
from reconfair.metrics.task import auroc
from reconfair.metrics.threshold import equal_error_threshold
from reconfair.vocabulary import ORIGINAL

__all__ = [
    "CONDITION_OPTIONAL",
    "EVALUATE_FIELDS",
    "OPTIONAL_TABLES",
    "EvaluationTables",
    "attribute_columns",
    "attribute_values",
    "describe_keys",
    "evaluate",
    "fit_thresholds",
]

RUN_OPTIONAL = ("seed", "replicate")
CONDITION_OPTIONAL = ("recon", "degradation", "level", "mitigation")
"""Optional per-condition columns, carried into every table (and every key of a condition) when present."""
EVALUATE_FIELDS = ("attributes", "min_group_size", "split", "threshold")
"""The fields of :class:`~reconfair.metrics.settings.EvaluationSettings` that the point estimates use."""
IMAGE_QUALITY = ("psnr", "ssim", "nrmse")
ATTR_PREFIX = "attr_"
INTERSECTION = "×"
PERFORMANCE_COLUMNS = ("metric", "value", "n", "n_excluded", "threshold", "reason")
COUNT_COLUMNS = ("n", "n_unlabelled", "n_pos", "n_neg", "tp", "fp", "tn", "fn")
FAIRNESS_COLUMNS = (
    "attribute", "metric", "value_original", "value", "delta", "delta_pct",
    "n_groups", "excluded", "reason",
)


OPTIONAL_TABLES = ("models", "families", "replicates_performance", "replicates_fairness")
"""Tables :func:`~reconfair.metrics.uncertainty.evaluate_with_uncertainty` adds when it has them."""


@dataclass(frozen=True)
class EvaluationTables:
    """The point-estimate tables of :func:`evaluate`, and what the uncertainty layer adds.

    ``models`` (the diagnostic models' sanity), ``families`` (the
    multiple-testing families), ``replicates_performance`` and
    ``replicates_fairness`` (per model replicate, when there are several) are
    ``None`` when not computed; ``notes`` are the warnings a run should show
    (uninformative models, unreachable corrections, a capped ``bootstrap:
    auto``) and ``n_boot`` the resamples used (0: none).
    """

    performance: pd.DataFrame
    groups: pd.DataFrame
    fairness: pd.DataFrame
    models: pd.DataFrame | None = None
    families: pd.DataFrame | None = None
    replicates_performance: pd.DataFrame | None = None
    replicates_fairness: pd.DataFrame | None = None
    notes: tuple[str, ...] = ()
    n_boot: int = 0

    def to_csv(self, directory: str | Path) -> Path:
        """Write ``performance.csv``, ``groups.csv``, ``fairness.csv`` (and the optional tables) into ``directory``.

        Pass the run's ``metrics`` folder (``run_dir / "metrics"``) to get the
        documented layout ``metrics/*.csv``; the folder is created if needed.
        Values are written at full precision.  Returns ``directory`` as a Path.
        """
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("performance", "groups", "fairness", *OPTIONAL_TABLES):
            table = getattr(self, name)
            if table is not None:
                table.to_csv(folder / f"{name}.csv", index=False)
        return folder


def attribute_columns(samples: pd.DataFrame, attributes: Sequence[str]) -> dict[str, str]:
    """Map each attribute name to its column; intersections name several joined by ``×`` or ``*``."""
    if isinstance(attributes, str):
        raise TypeError(f"attributes must be a sequence of names, e.g. [{attributes!r}], not a string")
    found = [c for c in samples.columns if str(c).startswith(ATTR_PREFIX)]
    columns: dict[str, str] = {}
    for attribute in attributes:
        parts = [p.strip().removeprefix(ATTR_PREFIX) for p in attribute.replace("*", INTERSECTION).split(INTERSECTION)]
        for name in parts:
            if ATTR_PREFIX + name not in samples.columns:
                raise ValueError(
                    f"unknown attribute {name!r} in {attribute!r}: no column {ATTR_PREFIX + name!r}; "
                    f"attribute columns found: {found}"
                )
        columns[INTERSECTION.join(parts)] = INTERSECTION.join(ATTR_PREFIX + name for name in parts)
    return columns


def attribute_values(part: pd.DataFrame, column: str) -> pd.Series:
    """Group values of one attribute column, or of an intersection joined by ``×``."""
    names = column.split(INTERSECTION)
    if len(names) == 1:
        return part[column]
    values = part[names[0]].astype(str)
    for name in names[1:]:
        values = values + INTERSECTION + part[name].astype(str)
    return values


def describe_keys(keys: dict[str, Any]) -> str:
    """``"dataset='d', task='classification'"``: how error messages name a run or condition."""
    return ", ".join(f"{k}={v!r}" for k, v in keys.items())


def fit_thresholds(
    samples: pd.DataFrame, run_keys: list[str], runs: list[tuple], condition: str = ORIGINAL
) -> dict[tuple, float]:
    """Equal-error threshold per classification run (keys ``run_keys``), from its val rows of ``condition``."""
    fit_rows = samples.loc[(samples["split"] == "val") & (samples["condition"] == condition)]
    fitted = {key: part for key, part in fit_rows.groupby(run_keys, sort=True)}
    thresholds: dict[tuple, float] = {}
    for key in runs:
        keys = dict(zip(run_keys, key))
        if keys["task"] != "classification":
            continue
        if key not in fitted:
            raise ValueError(
                f"no rows with split == 'val' and condition == {condition!r} for {describe_keys(keys)}; "
                "the decision threshold is fitted there (docs/statistics.md)"
            )
        part = fitted[key]
        try:
            thresholds[key] = equal_error_threshold(part["y_true"], part["y_score"])
        except ValueError as err:
            raise ValueError(f"val/{condition} rows of {describe_keys(keys)}: {err}") from err
    return thresholds


def _finite_mean(values: pd.Series) -> tuple[float, int, int]:
    array = values.to_numpy(dtype=np.float64)
    finite = np.isfinite(array)
    mean = float(array[finite].mean()) if finite.any() else float("nan")
    return mean, int(finite.sum()), int((~finite).sum())


def _performance_rows(part: pd.DataFrame, task: str, threshold: float) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    if task == "classification":
        labels = part["y_true"].to_numpy(dtype=np.float64)
        labelled = ~np.isnan(labels)
        value = auroc(labels, part["y_score"].to_numpy(dtype=np.float64))
        n_pos = int(np.nansum(labels))
        reason = "" if not np.isnan(value) else (
            f"only one class (n_pos={n_pos}, n_neg={int(labelled.sum()) - n_pos})"
        )
        rows.append({"metric": "auroc", "value": value, "n": int(labelled.sum()),
                     "n_excluded": int((~labelled).sum()), "threshold": threshold, "reason": reason})
    else:
        value, n, _ = _finite_mean(part["dice"])
        rows.append({"metric": "dice", "value": value, "n": n, "n_excluded": 0,
                     "threshold": float("nan"), "reason": ""})
    for column in IMAGE_QUALITY:
        if column in part.columns:
            value, n, bad = _finite_mean(part[column])
            reason = f"ignored {bad} non-finite values" if bad else ""
            rows.append({"metric": column, "value": value, "n": n, "n_excluded": bad,
                         "threshold": float("nan"), "reason": reason})
    return rows


def _validation_rows(samples: pd.DataFrame, run_keys: list[str], condition_keys: list[str],
                     run_ids: list[tuple]) -> list[dict[str, Any]]:
    """Each run's diagnostic model on its ``val`` rows of the original images: ``val_auroc`` or ``val_dice``."""
    val = samples.loc[(samples["split"] == "val") & (samples["condition"] == ORIGINAL)]
    found = {key: part for key, part in val.groupby(run_keys, sort=True)}
    rows = []
    for key in run_ids:
        part = found.get(key)
        if part is None:
            continue
        keys = dict(zip(run_keys, key))
        ident = {**keys, **{c: part[c].iloc[0] for c in condition_keys}}
        if keys["task"] == "classification":
            labels = part["y_true"].to_numpy(dtype=np.float64)
            value = auroc(labels, part["y_score"].to_numpy(dtype=np.float64))
            n_pos, n = int(np.nansum(labels)), int((~np.isnan(labels)).sum())
            reason = "" if np.isfinite(value) else f"only one class (n_pos={n_pos}, n_neg={n - n_pos})"
            rows.append({**ident, "metric": "val_auroc", "value": value, "n": n, "n_excluded": len(part) - n,
                         "threshold": float("nan"), "reason": reason})
        else:
            value, n, _ = _finite_mean(part["dice"])
            rows.append({**ident, "metric": "val_dice", "value": value, "n": n, "n_excluded": 0,
                         "threshold": float("nan"), "reason": ""})
    return rows


def _macro_rows(performance: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Mean AUROC over targets per dataset x task x condition (target 'macro')."""
    aucs = performance.loc[(performance["metric"] == "auroc") & (performance["task"] == "classification")]
    rows = []
    for key, part in aucs.groupby(keys, sort=True, dropna=False):
        defined = part["value"].notna().to_numpy()
        undefined = part.loc[~defined, "target"].astype(str).tolist()
        rows.append({
            **dict(zip(keys, key)), "target": "macro", "metric": "auroc",
            "value": float(part["value"][defined].mean()) if defined.any() else float("nan"),
            "n": int(defined.sum()), "n_excluded": int((~defined).sum()), "threshold": float("nan"),
            "reason": f"undefined AUROC for targets: {', '.join(undefined)}" if undefined else "",
        })
    return pd.DataFrame(rows, columns=[*performance.columns])


def _add_deltas(fairness: pd.DataFrame, match: list[str]) -> pd.DataFrame:
    original = fairness.loc[fairness["condition"] == ORIGINAL, [*match, "value"]]
    if original.duplicated(match).any():
        raise ValueError(
            f"condition {ORIGINAL!r} has several rows per {match} (do recon/degradation/level "
            "vary within it?); the original condition must be unique per run"
        )
    merged = fairness.merge(original.rename(columns={"value": "value_original"}), on=match, how="left")
    merged["delta"] = merged["value"] - merged["value_original"]
    base = merged["value_original"].abs().to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(base == 0, np.nan, 100.0 * merged["delta"].to_numpy(dtype=np.float64) / base)
    merged["delta_pct"] = pct
    return merged


def _evaluate_part(
    part: pd.DataFrame,
    ident: dict[str, Any],
    task: str,
    threshold: float,
    columns_of: dict[str, str],
    min_group_size: int,
) -> tuple[list[dict[str, Any]], list[pd.DataFrame], list[dict[str, Any]]]:
    """Performance rows, group frames and fairness rows of one run x condition."""
    rows = [{**ident, **row} for row in _performance_rows(part, task, threshold)]
    frames, scalars = [], []
    for attribute, column in columns_of.items():
        head = {**ident, "attribute": attribute}
        if task == "classification":
            frame = classification_groups(part["y_true"], part["y_score"], attribute_values(part, column),
                                          threshold=threshold, min_group_size=min_group_size)
            metrics = CLASSIFICATION_FAIRNESS
            head["threshold"] = threshold
        else:
            frame = segmentation_groups(part["dice"], attribute_values(part, column), min_group_size=min_group_size)
            metrics = SEGMENTATION_FAIRNESS
        frames.append(pd.concat([pd.DataFrame([head] * len(frame)), frame], axis=1))
        for name, metric in metrics.items():
            result = metric(frame)
            scalars.append({**head, "metric": name, "value": result.value, "n_groups": result.n_groups,
                            "excluded": "; ".join(result.excluded), "reason": result.reason})
    return rows, frames, scalars


def _run_threshold(
    policy: str | float,
    fixed: dict[tuple, float],
    samples: pd.DataFrame,
    run_keys: list[str],
    key: tuple,
    condition: str,
    task: str,
) -> float:
    if task != "classification":
        return float("nan")
    if policy == "fixed-validation":
        return fixed[key]
    if policy == "refit":
        run = samples
        for column, value in zip(run_keys, key):
            run = run.loc[run[column] == value]
        return fit_thresholds(run, run_keys, [key], condition=condition)[key]
    return float(policy)


def evaluate(samples: pd.DataFrame, settings: EvaluationSettings | None = None, **fields: Any) -> EvaluationTables:
    """Point estimates of task performance, image quality and fairness.

    Parameters
    ----------
    samples : pandas.DataFrame
        The per-sample table (long format, one row per sample x condition x
        target): ``sample_id, split, dataset, task, target, condition``;
        ``y_true, y_score`` for classification, ``dice`` for segmentation;
        optionally ``psnr, ssim, nrmse``, ``recon, degradation, level,
        mitigation, seed`` and ``attr_<name>`` columns.
    settings : EvaluationSettings, optional
        The evaluation's settings; this function reads the fields of
        :data:`EVALUATE_FIELDS` below (the others are the uncertainty
        layer's, :func:`~reconfair.metrics.uncertainty.evaluate_with_uncertainty`).
    **fields
        Instead of ``settings``, those fields as keywords (shorthand for
        ``evaluate(samples, EvaluationSettings(**fields))``, validated there):
    attributes : sequence of str
        Sensitive attributes to group by, as ``"sex"`` or ``"attr_sex"``;
        an intersection joins names with ``×`` or ``*`` (``"sex×age_group"``),
        its groups are the joined values (``"F×<58"``).
    min_group_size : int, default 10
        The class members a rate needs: a group enters TPR with at least this
        many positives, FPR with at least this many negatives, the selection
        rate and mean Dice with at least this many samples; exclusions are
        recorded in ``groups`` and in ``fairness.excluded``.
    split : str, default "test"
        Rows the metrics are computed on.
    threshold : {"fixed-validation", "refit"} or float, default "fixed-validation"
        ``"fixed-validation"``: the equal-error threshold fitted on ``"val"``
        rows of condition ``"original"``, held fixed for every condition (the
        deployed-model view).  ``"refit"``: fitted on each condition's own
        ``"val"`` rows.  A number: that threshold everywhere.

    Returns
    -------
    EvaluationTables
        ``performance``, ``groups`` and ``fairness`` frames (see module docs).

    Raises
    ------
    ValueError
        A bad setting (naming the field), a required column is missing, an
        attribute is unknown, a run has no val/original rows to fit its
        threshold (or they lack a class), or no ``split`` rows of condition
        ``"original"`` to compare against.
    TypeError
        Both ``settings`` and keywords, or a keyword outside :data:`EVALUATE_FIELDS`.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = [("val", "original", 0, .2), ("val", "original", 1, .7),
    ...         ("test", "original", 0, .3), ("test", "original", 1, .8),
    ...         ("test", "noisy", 0, .75), ("test", "noisy", 1, .9)]
    >>> table = pd.DataFrame(rows, columns=["split", "condition", "y_true", "y_score"]).assign(
    ...     sample_id=["va", "vb", "a", "b", "a", "b"], dataset="toy", task="classification",
    ...     target="nodule", attr_sex=["F", "M"] * 3)
    >>> tables = evaluate(table, attributes=["sex"], min_group_size=1)
    >>> tables.performance.query("target == 'nodule'")[["condition", "metric", "value", "threshold"]].to_dict("list")
    {'condition': ['noisy', 'original', 'original'], 'metric': ['auroc', 'auroc', 'val_auroc'], 'value': [1.0, 1.0, 1.0], 'threshold': [0.7, 0.7, nan]}
    >>> tables.fairness.query("metric == 'dp'")[["condition", "value", "delta"]].to_dict("list")
    {'condition': ['noisy', 'original'], 'value': [0.0, 1.0], 'delta': [-1.0, 0.0]}
    """
    settings = _settings(settings, fields)
    check_samples(samples)
    policy, split, min_group_size = settings.threshold, settings.split, settings.min_group_size
    columns_of = attribute_columns(samples, settings.attributes)
    run_keys = ["dataset", "task", "target", *(c for c in RUN_OPTIONAL if c in samples.columns)]
    condition_keys = ["condition", *(c for c in CONDITION_OPTIONAL if c in samples.columns)]
    for column in [*run_keys, "condition", "split"]:
        if samples[column].isna().any():
            raise ValueError(f"column {column!r} has {int(samples[column].isna().sum())} missing values")
    data = samples.loc[samples["split"] == split]
    if data.empty:
        raise ValueError(
            f"no rows with split == {split!r}; splits present: {sorted(map(str, samples['split'].unique()))}"
        )
    runs = list(data.groupby(run_keys, sort=True))
    run_ids = [key for key, _ in runs]
    thresholds = fit_thresholds(samples, run_keys, run_ids) if policy == "fixed-validation" else {}
    performance, groups, fairness = [], [], []
    for key, run in runs:
        keys = dict(zip(run_keys, key))
        if not (run["condition"] == ORIGINAL).any():
            raise ValueError(
                f"no rows with split == {split!r} and condition == {ORIGINAL!r} for "
                f"{describe_keys(keys)}; every condition is compared with the original images"
            )
        task = keys["task"]
        for condition, part in run.groupby(condition_keys, sort=True, dropna=False):
            ident = {**keys, **dict(zip(condition_keys, condition))}
            cut = _run_threshold(policy, thresholds, samples, run_keys, key, ident["condition"], task)
            try:
                rows, frames, scalars = _evaluate_part(part, ident, task, cut, columns_of,
                                                       min_group_size)
            except ValueError as err:
                raise ValueError(f"{describe_keys(ident)}: {err}") from err
            performance.extend(rows)
            groups.extend(frames)
            fairness.extend(scalars)
    performance.extend(_validation_rows(samples, run_keys, condition_keys, run_ids))
    ident_columns = [*run_keys, *condition_keys]
    perf = pd.DataFrame(performance, columns=[*ident_columns, *PERFORMANCE_COLUMNS])
    macro_keys = [k for k in ident_columns if k != "target"]
    macro = _macro_rows(perf, macro_keys)
    if not macro.empty:
        perf = pd.concat([perf, macro], ignore_index=True)
    perf = perf.sort_values([*macro_keys, "target", "metric"], kind="stable", ignore_index=True)
    group_frame = pd.concat(groups, ignore_index=True) if groups else pd.DataFrame(
        columns=[*ident_columns, "attribute", "group", "n"])
    counts = [c for c in COUNT_COLUMNS if c in group_frame.columns]
    group_frame[counts] = group_frame[counts].astype("Int64")  # counts stay integers (<NA> off-task)
    fair = pd.DataFrame(fairness, columns=[*ident_columns, "attribute", "metric", "value",
                                           "n_groups", "excluded", "reason", "threshold"])
    fair = _add_deltas(fair.drop(columns="threshold"), [*run_keys, "attribute", "metric"])
    fair = fair[[*ident_columns, *FAIRNESS_COLUMNS]]
    return EvaluationTables(performance=perf, groups=group_frame, fairness=fair)


def _settings(settings: EvaluationSettings | None, fields: dict[str, Any]) -> EvaluationSettings:
    """``settings``, or the settings the keywords of :func:`evaluate` describe."""
    unknown = sorted(set(fields) - set(EVALUATE_FIELDS))
    if unknown:
        raise TypeError(f"evaluate() got unexpected keyword(s) {unknown}; it takes an EvaluationSettings or the "
                        f"keywords {list(EVALUATE_FIELDS)}")
    if settings is None:
        return EvaluationSettings(**fields)
    if fields:
        raise TypeError("evaluate() takes an EvaluationSettings or keywords, not both")
    if not isinstance(settings, EvaluationSettings):
        raise TypeError(f"settings must be an EvaluationSettings, got {type(settings).__name__}")
    return settings
