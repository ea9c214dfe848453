"""Reconstructors: map an image-domain measurement back to an image in [0, 1].

Registered: ``baseline`` (identity / FBP / zero-filled), ``unet``, ``pix2pix``
and ``irsde``; plug-ins come from :mod:`reconfair.recon.plugins`.  What a
reconstructor provides, and its optional capabilities, are the protocols of
:mod:`reconfair.recon.base`.
"""

from reconfair.recon.base import (
    Precomputed,
    ReconstructionMethod,
    Reconstructor,
    Trainable,
    missing_samples,
    needs_sample_ids,
)
from reconfair.recon.baselines import RECONSTRUCTORS, BaselineReconstructor, make_reconstructor
from reconfair.recon.learned import (
    LearnedReconstructor,
    load_reconstructor,
    make_irsde,
    make_learned,
    make_pix2pix,
    make_unet,
)

RECONSTRUCTORS.register("unet")(make_unet)
RECONSTRUCTORS.register("pix2pix")(make_pix2pix)
RECONSTRUCTORS.register("irsde")(make_irsde)

__all__ = [
    "Precomputed",
    "ReconstructionMethod",
    "Reconstructor",
    "Trainable",
    "missing_samples",
    "needs_sample_ids",
    "RECONSTRUCTORS",
    "BaselineReconstructor",
    "LearnedReconstructor",
    "load_reconstructor",
    "make_learned",
    "make_reconstructor",
]
