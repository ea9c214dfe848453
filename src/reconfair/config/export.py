"""The ``export:`` block of a study: which images of each condition a run writes to files (docs/export.md).

A run with this block writes, after its report, every selected condition's
model inputs (the image-domain measurement its reconstructor receives, the
very draws the run used) and reconstructions (the images its diagnostic
models see) to ``<out>/export/``, with an ``index.csv``;
``reconfair export RUN_DIR --out DIR`` does the same for a finished run.
Which condition names exist is checked by
:func:`reconfair.engine.validate.validate_study` (it needs the stages).

Examples
--------
>>> ExportConfig.model_validate({}).format, ExportConfig.model_validate({}).conditions
('npy', None)
>>> ExportConfig.model_validate({"format": "png", "conditions": ["radiograph-lowdose@3000/unet"]}).conditions
('radiograph-lowdose@3000/unet',)
>>> try:
...     ExportConfig.model_validate({"inputs": False, "reconstructions": False})
... except ValueError as error:
...     print(error.errors()[0]["msg"])
Value error, inputs and reconstructions are both false: nothing to export; set one of them to true
"""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator, model_validator

from reconfair.config.base import Frozen

__all__ = ["EXPORT_FORMATS", "ExportConfig"]

EXPORT_FORMATS = ("npy", "png", "nifti")
"""File formats of an export: ``.npy`` (float32, exact), ``.png`` (16-bit grey, clipped to [0, 1]),
``.nii.gz`` (NIfTI, float32)."""

Split = Literal["train", "val", "test"]


class ExportConfig(Frozen):
    """What an export writes: inputs and/or reconstructions of the selected conditions, in one format."""

    inputs: bool = True
    """Write each degraded condition's model input: the image-domain measurement (noisy radiograph, FBP
    image, zero-filled magnitude) drawn with the run's per-sample generators, as the reconstructor receives it.
    The conditions of one degradation level share one set of input files (the same draws)."""
    reconstructions: bool = True
    """Write each condition's reconstruction (clipped to [0, 1]): the image its diagnostic models see;
    for ``original``, the clean image."""
    format: Literal["npy", "png", "nifti"] = "npy"
    """``npy`` (float32, exact), ``png`` (16-bit grey, values clipped to [0, 1] and quantised to 1/65535)
    or ``nifti`` (``.nii.gz``, float32); all three are read back by a ``folder`` reconstructor."""
    conditions: tuple[str, ...] | None = None
    """Condition names to export (e.g. ``original``, ``radiograph-lowdose@3000/unet``); ``None``: every
    condition of every data set."""
    splits: tuple[Split, ...] | None = None
    """Splits to export; ``None``: the splits inference reads for each condition (the evaluation split for
    a reconstructed condition, also ``val`` for ``original`` or a ``refit`` threshold), exactly the files a
    ``folder`` reconstructor needs in a later run."""

    @field_validator("conditions", "splits")
    @classmethod
    def _named_once(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("expected at least one name, or leave it out to export all")
        doubled = sorted({name for name in value if value.count(name) > 1})
        if doubled:
            raise ValueError(f"each name may appear once, got {', '.join(map(repr, doubled))} more than once")
        return value

    @model_validator(mode="after")
    def _something_to_export(self) -> "ExportConfig":
        if not self.inputs and not self.reconstructions:
            raise ValueError("inputs and reconstructions are both false: nothing to export; set one of them to true")
        return self
