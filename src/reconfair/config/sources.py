"""Real data sources of a data set's configuration (``source:``; docs/datasets.md).

Validation never reads the files: paths are only made absolute (against the
config file's folder when :func:`reconfair.config.load_config` passes it as
``context["base_dir"]``); files are checked when the data set is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from reconfair.config.base import Frozen as _Frozen

__all__ = [
    "DEFAULT_DEGRADATIONS_BY_SOURCE",
    "SYNTHETIC_ONLY_FIELDS",
    "ChexpertSource",
    "DataSource",
    "FolderSource",
    "UcsfPdgmSource",
    "absolute_path",
]

DEFAULT_DEGRADATIONS_BY_SOURCE: dict[str, dict[str, Any]] = {
    "chexpert": {"operator": "radiograph-lowdose", "levels": [1e5, 1e4, 3e3]},
    "ucsf-pdgm": {"operator": "mri-undersampling", "levels": [4, 8, 16]},
}
SYNTHETIC_ONLY_FIELDS = {"n_patients": 400, "images_per_patient": None, "effects": {}}


def absolute_path(value: str | None, info: ValidationInfo) -> str | None:
    """``value`` made absolute against ``context['base_dir']`` (if validated with one) or the working directory.

    A field validator of every path in a configuration (``field_validator("root")(absolute_path)``).
    Placeholders such as ``{level}`` are kept as they are, and the path need not exist.
    """
    if value is None:
        return None
    path = Path(value).expanduser()
    if not path.is_absolute():
        base = (info.context or {}).get("base_dir") if isinstance(info.context, dict) else None
        path = Path(base or Path.cwd()) / path
    return str(Path(*path.parts))  # no resolve(): the path need not exist yet


class _Source(_Frozen):
    """What every real data source shares; paths are checked when the data set is built, not here."""

    on_missing: Literal["error", "skip"] = "error"
    """``error``: a missing file, unreadable image or missing attribute stops the build; ``skip``: drop and log it."""
    stratify: tuple[str, ...] | None = None
    """Attributes and labels the patient-level split is stratified by (``None``: the source's default)."""
    verify: bool = False
    """Read every image while building, so unreadable files are reported (or skipped) before any training."""
    fingerprint: Literal["stat", "content"] = "stat"
    """How cache keys see the image files: ``stat`` (path, size, modification time: cheap) or ``content``
    (their bytes' SHA-256: also catches edits that keep size and time).  Editing an image invalidates the
    split it belongs to and the stages that read that split."""

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(cls.model_fields))
            if unknown:
                raise ValueError(
                    f"unknown key {unknown[0]!r} for source kind {data.get('kind')!r}; "
                    f"allowed keys: {', '.join(sorted(cls.model_fields))}"
                )
        return data


class ChexpertSource(_Source):
    """CheXpert as published: ``root/train.csv`` (or ``valid.csv``) plus an optional demographics table."""

    kind: Literal["chexpert"]
    root: str
    csv: str = "train.csv"
    demographics: str | None = None
    """``CHEXPERT DEMO.xlsx`` or a CSV (PATIENT, GENDER, AGE_AT_CXR, PRIMARY_RACE, ETHNICITY); relative to root."""
    race_grouping: Literal["default", "alternative"] | dict[str, str] = "default"
    uncertain: Literal["ignore", "zero", "one"] = "ignore"
    frontal_only: bool = True
    labels: tuple[str, ...] | None = None
    """Findings (published column names or snake_case); ``None``: the 12 pathologies."""

    _root = field_validator("root")(absolute_path)


class UcsfPdgmSource(_Source):
    """UCSF-PDGM as published: ``root/UCSF-PDGM-XXXX_nifti/`` case folders and a clinical CSV."""

    kind: Literal["ucsf-pdgm"]
    root: str
    clinical: str = "UCSF-PDGM-metadata_v2.csv"
    sequence: str = Field("FLAIR", min_length=1)
    slices: Literal["tumor"] | tuple[int, int] = "tumor"
    """``tumor``: the axial slices with the largest tumour area; ``[start, stop)``: every axial index in range."""
    slices_per_volume: int = Field(1, ge=1)
    mask_labels: Literal["whole", "core", "enhancing"] | tuple[int, ...] = "whole"
    normalize_percentile: float = Field(99.5, gt=0, le=100)

    _root = field_validator("root")(absolute_path)

    @field_validator("slices")
    @classmethod
    def _range_ordered(cls, value: Any) -> Any:
        if isinstance(value, tuple) and not 0 <= value[0] < value[1]:
            raise ValueError(f"expected 'tumor' or [start, stop) with 0 <= start < stop, got {list(value)}")
        return value


class FolderSource(_Source):
    """Any images listed in a CSV: path, patient id, attribute columns, label columns and/or a mask path."""

    kind: Literal["folder"]
    csv: str
    root: str | None = None
    """Folder image and mask paths are relative to (default: the CSV's folder)."""
    image_column: str = "path"
    patient_column: str = "patient_id"
    attributes: dict[str, str] = Field(default_factory=dict)
    """Attribute name (``sex``, ``age``, ``race``, ...) -> CSV column."""
    labels: dict[str, str] | tuple[str, ...] = ()
    """Label name -> CSV column, or a list of columns (named after the column in snake_case)."""
    mask_column: str | None = None

    _paths = field_validator("csv", "root")(absolute_path)


DataSource = Annotated[ChexpertSource | UcsfPdgmSource | FolderSource, Field(discriminator="kind")]
