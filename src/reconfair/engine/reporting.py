"""The ``report`` stage: write the run directory from the stages' outputs, then the manifest and the report.

Never cached (it writes into the run folder): ``samples.parquet``,
``metrics/*.csv`` (with the mitigation tables), ``examples/`` (only when the
``examples`` stage is planned; otherwise an ``examples/`` left by an earlier
run is removed), ``manifest.json`` and, through
:func:`reconfair.report.write_report`, ``report.html``, ``figures/``,
``tables/`` and ``summary.md``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from reconfair.engine.examples import write_example_files
from reconfair.engine.graph import Graph, Stage
from reconfair.engine.table import write_samples
from reconfair.metrics.replicates import write_seed_summaries
from reconfair.report import write_report

__all__ = ["ReportKind"]


class ReportKind:
    """Plans the ``report`` stage after everything else."""

    name = "report"
    unit = ""

    def plan(self, graph: Graph) -> None:
        inputs = {"evaluate": graph.of_kind("evaluate")[0].ref}
        examples = graph.of_kind("examples")  # none when report.examples is false
        if examples:
            inputs["examples"] = examples[0].ref
        tables = graph.of_kind("mitigation-tables")
        if tables:
            inputs["mitigation"] = tables[0].ref
        observers = graph.of_kind("observer-stats")  # none without a detection task
        if observers:
            inputs["observers"] = observers[0].ref
        graph.add(self.name, label="report", params={}, config_slice=None, inputs=inputs)

    def compute(self, stage: Stage, context: Any) -> Path:
        out = Path(context.out_dir)
        evaluate = context.stages[stage.inputs["evaluate"]]
        samples, tables = context.output(evaluate.ref)
        if evaluate.key is not None:  # the cached table itself, byte for byte
            shutil.copyfile(context.entry(evaluate.ref) / "samples.parquet", out / "samples.parquet")
        else:
            write_samples(samples, out / "samples.parquet")
        context.log_notes(tables.notes)
        metrics = out / "metrics"
        if "mitigation" in stage.inputs:
            metrics.mkdir(parents=True, exist_ok=True)
            for name, table in context.output(stage.inputs["mitigation"]).items():
                table.to_csv(metrics / f"{name}.csv", index=False)
        tables.to_csv(metrics)
        if "observers" in stage.inputs:
            context.output(stage.inputs["observers"])[1].to_csv(metrics / "observers.csv", index=False)
        elif (metrics / "observers.csv").is_file():  # an earlier run's, which this run did not compute
            (metrics / "observers.csv").unlink()
        write_seed_summaries(tables, metrics)
        if "examples" in stage.inputs:
            write_example_files(context.output(stage.inputs["examples"]), out / "examples")
        elif (out / "examples").is_dir():  # an earlier run's images, which this run's report may not show
            shutil.rmtree(out / "examples")
        context.write_manifest(tables)  # before the report: its provenance section reads it
        write_report(out)
        return out

    def write(self, output: Any, folder: Path) -> None:
        raise TypeError("the report stage writes the run directory and is never cached (its key is None)")

    def load(self, stage: Stage, context: Any, folder: Path) -> Any:
        raise TypeError("the report stage is never cached: it has no entry to load")
