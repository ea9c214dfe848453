"""The demo study: both synthetic modalities, four reconstructors, fixed exposure and AEC, mitigations.

One source: ``demo.yaml`` beside this module (package data; ``configs/demo.yaml``
links to it).  ``quick`` derives a smoke test (seconds) from it in code; the
full demo is sized to finish in a few minutes on a 2-core CPU.

>>> demo_config().name, [d.name for d in demo_config().datasets]
('demo', ['synthetic-chest', 'synthetic-brain'])
>>> quick = demo_config(quick=True)
>>> quick.name, quick.datasets[0].n_patients, quick.datasets[0].degradations[0].levels
('demo-quick', 120, (100000.0, 10000.0, 3000.0))
"""

from __future__ import annotations

import copy
from importlib import resources
from typing import Any

import yaml

from reconfair.config.schema import StudyConfig, parse_config

__all__ = ["DEMO_YAML", "QUICK", "demo_config", "demo_data"]

DEMO_YAML = "demo.yaml"
"""The demo's file, a resource of :mod:`reconfair.config`."""

QUICK: dict[str, Any] = {
    "n_patients": {"synthetic-chest": 120, "synthetic-brain": 80},
    "task_epochs": 3,
    "reconstructors": ["baseline", {"name": "unet", "settings": {"epochs": 1}}],
}
"""What ``quick`` changes: fewer patients and epochs, baseline and a one-epoch U-Net, no mitigations
(nor the degradation levels only they target)."""


def demo_data(*, quick: bool = False) -> dict[str, Any]:
    """The demo's configuration as plain data (``quick``: the smoke test derived from it)."""
    data = yaml.safe_load(resources.files("reconfair.config").joinpath(DEMO_YAML).read_text(encoding="utf-8"))
    return _quick(data) if quick else data


def demo_config(*, quick: bool = False) -> StudyConfig:
    """The configuration ``reconfair demo`` runs (``configs/demo.yaml``; ``quick``: ``reconfair demo --quick``)."""
    return parse_config(demo_data(quick=quick), source="demo-quick" if quick else "demo")


def _quick(data: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(data)
    data["name"] = f"{data['name']}-quick"
    for dataset in data["datasets"]:
        dataset["n_patients"] = QUICK["n_patients"][dataset["name"]]
        mitigated = {float(level) for m in dataset.pop("mitigations", []) for level in m.get("levels", [])}
        for degradation in dataset["degradations"]:
            degradation["levels"] = [v for v in degradation["levels"] if float(v) not in mitigated]
        dataset["reconstructors"] = copy.deepcopy(QUICK["reconstructors"])
        for task in (t for t in dataset["tasks"] if t.get("kind") != "detection"):
            task.setdefault("model", {})["epochs"] = QUICK["task_epochs"]
    return data
