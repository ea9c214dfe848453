"""Diagnostic models: multi-label classifiers and segmenters, trained or loaded."""

from reconfair.diagnose.models import DiagnosticModel, load_model

__all__ = ["DiagnosticModel", "load_model"]
