"""CheXpert as published: ``train.csv``/``valid.csv`` plus the optional demographics table.

The CSV has ``Path, Sex, Age, Frontal/Lateral, AP/PA`` and the 14 findings
(1 positive, 0 negative, -1 uncertain, blank not mentioned).  Per image:

- ``patient_id``: ``patientNNNNN`` parsed from ``Path``; ``sample_id``: the
  path without its first folder and suffix, ``/`` -> ``-`` (e.g.
  ``train-patient00001-study1-view1_frontal``);
- ``label_<finding>`` (snake_case): 1 -> 1.0, 0 -> 0.0, blank -> NaN, -1 ->
  NaN (``uncertain: ignore``), 0.0 (``zero``) or 1.0 (``one``);
- ``attr_sex`` (``F``/``M``) and ``attr_age``: per patient, the first known
  sex and the youngest age in the CSV (attributes are constant per patient);
- ``attr_race`` from ``PRIMARY_RACE``/``ETHNICITY`` of the demographics table,
  joined on ``PATIENT``, grouped by :mod:`reconfair.data.race`.

Image paths are looked up as ``root/../Path``, ``root/Path`` and
``root/<Path without its first folder>`` (the first that exists).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reconfair.data.facts import default_stratify, source_facts
from reconfair.data.images import ImageReadError, read_image, render_files
from reconfair.data.lazy import LazySampleSet
from reconfair.data.race import CHEXPERT_DEFAULT_LABELS, chexpert_label, group_race, snake
from reconfair.data.tables import Skips, age_text, finish_table, patient_constant, read_table, require_columns, sex_code

__all__ = ["build_chexpert", "chexpert_label_value"]

_PATIENT = re.compile(r"(patient\d+)")
_UNCERTAIN = {"ignore": np.nan, "zero": 0.0, "one": 1.0}


def chexpert_label_value(raw: Any, uncertain: str) -> float:
    """One CSV cell as a label: ``"1"`` -> 1.0, ``"0"`` -> 0.0, blank -> NaN, ``"-1"`` by the uncertain policy.

    >>> [chexpert_label_value(v, "ignore") for v in ("1.0", "0", None, "-1.0")]
    [1.0, 0.0, nan, nan]
    >>> chexpert_label_value("-1", "one"), chexpert_label_value("-1", "zero")
    (1.0, 0.0)
    """
    if raw is None or (isinstance(raw, float) and np.isnan(raw)) or str(raw).strip() == "":
        return float("nan")
    value = float(str(raw).strip())
    if value == -1.0:
        return _UNCERTAIN[uncertain]
    if value not in (0.0, 1.0):
        raise ValueError(f"expected 1, 0, -1 or blank, got {raw!r}")
    return value


def _locate(root: Path, relative: str) -> tuple[Path | None, list[Path]]:
    rel = Path(relative)
    candidates = [root.parent / rel, root / rel]
    if len(rel.parts) > 1:
        candidates.append(root / Path(*rel.parts[1:]))
    candidates = list(dict.fromkeys(candidates))
    return next((c for c in candidates if c.is_file()), None), candidates


def _sample_id(relative: str) -> str:
    rel = Path(relative)
    parts = rel.parts[1:] if len(rel.parts) > 1 and rel.parts[0].lower().startswith("chexpert") else rel.parts
    return "-".join(Path(*parts).with_suffix("").parts)


def _race_by_patient(source: Any, root: Path) -> dict[str, str | None]:
    path = root / source.demographics
    demo = read_table(path, "CheXpert demographics table")
    require_columns(demo, ["PATIENT", "PRIMARY_RACE", "ETHNICITY"], path, "CheXpert demographics table")
    races: dict[str, str | None] = {}
    for patient, race, ethnicity in zip(demo["PATIENT"], demo["PRIMARY_RACE"], demo["ETHNICITY"]):
        try:
            races[str(patient).strip()] = group_race(None if pd.isna(race) else race, ethnicity, source.race_grouping)
        except ValueError as error:
            raise ValueError(f"{path}, row of {patient}: {error}") from None
    return races


def build_chexpert(config: Any, *, seed: int) -> LazySampleSet:
    """The CheXpert sample set of a :class:`~reconfair.config.DatasetConfig` (images load lazily)."""
    source = config.source
    root = Path(source.root)
    csv_path = root / source.csv
    facts = source_facts(source)
    findings = [chexpert_label(n) for n in (source.labels or CHEXPERT_DEFAULT_LABELS)]
    frame = read_table(csv_path, "CheXpert csv")
    require_columns(frame, ["Path", "Sex", "Age", "Frontal/Lateral", *findings], csv_path, "CheXpert csv")
    if source.frontal_only:
        frame = frame[frame["Frontal/Lateral"].fillna("").str.strip().str.lower() == "frontal"]
    races = _race_by_patient(source, root) if source.demographics is not None else None
    skips = Skips(source.on_missing, config.name)
    rows: list[dict[str, Any]] = []
    for line, record in zip(frame.index + 2, frame.to_dict("records")):
        relative = str(record["Path"])
        sample_id = _sample_id(relative)
        where = f"{csv_path} line {line}"
        match = _PATIENT.search(relative)
        if match is None:
            skips.problem(f"{where}: no patient id (patientNNNNN) in Path {relative!r}", sample_id=sample_id, path=relative)
            continue
        found, candidates = _locate(root, relative)
        if found is None:
            skips.problem(f"image not found for {where}: looked for {', '.join(map(str, candidates))}",
                          sample_id=sample_id, path=relative)
            continue
        row = {"sample_id": sample_id, "patient_id": match.group(1), "attr_sex": sex_code(record["Sex"]),
               "attr_age": age_text(record["Age"]), "_line": where, "_path": str(found)}
        for finding in findings:
            try:
                row[f"label_{snake(finding)}"] = chexpert_label_value(record[finding], source.uncertain)
            except ValueError as error:
                raise ValueError(f"{where}, column {finding!r}: {error}") from None
        rows.append(row)
    table = pd.DataFrame(rows, columns=["sample_id", "patient_id", "attr_sex", "attr_age", "_line", "_path",
                                        *(f"label_{snake(f)}" for f in findings)])
    duplicated = table["sample_id"].duplicated()
    if duplicated.any():
        raise ValueError(f"{csv_path}: Path {table.loc[duplicated, '_path'].iloc[0]} is listed twice")
    table["attr_sex"] = patient_constant(table, "attr_sex")
    table["attr_age"] = patient_constant(table.assign(attr_age=table["attr_age"].astype(float)), "attr_age", "min")
    table["attr_age"] = table["attr_age"].map(lambda v: None if pd.isna(v) else age_text(v))
    if races is not None:
        table["attr_race"] = table["patient_id"].map(lambda p: races.get(p))
    checks = [("sex", "column 'Sex' of " + str(csv_path)), ("age", "column 'Age' of " + str(csv_path))]
    if races is not None:
        checks.append(("race", f"column 'PRIMARY_RACE' of {root / source.demographics}"))
    keep = np.ones(len(table), dtype=bool)
    for i, row in enumerate(table.to_dict("records")):
        for attribute, column in checks:
            if pd.isna(row[f"attr_{attribute}"]):
                reason = f"{row['_line']}: patient {row['patient_id']} has no usable {attribute} ({column})"
                if attribute == "race" and row["patient_id"] not in races:
                    reason = f"{row['_line']}: patient {row['patient_id']} has no row in {root / source.demographics}"
                skips.problem(reason, sample_id=row["sample_id"], path=row["_path"])
                keep[i] = False
                break
        if keep[i] and source.verify:
            try:
                read_image(row["_path"])
            except ImageReadError as error:
                skips.problem(str(error), sample_id=row["sample_id"], path=row["_path"])
                keep[i] = False
    table = table[keep]
    paths = table["_path"].tolist()
    skips.report()
    out, cut = finish_table(
        table.drop(columns=["_line", "_path"]), attributes=facts["attributes"], labels=facts["labels"],
        age_cut=config.age_cut, fractions=config.split_fractions, seed=seed, stratify=default_stratify(source, facts),
    )
    info = {"source": "chexpert", "csv": str(csv_path), "age_cut": cut, "skipped": skips.records,
            "uncertain": source.uncertain, "frontal_only": source.frontal_only,
            "files": {sid: [paths[i]] for i, sid in enumerate(out["sample_id"])}}
    return LazySampleSet(name=config.name, table=out, render=render_files(paths, None, config.image_size),
                         rows=np.arange(len(out)), image_size=config.image_size, info=info)
