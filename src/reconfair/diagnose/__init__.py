"""Diagnostic models: multi-label classifiers and segmenters, trained by reconfair or supplied by the user."""

from reconfair.diagnose.models import DiagnosticModel, load_model
from reconfair.diagnose.saliency import saliency_maps
from reconfair.diagnose.supplied import SuppliedModel, load_supplied, model_fingerprint

__all__ = ["DiagnosticModel", "SuppliedModel", "load_model", "load_supplied", "model_fingerprint", "saliency_maps"]
