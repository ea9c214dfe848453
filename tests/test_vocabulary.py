"""The condition and mitigation names: compose/parse round trips, rejections that say why, check_name."""

from __future__ import annotations

import math

import pytest

from reconfair.vocabulary import (
    ADVERSARY_CRITERIA,
    CONTROL,
    MITIGATION_KINDS,
    MITIGATION_METHODS,
    NONE,
    ORIGINAL,
    RESERVED,
    WEIGHTED_KINDS,
    ConditionName,
    check_name,
    condition_name,
    method_kind,
    mitigation_label,
    mitigation_method,
    parse_condition,
    parse_mitigation,
)

OPERATORS = ("radiograph-lowdose", "ct-lowdose", "mri-undersampling", "mypkg.ops:Blur", "my_pkg.sub.mod:Noise2")
LEVELS = (3000, 1e6, 1e5, 0.5, 4, 8.0, 1e-3, 2.5e10, 100000)
RECONS = ("unet", "identity", "fbp", "zero-filled", "irsde", "pix2pix", "my_model.v2")
WEIGHTS = (0.0, 0.1, 0.316, 1, 3.16, 10, 1e-4, 1e6)


def mitigations() -> list[str]:
    labels = []
    for kind in MITIGATION_KINDS:
        if kind in WEIGHTED_KINDS:
            labels += [mitigation_label(kind, w) for w in WEIGHTS]
        else:
            labels.append(mitigation_label(kind))
    return labels + [mitigation_label("adversarial", w, criterion="demographic-parity") for w in WEIGHTS]


def test_kinds_and_constants():
    assert (ORIGINAL, NONE, CONTROL) == ("original", "none", "finetune")
    assert MITIGATION_KINDS[:2] == (NONE, CONTROL) and set(WEIGHTED_KINDS) <= set(MITIGATION_KINDS)
    assert set(RESERVED) == {"@", "/", "+", ":"}
    assert ADVERSARY_CRITERIA == ("equalized-odds", "demographic-parity")
    assert MITIGATION_METHODS == (*MITIGATION_KINDS, "adversarial-dp")


def test_adversary_criteria_name_the_method():
    assert mitigation_method("adversarial") == mitigation_method("adversarial", "equalized-odds") == "adversarial"
    assert mitigation_method("adversarial", "demographic-parity") == "adversarial-dp"
    assert [method_kind(m) for m in MITIGATION_METHODS] == [*MITIGATION_KINDS, "adversarial"]
    assert mitigation_label("adversarial", 0.316, criterion="equalized-odds") == "adversarial:0.316"
    assert mitigation_label("adversarial", 0.316, criterion="demographic-parity") == "adversarial-dp:0.316"
    parsed = parse_condition("radiograph-lowdose@3000/unet+adversarial-dp:0.316")
    assert parsed.mitigation == "adversarial-dp:0.316" and parse_mitigation(parsed.mitigation) == ("adversarial-dp", 0.316)


@pytest.mark.parametrize(("kind", "criterion", "match"), [
    ("eodd", "demographic-parity", "criterion 'demographic-parity' given for the eodd mitigation"),
    ("adversarial", "parity", "unknown adversary criterion 'parity'; expected one of equalized-odds, demographic"),
])
def test_a_misplaced_or_unknown_criterion_is_rejected(kind, criterion, match):
    with pytest.raises(ValueError, match=match):
        mitigation_label(kind, 1.0, criterion=criterion)


@pytest.mark.parametrize("operator", OPERATORS)
@pytest.mark.parametrize("level", LEVELS)
def test_condition_round_trip(operator, level):
    for recon in RECONS:
        for mitigation in mitigations():
            name = condition_name(operator, level, recon, mitigation)
            parsed = parse_condition(name)
            assert (parsed.operator, parsed.recon, parsed.mitigation) == (operator, recon, mitigation), name
            assert parsed.level == float(f"{float(level):g}") and not parsed.is_original
            assert str(parsed) == name
            assert parsed.unmitigated == condition_name(operator, level, recon)
            assert ("+" in name.partition("/")[2]) == (mitigation != NONE)


def test_levels_are_formatted_with_g():
    assert condition_name("radiograph-lowdose", 3000, "unet") == "radiograph-lowdose@3000/unet"
    assert condition_name("radiograph-lowdose", 1e6, "unet") == "radiograph-lowdose@1e+06/unet"
    assert condition_name("mri-undersampling", 0.5, "unet", "eodd:1") == "mri-undersampling@0.5/unet+eodd:1"
    parsed = parse_condition("radiograph-lowdose@1e+06/unet+reweighting")
    assert (parsed.level, parsed.recon, parsed.mitigation) == (1e6, "unet", "reweighting")


def test_original():
    parsed = parse_condition(ORIGINAL)
    assert parsed.is_original and parsed.operator is None and math.isnan(parsed.level)
    assert parsed.mitigation == NONE and str(parsed) == ORIGINAL and parsed.unmitigated == ORIGINAL
    assert ConditionName(None) == parsed


@pytest.mark.parametrize("kind", MITIGATION_KINDS)
def test_mitigation_round_trip(kind):
    for weight in WEIGHTS if kind in WEIGHTED_KINDS else (math.nan,):
        label = mitigation_label(kind, weight)
        parsed_kind, parsed_weight = parse_mitigation(label)
        assert parsed_kind == kind
        if kind in WEIGHTED_KINDS:
            assert label == f"{kind}:{float(weight):g}" and parsed_weight == float(f"{float(weight):g}")
        else:
            assert label == kind and math.isnan(parsed_weight)


def test_unweighted_kinds_ignore_a_weight():
    assert mitigation_label("reweighting", 0.5) == "reweighting" and mitigation_label(CONTROL, 1) == CONTROL


@pytest.mark.parametrize("name", [
    "", "unet", "noisy", "radiograph-lowdose/unet", "@3000/unet", "radiograph-lowdose@/unet",
    "radiograph-lowdose@abc/unet", "radiograph-lowdose@3000/", "radiograph-lowdose@3000unet",
    "radiograph-lowdose@3000/unet+", "Original",
])
def test_malformed_condition_is_rejected_with_the_grammar(name):
    with pytest.raises(ValueError) as error:
        parse_condition(name)
    message = str(error.value)
    assert repr(name) in message and "operator@level/recon[+mitigation]" in message
    assert "radiograph-lowdose@3000/unet+eodd:0.316" in message


@pytest.mark.parametrize("name", ["radiograph-lowdose@3000/unet+magic", "radiograph-lowdose@3000/unet+eodd",
                                  "radiograph-lowdose@3000/unet+reweighting:1"])
def test_condition_with_a_bad_mitigation_is_rejected(name):
    with pytest.raises(ValueError, match="unknown mitigation"):
        parse_condition(name)


@pytest.mark.parametrize(("label", "match"), [
    ("magic", "unknown mitigation 'magic'; expected none, finetune, reweighting, eodd:<lambda>, "
              "adversarial:<lambda> or adversarial-dp:<lambda>"),
    ("adversarial-dp", "unknown mitigation 'adversarial-dp'"),
    ("adversarial-eo:1", "unknown mitigation 'adversarial-eo:1'"),
    ("eodd", "unknown mitigation 'eodd'"),
    ("adversarial", "unknown mitigation 'adversarial'"),
    ("finetune:1", "unknown mitigation 'finetune:1'"),
    ("none:0", "unknown mitigation 'none:0'"),
    ("eodd:abc", "mitigation 'eodd:abc': lambda 'abc' is not a number"),
    ("", "unknown mitigation ''"),
])
def test_malformed_mitigation_is_rejected(label, match):
    with pytest.raises(ValueError, match=match.replace("(", r"\(").replace(")", r"\)")):
        parse_mitigation(label)


def test_unknown_kind_cannot_be_composed():
    with pytest.raises(ValueError, match="unknown mitigation kind 'magic'; expected one of none, finetune"):
        mitigation_label("magic")


@pytest.mark.parametrize("char", RESERVED)
def test_check_name_rejects_each_reserved_character(char):
    with pytest.raises(ValueError) as error:
        check_name(f"unet{char}v2", "reconstructors[0].name")
    message = str(error.value)
    assert message.startswith(f"reconstructors[0].name: 'unet{char}v2' contains {char!r}")
    assert "rename it, e.g. 'unet-v2'" in message


@pytest.mark.parametrize("space", [" ", "\t", "\n", "\u00a0"])
def test_check_name_rejects_whitespace(space):
    with pytest.raises(ValueError, match="contains whitespace, which condition names reserve") as error:
        check_name(f"my{space}model", "where")
    assert "rename it, e.g. 'my-model'" in str(error.value)


def test_check_name_names_every_problem_and_the_empty_name():
    with pytest.raises(ValueError, match=r"contains '@', '\+', whitespace"):
        check_name("a@b+c d", "x")
    with pytest.raises(ValueError, match="x: '' is empty"):
        check_name("", "x")


@pytest.mark.parametrize("name", ["unet", "zero-filled", "my_model.v2", "IR-SDE", "unet_2024"])
def test_check_name_accepts_valid_names(name):
    assert check_name(name, "where") == name
