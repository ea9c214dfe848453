"""The steps every synthetic generator shares: cohort, planted effects, splits, lazy rendering.

A generator supplies two functions: ``patient_params(streams, cohort,
multipliers) -> (patient arrays, labels)`` and ``render(params, image_size)
-> (images, masks or None)`` (``N x H x W`` each), and optionally
``attributes(streams, cohort) -> {name: per-patient values}`` for sensitive
attributes of its own (added after the shared ones); :func:`generate` does
the rest, so every generator seeds, splits and streams the same way.

Rendering runs on one intra-op thread (:func:`reconfair.seeding.torch_threads`):
it is a long chain of small elementwise operators, which one thread runs far
faster than several on a shared CPU, with the same bits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from reconfair.data.demographics import (
    Cohort,
    PatientStreams,
    draw_pose,
    gather_params,
    make_cohort,
    validate_generator_args,
)
from reconfair.data.effects import PlantedEffects
from reconfair.data.lazy import LazySampleSet
from reconfair.data.sample import SampleSet
from reconfair.data.splits import assign_splits
from reconfair.seeding import torch_threads

__all__ = ["generate"]

PatientParams = Callable[
    [PatientStreams, Cohort, dict[str, np.ndarray]], tuple[dict[str, np.ndarray], dict[str, np.ndarray]]
]
Render = Callable[[dict[str, torch.Tensor], int], tuple[torch.Tensor, torch.Tensor | None]]
Attributes = Callable[[PatientStreams, Cohort], dict[str, np.ndarray]]


def generate(
    *,
    dataset: str,
    prefix: str,
    n_patients: int,
    image_size: int,
    seed: int,
    effects: PlantedEffects | None,
    images_per_patient: tuple[int, int],
    age_cut: float | None,
    lazy: bool,
    patient_params: PatientParams,
    render: Render,
    facts: dict[str, Any],
    attributes: Attributes | None = None,
) -> SampleSet | LazySampleSet:
    """A synthetic sample set: eager, or ``lazy`` (images rendered per requested batch).

    ``facts`` are generator constants added to the set's ``info``.
    """
    validate_generator_args(
        n_patients=n_patients, image_size=image_size, seed=seed, images_per_patient=images_per_patient
    )
    effects = PlantedEffects.null() if effects is None else effects
    if not isinstance(effects, PlantedEffects):
        raise ValueError(f"effects must be a PlantedEffects or None, got {type(effects).__name__}")
    streams = PatientStreams(seed, dataset)
    cohort = make_cohort(
        streams, prefix=prefix, n_patients=n_patients, images_per_patient=images_per_patient, age_cut=age_cut
    )
    effects.check_groups(cohort.demographics.groups, dataset=dataset)
    patient, labels = patient_params(streams, cohort, effects.multipliers(cohort.demographics.categorical()))
    image = draw_pose(streams, cohort)
    table = cohort.table(labels, attributes=None if attributes is None else attributes(streams, cohort))
    table.insert(2, "split", assign_splits(table["patient_id"].tolist(), seed=seed))
    info = {
        "generator": dataset,
        "n_patients": n_patients,
        "image_size": image_size,
        "seed": seed,
        "effects": effects.to_dict(),
        "images_per_patient": list(images_per_patient),
        "age_cut": cohort.demographics.age_cut,
        **facts,
    }

    def render_rows(rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor | None]:
        with torch_threads(1):  # elementwise chains: one thread is faster and gives the same bits
            images, masks = render(gather_params(cohort, patient, image, rows), image_size)
        return images.unsqueeze(1), None if masks is None else masks.unsqueeze(1)

    samples = LazySampleSet(
        name=dataset, table=table, render=render_rows, rows=np.arange(len(table)), image_size=image_size, info=info
    )
    return samples if lazy else samples.materialize()
