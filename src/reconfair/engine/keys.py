"""Configuration slices that key each stage's cache entry (one place, used by the run and the plan).

A slice holds exactly what determines a stage's output; cosmetic fields (run
name, output folder, progress) never enter one.

>>> from reconfair.config import DatasetConfig
>>> a = dataset_slice(DatasetConfig(name="synthetic-chest"), seed=0)
>>> b = dataset_slice(DatasetConfig(name="synthetic-chest", reconstructors=["baseline", "unet"]), seed=0)
>>> c = dataset_slice(DatasetConfig(name="synthetic-chest", reconstructors=["baseline", "unet"],
...                                   mitigations=["reweighting"]), seed=0)
>>> a == b == c  # reconstructors and mitigations do not change the data
True

Model replicates (``StudyConfig.replicates``): the slices of trained models
and of inference take ``replicate``; replicate 0 adds nothing, so its keys are
those of a study without replicates, and ``k > 0`` adds ``"replicate": k``.

>>> from reconfair.config import TaskConfig
>>> task = TaskConfig(kind="classification")
>>> diagnostic_slice(DatasetConfig(name="synthetic-chest"), task, 0, replicate=0) == diagnostic_slice(
...     DatasetConfig(name="synthetic-chest"), task, 0)
True
>>> diagnostic_slice(DatasetConfig(name="synthetic-chest"), task, 0, replicate=2)["replicate"]
2
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "baseline_slice",
    "dataset_slice",
    "degradation_slice",
    "diagnostic_slice",
    "inference_slice",
    "inferred_splits",
    "mitigation_slice",
    "observer_slice",
    "reconstructor_slice",
    "replicate_slice",
]


def dataset_slice(config: Any, seed: int) -> dict[str, Any]:
    """What determines a data set's images, labels and splits (not its degradations, models or mitigations).

    A real data set (``source`` set) adds the SHA-256 of its index files
    (CSV/XLSX), so editing them invalidates every stage built on the data;
    a synthetic set's slice has no ``source`` key, and adds its generator's
    version once that exceeds 1 (``GENERATOR_VERSIONS``), so images rendered
    by older code are never reused.
    """
    data = config.model_dump(mode="json", exclude={"degradations", "reconstructors", "tasks", "mitigations"})
    if data.get("source", "absent") is None:
        del data["source"]
    if getattr(config, "source", None) is None:
        from reconfair.data.synthetic import GENERATOR_VERSIONS

        version = GENERATOR_VERSIONS.get(config.name, 1)  # 1: keys as before versions existed
        return {"dataset": data, "seed": seed, **({"generator": version} if version > 1 else {})}
    from reconfair.data.sources import index_fingerprint

    return {"dataset": data, "seed": seed, "index_files": index_fingerprint(config.source)}


def degradation_slice(operator: Any) -> dict[str, Any]:
    """What determines a degradation: its ``describe()`` facts (operator, level, parameters)."""
    return {"operator": operator.name, "level": float(operator.level), "facts": operator.describe()}


def baseline_slice(operator: Any) -> dict[str, Any]:
    """A baseline reconstructor (nothing trained): only the degradation decides it."""
    return {"degradation": degradation_slice(operator)}


def replicate_slice(replicate: int) -> dict[str, Any]:
    """``{}`` for replicate 0 (keys as before replicates existed), else ``{"replicate": k}``.

    >>> replicate_slice(0), replicate_slice(3)
    ({}, {'replicate': 3})
    """
    if replicate < 0:
        raise ValueError(f"replicate must be >= 0, got {replicate}")
    return {"replicate": int(replicate)} if replicate else {}


def diagnostic_slice(dataset_config: Any, task: Any, seed: int, *, replicate: int = 0) -> dict[str, Any]:
    """A diagnostic model: the data set, the task's model settings and the model replicate."""
    return {**dataset_slice(dataset_config, seed), "task": task.model_dump(mode="json"), **replicate_slice(replicate)}


def reconstructor_slice(
    dataset_config: Any, operator: Any, spec: dict[str, Any], seed: int, *, replicate: int = 0
) -> dict[str, Any]:
    """A trained reconstructor: the data set, the degradation, the model's full spec and the model replicate."""
    return {**dataset_slice(dataset_config, seed), "degradation": degradation_slice(operator), "spec": spec,
            **replicate_slice(replicate)}


def mitigation_slice(base_slice: dict[str, Any], mitigation: Any, classifier_slice: dict[str, Any]) -> dict[str, Any]:
    """A mitigated reconstructor: its unmitigated model's slice, the mitigation and the frozen classifier's task.

    The replicate comes with ``base_slice`` (:func:`reconstructor_slice` of the same replicate).
    """
    from reconfair.mitigate.objective import ADVERSARY_VERSION

    version = {"adversary": ADVERSARY_VERSION} if mitigation.kind == "adversarial" else {}
    return {**base_slice, "mitigation": mitigation.to_dict(), "classifier": classifier_slice["task"],
            "hold_out": "the same patients and draws for every lambda of a sweep", **version}


def inference_slice(
    dataset_config: Any,
    seed: int,
    *,
    condition: Any,
    reconstructor_key: str,
    model_keys: dict[str, str],
    splits: Sequence[str],
    replicate: int = 0,
) -> dict[str, Any]:
    """One condition's rows: the data, the degradation, the reconstructor's and models' keys, the splits.

    ``replicate`` is the model replicate (also implied by the models' keys, except for a baseline's
    reconstructor key, which is the same for every replicate).
    """
    return {
        **dataset_slice(dataset_config, seed),
        "condition": condition.name,
        "degradation": None if condition.is_original else degradation_slice(condition.operator),
        "reconstructor": reconstructor_key,
        "models": dict(model_keys),
        "splits": list(splits),
        **replicate_slice(replicate),
    }


def observer_slice(dataset_config: Any, seed: int, *, condition: Any, reconstructor_key: str,
                   task: Any) -> dict[str, Any]:
    """One condition's observer decision variables: the data, the degradation, the reconstructor's key,
    the detection task's settings (signal, location, observers, splits, ...)."""
    return {
        **dataset_slice(dataset_config, seed),
        "condition": condition.name,
        "degradation": None if condition.is_original else degradation_slice(condition.operator),
        "reconstructor": reconstructor_key,
        "task": task.model_dump(mode="json"),
        "version": 1,
    }


def inferred_splits(evaluation: Any, condition: Any) -> list[str]:
    """Splits a condition is inferred on: ``val`` + the evaluation split for ``original`` or ``refit``.

    The fixed-validation threshold needs only the original images' ``val``
    predictions, so reconstructed conditions are inferred on the evaluation
    split alone unless the threshold is refitted per condition.
    """
    refit = evaluation.threshold == "refit"
    return sorted({"val", evaluation.split} if condition.is_original or refit else {evaluation.split})
