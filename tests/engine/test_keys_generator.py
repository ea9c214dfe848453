"""Cached synthetic images follow the generator's version: images of older code are never reused."""

from reconfair.config import DatasetConfig
from reconfair.data.synthetic import GENERATOR_VERSIONS
from reconfair.engine.keys import dataset_slice


def test_the_chest_slice_carries_its_generator_version_and_the_unchanged_brain_keeps_its_keys():
    chest = dataset_slice(DatasetConfig(name="synthetic-chest"), seed=0)
    brain = dataset_slice(DatasetConfig(name="synthetic-brain"), seed=0)
    assert chest["generator"] == GENERATOR_VERSIONS["synthetic-chest"] == 2  # habitus and breast tissue
    assert set(brain) == {"dataset", "seed"}  # its images did not change: its cached stages stay valid
