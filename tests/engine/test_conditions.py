"""Which conditions a data set has: per-degradation reconstructor subsets and per-degradation mitigations."""

import pytest

from reconfair.config import ConfigError, parse_config
from reconfair.engine.conditions import dataset_conditions


def chest(**extra) -> dict:
    return {"datasets": [{"name": "synthetic-chest", "n_patients": 40, "image_size": 32,
                          "reconstructors": ["baseline", "unet", "pix2pix"], **extra}], "attributes": ["sex"]}


def test_a_degradation_may_run_a_subset_of_the_reconstructors_and_mitigations_pick_degradations():
    config = parse_config(chest(
        degradations=[{"operator": "radiograph-lowdose", "levels": [3000, 30]},
                      {"operator": "radiograph-aec", "levels": [30], "reconstructors": ["baseline", "unet"]}],
        mitigations=[{"kind": "reweighting", "levels": [30], "degradations": ["radiograph-lowdose"]}]))
    names = [c.name for c in dataset_conditions(config.datasets[0], config.attributes)]
    assert names == [
        "original",
        "radiograph-lowdose@3000/identity", "radiograph-lowdose@3000/unet", "radiograph-lowdose@3000/pix2pix",
        "radiograph-lowdose@30/identity", "radiograph-lowdose@30/unet", "radiograph-lowdose@30/unet+reweighting",
        "radiograph-lowdose@30/pix2pix", "radiograph-lowdose@30/pix2pix+reweighting",
        "radiograph-aec@30/identity", "radiograph-aec@30/unet",
    ]


def test_unknown_names_and_repeated_operators_are_errors_naming_the_field():
    with pytest.raises(ConfigError, match=r"degradations\[0\]\.reconstructors: \['irsde'\] are not reconstructors"):
        parse_config(chest(degradations=[{"operator": "radiograph-lowdose", "levels": [30],
                                          "reconstructors": ["irsde"]}]))
    with pytest.raises(ConfigError, match=r"mitigations\[0\]\.degradations: \['radiograph-aec'\] are not degradations"):
        parse_config(chest(degradations=[{"operator": "radiograph-lowdose", "levels": [30]}],
                           mitigations=[{"kind": "reweighting", "degradations": ["radiograph-aec"]}]))
    with pytest.raises(ConfigError, match="each operator may appear once.*radiograph-aec"):
        parse_config(chest(degradations=[{"operator": "radiograph-lowdose", "levels": [30]},
                                         {"operator": "radiograph-lowdose", "levels": [3000], "params": {"aec": True}}]))
