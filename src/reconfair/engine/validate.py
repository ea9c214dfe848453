"""A study checked against the stages: operators, learned reconstructors, data set facts, table columns.

:mod:`reconfair.config` checks a configuration's structure (types, ranges,
unknown keys) and imports no stage package.  :func:`validate_study` adds every
check that asks a stage: the operator resolves through the physics registry
(a registered name or a ``package.module:attribute`` plug-in) and accepts each
level and parameter, a learned reconstructor's preset takes its settings, the
data set exists and has the attributes, effect groups and masks the study
names, the evaluation's family columns are table columns, and the export's
conditions are conditions of the study.  Every problem
is listed, each naming the field as a dotted path, in the
:class:`~reconfair.config.ConfigError` that :func:`~reconfair.config.parse_config`
raises for structural ones.

Load a user's config with :func:`load_study` (a file) or :func:`parse_study`
(a mapping): both parse and validate.

Examples
--------
>>> study = parse_study({"datasets": [{"name": "synthetic-chest"}]})
>>> study.datasets[0].degradations[0].operator
'radiograph-lowdose'
>>> parse_study({"datasets": [{"name": "synthetic-chest", "degradations": [{"operator": "x-ray", "levels": [1]}]}],
...              "attributes": ["sex", "income"]}, source="study.yaml")
Traceback (most recent call last):
...
reconfair.config.schema.ConfigError: study.yaml: invalid configuration
  - datasets[0].degradations[0].operator: unknown operator 'x-ray'; expected a registered operator (ct-lowdose, mri-undersampling, radiograph-aec, radiograph-lowdose) or a plug-in 'package.module:attribute' naming a Degradation class or factory taking level=...
  - attributes[1]: unknown attribute 'income' for data set synthetic-chest; expected one of sex, age, age_group, race, habitus
"""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path
from typing import Any

from reconfair.config import ConfigError, DatasetConfig, DegradationConfig, StudyConfig, parse_config, read_config

__all__ = ["load_study", "parse_study", "validate_study"]

PLUGIN_FORM = "'package.module:attribute' naming a Degradation class or factory taking level=..."


def validate_study(config: StudyConfig, *, source: str | None = None) -> StudyConfig:
    """``config`` when every check that asks a stage passes; else :class:`ConfigError` listing all problems.

    ``source`` (a file name) starts the message, as in :func:`~reconfair.config.parse_config`.
    """
    problems: list[str] = []
    for i, dataset in enumerate(config.datasets):
        problems += _dataset_problems(dataset, f"datasets[{i}]")
    problems += _attribute_problems(config)
    problems += _family_problems(config.evaluation.family)
    if not problems:  # the conditions exist only once every operator builds
        problems += _export_problems(config)
    if problems:
        raise ConfigError(f"{source or '<config>'}: invalid configuration\n" + "\n".join(f"  - {p}" for p in problems))
    return config


def parse_study(data: Any, *, source: str = "<config>", base_dir: str | Path | None = None) -> StudyConfig:
    """:func:`~reconfair.config.parse_config` and then :func:`validate_study`."""
    return validate_study(parse_config(data, source=source, base_dir=base_dir), source=source)


def load_study(path: str | Path) -> StudyConfig:
    """Read a YAML study configuration and validate it (relative data paths resolve against its folder)."""
    path = Path(path)
    return parse_study(read_config(path), source=str(path), base_dir=path.parent)


def _dataset_problems(dataset: DatasetConfig, where: str) -> list[str]:
    problems = [p for j, d in enumerate(dataset.degradations) for p in _degradation_problems(d, f"{where}.degradations[{j}]")]
    problems += _reconstructor_problems(dataset, where)
    facts_problem = _source_problem(dataset, where)
    if facts_problem is not None:
        return problems + [facts_problem]
    from reconfair.data.facts import dataset_facts_for

    try:
        facts = dataset_facts_for(dataset)
    except ValueError as error:
        return problems + [_at(where, str(error))]
    problems += _effect_problems(dataset, facts, where)
    problems += _supplied_model_problems(dataset, facts, where)
    kinds = [t.kind for t in dataset.diagnostic_tasks]
    if "segmentation" in kinds and not facts["segmentation"]:
        problems.append(f"{where}.tasks: {dataset.name} has no segmentation masks; use kind 'classification'")
    if not kinds:
        problems.append(f"{where}.tasks: at least one task is needed (classification or segmentation"
                        + ("; a detection task alone is not supported yet)" if dataset.tasks else ")"))
    return problems + _detection_problems(dataset, where)


def _detection_problems(dataset: DatasetConfig, where: str) -> list[str]:
    """Detection tasks: the signal and location build (their classes check them) and the domain resolves."""
    from reconfair.engine.observers import detection_domain, detection_roi, detection_signal
    from reconfair.physics.lesions import location_from_config

    problems = []
    for i, task in enumerate(dataset.tasks):
        if task.kind != "detection":
            continue
        at = f"{where}.tasks[{i}]"
        try:
            signal = detection_signal(task)
        except (TypeError, ValueError) as error:
            problems.append(f"{at}.signal: {error}")
            signal = None
        try:
            location_from_config(task.location)
        except (TypeError, ValueError) as error:
            problems.append(f"{at}.location: {error}")
        try:
            detection_domain(task, dataset)
        except ValueError as error:
            problems.append(f"{at}.domain: {error}")
        if signal is not None and task.roi is None and detection_roi(task, signal) > dataset.image_size:
            problems.append(f"{at}.signal: its support (side {detection_roi(task, signal)}) exceeds the image "
                            f"({dataset.image_size}); use a smaller signal")
        pixels = detection_roi(task, signal) ** 2 if signal is not None else 0
        if "hotelling" in task.observers and pixels > 2 * task.max_backgrounds - 2:
            problems.append(f"{at}.observers: hotelling on a {pixels}-pixel ROI needs its covariance of full rank, "
                            f"i.e. more than {pixels // 2 + 1} training backgrounds per class, but max_backgrounds "
                            f"is {task.max_backgrounds}; use cho, a smaller roi or more backgrounds")
    return problems


def _supplied_model_problems(dataset: DatasetConfig, facts: dict[str, Any], where: str) -> list[str]:
    """Supplied models: files exist, factories import, networks exist, targets are labels of the data; no model runs."""
    problems = []
    for i, task in enumerate(dataset.tasks):
        if not task.supplied:
            continue
        model, at = task.model, f"{where}.tasks[{i}].model"
        for field in ("torchscript", "onnx", "weights"):
            value = getattr(model, field)
            if value is not None and not Path(value).is_file():
                problems.append(f"{at}.{field}: no such file {value!r}")
        if model.source == "onnx" and importlib.util.find_spec("onnxruntime") is None:
            problems.append(f"{at}.onnx: onnxruntime is not installed; pip install 'reconfair[onnx]'")
        if model.source == "factory":
            from reconfair.registry import import_attribute

            try:
                factory = import_attribute(model.factory, "diagnostic model factory")
            except ValueError as error:
                problems.append(f"{at}.factory: {error}")
            else:
                if not callable(factory):
                    problems.append(f"{at}.factory: {model.factory!r} is a {type(factory).__name__}, not callable; "
                                    "expected a function or class returning a torch.nn.Module")
        if model.source == "network":
            import monai.networks.nets as nets

            if not isinstance(getattr(nets, model.network, None), type):
                problems.append(f"{at}.network: {model.network!r} is not a network of monai.networks.nets")
        if task.kind == "classification":
            labels = facts["labels"]
            unknown = [t for t in model.targets or () if t is not None and t not in labels]
            if unknown:
                problems.append(f"{at}.targets: {', '.join(map(repr, unknown))} not among the data's labels; the model's "
                                f"targets are {list(model.targets)}, {dataset.name}'s labels are {list(labels)} "
                                "(null skips an output column)")
            if model.source == "onnx" and any(m.kind != "none" for m in dataset.mitigations):
                problems.append(f"{where}.mitigations: mitigation back-propagates through the classifier, and an ONNX "
                                "model has no gradients; supply it as torchscript, a factory or a network")
            if model.source == "torchscript" and any(m.kind == "adversarial" for m in dataset.mitigations):
                problems.append(f"{where}.mitigations: adversarial debiasing reads the classifier's last linear layer "
                                "through a hook, and a TorchScript model's layers cannot be hooked; supply the model "
                                "as a factory or a network (with weights)")
    return problems


def _degradation_problems(degradation: DegradationConfig, where: str) -> list[str]:
    from reconfair.physics import DEGRADATIONS, Degradation, make_degradation

    operator = degradation.operator
    expected = f"expected a registered operator ({', '.join(DEGRADATIONS.names())}) or a plug-in {PLUGIN_FORM}"
    if ":" not in operator and operator not in DEGRADATIONS.names():
        return [f"{where}.operator: unknown operator {operator!r}; {expected}"]
    try:
        factory = DEGRADATIONS.get(operator)
    except ValueError as error:
        return [f"{where}.operator: {error}; {expected}"]
    if not callable(factory) or not _takes_level(factory):
        what = type(factory).__name__ if not callable(factory) else "a callable without a level parameter"
        return [f"{where}.operator: {operator!r} is {what}; {expected}"]
    problems = []
    for i, level in enumerate(degradation.levels):
        try:
            built = make_degradation(operator, level, **degradation.params)
        except (ValueError, TypeError) as error:
            problems.append(f"{where}: levels[{i}] = {level!r} with params {degradation.params}: {error}")
            continue
        if not isinstance(built, Degradation):
            lacks = [m for m in ("name", "level", "modality", "baseline", "measure", "to_image", "degrade", "describe")
                     if not hasattr(built, m)]
            return problems + [f"{where}.operator: {operator!r} built a {type(built).__name__}, which lacks "
                               f"{', '.join(lacks)}; {expected} (reconfair.physics.Degradation)"]
    return problems


def _takes_level(factory: Any) -> bool:
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):  # no signature to read: let building it decide
        return True
    return any(p.name == "level" or p.kind is p.VAR_KEYWORD for p in parameters)


def _reconstructor_problems(dataset: DatasetConfig, where: str) -> list[str]:
    from reconfair.recon.learned import default_spec

    problems = []
    for i, entry in enumerate(dataset.reconstructors):
        if entry.kind != "learned":
            continue
        try:
            default_spec(entry.name, entry.preset, **entry.settings)
        except ValueError as error:
            problems.append(f"{where}.reconstructors[{i}].settings: {error}")
    return problems


def _source_problem(dataset: DatasetConfig, where: str) -> str | None:
    """Whether ``dataset`` is synthetic exactly when it has no source."""
    from reconfair.data.synthetic import SYNTHETIC

    if (dataset.name in SYNTHETIC) == (dataset.source is not None):
        if dataset.source is not None:
            return f"{where}.source: {dataset.name!r} is a synthetic data set and takes no source"
        return (f"{where}.source: {dataset.name!r} is not a synthetic data set ({', '.join(sorted(SYNTHETIC))}); "
                "describe real data with source: {kind: chexpert | ucsf-pdgm | folder, ...} (docs/datasets.md)")
    return None


def _effect_problems(dataset: DatasetConfig, facts: dict[str, Any], where: str) -> list[str]:
    from reconfair.data.demographics import age_group_names

    problems = []
    for attribute, groups in dataset.effects.items():
        if attribute not in facts["effect_attributes"]:
            problems.append(f"{where}.effects: unknown attribute {attribute!r}; {dataset.name} plants effects on "
                            f"{', '.join(facts['effect_attributes'])}")
            continue
        if attribute == "age_group":
            if dataset.age_cut is None:  # the median cut is known only once the cohort exists
                continue
            allowed = age_group_names(dataset.age_cut)
        else:
            allowed = facts["groups"][attribute]
        problems += [f"{where}.effects.{attribute}: unknown group {group!r}; expected one of {', '.join(allowed)}"
                     for group in groups if group not in allowed]
    return problems


def _attribute_problems(config: StudyConfig) -> list[str]:
    from reconfair.data.facts import dataset_facts_for

    problems = []
    for i, dataset in enumerate(config.datasets):
        if _source_problem(dataset, f"datasets[{i}]") is not None:  # reported with the data set
            continue
        try:
            known = dataset_facts_for(dataset)["attributes"]
        except (ValueError, KeyError):  # reported with the data set
            continue
        problems += [f"attributes[{i}]: unknown attribute {attribute!r} for data set {dataset.name}; "
                     f"expected one of {', '.join(known)}"
                     for i, attribute in enumerate(config.attributes) if attribute not in known]
    return problems


def _family_problems(family: str | tuple[str, ...]) -> list[str]:
    from reconfair.metrics.settings import FAMILY_COLUMNS

    unknown = [c for c in family if c not in FAMILY_COLUMNS] if isinstance(family, tuple) else []
    if not unknown:
        return []
    return [f"evaluation.family: unknown column(s) {unknown}; expected report, metric, target or columns from "
            f"{', '.join(FAMILY_COLUMNS)}"]


def _export_problems(config: StudyConfig) -> list[str]:
    """Each name in ``export.conditions`` that is no condition of any data set, with the known ones."""
    from reconfair.engine.conditions import dataset_conditions

    if config.export is None or config.export.conditions is None:
        return []
    known = list(dict.fromkeys(c.name for d in config.datasets for c in dataset_conditions(d, config.attributes)))
    return [f"export.conditions[{i}]: unknown condition {name!r}; expected some of: {', '.join(known)}"
            for i, name in enumerate(config.export.conditions) if name not in known]


def _at(where: str, message: str) -> str:
    """``message`` of a stage located under ``where``: ``source.x: ...`` joins the path, others follow a colon."""
    return f"{where}.{message}" if message.startswith("source.") else f"{where}: {message}"
