"""A diagnostic model the user supplies (``tasks[i].model`` with ``torchscript``, ``onnx``, ``factory`` or ``network``).

A supplied model is frozen: reconfair never trains it, only maps its input
and reads its output (docs/models.md).  Exactly one of the four sources is
given:

- ``torchscript: FILE`` (``torch.jit.save`` output),
- ``onnx: FILE`` (run by onnxruntime),
- ``factory: "package.module:attribute"`` called with ``params``, returning a ``torch.nn.Module``,
- ``network: NAME``, a MONAI network (``monai.networks.nets.NAME(**params)``),

``weights: FILE.safetensors`` (a state dict) may follow a factory or a network.
File paths resolve against the config file's folder, like every other path.

Validation here checks structure only; :func:`reconfair.engine.validate.validate_study`
checks that files exist, factories import and targets are labels of the data.

Examples
--------
>>> model = SuppliedModelConfig.model_validate({"torchscript": "/models/cxr.pt", "targets": ["nodule"]})
>>> model.source, model.output, model.input.range
('torchscript', 'logits', (0.0, 1.0))
>>> SuppliedModelConfig.model_validate({"targets": ["nodule"]})
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for SuppliedModelConfig
  Value error, give exactly one of torchscript, onnx, factory or network; got none [...]
...
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from reconfair.config.base import Frozen as _Frozen
from reconfair.config.sources import absolute_path

__all__ = ["InputMapping", "MODEL_SOURCES", "SUPPLIED_MODEL_KEYS", "SuppliedModelConfig"]

MODEL_SOURCES = ("torchscript", "onnx", "factory", "network")
"""The keys that make a task's ``model`` a supplied one (exactly one is given)."""


class InputMapping(_Frozen):
    """How reconfair's images (grey, N×1×H×W, values in [0, 1]) become what the model expects.

    In this order: resized to ``size`` × ``size`` (bilinear, when given and different), scaled
    linearly from [0, 1] to ``range`` (``lo + x·(hi − lo)``), repeated to ``channels``, then
    standardised per channel, ``(x − mean) / std`` (when given).
    """

    size: int | None = Field(None, ge=8, le=4096)
    """Side of the square input the model takes (``None``: the data set's image size)."""
    channels: int = Field(1, ge=1, le=4)
    """Input channels: the grey image repeated (3 for ImageNet-style models)."""
    range: tuple[float, float] = (0.0, 1.0)
    """The values 0 and 1 of reconfair's images map to these, e.g. ``[-1024, 1024]`` for torchxrayvision."""
    mean: tuple[float, ...] | None = None
    """Per-channel mean subtracted after scaling (one value, or one per channel)."""
    std: tuple[float, ...] | None = None
    """Per-channel standard deviation divided by after the mean (one value, or one per channel)."""

    @field_validator("mean", "std", mode="before")
    @classmethod
    def _scalar_to_tuple(cls, value: Any) -> Any:
        return (value,) if isinstance(value, (int, float)) else value

    @model_validator(mode="after")
    def _consistent(self) -> "InputMapping":
        lo, hi = self.range
        if not hi > lo:
            raise ValueError(f"range: expected [low, high] with high > low, got {list(self.range)}")
        for name in ("mean", "std"):
            values = getattr(self, name)
            if values is not None and len(values) not in (1, self.channels):
                raise ValueError(f"{name}: expected 1 or {self.channels} values (one per channel), got {list(values)}")
        if self.std is not None and any(v <= 0 for v in self.std):
            raise ValueError(f"std: expected positive values, got {list(self.std)}")
        return self


class SuppliedModelConfig(_Frozen):
    """A frozen diagnostic model from the user: a file, a factory or a MONAI network with weights."""

    torchscript: str | None = None
    """A TorchScript file (``torch.jit.save``)."""
    onnx: str | None = None
    """An ONNX file, run by onnxruntime (``pip install 'reconfair[onnx]'``); no saliency, no mitigation."""
    factory: str | None = None
    """``package.module:attribute`` returning a ``torch.nn.Module`` when called with ``params``."""
    network: str | None = None
    """A network of ``monai.networks.nets`` by name (e.g. ``DenseNet121``), built with ``params``."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments of ``factory`` or ``network``."""
    weights: str | None = None
    """A safetensors state dict loaded into the ``factory`` or ``network`` module (strict)."""
    targets: tuple[str | None, ...] | None = None
    """Classification: output column j -> label name (``null`` skips a column the data has no label for).
    Required for classification; every name must be a label of the data set."""
    output: Literal["logits", "probabilities", "softmax"] = "logits"
    """What the model returns: ``logits`` (sigmoid applied), ``probabilities`` (taken as is) or ``softmax``
    (logits of mutually exclusive classes; softmax applied over the columns, each class scored one-vs-rest)."""
    input: InputMapping = InputMapping()
    """How [0, 1] grey images map to the model's input."""
    channel: int = Field(0, ge=0)
    """Segmentation: the output channel holding the structure (N×C×H×W outputs)."""
    threshold: float = Field(0.5, gt=0, lt=1)
    """Segmentation: probability at or above which a pixel is foreground."""
    saliency_layer: str | None = None
    """Grad-CAM's target layer (a module name of the torch model, as in ``named_modules()``); ``None``: the
    convolution that runs last.  Input gradients when the model has no convolution reachable by hooks."""

    _paths = field_validator("torchscript", "onnx", "weights")(absolute_path)

    @property
    def source(self) -> Literal["torchscript", "onnx", "factory", "network"]:
        """Which of the four forms this model takes."""
        return next(name for name in MODEL_SOURCES if getattr(self, name) is not None)  # type: ignore[return-value]

    @property
    def location(self) -> str:
        """The file, factory or network that names the model in messages."""
        return str(getattr(self, self.source))

    @model_validator(mode="after")
    def _one_source(self) -> "SuppliedModelConfig":
        given = [name for name in MODEL_SOURCES if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of torchscript, onnx, factory or network; got {', '.join(given) or 'none'}")
        source = given[0]
        if self.params and source not in ("factory", "network"):
            raise ValueError(f"params: only a factory or a network takes params, not a {source} file")
        if self.weights is not None and source not in ("factory", "network"):
            raise ValueError(f"weights: only a factory or a network takes weights; a {source} file holds its own")
        if source == "network" and self.weights is None:
            raise ValueError(f"network {self.network!r}: give weights: FILE.safetensors (a supplied model is never "
                             "trained; to train one, leave out network and use preset/epochs)")
        if self.saliency_layer is not None and source == "onnx":
            raise ValueError("saliency_layer: an ONNX model has no layers reconfair can reach (no saliency for ONNX)")
        if source == "factory" and ":" not in str(self.factory):
            raise ValueError(f"factory: expected 'package.module:attribute', got {self.factory!r}")
        if self.targets is not None:
            named = [t for t in self.targets if t is not None]
            if not named:
                raise ValueError("targets: name at least one output column (null skips a column)")
            if len(set(named)) != len(named):
                raise ValueError(f"targets: each name may appear once, got {list(self.targets)}")
        return self


SUPPLIED_MODEL_KEYS = frozenset(SuppliedModelConfig.model_fields)
"""Keys of a supplied model (a task's ``model`` with one of :data:`MODEL_SOURCES` is one)."""
