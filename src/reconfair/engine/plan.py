"""The plan of a run: the study's stage graph, each stage with its key, inputs, status and estimate.

A plan is computed without training or inferring anything: it builds each data
set's table (to count split sizes), enumerates the conditions (the one place
that does), lets every registered stage kind (:mod:`reconfair.engine.kinds`)
add its stages with their cache keys, and checks which entries already exist.
Looking at the plan never changes the cache (not even :attr:`Cache.events`).

Stages, per data set: ``images`` per split; per model replicate
(``StudyConfig.replicates``; with more than one, each label ends in
`` (replicate k)``): one ``diagnostic`` model per task, one ``reconstructor``
per degradation level and learned reconstructor that is trained here (not for
baselines, plug-ins or user checkpoints), one ``mitigated-reconstructor`` per
mitigation and lambda, one ``inference`` per condition; with a detection task, one ``observer`` per
unmitigated condition (replicate 0); then ``evaluate``, ``observer-stats`` (with a detection task),
``mitigation-tables`` (when the study mitigates), ``examples`` and ``report``.

``status`` is ``cached`` (the entry exists), ``pending`` (a run computes it) or
``always`` (never cached: inference through a plug-in or user checkpoint,
whose outputs may change outside reconfair, what is computed from it, and
the report).

``estimate`` is a rough amount of work, in :attr:`Stage.unit`: for training
stages ``epochs x training images`` (an upper bound, early stopping may end
sooner); for inference and images the number of images; ``0`` for the rest.
A cached stage also carries ``seconds``, the time its computation took.

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
[('images', 'synthetic-chest train images', 'pending'),
 ('images', 'synthetic-chest val images', 'pending'),
 ('images', 'synthetic-chest test images', 'pending'),
 ('diagnostic', 'synthetic-chest classification', 'pending'),
 ('reconstructor', 'synthetic-chest radiograph-lowdose@3000 unet', 'pending'),
 ('inference', 'synthetic-chest original', 'pending'),
 ('inference', 'synthetic-chest radiograph-lowdose@3000/identity', 'pending'),
 ('inference', 'synthetic-chest radiograph-lowdose@3000/unet', 'pending'),
 ('evaluate', 'evaluate all data sets', 'pending'),
 ('examples', 'examples for the report', 'pending'),
 ('report', 'report', 'always')]
>>> stages[4].estimate == 2 * stages[3].estimate  # 2 epochs vs 1 epoch over the same training images
True
>>> [stages.get(ref).label for ref in stages[7].depends_on]  # doctest: +NORMALIZE_WHITESPACE
['synthetic-chest test images', 'synthetic-chest classification',
 'synthetic-chest radiograph-lowdose@3000 unet']
"""

from __future__ import annotations

from collections import defaultdict

import pandas as pd

from reconfair.config import StudyConfig
from reconfair.engine.cache import Cache
from reconfair.engine.conditions import dataset_conditions
from reconfair.engine.datasets import build_dataset
from reconfair.engine.graph import Graph, Stage

__all__ = ["Plan", "Stage", "group_size_warnings", "plan_study", "seconds_by_kind", "summarize"]


class Plan(list):
    """The stages of a study in a topological order (a list), with the conditions of each data set."""

    def __init__(self, stages: list[Stage], conditions: dict[int, list]) -> None:
        super().__init__(stages)
        self.conditions = conditions
        self._by_ref = {stage.ref: stage for stage in stages}

    def get(self, ref: str) -> Stage:
        """The stage named ``ref`` (a :attr:`Stage.ref`, as in ``depends_on``)."""
        return self._by_ref[ref]


def plan_study(config: StudyConfig, cache: Cache) -> Plan:
    """The stage graph :func:`~reconfair.engine.run.run_study` executes for ``config``, in topological order.

    Parameters
    ----------
    config
        A validated study configuration.
    cache
        The cache the run would use; only inspected (nothing is written or recorded).

    Returns
    -------
    Plan
        Every stage, each after its inputs (see the module documentation).
    """
    from reconfair.engine.kinds import KINDS, STAGE_KINDS

    graph = Graph(config, cache, KINDS)
    graph.memo["conditions"] = {i: dataset_conditions(d, config.attributes) for i, d in enumerate(config.datasets)}
    for kind in STAGE_KINDS:
        kind.plan(graph)
    return Plan(graph.stages, graph.memo["conditions"])


def seconds_by_kind(stages: list[Stage]) -> dict[str, float]:
    """Recorded computation seconds of the cached stages, summed per kind (kinds with none omitted).

    >>> seconds_by_kind([Stage("images", "k", "a", status="cached", seconds=1.5),
    ...                  Stage("images", "j", "b", status="cached", seconds=0.5), Stage("report", None, "r")])
    {'images': 2.0}
    """
    totals: dict[str, float] = defaultdict(float)
    for stage in stages:
        if stage.seconds is not None:
            totals[stage.stage] += stage.seconds
    return dict(totals)


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
        kinds = {task.kind for task in dataset_config.diagnostic_tasks}
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
