"""UCSF-PDGM as published: one ``UCSF-PDGM-XXXX_nifti/`` folder per case and a clinical CSV.

Each case folder holds ``<case>_<SEQUENCE>.nii.gz`` (``FLAIR``, ``T2``, ...)
and ``<case>_tumor_segmentation.nii.gz`` (BraTS labels: 1 necrotic core,
2 oedema, 4 enhancing tumour).  The clinical CSV has ``ID`` (e.g.
``UCSF-PDGM-004``: ids are matched by number, so ``004`` is case ``0004``),
``Sex``, ``Age at MRI``, ``WHO CNS Grade`` and ``Final pathologic diagnosis
(WHO 2021)``.

- Volumes are reoriented to RAS (``nibabel.as_closest_canonical``); axial
  slice ``z`` is ``volume[:, :, z]`` rotated 90 degrees (anterior up).
- Intensities: each volume is divided by the ``normalize_percentile``-th
  percentile (default 99.5) of its non-zero voxels and clipped to [0, 1];
  every slice of a volume shares that scale.
- Masks: voxels whose label is in ``mask_labels`` (``whole`` = {1, 2, 4},
  ``core`` = {1, 4}, ``enhancing`` = {4}, or a list), resized by nearest
  neighbour.
- Slices: ``tumor`` takes the ``slices_per_volume`` axial slices with the
  largest mask area (ties: lower index; only slices with tumour); a range
  ``[start, stop)`` takes every index in it.
- Labels: ``tumor_type`` 1 for "Glioblastoma, IDH-wildtype", else 0;
  ``tumor_grade`` 1 for WHO grade 4, 0 for grades 1-3, NaN when blank.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from reconfair.data.facts import UCSF_LABELS, default_stratify, source_facts
from reconfair.data.images import ImageReadError, resize_image, resize_mask
from reconfair.data.lazy import LazySampleSet
from reconfair.data.tables import Skips, age_text, finish_table, read_table, require_columns, require_file, sex_code

__all__ = ["build_ucsf_pdgm", "tumor_type", "tumor_grade", "pick_slices", "mask_labels", "normalise_volume", "MASK_LABELS"]

CLINICAL_COLUMNS = ["ID", "Sex", "Age at MRI", "WHO CNS Grade", "Final pathologic diagnosis (WHO 2021)"]
MASK_LABELS = {"whole": (1, 2, 4), "core": (1, 4), "enhancing": (4,)}
_CASE = re.compile(r"^(UCSF-PDGM-(\d+))_nifti$")
_CACHED_VOLUMES = 4


def tumor_type(diagnosis: Any) -> float:
    """1.0 for glioblastoma IDH-wildtype, 0.0 for any other diagnosis, NaN when blank.

    >>> tumor_type("Glioblastoma, IDH-wildtype"), tumor_type("Astrocytoma, IDH-mutant"), tumor_type(None)
    (1.0, 0.0, nan)
    """
    if diagnosis is None or pd.isna(diagnosis) or not str(diagnosis).strip():
        return float("nan")
    text = str(diagnosis).lower().replace(" ", "")
    return float("glioblastoma" in text and "idh-wildtype" in text)


def tumor_grade(grade: Any) -> float:
    """1.0 for WHO CNS grade 4, 0.0 for grades 1-3, NaN when blank; anything else raises.

    >>> tumor_grade("4"), tumor_grade("2.0"), tumor_grade(None)
    (1.0, 0.0, nan)
    """
    if grade is None or pd.isna(grade) or not str(grade).strip():
        return float("nan")
    value = float(str(grade).strip())
    if value not in (1.0, 2.0, 3.0, 4.0):
        raise ValueError(f"expected a WHO CNS grade 1-4 or blank, got {grade!r}")
    return float(value == 4.0)


def pick_slices(mask: np.ndarray, count: int) -> list[int]:
    """The ``count`` axial indices (last axis) with the largest mask area, in increasing order.

    >>> m = np.zeros((2, 2, 5)); m[0, 0, 1] = 1; m[:, :, 3] = 1; m[0, :, 4] = 1
    >>> pick_slices(m, 1), pick_slices(m, 2), pick_slices(m, 9)
    ([3], [3, 4], [1, 3, 4])
    """
    area = mask.reshape(-1, mask.shape[-1]).sum(axis=0)
    order = np.lexsort((np.arange(area.size), -area))
    return sorted(int(z) for z in order[:count] if area[z] > 0)


def mask_labels(source: Any) -> tuple[int, ...]:
    """The segmentation labels that form the mask (``whole``, ``core``, ``enhancing`` or a list)."""
    return MASK_LABELS[source.mask_labels] if isinstance(source.mask_labels, str) else tuple(source.mask_labels)


def _load(path: Path) -> np.ndarray:
    import nibabel

    try:
        data = np.asarray(nibabel.as_closest_canonical(nibabel.load(path)).dataobj, dtype=np.float32)
    except Exception as error:  # nibabel's own errors: name the file
        raise ImageReadError(f"{path}: cannot read NIfTI volume ({type(error).__name__}: {error})") from None
    if data.ndim != 3:
        raise ImageReadError(f"{path}: expected a 3-D volume, got shape {data.shape}")
    return data


def normalise_volume(volume: np.ndarray, percentile: float) -> np.ndarray:
    """``volume`` / its ``percentile``-th percentile of non-zero voxels, clipped to [0, 1].

    >>> normalise_volume(np.array([0.0, 1.0, 2.0, 4.0]), 50.0).tolist()
    [0.0, 0.5, 1.0, 1.0]
    """
    inside = volume[volume > 0]
    scale = float(np.percentile(inside, percentile)) if inside.size else 1.0
    return np.clip(volume / (scale if scale > 0 else 1.0), 0.0, 1.0).astype(np.float32)


def _one(folder: Path, suffix: str) -> Path | None:
    found = sorted(folder.glob(f"*_{suffix}.nii.gz")) + sorted(folder.glob(f"*_{suffix}.nii"))
    return found[0] if found else None


class _SliceRenderer:
    """Renders (case, axial index) rows; keeps the last few normalised volumes in memory."""

    def __init__(self, cases: list[tuple[Path, Path]], slices: np.ndarray, source: Any, size: int) -> None:
        self.cases, self.slices, self.source, self.size = cases, slices, source, size
        self.labels = mask_labels(source)
        self._volumes: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()

    def volumes(self, case: int) -> tuple[np.ndarray, np.ndarray]:
        if case not in self._volumes:
            image, mask = self.cases[case]
            self._volumes[case] = (normalise_volume(_load(image), self.source.normalize_percentile),
                                   np.isin(_load(mask), self.labels).astype(np.float32))
            if len(self._volumes) > _CACHED_VOLUMES:
                self._volumes.popitem(last=False)
        return self._volumes[case]

    def __call__(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        images, masks = [], []
        for case, z in self.slices[np.asarray(rows, dtype=np.int64)]:
            image, mask = self.volumes(int(case))
            images.append(resize_image(np.rot90(image[:, :, z]), self.size))
            masks.append(resize_mask(np.rot90(mask[:, :, z]), self.size))
        empty = torch.empty(0, self.size, self.size)
        return (torch.stack(images) if images else empty).unsqueeze(1), (torch.stack(masks) if masks else empty).unsqueeze(1)


def build_ucsf_pdgm(config: Any, *, seed: int) -> LazySampleSet:
    """The UCSF-PDGM sample set of a :class:`~reconfair.config.DatasetConfig` (slices load lazily)."""
    source = config.source
    root = Path(source.root)
    clinical_path = root / source.clinical
    clinical = read_table(clinical_path, "UCSF-PDGM clinical csv")
    require_columns(clinical, CLINICAL_COLUMNS, clinical_path, "UCSF-PDGM clinical csv")
    by_number: dict[int, dict[str, Any]] = {}
    for record in clinical.to_dict("records"):
        number = re.search(r"(\d+)\s*$", str(record["ID"]))
        if number is not None:
            by_number[int(number.group(1))] = record
    if not root.is_dir():
        raise FileNotFoundError(f"UCSF-PDGM root folder not found: {root}")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and _CASE.match(p.name))
    if not folders:
        found = ", ".join(sorted(p.name for p in root.iterdir())[:12]) or "nothing"
        raise FileNotFoundError(f"no case folders UCSF-PDGM-XXXX_nifti/ in {root}; it holds: {found}")
    skips, facts = Skips(source.on_missing, config.name), source_facts(source)
    rows, cases, slices = [], [], []
    for folder in folders:
        case, number = _CASE.match(folder.name).groups()  # type: ignore[union-attr]
        record = by_number.get(int(number))
        image, mask = _one(folder, source.sequence), _one(folder, "tumor_segmentation")
        if record is None:
            skips.problem(f"case {case} has no row in {clinical_path} (column 'ID')", sample_id=case, path=folder)
            continue
        if image is None or mask is None:
            wanted = f"*_{source.sequence}.nii.gz" if image is None else "*_tumor_segmentation.nii.gz"
            held = ", ".join(sorted(p.name for p in folder.iterdir())) or "nothing"
            skips.problem(f"{folder}: no {wanted}; found {held}", sample_id=case, path=folder)
            continue
        attributes = {"attr_sex": sex_code(record["Sex"]), "attr_age": age_text(record["Age at MRI"])}
        missing = [c for c, a in (("Sex", "attr_sex"), ("Age at MRI", "attr_age")) if attributes[a] is None]
        if missing:
            skips.problem(f"case {case}: no usable {missing[0]!r} in {clinical_path} (got {record[missing[0]]!r})",
                          sample_id=case, path=clinical_path)
            continue
        try:
            labels = {"label_tumor_type": tumor_type(record["Final pathologic diagnosis (WHO 2021)"]),
                      "label_tumor_grade": tumor_grade(record["WHO CNS Grade"])}
        except ValueError as error:
            raise ValueError(f"{clinical_path}, case {case}, column 'WHO CNS Grade': {error}") from None
        try:
            picked = _slices(source, image, mask)
        except ImageReadError as error:
            skips.problem(str(error), sample_id=case, path=mask)
            continue
        if not picked:
            skips.problem(f"{mask}: no tumour voxels with labels {source.mask_labels}", sample_id=case, path=mask)
            continue
        cases.append((image, mask))
        for z in picked:
            rows.append({"sample_id": f"{case}-z{z:03d}", "patient_id": case, **attributes, **labels})
            slices.append((len(cases) - 1, z))
    skips.report()
    table = pd.DataFrame(rows, columns=["sample_id", "patient_id", "attr_sex", "attr_age", *(f"label_{n}" for n in UCSF_LABELS)])
    out, cut = finish_table(table, attributes=facts["attributes"], labels=facts["labels"], age_cut=config.age_cut,
                            fractions=config.split_fractions, seed=seed, stratify=default_stratify(source, facts))
    render = _SliceRenderer(cases, np.asarray(slices, dtype=np.int64).reshape(-1, 2), source, config.image_size)
    files = {sid: [str(path) for path in cases[case]] for sid, (case, _) in zip(out["sample_id"], slices)}
    info = {"source": "ucsf-pdgm", "clinical": str(clinical_path), "sequence": source.sequence, "age_cut": cut,
            "skipped": skips.records, "files": files}
    return LazySampleSet(name=config.name, table=out, render=render, rows=np.arange(len(out)),
                         image_size=config.image_size, info=info)


def _slices(source: Any, image: Path, mask: Path) -> list[int]:
    """The axial indices of one case (reads the mask for ``tumor``, only headers for a range)."""
    import nibabel

    if source.verify:
        _load(image)
    if source.slices == "tumor":
        return pick_slices(np.isin(_load(mask), mask_labels(source)), source.slices_per_volume)
    start, stop = source.slices
    try:
        header = nibabel.load(require_file(image, "image volume"))
        axial = int(np.flatnonzero(nibabel.orientations.io_orientation(header.affine)[:, 0] == 2)[0])
        depth = int(header.shape[axial])
    except Exception as error:
        raise ImageReadError(f"{image}: cannot read NIfTI header ({type(error).__name__}: {error})") from None
    if stop > depth:
        raise ValueError(f"source.slices [{start}, {stop}) exceeds the {depth} axial slices of {image}")
    return list(range(start, stop))
