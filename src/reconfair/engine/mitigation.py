"""The mitigation stages: ``mitigated-reconstructor`` (fine-tune a trained reconstructor) and ``mitigation-tables``.

A mitigated condition (``.../unet+eodd:0.316``) starts from its unmitigated
model (the ``reconstructor`` stage), fine-tunes it on the training split
with the frozen classifier of the same replicate in the loop
(:func:`reconfair.mitigate.finetune`), and stores the model with its hold-out
scores (``holdout.json``: PSNR, EODD and balanced accuracy after and before
fine-tuning), from which the sweep's best lambda is chosen
(:func:`select_lambdas`) without looking at val or test.

``mitigation-tables`` is the paired bootstrap of each mitigation against the
unmitigated model (``mitigation.csv``), against the ``finetune`` control when
there is one (``mitigation_vs_control.csv``), and the lambda sweep
(``lambda_sweep.csv``), from the evaluated table and the hold-out scores.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from reconfair.engine.diagnostic import model_ref
from reconfair.engine.graph import Graph, Stage, replicate_suffix
from reconfair.engine.images import materialized, split_count, split_inputs
from reconfair.engine.keys import diagnostic_slice, mitigation_slice, reconstructor_slice
from reconfair.mitigate.finetune import finetune
from reconfair.recon.learned import default_spec, load_reconstructor
from reconfair.seeding import replicate_seed
from reconfair.vocabulary import CONTROL

__all__ = ["HOLDOUT_FILE", "MITIGATION_STAGE", "MitigatedKind", "MitigationTablesKind", "mean_scores",
           "select_lambdas"]

HOLDOUT_FILE = "holdout.json"
MITIGATION_STAGE = "mitigated-reconstructor"


class MitigatedKind:
    """Plans one ``mitigated-reconstructor`` stage per mitigated condition and replicate; fine-tunes."""

    name = MITIGATION_STAGE
    unit = "image-epochs"

    def plan(self, graph: Graph) -> None:
        config = graph.config
        for index, dataset_config in enumerate(config.datasets):
            n_train = split_count(graph, index, ["train"])
            task = next((t for t in dataset_config.tasks if t.kind == "classification"), None)
            for replicate in range(config.replicates):
                for condition in graph.memo["conditions"][index]:
                    if condition.mitigation is None:
                        continue
                    base = graph.find("reconstructor", dataset=index, replicate=replicate,
                                      condition=condition.unmitigated.name)
                    classifier = model_ref(graph, index, replicate, "classification")
                    entry, operator = condition.entry, condition.operator
                    spec = default_spec(entry.name, entry.preset, **entry.settings)
                    base_slice = reconstructor_slice(dataset_config, operator, spec, config.seed, replicate=replicate)
                    label = (f"{dataset_config.name} {operator.name}@{float(operator.level):g} {entry.name}"
                             f"+{condition.mitigation.label}{replicate_suffix(config, replicate)}")
                    graph.add(self.name, label=label,
                              params={"dataset": index, "replicate": replicate, "condition": condition},
                              config_slice=mitigation_slice(base_slice, condition.mitigation,
                                                            diagnostic_slice(dataset_config, task, config.seed)),
                              inputs={"reconstructor": base.ref, "classifier": classifier,
                                      **split_inputs(graph, index, ["train"])},
                              estimate=condition.mitigation.epochs * n_train)

    def compute(self, stage: Stage, context: Any) -> tuple[Any, dict[str, float]]:
        condition, replicate = stage.params["condition"], stage.params["replicate"]
        samples = context.dataset(stage.params["dataset"])
        recon = load_reconstructor(context.entry(stage.inputs["reconstructor"]) / "model")  # a fresh copy to tune
        operator, spec = condition.operator, condition.mitigation
        sweep = f"mitigate/{samples.name}/{operator.name}@{float(operator.level)!r}/{condition.entry.name}"
        recon, after, before = finetune(
            recon, spec, classifier=context.output(stage.inputs["classifier"]),
            train=materialized(context, stage, "train"), operator=operator,
            seed=replicate_seed(context.config.seed, replicate), stage=f"{sweep}/{spec.label}", holdout_stage=sweep,
            resume=context.cache.scratch(MITIGATION_STAGE, stage.key) / "training", device=context.device,
            progress=context.progress,
        )
        scores = {"psnr": after.psnr, "eodd": after.eodd, "balanced_accuracy": after.balanced_accuracy,
                  "base_psnr": before.psnr, "base_eodd": before.eodd,
                  "base_balanced_accuracy": before.balanced_accuracy}
        return recon, scores

    def write(self, output: tuple[Any, dict[str, float]], folder: Path) -> None:
        recon, scores = output
        recon.save(folder / "model")
        (folder / HOLDOUT_FILE).write_text(json.dumps(scores, indent=2), encoding="utf-8")

    def load(self, stage: Stage, context: Any, folder: Path) -> Any:
        return load_reconstructor(folder / "model")


class MitigationTablesKind:
    """Plans the ``mitigation-tables`` stage when a data set mitigates; writes the three tables."""

    name = "mitigation-tables"
    unit = ""

    def plan(self, graph: Graph) -> None:
        if not any(d.mitigations for d in graph.config.datasets):
            return
        evaluate = graph.of_kind("evaluate")[0]
        inputs = {"evaluate": evaluate.ref}
        inputs.update({f"mitigated:{i}": s.ref for i, s in enumerate(graph.of_kind(MITIGATION_STAGE))})
        config = graph.config
        graph.add(self.name, label="mitigation tables", params={},
                  config_slice={"evaluation": config.evaluation.model_dump(mode="json"), "seed": config.seed,
                                "attributes": list(config.attributes),
                                "selection": [[m.method, m.max_psnr_drop, m.max_accuracy_drop]
                                              for d in config.datasets for m in d.mitigations]},
                  inputs=inputs)

    def compute(self, stage: Stage, context: Any) -> dict[str, pd.DataFrame]:
        from reconfair.metrics.mitigation import lambda_sweep, mitigation_effects
        from reconfair.metrics.uncertainty import CONTROL as AGAINST_CONTROL

        samples, tables = context.output(stage.inputs["evaluate"])
        settings = context.settings
        selected = selected_conditions(context, stage)
        written = {"mitigation": mitigation_effects(samples, settings),
                   "lambda_sweep": lambda_sweep(tables.performance, tables.fairness, selected=selected)}
        if "mitigation" in samples.columns and (samples["mitigation"] == CONTROL).any():
            written["mitigation_vs_control"] = mitigation_effects(samples, settings, against=AGAINST_CONTROL)
        return written

    def write(self, output: dict[str, pd.DataFrame], folder: Path) -> None:
        for name, table in output.items():
            table.to_parquet(folder / f"{name}.parquet", index=False)

    def load(self, stage: Stage, context: Any, folder: Path) -> dict[str, pd.DataFrame]:
        return {path.stem: pd.read_parquet(path) for path in sorted(folder.glob("*.parquet"))}


def selected_conditions(context: Any, stage: Stage) -> set[str]:
    """The best condition of every lambda sweep (by the hold-out scores of the stage's ``mitigated:`` inputs).

    The ``finetune`` control is a reference, never a choice.  With several
    model replicates a sweep is chosen once, for every replicate, by
    :func:`select_lambdas` on the mean of each lambda's hold-out scores over
    the replicates (:func:`mean_scores`).
    """
    config = context.config
    per_condition: dict[tuple[int, str], list[dict[str, float] | None]] = {}
    conditions: dict[tuple[int, str], Any] = {}
    for role, ref in stage.inputs.items():
        if not role.startswith("mitigated:"):
            continue
        mitigated = context.stages[ref]
        condition = mitigated.params["condition"]
        path = context.cache.folder(mitigated.stage, mitigated.key) / HOLDOUT_FILE  # written before (an input)
        scores = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
        key = (mitigated.params["dataset"], condition.name)
        per_condition.setdefault(key, []).append(scores)
        conditions[key] = condition
    chosen: set[str] = set()
    for index, dataset_config in enumerate(config.datasets):
        sweeps: dict[tuple, list] = {}
        for (d, name), condition in conditions.items():
            if d != index or condition.mitigation.kind == CONTROL:
                continue
            scores = per_condition[(d, name)]
            mean = mean_scores(scores) if len(scores) == config.replicates else None
            group = (condition.unmitigated.name, condition.mitigation.method)  # one sweep per adversary criterion
            sweeps.setdefault(group, []).append((condition.name, condition.mitigation.weight, mean))
        entries = {m.method: m for m in dataset_config.mitigations}
        for (_, method), candidates in sweeps.items():
            chosen |= select_lambdas(candidates, max_psnr_drop=entries[method].max_psnr_drop,
                                     max_accuracy_drop=entries[method].max_accuracy_drop)
    return chosen


def select_lambdas(
    candidates: Sequence[tuple[str, float, dict[str, float]]], *, max_psnr_drop: float, max_accuracy_drop: float,
) -> set[str]:
    """The best condition of one sweep, by hold-out scores: the lowest EODD among the lambdas that keep the task.

    A lambda is eligible when its hold-out PSNR is within ``max_psnr_drop`` dB
    and its balanced accuracy within ``max_accuracy_drop`` of the unmitigated
    model's.  The accuracy bound rules out the degenerate way to equal odds,
    deciding the same for everyone (EODD 0, balanced accuracy 0.5).
    ``candidates``: ``(condition name, lambda, hold-out scores)`` of one kind
    at one (data set, degradation, level, reconstructor).  When no lambda is
    eligible, the one with the highest balanced accuracy is chosen; ties go
    to the smaller lambda.  Returns the chosen name (a set of at most one).

    >>> base = {"base_psnr": 30.2, "base_balanced_accuracy": 0.80}
    >>> rows = [("a", 0.1, {"psnr": 30.0, "eodd": 0.20, "balanced_accuracy": 0.80, **base}),
    ...         ("b", 1.0, {"psnr": 29.5, "eodd": 0.10, "balanced_accuracy": 0.78, **base}),
    ...         ("c", 3.0, {"psnr": 29.9, "eodd": 0.00, "balanced_accuracy": 0.50, **base}),
    ...         ("d", 10., {"psnr": 25.0, "eodd": 0.01, "balanced_accuracy": 0.79, **base})]
    >>> select_lambdas(rows, max_psnr_drop=1.0, max_accuracy_drop=0.05)
    {'b'}
    """
    usable = [(name, lam, s) for name, lam, s in candidates
              if s is not None and math.isfinite(s["psnr"]) and math.isfinite(s["balanced_accuracy"])]
    if not usable:
        return set()
    kept = [(name, lam, s) for name, lam, s in usable
            if s["psnr"] >= s["base_psnr"] - max_psnr_drop
            and s["balanced_accuracy"] >= s["base_balanced_accuracy"] - max_accuracy_drop
            and math.isfinite(s["eodd"])]
    if kept:
        best = min(kept, key=lambda c: (c[2]["eodd"], c[1]))
    else:
        best = min(usable, key=lambda c: (-c[2]["balanced_accuracy"], c[1]))
    return {best[0]}


def mean_scores(per_replicate: Sequence[dict[str, float] | None]) -> dict[str, float] | None:
    """Each hold-out score averaged over the replicates; ``None`` when any replicate lacks its entry.

    >>> mean_scores([{"psnr": 30.0, "eodd": 0.1}, {"psnr": 31.0, "eodd": 0.3}]) == {"psnr": 30.5, "eodd": 0.2}
    True
    >>> mean_scores([{"psnr": 30.0}, None]) is None
    True
    """
    if not per_replicate or any(scores is None for scores in per_replicate):
        return None
    return {name: sum(s[name] for s in per_replicate) / len(per_replicate) for name in per_replicate[0]}
