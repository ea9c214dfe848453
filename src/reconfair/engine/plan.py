"""The plan of a run: every stage it executes, in order, with its cache key and status.

A plan is computed without training or inferring anything: it builds each data
set's table (to count split sizes), computes the same cache keys as
:func:`~reconfair.engine.run.run_study` from the slices in
:mod:`reconfair.engine.keys`, and checks which entries already exist.  Looking
at the plan never changes the cache (not even :attr:`Cache.events`).

Stages, per data set and model replicate (``StudyConfig.replicates``; with
more than one, each label ends in `` (replicate k)``): one ``diagnostic``
model per task, one ``reconstructor`` per degradation level and learned
reconstructor that is trained here (not for baselines, plug-ins or user
checkpoints), one ``mitigated-reconstructor`` per mitigation and lambda that
fine-tunes one, one ``inference`` per condition; then ``evaluate`` and
``report`` for the whole study.

``status`` is ``cached`` (the entry exists), ``pending`` (a run computes it) or
``always`` (never cached: inference through a plug-in or user checkpoint,
whose outputs may change outside reconfair, and the evaluate/report stages).

``estimate`` is a rough amount of work, in image passes: for training stages
``epochs x training images`` (an upper bound, early stopping may end sooner);
for inference the number of images reconstructed and diagnosed; ``0`` for
evaluate and report (cheap next to the rest).  See :attr:`Stage.unit`.

Examples
--------
>>> import tempfile
>>> from reconfair.config import StudyConfig
>>> config = StudyConfig.model_validate({"datasets": [{
...     "name": "synthetic-chest", "n_patients": 20, "image_size": 32,
...     "degradations": [{"operator": "radiograph-lowdose", "levels": [3000]}],
...     "reconstructors": ["baseline", {"name": "unet", "settings": {"epochs": 2}}],
...     "tasks": [{"kind": "classification", "model": {"epochs": 1}}]}]})
>>> stages = plan_study(config, Cache(tempfile.mkdtemp()))
>>> [(s.stage, s.label, s.status) for s in stages]  # doctest: +NORMALIZE_WHITESPACE
[('diagnostic', 'synthetic-chest classification', 'pending'),
 ('reconstructor', 'synthetic-chest radiograph-lowdose@3000 unet', 'pending'),
 ('inference', 'synthetic-chest original', 'pending'),
 ('inference', 'synthetic-chest radiograph-lowdose@3000/identity', 'pending'),
 ('inference', 'synthetic-chest radiograph-lowdose@3000/unet', 'pending'),
 ('evaluate', 'evaluate all data sets', 'always'),
 ('report', 'report', 'always')]
>>> stages[1].estimate == 2 * stages[0].estimate  # 2 epochs vs 1 epoch over the same training images
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd

from reconfair.config import DatasetConfig, StudyConfig
from reconfair.engine.cache import Cache
from reconfair.engine.conditions import Condition, dataset_conditions
from reconfair.engine.datasets import build_dataset
from reconfair.engine.keys import diagnostic_slice, inference_slice, inferred_splits
from reconfair.engine.reconstruction import MITIGATION_STAGE, reconstructor_key

__all__ = ["Stage", "group_size_warnings", "plan_study", "summarize"]

Status = Literal["cached", "pending", "always"]
STAGE_KINDS = ("diagnostic", "reconstructor", "mitigated-reconstructor", "inference", "evaluate", "report")
_UNITS = {"diagnostic": "image-epochs", "reconstructor": "image-epochs", "mitigated-reconstructor": "image-epochs",
          "inference": "images"}


@dataclass(frozen=True)
class Stage:
    """One step of a run.

    Attributes
    ----------
    stage
        Its kind: one of ``diagnostic``, ``reconstructor``, ``inference``, ``evaluate``, ``report``.
    key
        The cache key (entry ``<cache>/<stage>/<key>/``), or ``None`` when never cached.
    label
        Human-readable, e.g. ``"synthetic-chest radiograph-lowdose@3000 unet"``.
    depends_on
        The stages it needs: their keys, or their labels when they have no key.
    status
        ``cached``, ``pending`` or ``always`` (see the module documentation).
    estimate
        Rough work in :attr:`unit`.
    """

    stage: str
    key: str | None
    label: str
    depends_on: tuple[str, ...] = ()
    status: Status = "pending"
    estimate: int = 0

    @property
    def unit(self) -> str:
        """``image-epochs`` (training), ``images`` (inference) or ``""`` (evaluate, report)."""
        return _UNITS.get(self.stage, "")

    @property
    def ref(self) -> str:
        """How other stages name this one in ``depends_on``: the key, else the label."""
        return self.key if self.key is not None else self.label


def plan_study(config: StudyConfig, cache: Cache) -> list[Stage]:
    """The stages :func:`~reconfair.engine.run.run_study` executes for ``config``, in order.

    Parameters
    ----------
    config
        A validated study configuration.
    cache
        The cache the run would use; only inspected (nothing is written or recorded).

    Returns
    -------
    list of Stage
        Per data set and replicate: diagnostic, reconstructor and inference stages; then evaluate and report.
    """
    stages: list[Stage] = []
    for dataset_config in config.datasets:
        stages += _dataset_stages(dataset_config, config, cache)
    inference = tuple(s.ref for s in stages if s.stage == "inference")
    evaluate = Stage("evaluate", None, "evaluate all data sets", inference, "always", 0)
    stages += [evaluate, Stage("report", None, "report", (evaluate.ref,), "always", 0)]
    return stages


def summarize(stages: list[Stage]) -> str:
    """One line: ``"7 stages: 0 cached, 5 pending, 2 always"``.

    >>> summarize([Stage("report", None, "report", status="always")])
    '1 stages: 0 cached, 0 pending, 1 always'
    """
    counts = {status: sum(s.status == status for s in stages) for status in ("cached", "pending", "always")}
    return f"{len(stages)} stages: {counts['cached']} cached, {counts['pending']} pending, {counts['always']} always"


def group_size_warnings(config: StudyConfig) -> list[str]:
    """Groups of the evaluation split too small for some fairness metrics, one sentence each.

    For each data set, on ``config.evaluation.split``, each study attribute
    (an intersection ``sex*age_group`` or ``sex×age_group`` has the joined
    values as groups, e.g. ``F×<58``) and each group: for every
    classification target, a warning when the group has fewer than
    ``config.evaluation.min_group_size`` positives (it will not enter TPR,
    so not EODD or EOP) or negatives (not FPR, so not EODD); with a
    segmentation task, a warning when it has fewer samples than that (not in
    the Dice gap).  Labels that are NaN count as neither.  With
    ``patient_level`` the counts are of patients (one row each).  Nothing is
    trained: only the data sets' tables are built.

    Parameters
    ----------
    config
        A validated study configuration.

    Returns
    -------
    list of str
        In data-set, attribute, group, target order; empty when every group is large enough.
    """
    evaluation = config.evaluation
    split, minimum = evaluation.split, evaluation.min_group_size
    warnings: list[str] = []
    for dataset_config in config.datasets:
        samples = build_dataset(dataset_config, seed=config.seed, lazy=True)
        table = samples.table[samples.table["split"] == split]
        if evaluation.patient_level:
            table = table.drop_duplicates("patient_id")
        kinds = {task.kind for task in dataset_config.tasks}
        targets = list(samples.label_names) if "classification" in kinds else []
        where = f"in the {split} split (min_group_size {minimum})"
        for attribute in config.attributes:
            name, groups = _attribute_groups(table, attribute)
            for group in sorted(groups.unique()):
                members = table[groups == group]
                for target in targets:
                    labels = members[f"label_{target}"]
                    for count, what, consequence in ((int((labels == 1).sum()), "positives", "TPR (EODD, EOP)"),
                                                     (int((labels == 0).sum()), "negatives", "FPR (EODD)")):
                        if count < minimum:
                            warnings.append(f"{dataset_config.name}: {name} {group} has {count} {what} of {target} "
                                            f"{where}: it will not enter {consequence} there")
                if "segmentation" in kinds and len(members) < minimum:
                    warnings.append(f"{dataset_config.name}: {name} {group} has {len(members)} samples {where}: "
                                    "it will not enter the Dice gap there")
    return warnings


def _attribute_groups(table: pd.DataFrame, attribute: str) -> tuple[str, pd.Series]:
    """An attribute's name with ``×`` and each row's group: its value, or the values joined by ``×``."""
    parts = [part.strip() for part in attribute.replace("*", "×").split("×")]
    missing = [part for part in parts if f"attr_{part}" not in table.columns]
    if missing:
        found = sorted(c.removeprefix("attr_") for c in table.columns if c.startswith("attr_"))
        raise ValueError(f"attributes: {attribute!r} names {missing}, which the data set lacks; it has {found}")
    groups = table[f"attr_{parts[0]}"].astype(str)
    for part in parts[1:]:
        groups = groups + "×" + table[f"attr_{part}"].astype(str)
    return "×".join(parts), groups


def _dataset_stages(dataset_config: DatasetConfig, config: StudyConfig, cache: Cache) -> list[Stage]:
    split_sizes = build_dataset(dataset_config, seed=config.seed, lazy=True).table["split"].value_counts().to_dict()
    stages: list[Stage] = []
    for replicate in range(config.replicates):
        suffix = f" (replicate {replicate})" if config.replicates > 1 else ""
        stages += _replicate_stages(dataset_config, config, cache, split_sizes, replicate, suffix)
    return stages


def _replicate_stages(
    dataset_config: DatasetConfig, config: StudyConfig, cache: Cache, split_sizes: dict[str, int], replicate: int,
    suffix: str,
) -> list[Stage]:
    """One model replicate's stages of a data set: diagnostic, reconstructor, mitigated, inference."""
    seed, name = config.seed, dataset_config.name
    n_train = int(split_sizes.get("train", 0))
    stages: list[Stage] = []
    model_keys: dict[str, str] = {}
    for task in dataset_config.tasks:
        key = model_keys[task.kind] = cache.key("diagnostic",
                                                diagnostic_slice(dataset_config, task, seed, replicate=replicate))
        stages.append(_stage(cache, "diagnostic", key, f"{name} {task.kind}{suffix}", (),
                             task.model.epochs * n_train))
    conditions = dataset_conditions(dataset_config, config.attributes)
    trained: dict[str, Stage] = {}
    for condition in conditions:
        if condition.trains_reconstructor:
            classifier = (model_keys["classification"],) if condition.mitigation is not None else ()
            stage = trained[condition.name] = _reconstructor_stage(condition, dataset_config, seed, cache, n_train,
                                                                   classifier, replicate=replicate, suffix=suffix)
            stages.append(stage)
    for condition in conditions:
        splits = inferred_splits(config.evaluation, condition)
        n_images = sum(int(split_sizes.get(split, 0)) for split in splits)
        recon_stage = trained.get(condition.name)
        depends = (*model_keys.values(), *((recon_stage.ref,) if recon_stage else ()))
        label = f"{name} {condition.name}{suffix}"
        recon_key = reconstructor_key(condition, dataset_config, seed, cache, replicate=replicate)
        if recon_key is None:  # plug-ins and user checkpoints: never cached
            stages.append(Stage("inference", None, label, depends, "always", n_images))
            continue
        config_slice = inference_slice(
            dataset_config, seed, condition=condition, reconstructor_key=recon_key, model_keys=model_keys,
            splits=splits, replicate=replicate,
        )
        stages.append(_stage(cache, "inference", cache.key("inference", config_slice), label, depends, n_images))
    return stages


def _reconstructor_stage(
    condition: Condition, dataset_config: DatasetConfig, seed: int, cache: Cache, n_train: int,
    depends: tuple[str, ...] = (), *, replicate: int = 0, suffix: str = "",
) -> Stage:
    from reconfair.recon.learned import default_spec

    entry, operator = condition.entry, condition.operator
    key = reconstructor_key(condition, dataset_config, seed, cache, replicate=replicate)
    label = f"{dataset_config.name} {operator.name}@{float(operator.level):g} {entry.name}"
    if condition.mitigation is not None:  # fine-tuning: after the unmitigated model and the classifier
        depends = (*depends, reconstructor_key(condition.unmitigated, dataset_config, seed, cache, replicate=replicate))
        label = f"{label}+{condition.mitigation.label}{suffix}"
        return _stage(cache, MITIGATION_STAGE, key, label, depends, condition.mitigation.epochs * n_train)
    epochs = int(default_spec(entry.name, entry.preset, **entry.settings)["epochs"])
    return _stage(cache, "reconstructor", key, label + suffix, (), epochs * n_train)


def _stage(cache: Cache, kind: str, key: str, label: str, depends: tuple[str, ...], estimate: int) -> Stage:
    status: Status = "cached" if (cache.folder(kind, key) / "entry.json").is_file() else "pending"
    return Stage(kind, key, label, tuple(depends), status, int(estimate))
