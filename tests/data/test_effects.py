"""Planted effects: validation that names the field, multiplicative combination, round trip."""

from __future__ import annotations

import numpy as np
import pytest

from reconfair.data.effects import EFFECT_ATTRIBUTES, GroupEffect, PlantedEffects


@pytest.mark.parametrize("field", ["prevalence", "contrast", "size"])
@pytest.mark.parametrize("bad", [0, -0.5, float("nan"), float("inf"), True, "0.5", None])
def test_group_effect_rejects_non_positive_or_non_numbers_naming_the_field(field, bad):
    with pytest.raises(ValueError, match=f"GroupEffect.{field} must be a positive finite multiplier"):
        GroupEffect(**{field: bad})


def test_group_effect_defaults_are_no_effect_and_frozen():
    effect = GroupEffect()
    assert effect.to_dict() == {"prevalence": 1.0, "contrast": 1.0, "size": 1.0}
    with pytest.raises(AttributeError):
        effect.size = 0.5  # type: ignore[misc]
    assert GroupEffect(contrast=1).contrast == 1.0 and isinstance(GroupEffect(contrast=1).contrast, float)


def test_unknown_attribute_names_the_field_and_lists_choices():
    with pytest.raises(ValueError, match=r"effects.by_group: unknown attribute 'gender'.*'sex', 'age_group', 'race'"):
        PlantedEffects({"gender": {"F": GroupEffect()}})
    with pytest.raises(ValueError, match="unknown attribute 'age'"):  # continuous age: use age_group
        PlantedEffects({"age": {"40": GroupEffect()}})


@pytest.mark.parametrize("attribute, group", [("sex", "female"), ("race", "R4"), ("race", "white")])
def test_unknown_group_value_names_the_field(attribute, group):
    with pytest.raises(ValueError, match=rf"effects.by_group\['{attribute}'\]: unknown group '{group}'"):
        PlantedEffects({attribute: {group: GroupEffect()}})


def test_plain_mappings_are_validated_like_group_effects():
    effects = PlantedEffects({"sex": {"F": {"contrast": 0.5}}})
    assert effects.by_group["sex"]["F"] == GroupEffect(contrast=0.5)
    with pytest.raises(ValueError, match=r"effects.by_group\['sex'\]\['F'\]: unknown key 'contrats'"):
        PlantedEffects({"sex": {"F": {"contrats": 0.5}}})
    with pytest.raises(ValueError, match="GroupEffect.size must be a positive"):
        PlantedEffects({"sex": {"F": {"size": -1}}})
    with pytest.raises(ValueError, match=r"effects.by_group\['sex'\]\['F'\] must be a GroupEffect"):
        PlantedEffects({"sex": {"F": 0.5}})


def test_multipliers_combine_multiplicatively_across_attributes():
    effects = PlantedEffects({
        "sex": {"F": GroupEffect(prevalence=2.0, contrast=0.5)},
        "race": {"R2": GroupEffect(contrast=0.8, size=0.7), "R3": GroupEffect(prevalence=0.5)},
        "age_group": {">=50": GroupEffect(size=0.5)},
    })
    attributes = {
        "sex": np.array(["F", "M", "F", "M"], dtype=object),
        "race": np.array(["R2", "R2", "R3", "R1"], dtype=object),
        "age_group": np.array([">=50", "<50", "<50", ">=50"], dtype=object),
    }
    m = effects.multipliers(attributes)
    np.testing.assert_allclose(m["prevalence"], [2.0, 1.0, 1.0, 1.0])
    np.testing.assert_allclose(m["contrast"], [0.4, 0.8, 0.5, 1.0])
    np.testing.assert_allclose(m["size"], [0.35, 0.7, 1.0, 0.5])
    with pytest.raises(ValueError, match="names 'age_group' but no such attribute"):
        effects.multipliers({"sex": attributes["sex"], "race": attributes["race"]})


def test_null_effects_give_unit_multipliers():
    null = PlantedEffects.null()
    assert null.is_null and null.to_dict() == {}
    m = null.multipliers({"sex": np.array(["F", "M"])})
    assert all(np.array_equal(v, [1.0, 1.0]) for v in m.values())
    assert PlantedEffects({"sex": {"F": GroupEffect()}}).is_null
    assert not PlantedEffects({"sex": {"F": GroupEffect(size=0.9)}}).is_null


def test_round_trip_equality_hash_and_immutability():
    effects = PlantedEffects({"sex": {"F": GroupEffect(contrast=0.5)}, "race": {"R3": GroupEffect(prevalence=1.5)}})
    again = PlantedEffects.from_dict(effects.to_dict())
    assert again == effects and hash(again) == hash(effects)
    assert effects.to_dict() == {"sex": {"F": {"prevalence": 1.0, "contrast": 0.5, "size": 1.0}},
                                 "race": {"R3": {"prevalence": 1.5, "contrast": 1.0, "size": 1.0}}}
    with pytest.raises(TypeError):
        effects.by_group["sex"]["M"] = GroupEffect()  # type: ignore[index]
    source = {"sex": {"F": GroupEffect()}}
    frozen = PlantedEffects(source)
    source["sex"]["M"] = GroupEffect(size=0.1)
    assert "M" not in frozen.by_group["sex"], "PlantedEffects must copy its input"


def test_check_groups_names_the_group_and_suggests_age_cut():
    effects = PlantedEffects({"age_group": {"<60": GroupEffect(size=0.5)}})
    effects.check_groups({"age_group": ("<60", ">=60")})
    with pytest.raises(ValueError, match=r"effects.by_group\['age_group'\]: unknown group '<60'.*age_cut"):
        effects.check_groups({"age_group": ("<55", ">=55")}, dataset="synthetic-chest")


def test_effect_attributes_constant():
    assert EFFECT_ATTRIBUTES == ("sex", "age_group", "race")
