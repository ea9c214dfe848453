"""The ``export:`` block: defaults, round trip, and errors that name the field (unknown conditions too)."""

import pytest
import yaml

from reconfair.config import ConfigError, ExportConfig, dump_config, parse_config
from reconfair.engine.validate import load_study, parse_study


def _study(**top):
    return {"datasets": [{"name": "synthetic-chest", "degradations": [{"operator": "radiograph-lowdose",
                                                                       "levels": [3000]}],
                          "reconstructors": ["baseline", {"name": "mine", "folder": "recons/{level}"},
                                             {"name": "unet", "checkpoint": "models/unet-{level}"}]}], **top}


def test_export_block_defaults_and_round_trip():
    assert parse_config(_study()).export is None
    config = parse_config(_study(export={}))
    assert config.export == ExportConfig()
    assert (config.export.inputs, config.export.reconstructions, config.export.format) == (True, True, "npy")
    assert config.export.conditions is None and config.export.splits is None
    custom = parse_config(_study(export={"format": "nifti", "conditions": ["original"], "splits": ["test"]}))
    assert parse_config(yaml.safe_load(dump_config(custom))) == custom


@pytest.mark.parametrize("block, message", [
    ({"format": "tiff"}, "export.format: Input should be 'npy', 'png' or 'nifti' (received 'tiff')"),
    ({"inputs": False, "reconstructions": False}, "export: inputs and reconstructions are both false"),
    ({"conditions": []}, "export.conditions: expected at least one name"),
    ({"conditions": ["original", "original"]}, "export.conditions: each name may appear once, got 'original'"),
    ({"splits": ["tets"]}, "export.splits[0]: Input should be 'train', 'val' or 'test' (received 'tets')"),
    ({"colour": 1}, "export.colour: unknown key 'colour'; allowed keys: conditions, format, inputs, "
                    "reconstructions, splits"),
])
def test_export_block_errors_name_the_field(block, message):
    with pytest.raises(ConfigError) as info:
        parse_config(_study(export=block), source="study.yaml")
    assert message in str(info.value), str(info.value)


def test_unknown_export_conditions_are_named_with_the_known_ones():
    with pytest.raises(ConfigError) as info:
        parse_study(_study(export={"conditions": ["original", "radiograph-lowdose@300/unet"]}), source="study.yaml")
    message = str(info.value)
    assert "export.conditions[1]: unknown condition 'radiograph-lowdose@300/unet'" in message, message
    assert ("expected some of: original, radiograph-lowdose@3000/identity, radiograph-lowdose@3000/mine, "
            "radiograph-lowdose@3000/unet") in message, message


def test_known_export_conditions_pass(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(_study(export={"conditions": ["radiograph-lowdose@3000/mine"]})))
    assert load_study(path).export.conditions == ("radiograph-lowdose@3000/mine",)
