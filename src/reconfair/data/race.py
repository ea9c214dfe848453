"""CheXpert findings and the race grouping tables (documented in docs/datasets.md).

The demographics table (``CHEXPERT DEMO``) gives ``PRIMARY_RACE`` as free
text such as ``"White"``, ``"White, non-Hispanic"``, ``"Black or African
American"``, ``"Asian, Hispanic"`` and ``ETHNICITY`` as ``"Non-Hispanic/
Non-Latino"``, ``"Hispanic/Latino"``, ``"Unknown"``.  A grouping maps them to
a few groups:

- ``default``: the text before the first comma, lower-cased, is looked up in
  :data:`DEFAULT_RACE_TABLE` (White, Black, Asian, Other);
- ``alternative``: Hispanic/Latino first (``ETHNICITY`` says so, or the race
  text ends in ``", Hispanic"``), otherwise as ``default``;
- a custom mapping ``{PRIMARY_RACE value: group}`` matched exactly.

Values meaning "unknown" (:data:`UNKNOWN_RACE`) give ``None`` (a missing
attribute); a value no table knows is an error naming it.

Examples
--------
>>> group_race("White, non-Hispanic", "Non-Hispanic/Non-Latino", "default")
'White'
>>> group_race("White, Hispanic", "Hispanic/Latino", "alternative")
'Hispanic'
>>> group_race("Patient Refused", "Unknown", "default") is None
True
>>> snake("Pleural Effusion"), chexpert_label("pleural_effusion")
('pleural_effusion', 'Pleural Effusion')
"""

from __future__ import annotations

import re

__all__ = [
    "CHEXPERT_FINDINGS",
    "CHEXPERT_DEFAULT_LABELS",
    "DEFAULT_RACE_TABLE",
    "UNKNOWN_RACE",
    "HISPANIC_ETHNICITY",
    "chexpert_label",
    "group_race",
    "race_groups",
    "snake",
]

CHEXPERT_FINDINGS = (
    "No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema",
    "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other",
    "Fracture", "Support Devices",
)
#: The 12 pathologies (all findings but "No Finding" and "Support Devices"), as in the study.
CHEXPERT_DEFAULT_LABELS = tuple(f for f in CHEXPERT_FINDINGS if f not in ("No Finding", "Support Devices"))

DEFAULT_RACE_TABLE: dict[str, str] = {
    "white": "White",
    "black": "Black",
    "black or african american": "Black",
    "asian": "Asian",
    "native hawaiian or other pacific islander": "Other",
    "pacific islander": "Other",
    "native american": "Other",
    "american indian or alaska native": "Other",
    "other": "Other",
}
UNKNOWN_RACE = frozenset({"", "unknown", "patient refused", "race and ethnicity unknown", "declined", "nan"})
HISPANIC_ETHNICITY = frozenset({"hispanic/latino", "hispanic", "latino", "hispanic or latino"})


def snake(name: str) -> str:
    """``"Pleural Effusion"`` -> ``"pleural_effusion"`` (the ``label_`` column suffix)."""
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


def chexpert_label(name: str) -> str:
    """The published CheXpert column of a finding given by column name or snake_case name."""
    for finding in CHEXPERT_FINDINGS:
        if name in (finding, snake(finding)):
            return finding
    raise ValueError(f"unknown CheXpert finding {name!r}; expected one of: {', '.join(CHEXPERT_FINDINGS)}")


def race_groups(grouping: str | dict[str, str]) -> tuple[str, ...]:
    """The groups a grouping produces, sorted.

    >>> race_groups("default"), race_groups({"White": "W", "Asian": "A"})
    (('Asian', 'Black', 'Other', 'White'), ('A', 'W'))
    """
    if isinstance(grouping, dict):
        return tuple(sorted(set(grouping.values())))
    if grouping not in ("default", "alternative"):
        raise ValueError(f"unknown race grouping {grouping!r}; expected 'default', 'alternative' or a mapping")
    extra = {"Hispanic"} if grouping == "alternative" else set()
    return tuple(sorted(set(DEFAULT_RACE_TABLE.values()) | extra))


def group_race(primary_race: object, ethnicity: object, grouping: str | dict[str, str]) -> str | None:
    """The group of one patient, ``None`` when the race is unknown; unknown text raises."""
    text = "" if primary_race is None else str(primary_race).strip()
    if isinstance(grouping, dict):
        return grouping.get(text)
    if text.lower() in UNKNOWN_RACE:
        return None
    if grouping == "alternative":
        eth = "" if ethnicity is None else str(ethnicity).strip().lower()
        if eth in HISPANIC_ETHNICITY or text.lower().endswith(", hispanic"):
            return "Hispanic"
    head = text.split(",")[0].strip().lower()
    if head not in DEFAULT_RACE_TABLE:
        raise ValueError(
            f"PRIMARY_RACE value {text!r} is not in the {grouping} race grouping table "
            f"(known: {', '.join(sorted(DEFAULT_RACE_TABLE))}); give race_grouping as a mapping {{value: group}}"
        )
    return DEFAULT_RACE_TABLE[head]
