"""The adversarial kind's criterion: default, validation naming the field, round trip, labels, cache data."""

import pytest
from pydantic import ValidationError

from reconfair.config import DatasetConfig
from reconfair.config.mitigation import MitigationConfig, MitigationSpec
from reconfair.vocabulary import parse_mitigation


def test_adversarial_defaults_to_equalized_odds_and_keeps_its_labels():
    entry = MitigationConfig.model_validate({"kind": "adversarial", "lambdas": [1, 0.316]})
    assert entry.criterion == "equalized-odds" and entry.method == "adversarial"
    specs = entry.specs(("sex",))
    assert [s.label for s in specs] == ["adversarial:1", "adversarial:0.316"]
    assert {s.criterion for s in specs} == {"equalized-odds"}


def test_demographic_parity_is_selectable_and_labelled_apart():
    entry = MitigationConfig.model_validate({"kind": "adversarial", "criterion": "demographic-parity"})
    assert entry.method == "adversarial-dp"
    specs = entry.specs(("sex",))  # the default sweep, 0.1 and 1
    assert [s.label for s in specs] == ["adversarial-dp:0.1", "adversarial-dp:1"]
    assert parse_mitigation(specs[1].label) == ("adversarial-dp", 1.0)


@pytest.mark.parametrize("data", [
    "adversarial", {"kind": "adversarial", "criterion": "demographic-parity", "lambdas": [2]}, "eodd", "finetune",
])
def test_round_trip(data):
    entry = MitigationConfig.model_validate(data)
    again = MitigationConfig.model_validate(entry.model_dump(mode="json"))
    assert again == entry and again.specs(("sex",)) == entry.specs(("sex",))


@pytest.mark.parametrize(("data", "message"), [
    ({"kind": "eodd", "criterion": "demographic-parity"},
     "criterion: eodd takes no criterion (only adversarial does: equalized-odds or demographic-parity)"),
    ({"kind": "reweighting", "criterion": "equalized-odds"}, "criterion: reweighting takes no criterion"),
])
def test_a_criterion_on_another_kind_names_the_field(data, message):
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        MitigationConfig.model_validate(data)


def test_an_unknown_criterion_names_the_field():
    with pytest.raises(ValidationError) as error:
        MitigationConfig.model_validate({"kind": "adversarial", "criterion": "parity"})
    assert error.value.errors()[0]["loc"] == ("criterion",) and "demographic-parity" in str(error.value)


def test_spec_validates_its_criterion():
    assert MitigationSpec(kind="adversarial", weight=1.0, attributes=("sex",)).criterion == "equalized-odds"
    with pytest.raises(ValueError, match="only adversarial takes one"):
        MitigationSpec(kind="eodd", weight=1.0, attributes=("sex",), criterion="equalized-odds")
    with pytest.raises(ValueError, match="unknown adversary criterion 'parity'"):
        MitigationSpec(kind="adversarial", weight=1.0, attributes=("sex",), criterion="parity")


def test_the_criterion_enters_the_adversarial_cache_data_only():
    eo, dp = (MitigationSpec(kind="adversarial", weight=1.0, attributes=("sex",), criterion=c).to_dict()
              for c in ("equalized-odds", "demographic-parity"))
    assert eo["criterion"] == "equalized-odds" and dp["criterion"] == "demographic-parity"
    assert {k: v for k, v in eo.items() if k != "criterion"} == {k: v for k, v in dp.items() if k != "criterion"}
    assert "criterion" not in MitigationSpec(kind="eodd", weight=1.0, attributes=("sex",)).to_dict()


def _dataset(mitigations):
    return DatasetConfig(name="synthetic-chest", degradations=[{"operator": "radiograph-lowdose", "levels": [3000]}],
                         reconstructors=["baseline", "unet"], tasks=[{"kind": "classification"}],
                         mitigations=mitigations)


def test_both_criteria_may_sit_side_by_side_but_each_once():
    both = _dataset([{"kind": "adversarial"}, {"kind": "adversarial", "criterion": "demographic-parity"}])
    assert [m.method for m in both.mitigations] == ["adversarial", "adversarial-dp"]
    with pytest.raises(ValidationError, match="each kind may appear once .* got \\['adversarial', 'adversarial'\\]"):
        _dataset(["adversarial", {"kind": "adversarial", "criterion": "equalized-odds", "lambdas": [2]}])
