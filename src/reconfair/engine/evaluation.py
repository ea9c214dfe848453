"""The ``evaluate`` stage: the per-sample table of every condition, and its statistics.

Its inputs are every ``inference`` stage; its output is the canonical
per-sample table (``samples.parquet``) and the evaluation tables
(:func:`reconfair.metrics.uncertainty.evaluate_with_uncertainty` with the
study's :class:`~reconfair.metrics.settings.EvaluationSettings`).  It is
cached when all its inputs are (so a rerun with other report settings, or
after a crash in the report, does not bootstrap again).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from reconfair.engine.graph import Graph, Stage
from reconfair.engine.table import canonical, write_samples
from reconfair.metrics.evaluate import OPTIONAL_TABLES, EvaluationTables
from reconfair.metrics.uncertainty import evaluate_with_uncertainty

__all__ = ["EvaluateKind"]

_TABLES = ("performance", "groups", "fairness", *OPTIONAL_TABLES)


class EvaluateKind:
    """Plans the one ``evaluate`` stage over every inference stage."""

    name = "evaluate"
    unit = ""

    def plan(self, graph: Graph) -> None:
        config = graph.config
        inputs = {f"rows:{i}": stage.ref for i, stage in enumerate(graph.of_kind("inference"))}
        graph.add(self.name, label="evaluate all data sets", params={},
                  config_slice={"evaluation": config.evaluation.model_dump(mode="json"), "seed": config.seed,
                                "attributes": list(config.attributes)},
                  inputs=inputs)

    def compute(self, stage: Stage, context: Any) -> tuple[pd.DataFrame, EvaluationTables]:
        frames = [context.output(ref) for role, ref in stage.inputs.items() if role.startswith("rows:")]
        samples = canonical(pd.concat(frames, ignore_index=True))
        return samples, evaluate_with_uncertainty(samples, context.settings)

    def write(self, output: tuple[pd.DataFrame, EvaluationTables], folder: Path) -> None:
        samples, tables = output
        write_samples(samples, folder / "samples.parquet")
        for name in _TABLES:
            table = getattr(tables, name)
            if table is not None:
                table.to_parquet(folder / f"{name}.parquet", index=False)
        (folder / "evaluation.json").write_text(json.dumps({"notes": list(tables.notes), "n_boot": tables.n_boot}),
                                                encoding="utf-8")

    def load(self, stage: Stage, context: Any, folder: Path) -> tuple[pd.DataFrame, EvaluationTables]:
        meta = json.loads((folder / "evaluation.json").read_text(encoding="utf-8"))
        found = {name: pd.read_parquet(folder / f"{name}.parquet") for name in _TABLES
                 if (folder / f"{name}.parquet").is_file()}
        tables = EvaluationTables(**found, notes=tuple(meta["notes"]), n_boot=int(meta["n_boot"]))
        return pd.read_parquet(folder / "samples.parquet"), tables
