"""Reconstructor paths resolved against the config file like every other path."""

from pathlib import Path

import yaml

from reconfair.config import dump_config, load_config, parse_config


def _study(**top):
    return {"datasets": [{"name": "synthetic-chest", "degradations": [{"operator": "radiograph-lowdose",
                                                                       "levels": [3000]}],
                          "reconstructors": ["baseline", {"name": "mine", "folder": "recons/{level}"},
                                             {"name": "unet", "checkpoint": "models/unet-{level}"}]}], **top}


def test_reconstructor_folder_and_checkpoint_resolve_against_the_config_file(tmp_path):
    path = tmp_path / "configs" / "study.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(_study()))
    _, mine, unet = load_config(path).datasets[0].reconstructors
    assert mine.folder == str(tmp_path / "configs" / "recons" / "{level}")  # placeholder kept
    assert unet.checkpoint == str(tmp_path / "configs" / "models" / "unet-{level}")
    resolved = load_config(path)
    assert parse_config(yaml.safe_load(dump_config(resolved))) == resolved  # absolute: round-trips anywhere


def test_reconstructor_paths_without_a_file_resolve_against_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _, mine, _ = parse_config(_study()).datasets[0].reconstructors
    assert Path(mine.folder) == tmp_path / "recons" / "{level}"
    absolute = _study()
    absolute["datasets"][0]["reconstructors"][1]["folder"] = "/data/recons"
    assert parse_config(absolute).datasets[0].reconstructors[1].folder == "/data/recons"
