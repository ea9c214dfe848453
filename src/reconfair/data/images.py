"""Reading image files into grey float arrays in [0, 1], and resizing them.

Intensity conventions (one per format, documented in docs/datasets.md):

- PNG/JPEG: 8-bit values / 255, 16-bit values / 65535 (colour is converted
  to grey first); the stored range is kept, nothing is re-normalised;
- DICOM: stored values x ``RescaleSlope`` + ``RescaleIntercept``,
  ``MONOCHROME1`` inverted, then min-max scaled to [0, 1] per image (DICOM
  values have no fixed range);
- NIfTI (2-D, or 3-D with one slice): min-max scaled to [0, 1] per image.

Masks of any format are binarised as ``value > 0``.  Resizing is bilinear
with antialiasing for images (then clipped to [0, 1]) and nearest-neighbour
for masks; non-square images are stretched to ``size x size``.

Examples
--------
>>> import numpy as np
>>> resize_image(np.array([[0.0, 1.0], [1.0, 0.0]], dtype=np.float32), 4).shape
torch.Size([4, 4])
>>> resize_mask(np.array([[0.0, 1.0], [1.0, 0.0]], dtype=np.float32), 4)[0].tolist()
[0.0, 0.0, 1.0, 1.0]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["ImageReadError", "IMAGE_SUFFIXES", "read_image", "read_mask", "resize_image", "resize_mask", "image_kind"]

IMAGE_SUFFIXES = {".png": "png", ".jpg": "png", ".jpeg": "png", ".dcm": "dicom", ".dicom": "dicom",
                  ".nii": "nifti", ".nii.gz": "nifti"}


class ImageReadError(ValueError):
    """An image file that is missing, unreadable or of an unsupported kind; the message names it."""


def image_kind(path: str | Path) -> str:
    """``png`` (PNG/JPEG), ``dicom`` or ``nifti`` from the file name.

    >>> image_kind("a/b.nii.gz"), image_kind("x.JPG"), image_kind("y.dcm")
    ('nifti', 'png', 'dicom')
    """
    name = str(path).lower()
    for suffix, kind in sorted(IMAGE_SUFFIXES.items(), key=lambda item: -len(item[0])):
        if name.endswith(suffix):
            return kind
    raise ImageReadError(f"{path}: unsupported image type; expected one of {', '.join(sorted(IMAGE_SUFFIXES))}")


def _raw(path: Path) -> tuple[np.ndarray, bool]:
    """Pixel values as float64 and whether they are already on the [0, 1] scale."""
    kind = image_kind(path)
    if not path.is_file():
        raise ImageReadError(f"{path}: no such image file")
    try:
        if kind == "png":
            from PIL import Image

            with Image.open(path) as image:
                if image.mode in ("I;16", "I;16B", "I;16L", "I"):
                    return np.asarray(image, dtype=np.float64) / 65535.0, True
                if image.mode == "F":
                    return np.asarray(image, dtype=np.float64), True
                return np.asarray(image.convert("L"), dtype=np.float64) / 255.0, True
        if kind == "dicom":
            import pydicom

            ds = pydicom.dcmread(path)
            values = ds.pixel_array.astype(np.float64)
            values = values * float(getattr(ds, "RescaleSlope", 1) or 1) + float(getattr(ds, "RescaleIntercept", 0) or 0)
            if getattr(ds, "PhotometricInterpretation", "") == "MONOCHROME1":
                values = values.max() - values
            return values, False
        import nibabel

        return np.asarray(nibabel.load(path).dataobj, dtype=np.float64), False
    except ImageReadError:
        raise
    except Exception as error:  # every reader's own exception types: report the file, not the library
        raise ImageReadError(f"{path}: cannot read {kind} image ({type(error).__name__}: {error})") from None


def _plane(values: np.ndarray, path: Path) -> np.ndarray:
    values = np.squeeze(values)
    if values.ndim != 2:
        raise ImageReadError(f"{path}: expected a 2-D image (or 3-D with one slice), got shape {values.shape}")
    return values


def read_image(path: str | Path) -> np.ndarray:
    """A grey image as float32 in [0, 1] (conventions in the module docstring)."""
    path = Path(path)
    values, scaled = _raw(path)
    values = _plane(values, path)
    if not scaled:
        low, high = float(values.min()), float(values.max())
        values = (values - low) / (high - low) if high > low else np.zeros_like(values)
    return np.clip(values, 0.0, 1.0).astype(np.float32)


def read_mask(path: str | Path) -> np.ndarray:
    """A mask as float32 {0, 1} (``value > 0``)."""
    path = Path(path)
    values, _ = _raw(path)
    return (_plane(values, path) > 0).astype(np.float32)


def resize_image(image: np.ndarray, size: int) -> torch.Tensor:
    """``size x size`` float32 tensor: bilinear with antialiasing, clipped to [0, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None, None]
    if tuple(x.shape[-2:]) != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x[0, 0].clamp(0.0, 1.0)


def resize_mask(mask: np.ndarray, size: int) -> torch.Tensor:
    """``size x size`` float32 {0, 1} tensor by nearest-neighbour resampling."""
    x = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))[None, None]
    if tuple(x.shape[-2:]) != (size, size):
        x = F.interpolate(x, size=(size, size), mode="nearest-exact")
    return (x[0, 0] > 0.5).to(torch.float32)


def render_files(images: list[str], masks: list[str] | None, size: int):
    """A :data:`~reconfair.data.lazy.Renderer` reading ``images[row]`` (and ``masks[row]``) per requested row.

    >>> import numpy as np, tempfile, os
    >>> from PIL import Image
    >>> path = os.path.join(tempfile.mkdtemp(), "a.png")
    >>> Image.fromarray(np.full((8, 6), 255, dtype=np.uint8)).save(path)
    >>> batch, none = render_files([path], None, 4)(np.array([0]))
    >>> tuple(batch.shape), float(batch.min()), none
    ((1, 1, 4, 4), 1.0, None)
    """

    def render(rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch = torch.stack([resize_image(read_image(images[int(r)]), size) for r in rows]) if len(rows) else \
            torch.empty(0, size, size)
        mask = None
        if masks is not None:
            mask = torch.stack([resize_mask(read_mask(masks[int(r)]), size) for r in rows]).unsqueeze(1) if len(rows) \
                else torch.empty(0, 1, size, size)
        return batch.unsqueeze(1), mask

    return render
