"""Device selection: ``auto`` means CUDA when present, else CPU.

>>> resolve_device("cpu")
device(type='cpu')
"""

from __future__ import annotations

import torch


def resolve_device(name: str = "auto") -> torch.device:
    """Turn ``auto``/``cpu``/``cuda``/``cuda:N`` into a ``torch.device``.

    Raises ``ValueError`` when CUDA is asked for but not available.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but CUDA is not available; use 'auto' or 'cpu'")
    return device
