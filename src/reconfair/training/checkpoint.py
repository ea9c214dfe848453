"""Checkpoints as safetensors (tensors) + JSON (plain config); never pickles.

>>> import tempfile, torch
>>> stem = Path(tempfile.mkdtemp()) / "model"
>>> save_checkpoint(stem, {"w": torch.ones(2)}, {"kind": "demo"})
>>> state, meta = load_checkpoint(stem)
>>> state["w"].tolist(), meta
([1.0, 1.0], {'kind': 'demo'})
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file


def save_checkpoint(stem: str | Path, state: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Write ``stem.safetensors`` and ``stem.json`` atomically (temp file + rename)."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    weights, config = stem.with_suffix(".safetensors"), stem.with_suffix(".json")
    tmp_weights, tmp_config = weights.with_name(weights.name + ".tmp"), config.with_name(config.name + ".tmp")
    save_file(tensors, str(tmp_weights))
    tmp_config.write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp_weights, weights)
    os.replace(tmp_config, config)


def load_checkpoint(stem: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Raises ``ValueError`` naming the file when it is missing or is not a
    safetensors file: damaged (truncated), or foreign (a pickled ``.pt`` is
    refused, never unpickled); the message says how to heal a cache entry.
    """
    stem = Path(stem)
    weights, config = stem.with_suffix(".safetensors"), stem.with_suffix(".json")
    for path in (weights, config):
        if not path.is_file():
            raise ValueError(f"checkpoint file {path} does not exist; expected {weights.name} and {config.name}")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as error:
        raise ValueError(
            f"{weights} is not a valid safetensors file ({error}): the file is damaged (e.g. truncated) or is "
            "not a reconfair checkpoint (reconfair never unpickles checkpoints). In a reconfair cache, "
            "`reconfair cache verify --cache DIR --repair` moves damaged entries aside, or delete the folder "
            f"{stem.parent}; the next run computes it again"
        ) from None
    try:
        meta = json.loads(config.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{config} is not valid JSON ({error})") from None
    return state, meta
