"""Data sets: records of samples with images, targets and sensitive attributes."""

from reconfair.data.effects import GroupEffect, PlantedEffects
from reconfair.data.facts import dataset_facts_for
from reconfair.data.sample import Sample, SampleSet
from reconfair.data.splits import assign_splits
from reconfair.data.synthetic import SYNTHETIC, dataset_facts
from reconfair.data.synthetic_brain import make_synthetic_brain
from reconfair.data.synthetic_chest import make_synthetic_chest

__all__ = [
    "GroupEffect",
    "PlantedEffects",
    "SYNTHETIC",
    "Sample",
    "SampleSet",
    "assign_splits",
    "dataset_facts",
    "dataset_facts_for",
    "make_synthetic_brain",
    "make_synthetic_chest",
]
