"""The embedded synthetic data sets: name -> generator, and facts a config validator can query.

Examples
--------
>>> sorted(SYNTHETIC)
['synthetic-brain', 'synthetic-chest']
>>> facts = dataset_facts("synthetic-brain")
>>> facts["labels"], facts["segmentation"], facts["groups"]["race"]
(('tumor_type', 'tumor_grade'), True, ('R1', 'R2', 'R3'))
>>> dataset_facts("synthetic-knee")
Traceback (most recent call last):
...
ValueError: unknown synthetic data set 'synthetic-knee'; expected one of: synthetic-brain, synthetic-chest
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reconfair.data import synthetic_brain, synthetic_chest
from reconfair.data.demographics import AGE_RANGE, RACES, SEXES
from reconfair.data.effects import EFFECT_ATTRIBUTES
from reconfair.data.habitus import HABITUS
from reconfair.data.sample import SampleSet
from reconfair.data.synthetic_brain import make_synthetic_brain
from reconfair.data.synthetic_chest import make_synthetic_chest

__all__ = ["SYNTHETIC", "ATTRIBUTES", "dataset_facts"]

SYNTHETIC: dict[str, Callable[..., SampleSet]] = {
    synthetic_chest.DATASET: make_synthetic_chest,
    synthetic_brain.DATASET: make_synthetic_brain,
}
GENERATOR_VERSIONS = {synthetic_chest.DATASET: 2, synthetic_brain.DATASET: 1}
"""Version of each generator's images: raised whenever the same config and seed render other images
(chest 2: body habitus and breast tissue), so cached stages built on older images are recomputed."""

ATTRIBUTES = ("sex", "age", "age_group", "race", "habitus")
"""Every synthetic data set's attributes; habitus shapes the chest radiographs, not the brain MRI."""

_FACTS: dict[str, dict[str, Any]] = {
    synthetic_chest.DATASET: {
        "labels": synthetic_chest.LABELS,
        "attributes": ATTRIBUTES,
        "groups": {"habitus": HABITUS},
        "segmentation": False,
        "images_per_patient": (1, 3),
        "base_prevalence": dict(synthetic_chest.BASE_PREVALENCE),
    },
    synthetic_brain.DATASET: {
        "labels": synthetic_brain.LABELS,
        "attributes": ATTRIBUTES,
        "groups": {"habitus": HABITUS},
        "segmentation": True,
        "images_per_patient": (1, 1),
        "base_prevalence": dict(synthetic_brain.BASE_PREVALENCE),
    },
}


def dataset_facts(name: str) -> dict[str, Any]:
    """What a synthetic data set provides, without generating it.

    Returns a new dict with ``labels`` (label names, without the ``label_``
    prefix), ``attributes`` (sensitive attributes), ``groups`` (the group
    values of ``sex``, ``race`` and, for the chest, ``habitus``; ``age_group``
    groups depend on the age cut, e.g. ``("<58", ">=58")``), ``effect_attributes`` (attributes planted
    effects may name), ``age_range`` (years), ``segmentation`` (whether
    ``masks`` is set), ``images_per_patient`` (default range) and
    ``base_prevalence``.
    """
    if name not in _FACTS:
        raise ValueError(f"unknown synthetic data set {name!r}; expected one of: {', '.join(sorted(_FACTS))}")
    facts = dict(_FACTS[name])
    facts.update(
        groups={"sex": SEXES, "race": RACES, **facts["groups"]},
        effect_attributes=EFFECT_ATTRIBUTES,
        age_range=AGE_RANGE,
    )
    facts["base_prevalence"] = dict(facts["base_prevalence"])
    return facts
