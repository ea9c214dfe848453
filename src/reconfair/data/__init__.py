"""Data sets: records of samples with images, targets and sensitive attributes."""

from reconfair.data.sample import Sample, SampleSet

__all__ = ["Sample", "SampleSet"]
