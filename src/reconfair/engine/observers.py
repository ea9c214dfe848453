"""The ``observer`` and ``observer-stats`` stages: model observers detecting an inserted signal, per condition.

One ``observer`` stage per data set x detection task x unmitigated condition
(``original`` included, the reference; only the task's ``reconstructors`` when
it names them; never a folder plug-in, whose files reconstruct the data set's
images, not the lesion pairs), for model replicate 0.  It takes the
clean images of the task's train and test splits (at most ``max_backgrounds``
each, the first by sorted sample id), inserts the signal
(:func:`reconfair.physics.lesions.make_pairs`, seed
``derive_seed(run seed, "lesion", dataset)``), degrades the present and the
absent image of each pair with independent per-sample draws (the stages of
:func:`~reconfair.engine.inference.degrade_batch` with ``/lesion-present``
and ``/lesion-absent`` appended), reconstructs them as inference does (stages
``recon/<dataset>/<condition>/lesion-present`` and ``.../lesion-absent``),
fits each observer on the train split's ROIs (centred on the recorded
locations) and stores the test split's decision variables, one row per
sample x observer x present.  The CHO's internal noise draws from
``numpy_generator(run seed, "observer", dataset, condition, observer)``.

The one ``observer-stats`` stage reads every ``observer`` stage's table (the
per-sample principle: nothing recomputes a decision variable) and computes
:func:`reconfair.metrics.observer_stats.observer_group_stats` against
``original`` (the study's attributes and their intersections, the
evaluation's bootstrap B, seeded by the run seed); the report writes it to
``metrics/observers.csv``.  docs/observers.md describes both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reconfair.data.sample import ATTR_PREFIX
from reconfair.engine.graph import Graph, Stage
from reconfair.engine.images import images_of, split_count, split_inputs
from reconfair.engine.inference import condition_images, reconstructor_input
from reconfair.engine.keys import observer_slice
from reconfair.metrics.image import psnr
from reconfair.metrics.observer_stats import observer_group_stats
from reconfair.metrics.observers import extract_rois, laguerre_gauss_channels, run_observer
from reconfair.physics import make_degradation
from reconfair.physics.lesions import location_from_config, make_pairs
from reconfair.physics.signals import signal_from_config
from reconfair.progress import progress_bar
from reconfair.seeding import derive_seed, numpy_generator
from reconfair.vocabulary import ORIGINAL

__all__ = ["DECISION_COLUMNS", "OBSERVER_STAGE", "ObserverKind", "ObserverStatsKind", "backgrounds",
           "detection_domain", "detection_roi", "detection_signal", "detection_width", "observer_bootstrap"]

OBSERVER_STAGE = "observer"
DECISION_COLUMNS = ("dataset", "sample_id", "patient_id", "split", "condition", "recon", "degradation", "level",
                    "observer", "present", "t", "row", "col", "psnr")
"""The decision-variable table's columns (then the ``attr_*`` columns)."""
DRAWS = {True: "/lesion-present", False: "/lesion-absent"}
"""Appended to the degradation and reconstruction stages: present and absent acquisitions are independent."""
BATCH = 128


def detection_signal(task: Any) -> Any:
    """The task's signal (:func:`~reconfair.physics.signals.signal_from_config` of ``task.signal``)."""
    return signal_from_config(task.signal)


def detection_roi(task: Any, signal: Any) -> int:
    """The ROI side: ``task.roi``, or ``2 extent + 1`` (the signal's whole support)."""
    return int(task.roi) if task.roi is not None else 2 * int(signal.extent) + 1


def detection_width(task: Any, signal: Any) -> float:
    """The LG channels' width: ``task.cho.width``, or half the signal's extent (at least 1 pixel)."""
    return float(task.cho.width) if task.cho.width is not None else max(signal.extent / 2.0, 1.0)


def detection_domain(task: Any, dataset_config: Any) -> tuple[str, float]:
    """``(domain, mu)``: where the signal is added, and the line integral's scale ``p = mu x``.

    ``auto`` is ``line-integral`` when every degradation is an X-ray operator (it has ``mu``: radiograph,
    CT), ``image`` when none is (MRI, or no degradation); a mix must name the domain.  ``mu`` is the
    X-ray operators' (they must agree), else 4.
    """
    operators = [make_degradation(d.operator, d.levels[0], **d.params) for d in dataset_config.degradations]
    mus = sorted({float(op.mu) for op in operators if hasattr(op, "mu")})
    xray = [d.operator for d, op in zip(dataset_config.degradations, operators) if hasattr(op, "mu")]
    if len(mus) > 1:
        raise ValueError(f"the X-ray degradations {xray} have different mu {mus}; the signal's line integral needs one")
    mu = mus[0] if mus else 4.0
    if task.domain != "auto":
        return task.domain, mu
    if xray and len(xray) < len(operators):
        raise ValueError(f"auto cannot choose between line-integral (X-ray: {xray}) and image (the other "
                         "degradations); set domain: image or domain: line-integral")
    return ("line-integral" if xray else "image"), mu


def backgrounds(samples: Any, limit: int) -> Any:
    """The first ``limit`` samples by sorted sample id (a deterministic choice, whatever the table order)."""
    order = np.argsort(samples.table["sample_id"].to_numpy(dtype=str), kind="stable")[:limit]
    return samples.subset(order)


def observer_bootstrap(evaluation: Any) -> int:
    """The observers' resamples: the evaluation's ``bootstrap`` (``auto``: 1000)."""
    return 1000 if evaluation.bootstrap == "auto" else int(evaluation.bootstrap)


class ObserverKind:
    """Plans one ``observer`` stage per data set x detection task x unmitigated condition (replicate 0)."""

    name = OBSERVER_STAGE
    unit = "images"

    def plan(self, graph: Graph) -> None:
        config = graph.config
        for index, dataset_config in enumerate(config.datasets):
            for position, task in enumerate(dataset_config.tasks):
                if task.kind != "detection":
                    continue
                splits = sorted({task.train_split, task.test_split})
                estimate = 2 * sum(min(task.max_backgrounds, split_count(graph, index, [s])) for s in splits)
                for condition in graph.memo["conditions"][index]:
                    if condition.mitigation is not None or not (
                            condition.is_original or task.reconstructors is None
                            or condition.entry.name in task.reconstructors):
                        continue
                    if not condition.is_original and condition.entry.kind == "folder":
                        continue  # its files are reconstructions of the data set's images, not of the lesion pairs
                    inputs = split_inputs(graph, index, splits)
                    recon = reconstructor_input(graph, index, 0, condition, inputs)
                    config_slice = None if recon is None else observer_slice(
                        dataset_config, config.seed, condition=condition, reconstructor_key=recon, task=task)
                    graph.add(self.name, label=f"{dataset_config.name} detection {condition.name}",
                              params={"dataset": index, "task": position, "condition": condition},
                              config_slice=config_slice, inputs=inputs, estimate=estimate)

    def compute(self, stage: Stage, context: Any) -> pd.DataFrame:
        from reconfair.engine.reconstruction import build_reconstructor

        index, condition = stage.params["dataset"], stage.params["condition"]
        dataset_config = context.dataset_config(index)
        task = dataset_config.tasks[stage.params["task"]]
        name = context.dataset(index).name
        reconstructor = None
        if "reconstructor" in stage.inputs:
            reconstructor = context.output(stage.inputs["reconstructor"])
        elif not condition.is_original:
            reconstructor = build_reconstructor(condition.entry, condition.operator, dataset=name)
        signal = detection_signal(task)
        domain, mu = detection_domain(task, dataset_config)
        policy = location_from_config(task.location)
        seed = context.config.seed
        roi = detection_roi(task, signal)
        split_rois: dict[str, dict[bool, np.ndarray]] = {}
        tables: dict[str, pd.DataFrame] = {}
        picked = {split: backgrounds(images_of(context, stage, splits=[split]), task.max_backgrounds)
                  for split in (task.train_split, task.test_split)}
        total = sum(len(s) for s in picked.values())
        with progress_bar(f"observers {stage.label}", total=total, enabled=context.progress) as advance:
            for split, samples in picked.items():
                rois: dict[bool, list[np.ndarray]] = {True: [], False: []}
                quality: dict[bool, list[np.ndarray]] = {True: [], False: []}
                centers = []
                for start in range(0, len(samples), BATCH):
                    clean, _ = samples.batch(start, start + BATCH)
                    ids = samples.table["sample_id"].iloc[start:start + BATCH].tolist()
                    pairs = make_pairs(clean, ids, signal=signal, domain=domain, policy=policy,
                                       seed=derive_seed(seed, "lesion", name), mu=mu)
                    centers.append(pairs.centers.numpy())
                    for present, background in ((True, pairs.present), (False, pairs.absent)):
                        _, image = condition_images(background, ids, condition, reconstructor, seed=seed,
                                                    dataset=name, device=context.device, draw=DRAWS[present])
                        rois[present].append(extract_rois(image, pairs.centers.numpy(), roi))
                        quality[present].append(np.full(len(ids), np.nan) if condition.is_original
                                                else psnr(image, background).double().numpy())
                    advance(len(ids))
                split_rois[split] = {p: np.concatenate(r) for p, r in rois.items()}
                where = np.concatenate(centers)
                attributes = [c for c in samples.table.columns if c.startswith(ATTR_PREFIX)]
                base = samples.table[["sample_id", "patient_id", "split", *attributes]].reset_index(drop=True)
                tables[split] = base.assign(row=where[:, 0], col=where[:, 1],
                                            **{f"psnr_{p}": np.concatenate(q) for p, q in quality.items()})
        train, test = split_rois[task.train_split], split_rois[task.test_split]
        frames = []
        for observer in task.observers:
            params: dict[str, Any] = {}
            if observer == "cho":
                params = {"channels": laguerre_gauss_channels(roi, task.cho.channels, detection_width(task, signal)),
                          "internal_noise": task.cho.internal_noise}
            result = run_observer(observer, train[True], train[False], test[True], test[False],
                                  generator=numpy_generator(seed, "observer", name, condition.name, observer),
                                  **params)
            base = tables[task.test_split]
            for present, t in ((True, result.t_present), (False, result.t_absent)):
                frames.append(base.drop(columns=["psnr_True", "psnr_False"]).assign(
                    observer=observer, present=present, t=np.asarray(t, dtype=np.float64),
                    psnr=base[f"psnr_{present}"].to_numpy()))
        out = pd.concat(frames, ignore_index=True)
        out = out.assign(dataset=name, condition=condition.name, recon=condition.recon,
                         degradation=condition.degradation, level=float(condition.level))
        attributes = sorted(c for c in out.columns if c.startswith(ATTR_PREFIX))
        return out[[*DECISION_COLUMNS, *attributes]]

    def write(self, output: pd.DataFrame, folder: Path) -> None:
        output.to_parquet(folder / "decisions.parquet", index=False)

    def load(self, stage: Stage, context: Any, folder: Path) -> pd.DataFrame:
        return pd.read_parquet(folder / "decisions.parquet")


class ObserverStatsKind:
    """Plans the one ``observer-stats`` stage over every ``observer`` stage (none without a detection task)."""

    name = "observer-stats"
    unit = ""

    def plan(self, graph: Graph) -> None:
        stages = graph.of_kind(OBSERVER_STAGE)
        if not stages:
            return
        config = graph.config
        graph.add(self.name, label="observer statistics", params={},
                  config_slice={"evaluation": config.evaluation.model_dump(mode="json"), "seed": config.seed,
                                "attributes": list(config.attributes), "version": 1},
                  inputs={f"decisions:{i}": s.ref for i, s in enumerate(stages)})

    def compute(self, stage: Stage, context: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
        decisions = pd.concat([context.output(ref) for ref in stage.inputs.values()], ignore_index=True)
        evaluation = context.config.evaluation
        n_boot = observer_bootstrap(evaluation)
        stats = observer_group_stats(decisions, attributes=list(context.config.attributes), reference=ORIGINAL,
                                     n_boot=max(n_boot, 2), seed=context.config.seed,
                                     min_group_size=evaluation.min_group_size,
                                     min_valid_fraction=evaluation.min_valid_fraction)
        if n_boot < 2:  # bootstrap: 0 (or 1): no uncertainty
            uncertain = ["ci_low", "ci_high", "delta_ci_low", "delta_ci_high", "p_value"]
            stats[uncertain] = np.nan
            stats["n_boot"] = n_boot
        return decisions, stats

    def write(self, output: tuple[pd.DataFrame, pd.DataFrame], folder: Path) -> None:
        decisions, stats = output
        decisions.to_parquet(folder / "decisions.parquet", index=False)
        stats.to_parquet(folder / "observers.parquet", index=False)

    def load(self, stage: Stage, context: Any, folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
        return pd.read_parquet(folder / "decisions.parquet"), pd.read_parquet(folder / "observers.parquet")

