"""A content-addressed store for stage outputs (trained models, per-condition rows).

An entry's key is the hash of what determines its output: the stage name, the
configuration slice that matters, the keys of the entries it was computed
from, and the package version.  Cosmetic fields (run name, output folder) are
never part of a slice, so changing them reuses every entry.  Entries are
written into a temporary folder and renamed into place, so a run killed
mid-write leaves no half-written entry behind.

Examples
--------
>>> import tempfile
>>> cache = Cache(tempfile.mkdtemp())
>>> key = cache.key("demo-stage", {"level": 3000, "seed": 0})
>>> cache.key("demo-stage", {"seed": 0, "level": 3000}) == key  # order does not matter
True
>>> cache.lookup("demo-stage", key) is None
True
>>> folder = cache.store("demo-stage", key, lambda tmp: (tmp / "value.txt").write_text("42"))
>>> (cache.lookup("demo-stage", key) / "value.txt").read_text()
'42'
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import reconfair

__all__ = ["Cache", "default_cache_dir"]

CACHE_ENV = "RECONFAIR_CACHE"
_SLICE_FILE = "entry.json"


def default_cache_dir(out_dir: str | Path) -> Path:
    """``$RECONFAIR_CACHE`` when set (share it between runs), else ``<out_dir>/.cache``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path(out_dir) / ".cache"


class Cache:
    """Entries under ``root/<stage>/<key>/``, each a folder of files plus ``entry.json``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def key(self, stage: str, config_slice: dict[str, Any]) -> str:
        """Hex digest of (stage, slice, package version); the slice must be JSON-serialisable."""
        text = json.dumps(
            {"stage": stage, "slice": config_slice, "version": reconfair.__version__},
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]

    def folder(self, stage: str, key: str) -> Path:
        """Where the entry lives (whether or not it exists yet)."""
        return self.root / stage / key

    def lookup(self, stage: str, key: str) -> Path | None:
        """The entry's folder when it is complete, else ``None``."""
        folder = self.folder(stage, key)
        return folder if (folder / _SLICE_FILE).is_file() else None

    def scratch(self, stage: str, key: str) -> Path:
        """A per-entry folder for work in progress (e.g. resumable training state)."""
        folder = self.root / "scratch" / stage / key
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def store(
        self, stage: str, key: str, write: Callable[[Path], Any], *, config_slice: dict[str, Any] | None = None
    ) -> Path:
        """Run ``write(tmp_folder)`` and move the folder into place atomically; returns it."""
        final = self.folder(stage, key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=final.parent))
        try:
            write(tmp)
            meta = {"stage": stage, "key": key, "version": reconfair.__version__, "slice": config_slice}
            (tmp / _SLICE_FILE).write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
            if final.exists():  # a concurrent writer finished first; both hold the same content
                shutil.rmtree(tmp)
            else:
                os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        shutil.rmtree(self.root / "scratch" / stage / key, ignore_errors=True)
        return final
