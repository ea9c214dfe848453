"""Give freed heap memory back to the operating system during long streaming loops.

glibc keeps freed blocks in its heap, so a loop that allocates and frees
large tensors batch after batch keeps growing its resident memory with the
number of batches (measured: +43 % peak RSS at 16x the data in the
inference stage).  :func:`release_freed_memory` calls ``malloc_trim(0)``
where glibc provides it and does nothing elsewhere (macOS, musl, Windows).

>>> _ = release_freed_memory()  # True on glibc Linux, False where malloc_trim does not exist
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

__all__ = ["release_freed_memory"]


@functools.cache
def _malloc_trim():  # noqa: ANN202 - a ctypes function or None
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


def release_freed_memory() -> bool:
    """Return freed heap pages to the OS (glibc); ``True`` when that was possible."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
