"""Reconstructors: map an image-domain measurement back to an image in [0, 1]."""

from reconfair.recon.baselines import RECONSTRUCTORS, BaselineReconstructor, make_reconstructor

__all__ = ["RECONSTRUCTORS", "BaselineReconstructor", "make_reconstructor"]
