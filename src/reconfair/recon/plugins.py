"""Bring your own reconstruction: precomputed files, a torch module, a callable, a factory.

Every wrapper follows the reconstructor protocol (docs/reconstruction.md):
``reconstruct(y, *, generator=None, sample_ids=None)`` takes a float32 batch
N×1×H×W in [0, 1] and returns one of the same shape, float32, clipped to
[0, 1] (never re-normalised); ``fit`` is a no-op and ``name`` names the method.

Examples
--------
>>> import torch
>>> halve = CallableReconstructor(lambda y: y / 2, name="halve")
>>> halve.reconstruct(torch.ones(1, 1, 2, 2)).flatten().tolist()
[0.5, 0.5, 0.5, 0.5]
>>> load_factory("torch.nn:Identity", {}, name="identity").reconstruct(torch.full((1, 1, 1, 1), 2.0)).item()
1.0
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from reconfair.physics.base import Degradation
from reconfair.recon.base import Reconstructor
from reconfair.registry import import_attribute
from reconfair.seeding import Generators

__all__ = ["EXTENSIONS", "FolderReconstructor", "ModuleReconstructor", "CallableReconstructor", "load_factory"]

EXTENSIONS = (".npy", ".png", ".nii.gz", ".nii")
"""File extensions :class:`FolderReconstructor` looks for, in this order."""


def _finish(x: Any, y: torch.Tensor, plugin: str) -> torch.Tensor:
    """Check a plug-in's output against ``y`` and return it float32, on ``y``'s device, clipped."""
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"reconstructor {plugin!r} returned {type(x).__name__}; expected a torch.Tensor or "
            "numpy.ndarray image batch; return the reconstructed images as an array"
        )
    if tuple(x.shape) != tuple(y.shape):
        raise ValueError(
            f"reconstructor {plugin!r} returned shape {tuple(x.shape)}; expected the input's shape "
            f"{tuple(y.shape)} (N×1×H×W); return one image per input image, same size"
        )
    x = x.to(device=y.device, dtype=torch.float32)
    if not bool(torch.isfinite(x).all()):
        raise ValueError(
            f"reconstructor {plugin!r} returned {int((~torch.isfinite(x)).sum())} non-finite values "
            "(NaN or inf); expected finite values in [0, 1]"
        )
    return x.clamp(0.0, 1.0)


class CallableReconstructor:
    """Any callable mapping an image batch to an image batch (torch or NumPy output).

    Examples
    --------
    >>> import numpy as np, torch
    >>> recon = CallableReconstructor(lambda y: np.full(tuple(y.shape), 1.5), name="bright")
    >>> recon.reconstruct(torch.zeros(1, 1, 2, 2)).dtype, recon.reconstruct(torch.zeros(1, 1, 2, 2)).max().item()
    (torch.float32, 1.0)
    """

    def __init__(self, fn: Callable[[torch.Tensor], Any], *, name: str) -> None:
        if not callable(fn):
            raise TypeError(f"reconstructor {name!r}: got {type(fn).__name__}, expected a callable")
        self.fn = fn
        self.name = name

    def fit(self, pairs: tuple[torch.Tensor, torch.Tensor] | None = None, *, seed: int = 0) -> None:
        """Nothing to learn."""

    def reconstruct(
        self, y: torch.Tensor, *, generator: Generators = None, sample_ids: Sequence[str] | None = None
    ) -> torch.Tensor:
        """Apply the callable without gradients; check, convert and clip its output."""
        with torch.no_grad():
            return _finish(self.fn(y), y, self.name)


class ModuleReconstructor:
    """A ``torch.nn.Module`` run in eval mode, without gradients, on the input's device.

    Examples
    --------
    >>> import torch
    >>> recon = ModuleReconstructor(torch.nn.Identity(), name="identity")
    >>> recon.reconstruct(torch.full((1, 1, 1, 2), -1.0)).tolist()
    [[[[0.0, 0.0]]]]
    """

    def __init__(self, module: torch.nn.Module, *, name: str) -> None:
        if not isinstance(module, torch.nn.Module):
            raise TypeError(f"reconstructor {name!r}: got {type(module).__name__}, expected a torch.nn.Module")
        self.module = module
        self.name = name

    def fit(self, pairs: tuple[torch.Tensor, torch.Tensor] | None = None, *, seed: int = 0) -> None:
        """Nothing to learn (train the module before wrapping it)."""

    def reconstruct(
        self, y: torch.Tensor, *, generator: Generators = None, sample_ids: Sequence[str] | None = None
    ) -> torch.Tensor:
        """Run the module on ``y``; check the output shape and clip it."""
        self.module.to(y.device).eval()
        with torch.no_grad():
            return _finish(self.module(y), y, self.name)


class FolderReconstructor:
    """Precomputed reconstructions, one file per sample: ``<folder>/<sample_id>.<ext>``.

    Accepted files (grey images, H×W or 1×H×W, the batch's H×W):

    * ``.png`` 8-bit (divided by 255) or 16-bit (divided by 65535); colour
      images are refused, save grey images;
    * ``.npy`` float arrays, taken as is (must be finite); integer arrays are refused;
    * ``.nii.gz`` / ``.nii`` via nibabel ``get_fdata()``, taken as is, singleton
      dimensions squeezed; array axis 0 is the image row (no reorientation).

    Values are then clipped to [0, 1].

    Examples
    --------
    >>> import tempfile, numpy as np, torch
    >>> folder = tempfile.mkdtemp()
    >>> np.save(f"{folder}/s1.npy", np.array([[0.25, 1.5]]))
    >>> recon = FolderReconstructor(folder, name="mine")
    >>> recon.missing(["s1", "s2"])
    ['s2']
    >>> recon.reconstruct(torch.zeros(1, 1, 1, 2), sample_ids=["s1"]).tolist()
    [[[[0.25, 1.0]]]]
    """

    #: The engine passes ``sample_ids`` to ``reconstruct`` (the files are named by them).
    needs_sample_ids = True

    def __init__(self, folder: str | Path, *, name: str) -> None:
        self.folder = Path(folder)
        self.name = name

    def fit(self, pairs: tuple[torch.Tensor, torch.Tensor] | None = None, *, seed: int = 0) -> None:
        """Nothing to learn."""

    def _candidates(self, sample_id: str) -> list[Path]:
        return [p for ext in EXTENSIONS if (p := self.folder / f"{sample_id}{ext}").is_file()]

    def missing(self, sample_ids: Sequence[str]) -> list[str]:
        """The sample ids with no file in the folder (all of them if the folder does not exist)."""
        return [sid for sid in sample_ids if not self._candidates(sid)]

    def path(self, sample_id: str) -> Path:
        """The one file holding ``sample_id``'s reconstruction."""
        found = self._candidates(sample_id)
        if len(found) > 1:
            raise ValueError(
                f"reconstructor {self.name!r}: sample {sample_id!r} has {len(found)} files in {self.folder}: "
                f"{', '.join(p.name for p in found)}; expected exactly one, remove the others"
            )
        if not found:
            if not self.folder.is_dir():
                where = f"folder {self.folder} does not exist"
            else:
                names = sorted(p.name for p in self.folder.iterdir())
                where = f"folder {self.folder} holds {', '.join(names[:5]) or 'no files'}" + (
                    f" (and {len(names) - 5} more)" if len(names) > 5 else ""
                )
            raise FileNotFoundError(
                f"reconstructor {self.name!r}: no file for sample {sample_id!r}; tried "
                f"{', '.join(sample_id + ext for ext in EXTENSIONS)}; {where}; "
                "save one reconstruction per sample named <sample_id>.<ext>"
            )
        return found[0]

    def load(self, sample_id: str, shape: tuple[int, int]) -> np.ndarray:
        """Read ``sample_id``'s file as a float32 H×W array of ``shape``, clipped to [0, 1]."""
        path = self.path(sample_id)
        array = _read(path)
        image = array[0] if array.ndim == 3 and array.shape[0] == 1 else array
        if tuple(image.shape) != tuple(shape):
            raise ValueError(
                f"reconstructor {self.name!r}: {path} has shape {tuple(array.shape)}; expected "
                f"{tuple(shape)} (H×W, or 1×H×W) to match the measurement; save it at the image size"
            )
        if not np.isfinite(image).all():
            raise ValueError(f"reconstructor {self.name!r}: {path} holds NaN or inf; expected finite values in [0, 1]")
        return np.clip(image.astype(np.float32), 0.0, 1.0)

    def reconstruct(
        self, y: torch.Tensor, *, generator: Generators = None, sample_ids: Sequence[str] | None = None
    ) -> torch.Tensor:
        """Read the batch's files, in ``sample_ids`` order, as a tensor shaped like ``y``."""
        if sample_ids is None:
            raise ValueError(
                f"reconstructor {self.name!r} reads precomputed files, so it needs sample_ids; got None; "
                "pass sample_ids=[...] with one id per image in the batch"
            )
        if y.ndim != 4 or y.shape[1] != 1:
            raise ValueError(f"reconstructor {self.name!r}: got input shape {tuple(y.shape)}; expected N×1×H×W")
        if len(sample_ids) != y.shape[0]:
            raise ValueError(
                f"reconstructor {self.name!r}: got {len(sample_ids)} sample_ids for a batch of {y.shape[0]} "
                "images; expected one id per image"
            )
        shape = (int(y.shape[2]), int(y.shape[3]))
        images = np.stack([self.load(sid, shape) for sid in sample_ids])[:, None]
        return torch.from_numpy(images).to(y.device)


def _read(path: Path) -> np.ndarray:
    """A file's array, before shape checks: PNG scaled to [0, 1], NPY floats, NIfTI ``get_fdata``."""
    if path.name.endswith(".png"):
        from PIL import Image

        with Image.open(path) as image:
            mode = image.mode
            if mode == "L":
                return np.asarray(image, dtype=np.float64) / 255.0
            if mode in ("I;16", "I;16B", "I;16L", "I"):
                return np.asarray(image, dtype=np.float64) / 65535.0
        raise ValueError(
            f"{path} is a PNG in mode {mode!r}; expected a grey image (8-bit 'L' or 16-bit 'I;16'); "
            "save grey images, e.g. Image.fromarray(uint8_array) with a 2-D array"
        )
    if path.name.endswith(".npy"):
        array = np.load(path, allow_pickle=False)
        if not np.issubdtype(array.dtype, np.floating):
            raise ValueError(
                f"{path} holds a {array.dtype} array; expected floats in [0, 1]; "
                "save floats in [0, 1], e.g. np.save(path, image.astype(np.float32) / 255)"
            )
        return array
    import nibabel as nib

    array = np.asarray(nib.load(path).get_fdata())
    squeezed = np.squeeze(array)
    return squeezed if squeezed.ndim == 2 else array


def _accepts(factory: Callable[..., Any], parameter: str) -> tuple[bool, bool, tuple[str, ...]]:
    """(accepts ``parameter``, accepts any keyword, keyword names) for ``factory``'s signature."""
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):  # some builtins have no signature
        return False, True, ()
    names = tuple(p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))
    any_keyword = any(p.kind is p.VAR_KEYWORD for p in params)
    return parameter in names or any_keyword, any_keyword, names


def load_factory(
    target: str, params: dict[str, Any], *, name: str, degradation: Degradation | None = None
) -> Reconstructor:
    """Import ``package.module:attr``, call it with ``params`` and wrap what it returns.

    ``degradation`` is passed only when the factory accepts a ``degradation``
    parameter (or ``**kwargs``). The result becomes a :class:`ModuleReconstructor`
    (an ``nn.Module``), is returned as is (a :class:`~reconfair.recon.base.Reconstructor`:
    a ``name`` and a ``reconstruct`` method) or becomes a :class:`CallableReconstructor`
    (any other callable).

    Examples
    --------
    >>> load_factory("torch.nn:Identity", {}, name="id").name
    'id'
    >>> load_factory("math:pi", {}, name="pi")
    Traceback (most recent call last):
    ...
    TypeError: reconstructor plug-in 'math:pi' is a float, not callable; expected a factory (function or class) 'package.module:attr'
    """
    if ":" not in target:
        raise ValueError(
            f"reconstructor plug-in {target!r}: expected 'package.module:attr', e.g. 'my_pkg.recon:make_model'"
        )
    factory = import_attribute(target, "reconstructor")
    if not callable(factory):
        raise TypeError(
            f"reconstructor plug-in {target!r} is a {type(factory).__name__}, not callable; "
            "expected a factory (function or class) 'package.module:attr'"
        )
    if "degradation" in params:
        raise ValueError(
            f"reconstructor plug-in {target!r}: 'degradation' is passed by the engine; remove it from params"
        )
    wants_degradation, any_keyword, names = _accepts(factory, "degradation")
    unknown = [key for key in params if key not in names]
    if unknown and not any_keyword:
        raise ValueError(
            f"reconstructor plug-in {target!r} got unknown parameter {unknown[0]!r}; "
            f"allowed parameters: {', '.join(n for n in names if n != 'degradation') or '(none)'}"
        )
    result = factory(**params, **({"degradation": degradation} if wants_degradation else {}))
    if isinstance(result, torch.nn.Module):
        return ModuleReconstructor(result, name=name)
    if isinstance(result, Reconstructor):
        return result
    if callable(result):
        return CallableReconstructor(result, name=name)
    raise TypeError(
        f"reconstructor plug-in {target!r} returned {type(result).__name__}; expected a torch.nn.Module, "
        "an object with a name and a reconstruct(y) method (reconfair.recon.base.Reconstructor), or a callable "
        "mapping an image batch to an image batch"
    )
