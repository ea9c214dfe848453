"""What a configured data set provides (labels, attributes, masks), without reading any file.

Config validation asks this module; real sources answer from their
configuration alone, so a config can be checked on a machine without the data.

Examples
--------
>>> from reconfair.config import DatasetConfig
>>> real = DatasetConfig(name="pdgm", source={"kind": "ucsf-pdgm", "root": "/data/UCSF-PDGM"})
>>> facts = dataset_facts_for(real)
>>> facts["labels"], facts["attributes"], facts["segmentation"]
(('tumor_type', 'tumor_grade'), ('sex', 'age', 'age_group'), True)
>>> dataset_facts_for(DatasetConfig(name="synthetic-chest"))["attributes"]
('sex', 'age', 'age_group', 'race', 'habitus')
"""

from __future__ import annotations

from typing import Any

from reconfair.data.demographics import SEXES
from reconfair.data.race import CHEXPERT_DEFAULT_LABELS, chexpert_label, race_groups, snake
from reconfair.data.synthetic import dataset_facts

__all__ = ["dataset_facts_for", "source_facts", "UCSF_LABELS", "default_stratify"]

UCSF_LABELS = ("tumor_type", "tumor_grade")


def dataset_facts_for(config: Any) -> dict[str, Any]:
    """Facts of a :class:`~reconfair.config.DatasetConfig`: synthetic by name, real by its source.

    Keys as :func:`reconfair.data.synthetic.dataset_facts` (``labels``,
    ``attributes``, ``groups``, ``effect_attributes``, ``segmentation``);
    real data sets plant no effects (``effect_attributes`` is empty).
    """
    if config.source is None:
        return dataset_facts(config.name)
    return source_facts(config.source)


def source_facts(source: Any) -> dict[str, Any]:
    """Facts of a real data source; raises ``ValueError`` naming a bad label or stratification key."""
    groups: dict[str, tuple[str, ...]] = {"sex": SEXES}
    if source.kind == "chexpert":
        labels = tuple(snake(chexpert_label(n)) for n in (source.labels or CHEXPERT_DEFAULT_LABELS))
        attributes: tuple[str, ...] = ("sex", "age", "age_group")
        if source.demographics is not None:
            attributes += ("race",)
            groups["race"] = race_groups(source.race_grouping)
        segmentation = False
    elif source.kind == "ucsf-pdgm":
        labels, attributes, segmentation = UCSF_LABELS, ("sex", "age", "age_group"), True
    else:
        labels = folder_label_columns(source.labels)
        attributes = tuple(source.attributes) + (("age_group",) if "age" in source.attributes else ())
        segmentation = source.mask_column is not None
        for name in attributes:
            if snake(name) != name:
                raise ValueError(f"source.attributes: name {name!r} must be snake_case, e.g. {snake(name)!r}")
    if len(set(labels)) != len(labels):
        raise ValueError(f"source.labels: each label may appear once, got {list(labels)}")
    facts = {
        "labels": tuple(labels),
        "attributes": attributes,
        "groups": groups,
        "effect_attributes": (),
        "segmentation": segmentation,
    }
    for key in source.stratify or ():
        if key not in attributes and key not in labels:
            raise ValueError(
                f"source.stratify: unknown key {key!r}; expected attributes ({', '.join(attributes)}) "
                f"or labels ({', '.join(labels) or 'none'})"
            )
    return facts


def folder_label_columns(labels: dict[str, str] | tuple[str, ...]) -> tuple[str, ...]:
    """Label names of a folder source: the mapping's keys, or the columns in snake_case.

    >>> folder_label_columns(("Has Nodule",)), folder_label_columns({"nodule": "Has Nodule"})
    (('has_nodule',), ('nodule',))
    """
    names = tuple(labels) if isinstance(labels, dict) else tuple(snake(c) for c in labels)
    for name in names:
        if snake(name) != name or not name:
            raise ValueError(f"source.labels: label name {name!r} must be snake_case, e.g. {snake(name)!r}")
    return names


def default_stratify(source: Any, facts: dict[str, Any]) -> tuple[str, ...]:
    """What the split is stratified by: ``source.stratify``, else ``sex`` (if known) and the first label."""
    if source.stratify is not None:
        return tuple(source.stratify)
    keys = (("sex",) if "sex" in facts["attributes"] else ()) + facts["labels"][:1]
    return tuple(keys)
