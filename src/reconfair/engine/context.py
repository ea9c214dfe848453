"""What a running stage sees: the config, the cache, the device, each data set, and the outputs of its inputs.

One :class:`RunContext` serves a whole local run (or one Ray task): data sets
are built once, an input's output is loaded from its cache entry the first
time a stage reads it and kept, and every computation runs with the study's
pinned torch thread count (``StudyConfig.threads``), so a table does not
depend on the executor or the machine's CPU count.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from reconfair.engine.datasets import build_dataset
from reconfair.engine.graph import Stage, run_stage

__all__ = ["RunContext", "study_threads"]


def study_threads(config: Any) -> int:
    """The torch threads each stage runs with: ``config.threads`` (default 2)."""
    return int(config.threads)


class RunContext:
    """The shared state of the stages of one run (or one worker's task)."""

    def __init__(self, config: Any, cache: Any, stages: list[Stage], *, kinds: Mapping[str, Any],
                 device: torch.device, progress: bool = False, out_dir: Path | None = None,
                 conditions: Mapping[int, list] | None = None) -> None:
        self.config = config
        self.graph_conditions = dict(conditions or {})
        """Each data set's conditions, as planned."""
        self.on_notes: Callable[[tuple[str, ...]], None] | None = None
        self.on_manifest: Callable[[Any], None] | None = None
        self.cache = cache
        self.kinds = dict(kinds)
        self.device = device
        self.progress = progress
        self.out_dir = out_dir
        self.stages = {stage.ref: stage for stage in stages}
        self.outputs: dict[str, Any] = {}
        self.checked: set[str] = set()
        self.timings: dict[str, float] = defaultdict(float)
        """Seconds spent computing, per stage kind (this process only)."""
        self.computed: list[str] = []
        self._datasets: dict[int, Any] = {}

    @property
    def settings(self) -> Any:
        """The study's :class:`~reconfair.metrics.settings.EvaluationSettings`."""
        from reconfair.metrics.settings import EvaluationSettings

        config = self.config
        return EvaluationSettings.from_config(config.evaluation, attributes=config.attributes, seed=config.seed)

    def log_notes(self, notes: tuple[str, ...]) -> None:
        """Show the evaluation's warnings (run.log and console, when the run set that up)."""
        if self.on_notes is not None:
            self.on_notes(notes)

    def write_manifest(self, tables: Any) -> None:
        """Write the run's ``manifest.json`` (when the run set that up)."""
        if self.on_manifest is not None:
            self.on_manifest(tables)

    # -- data sets ---------------------------------------------------------------------------------------
    def dataset_config(self, index: int) -> Any:
        return self.config.datasets[index]

    def dataset(self, index: int) -> Any:
        """Data set ``index`` as a lazy sample set (its table; images are the ``images`` stages' job)."""
        if index not in self._datasets:
            self._datasets[index] = build_dataset(self.config.datasets[index], seed=self.config.seed, lazy=True)
        return self._datasets[index]

    # -- outputs -------------------------------------------------------------------------------------------
    def output(self, ref: str) -> Any:
        """The output of the stage ``ref``: kept, loaded from its (checked) entry, or computed now."""
        if ref not in self.outputs:
            stage = self.stages[ref]
            if ref in self.checked:
                self.outputs[ref] = self.kinds[stage.stage].load(stage, self, self.cache.folder(stage.stage,
                                                                                                stage.key))
            else:
                self.outputs[ref] = run_stage(stage, self)
                self.checked.add(ref)
        return self.outputs[ref]

    def entry(self, ref: str) -> Path:
        """The cache folder of a cached stage (after making sure it exists)."""
        stage = self.stages[ref]
        self.ensure(stage)
        return self.cache.folder(stage.stage, stage.key)

    def ensure(self, stage: Stage) -> None:
        """Make sure the stage's entry exists (computing it if needed); uncached stages are computed."""
        if stage.ref in self.checked or stage.ref in self.outputs:
            return
        if stage.key is not None and self.cache.lookup(stage.stage, stage.key) is not None:
            self.checked.add(stage.ref)
            return
        self.output(stage.ref)

    def inputs(self, stage: Stage, prefix: str) -> dict[str, Any]:
        """``{role suffix: output}`` of the inputs whose role starts with ``prefix:``."""
        start = f"{prefix}:"
        return {role[len(start):]: self.output(ref) for role, ref in stage.inputs.items() if role.startswith(start)}

    def timed(self, stage: Stage, compute: Callable[[], Any]) -> Any:
        """Run ``compute`` with the study's torch threads, adding its time to the stage kind's."""
        threads = torch.get_num_threads()
        torch.set_num_threads(study_threads(self.config))
        started = time.perf_counter()
        try:
            return compute()
        finally:
            self.timings[stage.stage] += time.perf_counter() - started
            self.computed.append(stage.ref)
            torch.set_num_threads(threads)
