"""The live stage display counts the plan's cacheable stages as they are found or computed."""

from __future__ import annotations

import re

from reconfair.config import parse_config
from reconfair.engine.run import run_study

STUDY = {
    "name": "display",
    "seed": 0,
    "device": "cpu",
    "attributes": ["sex"],
    "datasets": [
        {
            "name": "synthetic-chest",
            "n_patients": 60,
            "image_size": 32,
            "degradations": [{"operator": "radiograph-lowdose", "levels": [3000]}],
            "reconstructors": ["baseline", {"name": "unet", "settings": {"epochs": 1}}],
            "tasks": [{"kind": "classification", "model": {"epochs": 1}}],
        }
    ],
    "evaluation": {"min_group_size": 2, "bootstrap": 0},
}


def _stage_line(text: str) -> str:
    """The stage bar's last line; captured stderr is no terminal, so bars are plain lines after a timestamp."""
    lines = [re.sub(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d ", "", line) for line in text.splitlines()]
    lines = [line for line in lines if line.startswith("stages (")]
    assert lines, text[-2000:]
    return lines[-1]


def test_stage_bar_reaches_every_cacheable_stage(tmp_path, capsys, one_torch_thread):
    config = parse_config(STUDY)
    run_study(config, tmp_path / "a", cache_dir=tmp_path / "cache", progress=True)
    # 3 images + 1 diagnostic + 1 U-Net + 3 inference (original, identity, unet) + evaluate + examples
    # = 10 cacheable stages, none cached yet
    first = _stage_line(capsys.readouterr().err)
    assert first.startswith("stages (0 cached, 10 to compute)") and re.search(r"\b10/10\b", first)
    run_study(config, tmp_path / "b", cache_dir=tmp_path / "cache", progress=True)
    second = _stage_line(capsys.readouterr().err)
    assert second.startswith("stages (10 cached, 0 to compute)") and re.search(r"\b10/10\b", second)
