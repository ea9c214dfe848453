"""The one training loop (:mod:`.loop`), its resumable state (:mod:`.state`) and safetensors checkpoints
(:mod:`.checkpoint`), shared by every learned reconstructor, diagnostic model and mitigation."""

from reconfair.training.loop import FitResult, fit

__all__ = ["FitResult", "fit"]
