"""The mitigation stage: fine-tune a trained reconstructor with a mitigation, cached like any model.

A mitigated condition (``.../unet+eodd:0.316``) starts from its unmitigated
model (trained or found in the cache), fine-tunes it on the training split
with the frozen classifier in the loop (:func:`reconfair.mitigate.finetune`),
and stores the model with its hold-out scores (``holdout.json``: PSNR, EODD
and balanced accuracy after and before fine-tuning), from which the sweep's best lambda is
chosen (:func:`select_lambdas`) without looking at val or test.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from reconfair.engine.cache import Cache
from reconfair.engine.reconstruction import (
    MITIGATION_STAGE,
    RECON_STAGE,
    PreparedReconstructor,
    mitigated_slice,
    prepare_reconstructor,
    reconstructor_key,
)
from reconfair.mitigate.finetune import finetune
from reconfair.recon.learned import load_reconstructor
from reconfair.seeding import replicate_seed

__all__ = ["HOLDOUT_FILE", "holdout_scores", "mean_scores", "prepare_mitigated", "select_lambdas"]

HOLDOUT_FILE = "holdout.json"


def prepare_mitigated(
    condition: Any,
    *,
    samples: Any,
    dataset_config: Any,
    seed: int,
    cache: Cache,
    device: torch.device,
    progress: bool,
    classifier: Any,
    replicate: int = 0,
) -> PreparedReconstructor:
    """The mitigated reconstructor of ``condition``: from the cache, or fine-tuned now and stored.

    ``seed`` is the study seed; model replicate ``replicate`` fine-tunes its
    own unmitigated model, with ``classifier`` of the same replicate, seeded
    by :func:`~reconfair.seeding.replicate_seed` (which also draws its hold-out).
    """
    key = reconstructor_key(condition, dataset_config, seed, cache, replicate=replicate)
    with cache.claim(MITIGATION_STAGE, key) as found:
        if found is not None:
            return PreparedReconstructor(load_reconstructor(found / "model"), condition.entry.name, key)
        base_key = reconstructor_key(condition.unmitigated, dataset_config, seed, cache, replicate=replicate)
        if not cache.folder(RECON_STAGE, base_key).is_dir():  # normally trained already by its own condition
            prepare_reconstructor(condition.entry, condition.operator, samples=samples, dataset_config=dataset_config,
                                  seed=seed, cache=cache, device=device, progress=progress, replicate=replicate)
        recon = load_reconstructor(cache.folder(RECON_STAGE, base_key) / "model")  # a fresh copy to fine-tune
        operator, spec = condition.operator, condition.mitigation
        sweep = f"mitigate/{samples.name}/{operator.name}@{float(operator.level)!r}/{condition.entry.name}"
        recon, after, before = finetune(
            recon, spec, classifier=classifier, train=samples.split("train").materialize(), operator=operator,
            seed=replicate_seed(seed, replicate),
            stage=f"{sweep}/{spec.label}", holdout_stage=sweep, resume=cache.scratch(MITIGATION_STAGE, key) / "training",
            device=device, progress=progress,
        )
        scores = {"psnr": after.psnr, "eodd": after.eodd, "balanced_accuracy": after.balanced_accuracy,
                  "base_psnr": before.psnr, "base_eodd": before.eodd, "base_balanced_accuracy": before.balanced_accuracy}

        def write(folder: Path) -> None:
            recon.save(folder / "model")
            (folder / HOLDOUT_FILE).write_text(json.dumps(scores, indent=2), encoding="utf-8")

        config_slice = mitigated_slice(condition, dataset_config, seed, replicate=replicate)
        cache.store(MITIGATION_STAGE, key, write, config_slice=config_slice)
    return PreparedReconstructor(recon, condition.entry.name, key)


def holdout_scores(
    condition: Any, dataset_config: Any, seed: int, cache: Cache, *, replicate: int = 0
) -> dict[str, float] | None:
    """A mitigated condition's hold-out scores from its cache entry (``None`` when it is not there)."""
    key = reconstructor_key(condition, dataset_config, seed, cache, replicate=replicate)
    path = cache.folder(MITIGATION_STAGE, key) / HOLDOUT_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


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


def selected_conditions(config: Any, cache: Cache) -> set[str]:
    """The best condition of every lambda sweep of ``config`` (by hold-out scores in the cache).

    The ``finetune`` control is a reference, never a choice.  With several
    model replicates (``config.replicates`` > 1) a sweep is chosen once, for
    every replicate, by :func:`select_lambdas` on the mean of each lambda's
    hold-out scores over the replicates (:func:`mean_scores`).
    """
    from reconfair.engine.conditions import dataset_conditions
    from reconfair.metrics.uncertainty import CONTROL_MITIGATION

    chosen: set[str] = set()
    for dataset_config in config.datasets:
        sweeps: dict[tuple, list] = {}
        for condition in dataset_conditions(dataset_config, config.attributes):
            if condition.mitigation is None or condition.mitigation.kind == CONTROL_MITIGATION:
                continue
            group = (condition.unmitigated.name, condition.mitigation.kind)
            scores = mean_scores([holdout_scores(condition, dataset_config, config.seed, cache, replicate=k)
                                  for k in range(config.replicates)])
            sweeps.setdefault(group, []).append((condition.name, condition.mitigation.weight, scores))
        entries = {m.kind: m for m in dataset_config.mitigations}
        for (_, kind), candidates in sweeps.items():
            chosen |= select_lambdas(candidates, max_psnr_drop=entries[kind].max_psnr_drop,
                                     max_accuracy_drop=entries[kind].max_accuracy_drop)
    return chosen


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


def write_mitigation_tables(samples: Any, tables: Any, config: Any, cache: Cache, directory: Path, *,
                            settings: Any) -> list[Path]:
    """``mitigation.csv`` (paired bootstrap vs unmitigated) and ``lambda_sweep.csv``, when anything is mitigated.

    With a ``finetune`` control in the run, also ``mitigation_vs_control.csv``:
    the same bootstrap of each mitigation against its control.  ``settings``
    is the run's :class:`~reconfair.metrics.settings.EvaluationSettings`.
    """
    from reconfair.metrics.mitigation import lambda_sweep, mitigation_effects
    from reconfair.metrics.uncertainty import CONTROL, CONTROL_MITIGATION

    if not any(d.mitigations for d in config.datasets):
        return []
    written = {"mitigation.csv": mitigation_effects(samples, settings),
               "lambda_sweep.csv": lambda_sweep(tables.performance, tables.fairness,
                                                selected=selected_conditions(config, cache))}
    if "mitigation" in samples.columns and (samples["mitigation"] == CONTROL_MITIGATION).any():
        written["mitigation_vs_control.csv"] = mitigation_effects(samples, settings, against=CONTROL)
    directory.mkdir(parents=True, exist_ok=True)
    for name, table in written.items():
        table.to_csv(directory / name, index=False)
    return [directory / name for name in written]
