"""The study's stage graph: each stage's key, inputs and kind, and the one loop that runs it.

:func:`reconfair.engine.plan.plan_study` builds the graph; every stage kind
lives in its own module as a :class:`StageKind` and is registered once in
:mod:`reconfair.engine.kinds`.  A kind plans its stages (from the config and
the stages planned before it), computes a stage's output from its inputs, and,
when the stage is cached, writes that output into a cache entry and loads it
back.  Executors only walk the graph: :func:`run_local` in topological order,
the Ray executor (:mod:`reconfair.engine.executors`) as tasks whose
dependencies are the inputs' tasks.

A stage is cached when it has a key (a hash of its configuration slice and its
inputs' keys); a stage with an uncached input (a plug-in's inference, whose
outputs may change outside reconfair) is itself uncached.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

__all__ = ["Graph", "Stage", "StageKind", "Status", "recorded_seconds", "replicate_suffix", "run_local", "run_stage",
           "topological"]

Status = Literal["cached", "pending", "always"]


@dataclass(frozen=True, eq=False)
class Stage:
    """One step of a run.

    Attributes
    ----------
    stage
        Its kind (a registered :class:`StageKind` name), e.g. ``inference``.
    key
        The cache key (entry ``<cache>/<stage>/<key>/``), or ``None`` when never cached.
    label
        Human-readable, e.g. ``"synthetic-chest radiograph-lowdose@3000 unet"``.
    inputs
        ``role -> ref`` of the stages whose outputs it reads (``train``, ``model:classification``, ...).
    status
        ``cached`` (the entry exists), ``pending`` (a run computes it) or ``always`` (never cached).
    estimate
        Rough work in :attr:`unit`.
    params
        What the kind needs to run it: data set index, replicate, condition, split, task ...
    config_slice
        What keyed it (stored in the entry's ``entry.json``).
    seconds
        For a cached stage, the time its computation took when it was written (``None`` if unknown).
    """

    stage: str
    key: str | None
    label: str
    inputs: Mapping[str, str] = field(default_factory=dict)
    status: Status = "pending"
    estimate: int = 0
    params: Mapping[str, Any] = field(default_factory=dict)
    config_slice: dict[str, Any] | None = None
    seconds: float | None = None
    unit: str = ""

    @property
    def ref(self) -> str:
        """How other stages name this one: ``stage/key``, or ``stage:label`` when uncached."""
        return f"{self.stage}/{self.key}" if self.key is not None else f"{self.stage}:{self.label}"

    @property
    def depends_on(self) -> tuple[str, ...]:
        """The refs of its inputs, each once, in input order."""
        return tuple(dict.fromkeys(self.inputs.values()))


class StageKind(Protocol):
    """One kind of stage: how it is planned, computed, written to and loaded from the cache."""

    name: str
    """Its name: the cache folder and the ``stage`` of its stages."""
    unit: str
    """The unit of :attr:`Stage.estimate` (``image-epochs``, ``images`` or ``""``)."""

    def plan(self, graph: "Graph") -> None:
        """Add this kind's stages to ``graph`` (which holds the config, the cache and the stages before)."""

    def compute(self, stage: Stage, context: Any) -> Any:
        """The stage's output, from its inputs (``context.output(stage.inputs[role])``)."""

    def write(self, output: Any, folder: Path) -> None:
        """Store ``output`` in a new cache entry's folder (cached kinds)."""

    def load(self, stage: Stage, context: Any, folder: Path) -> Any:
        """The output stored in ``folder`` (cached kinds)."""


class Graph:
    """The stages planned so far, with what planning needs: the config, the cache and the kinds' lookups."""

    def __init__(self, config: Any, cache: Any, kinds: Mapping[str, StageKind]) -> None:
        self.config = config
        self.cache = cache
        self.kinds = dict(kinds)
        self.stages: list[Stage] = []
        self._by_ref: dict[str, Stage] = {}
        self._index: dict[tuple, Stage] = {}
        self.memo: dict[str, Any] = {}
        """Planning facts shared between kinds (e.g. each data set's table), computed once."""

    def add(self, kind: str, *, label: str, params: Mapping[str, Any], config_slice: dict[str, Any] | None,
            inputs: Mapping[str, str] | None = None, estimate: int = 0) -> Stage:
        """Plan one stage; its key hashes ``config_slice`` and its inputs' keys (``None`` slice: never cached)."""
        inputs = dict(inputs or {})
        for ref in inputs.values():
            if ref not in self._by_ref:
                raise ValueError(f"stage {kind} {label!r}: input {ref} is not planned before it")
        uncached = config_slice is None or any(self._by_ref[r].key is None for r in inputs.values())
        key = status = None
        full_slice = None
        seconds = None
        if not uncached:
            full_slice = {**config_slice, "inputs": {role: self._by_ref[r].key for role, r in sorted(inputs.items())}}
            key = self.cache.key(kind, full_slice)
            meta = self.cache.folder(kind, key) / "entry.json"
            status = "cached" if meta.is_file() else "pending"
            seconds = recorded_seconds(meta) if status == "cached" else None
        stage = Stage(kind, key, label, inputs, status or "always", int(estimate), dict(params), full_slice,
                      seconds, self.kinds[kind].unit)
        if stage.ref in self._by_ref:  # the same work planned twice (e.g. shared by two conditions)
            return self._by_ref[stage.ref]
        self.stages.append(stage)
        self._by_ref[stage.ref] = stage
        self._index[(kind, *sorted((k, _hashable(v)) for k, v in params.items() if k in _INDEX_PARAMS))] = stage
        return stage

    def find(self, kind: str, **params: Any) -> Stage | None:
        """The planned stage of ``kind`` with these identifying params (dataset, replicate, condition, split, task)."""
        return self._index.get((kind, *sorted((k, _hashable(v)) for k, v in params.items())))

    def get(self, ref: str) -> Stage:
        return self._by_ref[ref]

    def of_kind(self, kind: str) -> list[Stage]:
        return [s for s in self.stages if s.stage == kind]


def replicate_suffix(config: Any, replicate: int) -> str:
    """`` (replicate k)`` for a stage label when the study has several model replicates, else ``""``."""
    return f" (replicate {replicate})" if config.replicates > 1 else ""


_INDEX_PARAMS = ("dataset", "replicate", "condition", "split", "task")


def _hashable(value: Any) -> Any:
    return getattr(value, "name", value) if not isinstance(value, (str, int, float, tuple)) else value


def recorded_seconds(meta: Path) -> float | None:
    """The ``seconds`` an entry's computation took, from its ``entry.json`` (``None`` when unknown)."""
    import json

    try:
        value = json.loads(meta.read_text(encoding="utf-8")).get("seconds")
    except (OSError, ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, (int, float)) else None


def topological(stages: Iterable[Stage]) -> list[Stage]:
    """``stages`` in an order where every stage follows its inputs (planning order when it already is)."""
    stages = list(stages)
    known = {s.ref for s in stages}
    done: set[str] = set()
    order: list[Stage] = []
    pending = stages
    while pending:
        ready = [s for s in pending if all(r in done or r not in known for r in s.depends_on)]
        if not ready:
            raise ValueError("the stage graph has a cycle: " + ", ".join(s.label for s in pending[:5]))
        for stage in ready:
            order.append(stage)
            done.add(stage.ref)
        pending = [s for s in pending if s.ref not in done]
    return order


def run_stage(stage: Stage, context: Any) -> Any:
    """The output of ``stage``: loaded from its entry, or computed (and stored, when cached)."""
    kind = context.kinds[stage.stage]
    if stage.key is None:
        return context.timed(stage, lambda: kind.compute(stage, context))
    cache = context.cache
    found = cache.lookup(stage.stage, stage.key)
    if found is None:
        with cache.claim(stage.stage, stage.key) as found:  # another run computing it: wait, then reuse
            if found is None:
                started = time.perf_counter()
                output = context.timed(stage, lambda: kind.compute(stage, context))
                seconds = time.perf_counter() - started
                found = cache.store(stage.stage, stage.key, lambda tmp: kind.write(output, tmp),
                                    config_slice={**stage.config_slice, "label": stage.label},
                                    extra={"seconds": round(seconds, 3)})
    return kind.load(stage, context, found)


def run_local(stages: list[Stage], context: Any, *, on_stage: Callable[[Stage], None] | None = None) -> None:
    """Run every stage in topological order: cached stages are only checked, the rest computed.

    Outputs are kept by ``context`` as they are needed (a cached stage is loaded
    only when a later stage reads it).
    """
    for stage in topological(stages):
        context.ensure(stage)
        if on_stage is not None:
            on_stage(stage)
