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
    "reconstructor_slice",
]


def dataset_slice(config: Any, seed: int) -> dict[str, Any]:
    """What determines a data set's images, labels and splits (not its degradations, models or mitigations).

    A real data set (``source`` set) adds the SHA-256 of its index files
    (CSV/XLSX), so editing them invalidates every stage built on the data;
    a synthetic set's slice has no ``source`` key (its keys are unchanged).
    """
    data = config.model_dump(mode="json", exclude={"degradations", "reconstructors", "tasks", "mitigations"})
    if data.get("source", "absent") is None:
        del data["source"]
    if getattr(config, "source", None) is None:
        return {"dataset": data, "seed": seed}
    from reconfair.data.sources import index_fingerprint

    return {"dataset": data, "seed": seed, "index_files": index_fingerprint(config.source)}


def degradation_slice(operator: Any) -> dict[str, Any]:
    """What determines a degradation: its ``describe()`` facts (operator, level, parameters)."""
    return {"operator": operator.name, "level": float(operator.level), "facts": operator.describe()}


def baseline_slice(operator: Any) -> dict[str, Any]:
    """A baseline reconstructor (nothing trained): only the degradation decides it."""
    return {"degradation": degradation_slice(operator)}


def diagnostic_slice(dataset_config: Any, task: Any, seed: int) -> dict[str, Any]:
    """A diagnostic model: the data set and the task's model settings."""
    return {**dataset_slice(dataset_config, seed), "task": task.model_dump(mode="json")}


def reconstructor_slice(dataset_config: Any, operator: Any, spec: dict[str, Any], seed: int) -> dict[str, Any]:
    """A trained reconstructor: the data set, the degradation and the model's full spec."""
    return {**dataset_slice(dataset_config, seed), "degradation": degradation_slice(operator), "spec": spec}


def mitigation_slice(base_slice: dict[str, Any], mitigation: Any, classifier_slice: dict[str, Any]) -> dict[str, Any]:
    """A mitigated reconstructor: its unmitigated model's slice, the mitigation and the frozen classifier's task."""
    return {**base_slice, "mitigation": mitigation.to_dict(), "classifier": classifier_slice["task"],
            "hold_out": "the same patients and draws for every lambda of a sweep"}


def inference_slice(
    dataset_config: Any,
    seed: int,
    *,
    condition: Any,
    reconstructor_key: str,
    model_keys: dict[str, str],
    splits: Sequence[str],
) -> dict[str, Any]:
    """One condition's rows: the data, the degradation, the reconstructor's and models' keys, the splits."""
    return {
        **dataset_slice(dataset_config, seed),
        "condition": condition.name,
        "degradation": None if condition.is_original else degradation_slice(condition.operator),
        "reconstructor": reconstructor_key,
        "models": dict(model_keys),
        "splits": list(splits),
    }


def inferred_splits(evaluation: Any, condition: Any) -> list[str]:
    """Splits a condition is inferred on: ``val`` + the evaluation split for ``original`` or ``refit``.

    The fixed-validation threshold needs only the original images' ``val``
    predictions, so reconstructed conditions are inferred on the evaluation
    split alone unless the threshold is refitted per condition.
    """
    refit = evaluation.threshold == "refit"
    return sorted({"val", evaluation.split} if condition.is_original or refit else {evaluation.split})
