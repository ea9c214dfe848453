"""Any images listed in a CSV: path, patient id, attribute columns, label columns and/or a mask path.

Images and masks may be PNG, JPEG, DICOM (pydicom) or 2-D NIfTI (nibabel);
paths are relative to ``source.root`` (default: the CSV's folder).  Per row:

- ``sample_id``: the image path relative to the root, without suffix, ``/``
  -> ``-`` (``scans/p1/a.png`` -> ``scans-p1-a``);
- ``attr_<name>`` for each ``attributes: {name: column}``; ``sex`` is mapped
  to ``F``/``M`` (female/male/f/m/woman/man, any case), ``age`` must be a
  number >= 0 and adds ``age_group``; attributes are made constant per
  patient (first value; youngest age), as for CheXpert;
- ``label_<name>``: 1 -> 1.0, 0 -> 0.0, blank -> NaN; anything else is an error.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reconfair.data.facts import default_stratify, folder_label_columns, source_facts
from reconfair.data.images import IMAGE_SUFFIXES, ImageReadError, read_image, read_mask, render_files
from reconfair.data.lazy import LazySampleSet
from reconfair.data.tables import Skips, age_text, finish_table, patient_constant, read_table, require_columns, sex_code

__all__ = ["build_folder", "folder_label_value"]


def folder_label_value(raw: Any) -> float:
    """``"1"`` -> 1.0, ``"0"`` -> 0.0, blank -> NaN; anything else raises.

    >>> folder_label_value("1"), folder_label_value("0.0"), folder_label_value(None)
    (1.0, 0.0, nan)
    """
    if raw is None or pd.isna(raw) or not str(raw).strip():
        return float("nan")
    try:
        value = float(str(raw).strip())
    except ValueError:
        value = float("nan")
    if value not in (0.0, 1.0):
        raise ValueError(f"expected 1, 0 or blank, got {raw!r}")
    return value


def _sample_id(relative: str) -> str:
    name = relative.replace("\\", "/")
    for suffix in sorted(IMAGE_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return re.sub(r"/+", "-", name.strip("/"))


def _attribute(name: str, raw: Any) -> str | None:
    if name == "sex":
        return sex_code(raw)
    if name == "age":
        return age_text(raw)
    return None if raw is None or pd.isna(raw) or not str(raw).strip() else str(raw).strip()


def build_folder(config: Any, *, seed: int) -> LazySampleSet:
    """The sample set of a ``folder`` source (images load lazily)."""
    source = config.source
    csv_path = Path(source.csv)
    root = Path(source.root) if source.root is not None else csv_path.parent
    facts = source_facts(source)
    label_columns = dict(zip(folder_label_columns(source.labels),
                             source.labels.values() if isinstance(source.labels, dict) else source.labels))
    frame = read_table(csv_path, "folder csv")
    mask_column = [source.mask_column] if source.mask_column else []
    require_columns(frame, [source.image_column, source.patient_column, *source.attributes.values(),
                            *label_columns.values(), *mask_column], csv_path, "folder csv")
    skips = Skips(source.on_missing, config.name)
    rows: list[dict[str, Any]] = []
    for line, record in zip(frame.index + 2, frame.to_dict("records")):
        where = f"{csv_path} line {line}"
        relative = str(record[source.image_column] if not pd.isna(record[source.image_column]) else "")
        sample_id = _sample_id(relative)
        image = root / relative
        mask = root / str(record[source.mask_column]) if source.mask_column else None
        patient = record[source.patient_column]
        row: dict[str, Any] = {"sample_id": sample_id, "patient_id": "" if pd.isna(patient) else str(patient).strip(),
                               "_image": str(image), "_mask": None if mask is None else str(mask)}
        problem = None
        if not relative or not image.is_file():
            problem = f"{where}: image file not found: {image} (column {source.image_column!r})"
        elif mask is not None and not mask.is_file():
            problem = f"{where}: mask file not found: {mask} (column {source.mask_column!r})"
        elif not row["patient_id"]:
            problem = f"{where}: blank patient id (column {source.patient_column!r})"
        for name, column in source.attributes.items():
            row[f"attr_{name}"] = _attribute(name, record[column])
            if problem is None and row[f"attr_{name}"] is None:
                problem = f"{where}: no usable {name} in column {column!r} (got {record[column]!r})"
        if problem is None and source.verify:
            try:
                read_image(image)
                if mask is not None:
                    read_mask(mask)
            except ImageReadError as error:
                problem = f"{where}: {error}"
        if problem is not None:
            skips.problem(problem, sample_id=sample_id, path=image)
            continue
        for name, column in label_columns.items():
            try:
                row[f"label_{name}"] = folder_label_value(record[column])
            except ValueError as error:
                raise ValueError(f"{where}, column {column!r}: {error}") from None
        rows.append(row)
    skips.report()
    columns = ["sample_id", "patient_id", "_image", "_mask", *(f"attr_{a}" for a in source.attributes),
               *(f"label_{n}" for n in label_columns)]
    table = pd.DataFrame(rows, columns=columns)
    duplicated = table["sample_id"].duplicated()
    if duplicated.any():
        raise ValueError(f"{csv_path}: image {table.loc[duplicated, '_image'].iloc[0]} is listed twice")
    for name in source.attributes:
        how = "min" if name == "age" else "first"
        values = table[f"attr_{name}"].astype(float) if name == "age" else table[f"attr_{name}"]
        constant = patient_constant(table.assign(**{f"attr_{name}": values}), f"attr_{name}", how)
        table[f"attr_{name}"] = constant.map(age_text) if name == "age" else constant
    images, masks = table["_image"].tolist(), table["_mask"].tolist() if source.mask_column else None
    out, cut = finish_table(table.drop(columns=["_image", "_mask"]), attributes=facts["attributes"],
                            labels=facts["labels"], age_cut=config.age_cut, fractions=config.split_fractions,
                            seed=seed, stratify=default_stratify(source, facts))
    files = {sid: [images[i]] + ([masks[i]] if masks is not None else []) for i, sid in enumerate(out["sample_id"])}
    info = {"source": "folder", "csv": str(csv_path), "age_cut": cut, "skipped": skips.records, "files": files}
    return LazySampleSet(name=config.name, table=out, render=render_files(images, masks, config.image_size),
                         rows=np.arange(len(out)), image_size=config.image_size, info=info)
