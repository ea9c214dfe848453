"""Build a configured data set: generate (or read real data), plant effects, split by patient."""

from __future__ import annotations

from typing import Any

from reconfair.data.effects import GroupEffect, PlantedEffects
from reconfair.data.lazy import LazySampleSet
from reconfair.data.sample import SampleSet
from reconfair.data.splits import assign_splits
from reconfair.data.synthetic import SYNTHETIC


def build_dataset(config: Any, *, seed: int, lazy: bool = False) -> SampleSet | LazySampleSet:
    """The sample set described by a :class:`~reconfair.config.DatasetConfig`.

    ``lazy``: images are rendered only when a batch is asked for (the engine's
    choice: inference streams, training materialises its splits).  Real data
    (``config.source`` set) is read from its files by
    :func:`reconfair.data.sources.build_source`; its ``info["skipped"]`` lists
    the samples dropped under ``on_missing: skip``.
    """
    if config.source is not None:
        from reconfair.data.sources import build_source

        samples = build_source(config, seed=seed)
        return samples if lazy else samples.materialize()
    effects = PlantedEffects(
        by_group={
            attribute: {group: GroupEffect(**effect.model_dump()) for group, effect in groups.items()}
            for attribute, groups in config.effects.items()
        }
    )
    options: dict[str, Any] = {}
    if config.images_per_patient is not None:
        options["images_per_patient"] = tuple(config.images_per_patient)
    samples = SYNTHETIC[config.name](
        n_patients=config.n_patients,
        image_size=config.image_size,
        seed=seed,
        effects=effects,
        age_cut=config.age_cut,
        lazy=lazy,
        **options,
    )
    split = assign_splits(samples.table["patient_id"].tolist(), fractions=config.split_fractions, seed=seed)
    samples.table = samples.table.assign(split=split)
    return samples
