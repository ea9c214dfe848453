"""A diagnostic model the user supplies: TorchScript, ONNX, a factory or a MONAI network with weights; frozen.

:class:`SuppliedModel` has the interface of :class:`~reconfair.diagnose.models.DiagnosticModel`
(``kind``, ``targets``, ``threshold``, ``predict``, ``network``), so inference,
the examples and mitigation treat both alike.  reconfair's images (grey,
N×1×H×W in [0, 1]) pass through the configured
:class:`~reconfair.config.models.InputMapping` (resize, range, channels,
mean/std) before the model; its output becomes probabilities:

- classification: an N×K output; ``logits`` -> ``sigmoid``, ``probabilities``
  as is, ``softmax`` -> softmax over the K columns; then the columns named in
  ``targets`` (``null`` skipped) are kept, in that order;
- segmentation: an N×C×h×w output; the same three rules per pixel (softmax
  over the C channels), channel ``channel`` kept and resized back to H×W
  (bilinear) when the model's output is of another size.

``network`` is a torch module from [0, 1] images to the logits of those
probabilities (``logit(p)``), used by Grad-CAM and by mitigation; ONNX models
have none.

Examples
--------
>>> import torch
>>> from reconfair.config.models import SuppliedModelConfig
>>> config = SuppliedModelConfig(factory="torch.nn:Flatten", targets=("a",), output="probabilities")
>>> model = load_supplied(config, kind="classification", image_size=1)
>>> model.predict(torch.full((2, 1, 1, 1), 0.25)).tolist()
[[0.25], [0.25]]
>>> load_supplied(config.model_copy(update={"targets": ("a", None, "b")}), kind="classification", image_size=1)
Traceback (most recent call last):
...
ValueError: model factory 'torch.nn:Flatten' returned shape (2, 1); expected (N, 3): one column per entry of model.targets ['a', None, 'b']
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.metadata
import importlib.util
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from reconfair.registry import import_attribute

__all__ = ["SuppliedModel", "file_sha256", "last_executed_conv", "load_supplied", "model_fingerprint", "resolve_layer"]

_EPS = 1e-7


class InputMap(torch.nn.Module):
    """The configured input mapping as a module: resize, scale to ``range``, repeat channels, standardise."""

    def __init__(self, mapping: Any) -> None:
        super().__init__()
        self.size = mapping.size
        self.channels = int(mapping.channels)
        self.low, self.high = (float(v) for v in mapping.range)
        mean = torch.tensor(mapping.mean if mapping.mean is not None else (0.0,), dtype=torch.float32)
        std = torch.tensor(mapping.std if mapping.std is not None else (1.0,), dtype=torch.float32)
        self.register_buffer("mean", mean.reshape(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", std.reshape(1, -1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.size is not None and tuple(x.shape[-2:]) != (self.size, self.size):
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        x = self.low + x * (self.high - self.low)
        if self.channels != x.shape[1]:
            x = x.expand(-1, self.channels, -1, -1)
        return (x - self.mean) / self.std


class SuppliedModel:
    """A frozen user model behind the :class:`~reconfair.diagnose.models.DiagnosticModel` interface."""

    def __init__(self, config: Any, *, kind: str, runner: Any, module: torch.nn.Module | None) -> None:
        self.config = config
        self.kind = kind
        self.location = f"model {config.source} {config.location!r}"
        self.input_map = InputMap(config.input)
        self.runner = runner  # (mapped input tensor) -> raw output tensor, on the input's device
        self.module = module
        self.columns = tuple(config.targets or ())
        self.threshold = float(config.threshold) if kind == "segmentation" else 0.5

    @property
    def targets(self) -> tuple[str, ...]:
        """The named targets, in output-column order (skipped columns left out)."""
        return tuple(t for t in self.columns if t is not None)

    @property
    def network(self) -> torch.nn.Module | None:
        """[0, 1] images -> logits of :meth:`predict`'s probabilities (a torch model; ``None`` for ONNX)."""
        return None if self.module is None else _LogitNetwork(self)

    def raw(self, images: torch.Tensor) -> torch.Tensor:
        """The model's own output on ``images`` after the input mapping, shape-checked."""
        x = self.input_map.to(images.device)(images.float())
        try:
            out = self.runner(x)
        except Exception as error:  # a model's own failure: say what it got, and what would fix it
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise ValueError(
                f"{self.location} failed on an input of shape {tuple(x.shape)} (the data's "
                f"{images.shape[-2]}×{images.shape[-1]} images after model.input: size {self.config.input.size}, "
                f"channels {self.config.input.channels}): {first}; set model.input (size, channels) to what the "
                "model expects"
            ) from error
        if isinstance(out, (tuple, list)):
            out = out[0]
        if isinstance(out, dict):
            raise ValueError(f"{self.location} returned a dict ({', '.join(map(str, out))}); expected a tensor; "
                             "wrap the model so that it returns the output tensor")
        out = torch.as_tensor(out).to(images.device).float()
        self._check_shape(out, len(images))
        return out

    def _check_shape(self, out: torch.Tensor, n: int) -> None:
        shape = tuple(out.shape)
        if self.kind == "classification":
            if out.ndim != 2 or shape[0] != n or shape[1] != len(self.columns):
                raise ValueError(
                    f"{self.location} returned shape {shape}; expected (N, {len(self.columns)}): one column per "
                    f"entry of model.targets {list(self.columns)}"
                )
        elif out.ndim != 4 or shape[0] != n or not 0 <= self.config.channel < shape[1]:
            raise ValueError(
                f"{self.location} returned shape {shape}; expected (N, C, H, W) segmentation maps with "
                f"model.channel = {self.config.channel} < C"
            )

    def _select(self, out: torch.Tensor, size: tuple[int, int], *, logits: bool) -> torch.Tensor:
        """Probabilities (or their logits) of the named targets / the chosen channel, at the data's size."""
        kind = self.config.output
        if kind == "softmax":
            p = torch.softmax(out, dim=1)
            values = torch.logit(p, eps=_EPS) if logits else p
        elif kind == "probabilities":
            values = torch.logit(out, eps=_EPS) if logits else out
        else:
            values = out if logits else torch.sigmoid(out)
        if self.kind == "classification":
            keep = [j for j, t in enumerate(self.columns) if t is not None]
            return values[:, keep]
        values = values[:, self.config.channel : self.config.channel + 1]
        if tuple(values.shape[-2:]) != tuple(size):
            values = F.interpolate(values, size=size, mode="bilinear", align_corners=False)
        return values

    @torch.no_grad()
    def predict(self, images: torch.Tensor, *, batch_size: int = 64, device: torch.device | str = "cpu") -> torch.Tensor:
        """Probabilities per target (N×L) or soft masks (N×1×H×W), on the CPU."""
        device = torch.device(device)
        if self.module is not None:
            self.module.to(device)
        size = (int(images.shape[-2]), int(images.shape[-1]))
        chunks = [self._select(self.raw(images[i : i + batch_size].to(device)), size, logits=False).cpu()
                  for i in range(0, len(images), batch_size)]
        return torch.cat(chunks) if chunks else torch.empty(0)

    def describe(self) -> dict[str, Any]:
        """What the run records about the model (manifest, cache entry)."""
        return {"kind": self.kind, "source": self.config.source, "location": self.config.location,
                "targets": list(self.targets), "output": self.config.output,
                "fingerprint": model_fingerprint(self.config)}


class _LogitNetwork(torch.nn.Module):
    """Images -> logits of the supplied model's probabilities, differentiable (Grad-CAM, mitigation)."""

    def __init__(self, model: SuppliedModel) -> None:
        super().__init__()
        self.model = model.module  # registered: named_modules() shows the user's layers as ``model.<name>``
        self.input_map = model.input_map
        self._supplied = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        size = (int(images.shape[-2]), int(images.shape[-1]))
        return self._supplied._select(self._supplied.raw(images), size, logits=True)


def load_supplied(config: Any, *, kind: str, image_size: int | None = None, device: torch.device | str = "cpu"
                  ) -> SuppliedModel:
    """Build the :class:`SuppliedModel` of a task's ``model`` (a :class:`~reconfair.config.models.SuppliedModelConfig`).

    With ``image_size``, one probe batch of zeros checks the input mapping and the output shape now, so a
    mismatch is reported before any inference.
    """
    source = config.source
    if source == "onnx":
        runner, module = _onnx_runner(config.onnx, device), None
    else:
        module = _torch_module(config)
        module.eval()
        for parameter in module.parameters():
            parameter.requires_grad_(False)
        runner = module
    model = SuppliedModel(config, kind=kind, runner=runner, module=module)
    if image_size is not None:
        model.predict(torch.zeros(2, 1, image_size, image_size), device=device)
        if config.saliency_layer is not None and module is not None:
            resolve_layer(model.network, config.saliency_layer)  # an unknown layer fails now, not in the examples
    return model


def _torch_module(config: Any) -> torch.nn.Module:
    if config.source == "torchscript":
        path = _existing(config.torchscript, "torchscript")
        try:
            with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript; users' files still load
                warnings.simplefilter("ignore", DeprecationWarning)
                module = torch.jit.load(str(path), map_location="cpu")
        except Exception as error:
            raise ValueError(
                f"model torchscript {str(path)!r}: not a TorchScript file ({str(error).strip().splitlines()[0]}); "
                "save one with torch.jit.script(model).save(path) or torch.jit.trace(model, example).save(path)"
            ) from error
    elif config.source == "factory":
        factory = import_attribute(config.factory, "diagnostic model factory")
        try:
            module = factory(**config.params)
        except TypeError as error:
            raise ValueError(f"model factory {config.factory!r} with params {config.params}: {error}") from error
        if not isinstance(module, torch.nn.Module):
            raise ValueError(f"model factory {config.factory!r} returned {type(module).__name__}; expected a "
                             "torch.nn.Module (for other frameworks export to ONNX and use onnx: FILE)")
    else:
        module = _monai_network(config.network, config.params)
    if config.weights is not None:
        _load_weights(module, config)
    return module


def _monai_network(name: str, params: dict[str, Any]) -> torch.nn.Module:
    import monai.networks.nets as nets

    builder = getattr(nets, name, None)
    if not isinstance(builder, type) or not issubclass(builder, torch.nn.Module):
        import difflib

        names = sorted(n for n in dir(nets) if isinstance(getattr(nets, n), type)
                       and issubclass(getattr(nets, n), torch.nn.Module))
        close = difflib.get_close_matches(name, names, n=3)
        raise ValueError(f"model network {name!r}: not a network of monai.networks.nets"
                         + (f"; did you mean {', '.join(close)}?" if close else f"; e.g. {', '.join(names[:6])}"))
    try:
        return builder(**params)
    except TypeError as error:
        raise ValueError(f"model network {name!r} with params {params}: {error}") from error


def _load_weights(module: torch.nn.Module, config: Any) -> None:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = _existing(config.weights, "weights")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise ValueError(f"model weights {str(path)!r}: not a safetensors file ({error}); save the state dict with "
                         "safetensors.torch.save_file(model.state_dict(), path)") from error
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as error:
        expected, found = set(module.state_dict()), set(state)
        missing, unexpected = sorted(expected - found), sorted(found - expected)
        detail = "; ".join(part for part in (
            f"missing keys {missing[:5]}{' ...' if len(missing) > 5 else ''}" if missing else "",
            f"unexpected keys {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}" if unexpected else "",
        ) if part) or str(error).strip().splitlines()[-1].strip()
        raise ValueError(f"model weights {str(path)!r} do not fit {config.source} {config.location!r}: {detail}; "
                         "save the state dict of the same architecture and params") from error


def _existing(value: str, field: str) -> Path:
    path = Path(value)
    if not path.is_file():
        raise FileNotFoundError(f"model.{field}: no such file {str(path)!r}")
    return path


def _onnx_runner(value: str, device: torch.device | str) -> Any:
    path = _existing(value, "onnx")
    try:
        import onnxruntime
    except ImportError as error:
        raise ValueError(f"model onnx {str(path)!r}: onnxruntime is not installed; pip install "
                         "'reconfair[onnx]' (or onnxruntime-gpu)") from error
    providers = ["CPUExecutionProvider"]
    if torch.device(device).type == "cuda" and "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    try:
        session = onnxruntime.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as error:
        raise ValueError(f"model onnx {str(path)!r}: not an ONNX model ({str(error).strip().splitlines()[0]}); "
                         "export one with torch.onnx.export, tf2onnx or skl2onnx") from error
    declared = session.get_inputs()[0]

    def run(x: torch.Tensor) -> torch.Tensor:
        wanted = [d if isinstance(d, int) else None for d in declared.shape]
        got = tuple(x.shape)
        if len(wanted) != len(got) or any(w is not None and w != g for w, g in zip(wanted, got)):
            shown = "×".join(str(d) if isinstance(d, int) else "N" for d in declared.shape)
            raise ValueError(f"the ONNX model's input {declared.name!r} is {shown}, reconfair gives "
                             f"{'×'.join(map(str, got))}")
        (out, *_) = session.run(None, {declared.name: x.detach().cpu().numpy().astype(np.float32)})
        return torch.from_numpy(np.asarray(out, dtype=np.float32))

    return run


def resolve_layer(network: torch.nn.Module, name: str) -> tuple[str, torch.nn.Module]:
    """Grad-CAM's named layer: the module called ``name`` (a user model's name, or with ``model.``);
    ``ValueError`` naming the model's convolutions for an unknown ``name``."""
    modules = dict(network.named_modules())
    for candidate in (name, f"model.{name}"):
        if candidate in modules:
            return candidate, modules[candidate]
    convs = [n.removeprefix("model.") for n, m in modules.items() if _is_conv(m)]
    raise ValueError(f"model.saliency_layer: no layer {name!r} in the model; its convolutions are "
                     f"{', '.join(convs[-8:]) or 'none'}")


def last_executed_conv(network: torch.nn.Module, example: torch.Tensor) -> tuple[str, torch.nn.Module] | None:
    """The ``Conv2d`` that runs last in a forward pass of ``example`` (not the last one declared: a residual
    block may declare its skip convolution after the main path's), or ``None`` when none runs."""
    names = {m: n for n, m in network.named_modules() if isinstance(m, torch.nn.Conv2d)}
    order: list[torch.nn.Module] = []
    handles = [m.register_forward_hook(lambda module, i, o: order.append(module)) for m in names]
    try:
        with torch.no_grad():
            network(example)
    finally:
        for handle in handles:
            handle.remove()
    return (names[order[-1]], order[-1]) if order else None


def _is_conv(module: torch.nn.Module) -> bool:
    return isinstance(module, torch.nn.Conv2d) or getattr(module, "original_name", None) == "Conv2d"


_HASHES: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes (memoised per path, size and modification time within the process)."""
    path = Path(path)
    stat = path.stat()
    memo = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if memo not in _HASHES:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        _HASHES[memo] = digest.hexdigest()
    return _HASHES[memo]


def model_fingerprint(config: Any) -> dict[str, Any]:
    """What identifies a supplied model's behaviour, for cache keys: its files' bytes, or the factory or
    network with its params and the version of the package that defines it.

    A factory in an installed distribution gives that distribution's version; one in a plain module (not
    installed) gives the SHA-256 of the module's source file, so editing it invalidates the cache.
    """
    out: dict[str, Any] = {"source": config.source}
    for field in ("torchscript", "onnx", "weights"):
        value = getattr(config, field)
        if value is not None:
            out[f"{field}_sha256"] = file_sha256(_existing(value, field))
    if config.source == "factory":
        module = config.factory.partition(":")[0]
        out.update(factory=config.factory, params=config.params, version=_package_version(module))
    if config.source == "network":
        import monai

        out.update(network=config.network, params=config.params, version=f"monai {monai.__version__}")
    return out


@functools.lru_cache(maxsize=1)
def _distributions() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def _package_version(module: str) -> str:
    top = module.split(".")[0]
    distributions = _distributions().get(top, [])
    for name in distributions:
        try:
            return f"{name} {importlib.metadata.version(name)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    spec = importlib.util.find_spec(module)
    origin = getattr(spec, "origin", None)
    if origin and Path(origin).is_file():
        return f"source sha256 {file_sha256(origin)}"
    raise ValueError(f"model factory module {module!r}: cannot import it; check the name and that it is on "
                     "PYTHONPATH")
