"""Bootstrap uncertainty of every reconstructed-minus-original delta, and the verdicts.

:func:`bootstrap_deltas` runs the paired patient bootstrap
(:mod:`reconfair.metrics.bootstrap`, :mod:`reconfair.metrics.bootstrap_segmentation`)
on the per-sample table: for every classification run ``(dataset, task[,
seed])`` and every condition other than ``"original"``, the change of the
AUROC of each target and of each fairness metric of each target x attribute;
for every segmentation run, of mean Dice, ``delta_dice`` and ``ser``.  Each
change gets its SE, percentile CI and a test with its nominal size
(:mod:`reconfair.metrics.hypothesis`); p-values are adjusted within the
families of ``settings.family`` (:mod:`reconfair.metrics.families`), which
also gives ``significant`` and the minimum detectable changes.  With model
replicates (a ``replicate`` column), each replicate is bootstrapped on the
same patient draws and the replicates are pooled by the two-way bootstrap of
:func:`reconfair.metrics.replicates.pool_replicates`.  The decision threshold
follows the threshold policy of :func:`reconfair.metrics.evaluate.evaluate`
(per replicate), so the deltas equal the point estimates.

:func:`attach_uncertainty` merges those columns into the fairness table and
into the AUROC and mean-Dice rows of the performance table;
:func:`evaluate_with_uncertainty` is the one path from a per-sample table to
``metrics/`` (``reconfair run`` and ``reconfair evaluate``), including
``bootstrap: auto``, the model sanity check and the per-replicate tables.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from reconfair.metrics.settings import EvaluationSettings
>>> rng = np.random.default_rng(0)
>>> y = rng.integers(0, 2, 120).astype(float)
>>> clean = 0.5 * y + 0.5 * rng.random(120)
>>> rows = []
>>> for condition, score in (("original", clean), ("noisy", 0.5 * clean + 0.5 * rng.random(120))):
...     rows.append(pd.DataFrame({"sample_id": np.arange(120), "y_true": y, "y_score": score,
...                               "condition": condition, "attr_sex": np.tile(["F", "M"], 60),
...                               "split": np.where(np.arange(120) < 40, "val", "test")}))
>>> samples = pd.concat(rows).assign(dataset="toy", task="classification", target="nodule")
>>> boot = bootstrap_deltas(samples, EvaluationSettings(attributes=("sex",), bootstrap=50, min_group_size=5))
>>> boot[["condition", "attribute", "metric", "test", "n_boot_valid"]].values.tolist()[:2]
[['noisy', '', 'auroc', 'percentile', 50], ['noisy', 'sex', 'eodd', 'wald-gaps', 50]]
>>> bool((boot["p_adjusted"] >= boot["p_value"]).all()), bool((boot["p_value"] > 0).all())
(True, True)
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from reconfair.metrics.bootstrap import GROUP_AUROC_METRICS, PairedReplicates, paired_replicates
from reconfair.metrics.bootstrap_segmentation import paired_dice_replicates
from reconfair.metrics.evaluate import (
    CONDITION_OPTIONAL,
    EvaluationTables,
    attribute_columns,
    attribute_values,
    describe_keys,
    evaluate,
    fit_thresholds,
)
from reconfair.metrics.families import (
    adjust_families,
    families_table,
    family_notes,
    needed_resamples,
)
from reconfair.metrics.hypothesis import RESULT_COLUMNS
from reconfair.metrics.replicates import REPLICATE, combine_replicates, pool_replicates
from reconfair.metrics.schema import check_samples
from reconfair.metrics.sanity import model_sanity, sanity_notes
from reconfair.metrics.settings import AUTO, EvaluationSettings
from reconfair.vocabulary import CONTROL as CONTROL_MITIGATION
from reconfair.vocabulary import NONE, ORIGINAL, parse_condition

__all__ = ["AGAINST", "CONTROL", "CONTROL_MITIGATION", "UNCERTAINTY_COLUMNS", "UNMITIGATED", "attach_uncertainty",
           "bootstrap_deltas", "evaluate_with_uncertainty", "resolve_bootstrap"]

UNCERTAINTY_COLUMNS = ("se", "ci_low", "ci_high", "p_value", "p_adjusted", "n_boot_valid", "n_boot", "test",
                       "p_floor", "uncertainty_reason", "family", "family_size", "significant", "mdc", "mdc_family",
                       "gap", "gap_change", "gap_ci_low", "gap_ci_high")
"""Columns :func:`attach_uncertainty` adds to the fairness and performance tables."""
PATIENT_COLUMN = "patient_id"
RUN_KEYS = ("dataset", "task", "seed")
"""A classification run: one diagnostic model's output (per replicate); ``seed`` when the table has it."""
UNMITIGATED = "unmitigated"
"""``against="unmitigated"``: each mitigated condition minus the same reconstructor without mitigation."""
CONTROL = "control"
"""``against="control"``: each mitigation minus the same reconstructor's control fine-tuning
(:data:`reconfair.vocabulary.CONTROL`, re-exported here as ``CONTROL_MITIGATION`` for the engine)."""
AGAINST = (ORIGINAL, UNMITIGATED, CONTROL)
"""The references a delta can be taken against (:func:`bootstrap_deltas`)."""


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
    original: pd.DataFrame, common: pd.Index, columns_of: dict[str, str], patient: str
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Resampling unit and group values (intersections joined) of the paired samples ``common``."""
    columns = list(dict.fromkeys(c for col in columns_of.values() for c in col.split("×")))
    meta = _per_sample(original, [*([patient] if patient != "sample_id" else []), *columns]).loc[common]
    patients = meta[patient].to_numpy() if patient != "sample_id" else common.to_numpy()
    groups = {a: attribute_values(meta, column).to_numpy() for a, column in columns_of.items()}
    return patients, groups


def _classification_pair(original: pd.DataFrame, part: pd.DataFrame, thresholds: tuple[np.ndarray, np.ndarray],
                         targets: list[Any], columns_of: dict[str, str], patient: str,
                         settings: EvaluationSettings) -> tuple[PairedReplicates, int, int]:
    """The paired resamples of one condition against its reference rows (one replicate)."""
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
    patients, groups = _patients_and_groups(original, common, columns_of, patient)
    reps = paired_replicates(labels, left["y_score"].to_numpy(np.float64), right["y_score"].to_numpy(np.float64),
                             patients, groups=groups, threshold=thresholds[0], threshold_recon=thresholds[1],
                             targets=[str(t) for t in targets], n_boot=int(settings.bootstrap), seed=settings.seed,
                             min_group_size=settings.min_group_size, group_auroc=settings.group_auroc)
    return reps, len(common), dropped


def _segmentation_pair(original: pd.DataFrame, part: pd.DataFrame, target: Any, columns_of: dict[str, str],
                       patient: str, settings: EvaluationSettings) -> tuple[PairedReplicates, int, int]:
    """The paired resamples of mean Dice, delta_dice and SER of one condition against its reference rows."""
    left, right = original.set_index("sample_id")["dice"], part.set_index("sample_id")["dice"]
    for side, name in ((left, "original"), (right, "this condition")):
        if side.index.duplicated().any():
            raise ValueError(f"sample_id {side.index[side.index.duplicated()][0]!r} has several "
                             f"segmentation rows in {name} for target {target!r}")
    common = left.index.intersection(right.index).sort_values()
    dropped = len(left.index.union(right.index)) - len(common)
    patients, groups = _patients_and_groups(original, common, columns_of, patient)
    reps = paired_dice_replicates(left.loc[common].to_numpy(np.float64), right.loc[common].to_numpy(np.float64),
                                  patients, groups=groups, target=str(target), n_boot=int(settings.bootstrap),
                                  seed=settings.seed, min_group_size=settings.min_group_size)
    return reps, len(common), dropped


def _replicates(run: pd.DataFrame) -> list[tuple[Any, pd.DataFrame]]:
    """``(replicate, rows)`` of a run: one entry per model replicate (one, ``None``, without the column)."""
    if REPLICATE not in run.columns:
        return [(None, run)]
    return [(r, rows) for r, rows in run.groupby(REPLICATE, sort=True)]


def _by_condition(run: pd.DataFrame) -> list[tuple[Any, dict[str, pd.DataFrame]]]:
    """Each replicate's rows of a run, by condition name (one pass over the rows)."""
    return [(r, dict(tuple(rows.groupby("condition", sort=False)))) for r, rows in _replicates(run)]


def bootstrap_deltas(samples: pd.DataFrame, settings: EvaluationSettings, *, against: str = ORIGINAL
                     ) -> pd.DataFrame:
    """Paired patient bootstrap, tests and verdicts of every performance and fairness delta.

    Classification: AUROC per target and the fairness metrics per target x
    attribute.  Segmentation (``task == "segmentation"``, column ``dice``):
    mean Dice (metric ``"dice"``) per target, and ``delta_dice`` and ``ser``
    per target x attribute, from weighted group means of Dice per resample.

    Parameters
    ----------
    samples : pandas.DataFrame
        The per-sample table (``docs/samples-table.md``); the resampling unit
        is ``patient_id`` when present, else ``sample_id``.  Each condition is
        paired with the reference rows of its run (and replicate) by
        ``sample_id`` (and target); unpaired samples are left out and counted.
    settings : EvaluationSettings
        Attributes, group size, split, threshold policy, ``bootstrap`` (a
        number >= 1 here; ``"auto"`` is resolved by
        :func:`evaluate_with_uncertainty`), seed, family, adjustment, alpha.
    against : {"original", "unmitigated", "control"}, default "original"
        The reference of each delta: the original images, or (for the
        mitigated conditions only, ``mitigation != "none"``) the same
        reconstructor without mitigation, i.e. the condition named like it
        up to ``+<mitigation>``, or (``"control"``, for the mitigations other
        than the control) that reconstructor's ``+finetune`` control, when
        the run has it.  ``estimate_original`` is then the reference's value,
        and the families hold this table's tests alone.

    Returns
    -------
    pandas.DataFrame
        One row per run x condition x target x (attribute, metric) (attribute
        ``""`` for AUROC and Dice): the run and condition columns, ``target,
        attribute, metric``, the summary of
        :class:`~reconfair.metrics.hypothesis.BootstrapResult`, ``family,
        family_size, p_adjusted, significant, mdc, mdc_family``, ``n_paired``
        (samples paired), ``n_replicates`` and ``reason`` (dropped samples).

    Raises
    ------
    ValueError
        A schema or attribute error (as in evaluate), a run without original
        rows, a condition missing in a replicate, or labels that differ
        between the original and a condition.
    """
    check_samples(samples)
    if not isinstance(settings, EvaluationSettings):
        raise TypeError(f"settings must be an EvaluationSettings, got {type(settings).__name__}")
    if settings.bootstrap == AUTO or int(settings.bootstrap) < 1:
        raise ValueError(f"bootstrap_deltas needs settings.bootstrap >= 1 resamples, got {settings.bootstrap!r} "
                         "('auto' is resolved by evaluate_with_uncertainty)")
    if against not in AGAINST:
        raise ValueError(f"against must be one of {AGAINST}, got {against!r}")
    if against in (UNMITIGATED, CONTROL) and "mitigation" not in samples.columns:
        raise ValueError(f"against={against!r} needs a 'mitigation' column in the per-sample table")
    columns_of = attribute_columns(samples, settings.attributes)
    optional = [c for c in RUN_KEYS[2:] if c in samples.columns]
    run_keys = ["dataset", "task", *optional]
    target_keys = ["dataset", "task", "target", *optional]
    condition_keys = ["condition", *(c for c in CONDITION_OPTIONAL if c in samples.columns)]
    patient = PATIENT_COLUMN if PATIENT_COLUMN in samples.columns else "sample_id"
    head = [*run_keys, *condition_keys, "target", "attribute", "metric"]
    columns = [*head, *RESULT_COLUMNS, "n_paired", "n_replicates", "reason"]
    classification = samples.loc[samples["task"] == "classification"]
    data = classification.loc[classification["split"] == settings.split]
    segmentation = samples.loc[(samples["task"] == "segmentation") & (samples["split"] == settings.split)]
    for column in [*target_keys, "condition", *([REPLICATE] if REPLICATE in samples.columns else [])]:
        for frame in (data, segmentation):
            if frame[column].isna().any():
                raise ValueError(f"column {column!r} has {int(frame[column].isna().sum())} missing values")
    policy = settings.threshold
    labelled = dict(_replicates(classification))
    fitted: dict[tuple, np.ndarray] = {}

    def cuts(keys: dict[str, Any], replicate: Any, targets: list[Any], condition: str) -> np.ndarray:
        """Threshold per target of one run, replicate and condition, by the policy of evaluate (fitted once)."""
        if not isinstance(policy, str):
            return np.full(len(targets), policy)
        wanted = [tuple(keys[k] if k != "target" else t for k in target_keys) for t in targets]
        memo = (replicate, condition, *wanted)
        if memo not in fitted:
            found = fit_thresholds(labelled[replicate], target_keys, wanted, condition=condition)
            fitted[memo] = np.array(list(found.values()))
        return fitted[memo]

    def pooled(ident: dict[str, Any], pieces: list[tuple[Any, dict[str, pd.DataFrame]]], pair
               ) -> tuple[pd.DataFrame, int, int]:
        """Each replicate's paired resamples of the condition ``ident``, pooled and summarised."""
        reference = _reference(ident, against, present=set().union(*(set(rows) for _, rows in pieces)))
        if reference is None:
            return pd.DataFrame(), 0, 0
        draws, n_paired, dropped = [], 0, 0
        for replicate, rows in pieces:
            where = ident if replicate is None else {**ident, REPLICATE: replicate}
            try:
                if ident["condition"] not in rows:
                    raise ValueError(f"no rows of this condition in replicate {replicate!r}; every model replicate "
                                     "needs every condition")
                if ORIGINAL not in rows:
                    raise ValueError(f"no rows with split == {settings.split!r} and condition == {ORIGINAL!r}; "
                                     "every condition is compared with the original images")
                if reference not in rows:
                    raise ValueError(f"no rows of the unmitigated condition {reference!r} to compare the mitigated "
                                     "one with")
                reps, n_paired, lost = pair(replicate, rows[reference], rows[ident["condition"]], reference)
            except ValueError as err:
                raise ValueError(f"{describe_keys(where)}: {err}") from err
            draws.append(reps)
            dropped = max(dropped, lost)
        table = pool_replicates(draws, seed=settings.seed).summaries(min_valid_fraction=settings.min_valid_fraction)
        return table, n_paired, dropped

    frames = []
    for key, run in data.groupby(run_keys, sort=True):
        keys = dict(zip(run_keys, key))
        targets = sorted(run["target"].unique())
        pieces = _by_condition(run)

        def classify(replicate: Any, base: pd.DataFrame, part: pd.DataFrame, reference: str):
            base_cuts = cuts(keys, replicate, targets, reference if policy == "refit" else ORIGINAL)
            recon_cuts = cuts(keys, replicate, targets, part["condition"].iloc[0] if policy == "refit" else ORIGINAL)
            return _classification_pair(base, part, (base_cuts, recon_cuts), targets, columns_of, patient, settings)

        for condition, _ in run.groupby(condition_keys, sort=True, dropna=False):
            ident = {**keys, **dict(zip(condition_keys, condition if isinstance(condition, tuple) else (condition,)))}
            table, n_paired, dropped = pooled(ident, pieces, classify)
            if table.empty:
                continue
            table["target"] = table["target"].map(dict(zip(map(str, targets), targets)))
            frames.append(table.assign(**ident, n_paired=n_paired, n_replicates=len(pieces),
                                       reason=f"dropped {dropped} unpaired samples" if dropped else ""))
    for key, run in segmentation.groupby(target_keys, sort=True):
        keys = dict(zip(target_keys, key))
        pieces = _by_condition(run)

        def segment(replicate: Any, base: pd.DataFrame, part: pd.DataFrame, reference: str):
            return _segmentation_pair(base, part, keys["target"], columns_of, patient, settings)

        for condition, _ in run.groupby(condition_keys, sort=True, dropna=False):
            ident = {**keys, **dict(zip(condition_keys, condition if isinstance(condition, tuple) else (condition,)))}
            table, n_paired, dropped = pooled(ident, pieces, segment)
            if table.empty:
                continue
            frames.append(table.assign(**ident, n_paired=n_paired, n_replicates=len(pieces),
                                       reason=f"dropped {dropped} unpaired samples" if dropped else ""))
    out = pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)
    out = adjust_families(out, settings)
    order = [*head, *RESULT_COLUMNS[:7], "p_adjusted", *RESULT_COLUMNS[7:], "family", "family_size", "significant",
             "mdc", "mdc_family", "n_paired", "n_replicates", "reason"]
    return out[order]


def _reference(ident: dict[str, Any], against: str, *, present: set[str]) -> str | None:
    """The condition ``ident`` is compared with, or ``None`` when it is not tested (or its control is not run)."""
    if against == ORIGINAL:
        return None if ident["condition"] == ORIGINAL else ORIGINAL
    mitigation = ident.get("mitigation", NONE)
    if mitigation == NONE or (against == CONTROL and mitigation == CONTROL_MITIGATION):
        return None
    name = parse_condition(ident["condition"])
    if against == UNMITIGATED:
        return name.unmitigated
    control = str(replace(name, mitigation=CONTROL_MITIGATION))
    return control if control in present else None


def attach_uncertainty(tables: EvaluationTables, boot: pd.DataFrame) -> EvaluationTables:
    """Add the :data:`UNCERTAINTY_COLUMNS` to fairness and AUROC/Dice rows.

    Rows are matched on the run and condition columns, ``target``,
    ``attribute`` and ``metric``; rows without a bootstrap (the original
    condition, metrics not bootstrapped such as image quality) get NaN
    (``significant`` False).  Segmentation rows get the ``dice``
    (performance), ``delta_dice`` and ``ser`` (fairness) bootstraps.

    >>> empty = pd.DataFrame(columns=["dataset", "task", "target", "condition", "attribute", "metric"])
    >>> tables = EvaluationTables(empty.drop(columns="attribute"), empty, empty)
    >>> boot = empty.reindex(columns=[*empty.columns, *UNCERTAINTY_COLUMNS])
    >>> list(attach_uncertainty(tables, boot).fairness.columns)[-4:]
    ['gap', 'gap_change', 'gap_ci_low', 'gap_ci_high']
    """
    missing = [c for c in ("target", "attribute", "metric", *UNCERTAINTY_COLUMNS) if c not in boot.columns]
    if missing:
        raise ValueError(f"boot lacks column(s) {missing}; pass the output of bootstrap_deltas")
    not_keys = {*UNCERTAINTY_COLUMNS, "estimate_original", "estimate", "delta", "reason", "n_paired", "n_replicates"}
    frames = {}
    for name in ("fairness", "performance"):
        table = getattr(tables, name).drop(columns=[c for c in UNCERTAINTY_COLUMNS
                                                    if c in getattr(tables, name).columns])
        keys = [c for c in boot.columns if c in table.columns and c not in not_keys]
        part = boot if name == "fairness" else boot.loc[boot["attribute"] == ""].drop(columns="attribute")
        if name == "performance":
            keys = [k for k in keys if k != "attribute"]
        extra = part[[*keys, *UNCERTAINTY_COLUMNS]]
        if extra.empty:
            merged = table.assign(**{c: np.nan for c in UNCERTAINTY_COLUMNS})
        else:
            if extra.duplicated(keys).any():
                raise ValueError(f"boot has several rows per {keys}; pass one bootstrap_deltas table")
            merged = table.merge(extra, on=keys, how="left", validate="many_to_one")
        for column in ("n_boot_valid", "n_boot", "family_size"):
            merged[column] = merged[column].astype("Int64")
        merged["significant"] = merged["significant"].astype("boolean").fillna(False).astype(bool)
        for column in ("test", "uncertainty_reason", "family", "gap"):
            merged[column] = merged[column].astype(object).where(merged[column].notna(), "").astype(str)
        skipped = (merged["metric"].isin(GROUP_AUROC_METRICS) & (merged["condition"] != ORIGINAL)
                   & (merged["uncertainty_reason"] == "") & merged["se"].isna())
        merged.loc[skipped, "uncertainty_reason"] = ("not bootstrapped: set evaluation.bootstrap_group_auroc "
                                                     "(--bootstrap-group-auroc)")
        frames[name] = merged
    return replace(tables, performance=frames["performance"], fairness=frames["fairness"])


def resolve_bootstrap(samples: pd.DataFrame, settings: EvaluationSettings, *, against: str = ORIGINAL
                      ) -> tuple[pd.DataFrame, int, list[str]]:
    """:func:`bootstrap_deltas` with B resolved: ``(table, B, notes)``.

    A number is used as given.  ``"auto"`` runs B = 1000 first (the
    minimum, :data:`~reconfair.metrics.families.AUTO_MINIMUM`), asks
    :func:`~reconfair.metrics.families.needed_resamples` what the families
    need, and reruns with that many when the time per resample measured on
    the first run leaves room in ``settings.bootstrap_budget_s``; a note says
    when the budget capped it.
    """
    from reconfair.metrics.families import AUTO_MINIMUM

    if settings.bootstrap != AUTO:
        return bootstrap_deltas(samples, settings, against=against), int(settings.bootstrap), []
    started = time.perf_counter()
    first = settings.with_bootstrap(AUTO_MINIMUM)
    boot = bootstrap_deltas(samples, first, against=against)
    elapsed = time.perf_counter() - started
    needed = needed_resamples(boot, first)
    if needed <= AUTO_MINIMUM:
        return boot, AUTO_MINIMUM, []
    per_resample = elapsed / AUTO_MINIMUM
    affordable = int((settings.bootstrap_budget_s - elapsed) / per_resample) if per_resample > 0 else needed
    chosen = min(needed, affordable)
    notes = []
    if chosen < needed:
        notes.append(f"bootstrap: auto: the families need B = {needed} but the budget of "
                     f"{settings.bootstrap_budget_s:g} s allows B = {max(chosen, AUTO_MINIMUM)} "
                     f"({1000 * per_resample:.1f} s per 1000 resamples); raise evaluation.bootstrap_budget_s")
    if chosen <= AUTO_MINIMUM:
        return boot, AUTO_MINIMUM, notes
    return bootstrap_deltas(samples, settings.with_bootstrap(chosen), against=against), chosen, notes


def _with_model_status(table: pd.DataFrame, models: pd.DataFrame) -> pd.DataFrame:
    """``model_status``: "uninformative" when the target's model (any replicate of it) is flagged, else "ok"."""
    keys = [c for c in ("dataset", "task", "target", "seed") if c in table.columns and c in models.columns]
    flagged = models.assign(_bad=models["status"] == "uninformative").groupby(keys, sort=False)["_bad"].any()
    status = flagged.map({True: "uninformative", False: "ok"}).rename("model_status").reset_index()
    merged = table.drop(columns="model_status", errors="ignore").merge(status, on=keys, how="left")
    merged["model_status"] = merged["model_status"].fillna("ok")
    return merged


def evaluate_with_uncertainty(samples: pd.DataFrame, settings: EvaluationSettings) -> EvaluationTables:
    """The metric tables of a per-sample table, with tests and verdicts when ``settings.bootstrap`` is not 0.

    The one path from ``samples.parquet`` to ``metrics/`` (``reconfair run``
    and ``reconfair evaluate``): optional patient-level aggregation, then
    :func:`~reconfair.metrics.evaluate.evaluate` (per model replicate),
    :func:`~reconfair.metrics.sanity.model_sanity`, the bootstrap
    (:func:`resolve_bootstrap`) and :func:`attach_uncertainty`.  With
    several replicates the fairness and performance tables hold the
    method-level rows (:func:`~reconfair.metrics.replicates.combine_replicates`)
    and ``replicates_*`` the per-replicate ones.
    """
    from reconfair.metrics.aggregate import aggregate_patients

    if not isinstance(settings, EvaluationSettings):
        raise TypeError(f"settings must be an EvaluationSettings, got {type(settings).__name__}")
    rows = aggregate_patients(samples) if settings.patient_level else samples
    tables = evaluate(rows, settings)
    per_replicate: tuple[pd.DataFrame | None, pd.DataFrame | None] = (None, None)
    if REPLICATE in rows.columns and rows[REPLICATE].nunique() > 1:
        per_replicate = (tables.performance, tables.fairness)
        performance, fairness = combine_replicates(tables.performance, tables.fairness)
        tables = replace(tables, performance=performance, fairness=fairness)
    elif REPLICATE in rows.columns:
        tables = replace(tables, performance=tables.performance.drop(columns=REPLICATE),
                         fairness=tables.fairness.drop(columns=REPLICATE))
    models = model_sanity(rows)
    notes = sanity_notes(models)
    tables = replace(tables, performance=_with_model_status(tables.performance, models),
                     fairness=_with_model_status(tables.fairness, models), models=models,
                     replicates_performance=per_replicate[0], replicates_fairness=per_replicate[1])
    if settings.bootstrap == 0:
        return replace(tables, notes=tuple(notes))
    boot, n_boot, auto_notes = resolve_bootstrap(rows, settings)
    tables = attach_uncertainty(tables, boot)
    families = families_table(boot, settings)
    notes += auto_notes + family_notes(families, settings)
    return replace(tables, families=families, notes=tuple(notes), n_boot=n_boot)
