"""The README's "Bring your own models" config runs as written, on a lesion data set and a CNN trained outside."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml
from typer.testing import CliRunner

from reconfair.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"
_spec = importlib.util.spec_from_file_location("lesions", Path(__file__).parent / "diagnose" / "lesions.py")
lesions = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lesions)


def readme_config() -> str:
    section = README.read_text(encoding="utf-8").split("## Bring your own models", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```yaml\n(.*?)```", section, flags=re.S).group(1)


def test_the_readme_config_validates_and_runs(tmp_path, monkeypatch):
    lesions.write_folder(tmp_path, n=60, name="data")
    (tmp_path / "models").mkdir()
    cnn = lesions.train(lesions.SmallCNN())
    torch.jit.script(cnn).save(str(tmp_path / "models" / "cnn.pt"))
    path = tmp_path / "my-audit.yaml"
    path.write_text(readme_config())
    monkeypatch.chdir(tmp_path)  # `reconfair run my-audit.yaml` from the config's folder, as the README shows
    runner = CliRunner()
    result = runner.invoke(app, ["validate", "my-audit.yaml"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["run", "my-audit.yaml", "--no-progress"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "runs" / yaml.safe_load(readme_config())["name"]
    table = pd.read_parquet(out / "samples.parquet")
    assert set(table["condition"]) == {"original", "radiograph-lowdose@10000/identity",
                                       "radiograph-lowdose@3000/identity"}
    original = table[table["condition"] == "original"]
    images = torch.cat([lesions.read_png(tmp_path / "data" / "img" / f"{s.removeprefix('img-')}.png")
                        for s in original["sample_id"]])
    with torch.no_grad():
        own = torch.sigmoid(cnn(images))[:, 0].numpy()
    np.testing.assert_allclose(original["y_score"], own, atol=1e-5)
    stages = {event["stage"] for event in json.loads((out / "manifest.json").read_text())["stages"]}
    assert "supplied-model" in stages and "diagnostic" not in stages
