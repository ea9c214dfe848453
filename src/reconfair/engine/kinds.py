"""The registered stage kinds, in planning order: the one place a new kind is added.

Each kind is a :class:`~reconfair.engine.graph.StageKind` in its own module.
Planning calls each kind's ``plan`` in this order, so a kind may depend on
the stages of the kinds before it.  See ``docs/engine.md`` ("Adding a stage
kind") for a worked example.
"""

from __future__ import annotations

from reconfair.engine.diagnostic import DiagnosticKind, SuppliedModelKind
from reconfair.engine.evaluation import EvaluateKind
from reconfair.engine.examples import ExamplesKind
from reconfair.engine.export import ExportKind
from reconfair.engine.images import ImagesKind
from reconfair.engine.inference import InferenceKind
from reconfair.engine.mitigation import MitigatedKind, MitigationTablesKind
from reconfair.engine.observers import ObserverKind, ObserverStatsKind
from reconfair.engine.reconstruction import ReconstructorKind
from reconfair.engine.reporting import ReportKind

__all__ = ["KINDS", "STAGE_KINDS"]

STAGE_KINDS = (
    ImagesKind(),
    DiagnosticKind(),
    SuppliedModelKind(),
    ReconstructorKind(),
    MitigatedKind(),
    InferenceKind(),
    EvaluateKind(),
    ObserverKind(),  # only with a detection task
    ObserverStatsKind(),
    MitigationTablesKind(),
    ExamplesKind(),
    ReportKind(),
    ExportKind(),  # only with an export: block; after the report, so a failed export leaves the report written
)
KINDS = {kind.name: kind for kind in STAGE_KINDS}
"""Each registered kind by name."""
