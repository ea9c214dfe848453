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
>>> [(entry.stage, entry.key == key) for entry in cache.entries()]
[('demo-stage', True)]
>>> cache.leftovers()  # no interrupted work
[]
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import reconfair

__all__ = ["Cache", "CacheEntry", "default_cache_dir", "folder_size"]

CACHE_ENV = "RECONFAIR_CACHE"
_SLICE_FILE = "entry.json"
_SCRATCH = "scratch"


def default_cache_dir(out_dir: str | Path) -> Path:
    """``$RECONFAIR_CACHE`` when set (share it between runs), else ``<out_dir>/.cache``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path(out_dir) / ".cache"


class Cache:
    """Entries under ``root/<stage>/<key>/``, each a folder of files plus ``entry.json``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        #: What this process found (``cached``) or wrote (``computed``), in order, for the manifest.
        self.events: list[dict[str, str]] = []
        #: When set, each event is also appended to this file at once (a run's ``run.log``).
        self.log_path: Path | None = None
        #: When set, called with each event (a live display of stages).
        self.on_event: Callable[[dict[str, str]], None] | None = None

    def _record(self, stage: str, key: str, status: str) -> None:
        event = {"stage": stage, "key": key, "status": status, "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
        self.events.append(event)
        if self.log_path is not None:
            with open(self.log_path, "a", encoding="utf-8") as log:
                log.write(f"{event['time']} {status:8} {stage:13} {key}\n")
        if self.on_event is not None:
            self.on_event(event)

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
        if not (folder / _SLICE_FILE).is_file():
            return None
        self._record(stage, key, "cached")
        return folder

    def scratch(self, stage: str, key: str) -> Path:
        """A per-entry folder for work in progress (e.g. resumable training state)."""
        folder = self.root / _SCRATCH / stage / key
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def store(
        self, stage: str, key: str, write: Callable[[Path], Any], *, config_slice: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Path:
        """Run ``write(tmp_folder)`` and move the folder into place atomically; returns it.

        ``extra`` facts (e.g. ``seconds``, the computation's time) are recorded in ``entry.json`` beside the slice.
        """
        final = self.folder(stage, key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=final.parent))
        try:
            write(tmp)
            meta = {"stage": stage, "key": key, "version": reconfair.__version__, "slice": config_slice, **(extra or {})}
            (tmp / _SLICE_FILE).write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
            if final.exists():  # a concurrent writer finished first; both hold the same content
                shutil.rmtree(tmp)
            else:
                os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        shutil.rmtree(self.root / _SCRATCH / stage / key, ignore_errors=True)
        self._record(stage, key, "computed")
        return final

    def entries(self) -> list[CacheEntry]:
        """Every complete entry (one with ``entry.json``), by stage, then oldest first."""
        found = []
        for folder in self._stage_folders():
            for entry in folder.iterdir():
                meta_file = entry / _SLICE_FILE
                if entry.name.startswith(".") or not meta_file.is_file():
                    continue
                try:
                    meta = json.loads(meta_file.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    meta = {}
                found.append(
                    CacheEntry(
                        stage=folder.name,
                        key=entry.name,
                        folder=entry,
                        size_bytes=folder_size(entry),
                        created=meta_file.stat().st_mtime,
                        config_slice=meta.get("slice") if isinstance(meta, dict) else None,
                    )
                )
        return sorted(found, key=lambda e: (e.stage, e.created, e.key))

    def leftovers(self, *, scratch: bool = False) -> list[Path]:
        """Temporary folders of interrupted writes (``root/<stage>/.*``); with ``scratch``, also
        ``root/scratch``, the resumable training state of interrupted runs."""
        found = [entry for folder in self._stage_folders() for entry in sorted(folder.iterdir())
                 if entry.name.startswith(".") and entry.is_dir()]
        folder = self.root / _SCRATCH
        return found + ([folder] if scratch and folder.is_dir() else [])

    def _stage_folders(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(
            p for p in self.root.iterdir() if p.is_dir() and p.name != _SCRATCH and not p.name.startswith(".")
        )


@dataclass(frozen=True)
class CacheEntry:
    """One complete entry: where it is, how big, when written, and the slice that keyed it."""

    stage: str
    key: str
    folder: Path
    size_bytes: int
    created: float
    """POSIX time at which ``entry.json`` was written."""
    config_slice: dict[str, Any] | None

    @property
    def description(self) -> str:
        """A short text from the slice, e.g. ``"synthetic-chest radiograph-lowdose@3000 unet"``.

        >>> config_slice = {"dataset": {"name": "synthetic-chest"}, "spec": {"model": "unet"},
        ...                 "degradation": {"operator": "radiograph-lowdose", "level": 3000.0}}
        >>> CacheEntry("reconstructor", "k", Path("."), 0, 0.0, config_slice).description
        'synthetic-chest radiograph-lowdose@3000 unet'
        >>> CacheEntry("reconstructor", "k", Path("."), 0, 0.0, {**config_slice, "replicate": 2}).description
        'synthetic-chest radiograph-lowdose@3000 unet (replicate 2)'
        """
        s = self.config_slice if isinstance(self.config_slice, dict) else {}
        parts = [str((s.get("dataset") or {}).get("name", ""))]
        if s.get("condition"):
            parts.append(str(s["condition"]))
        elif isinstance(s.get("degradation"), dict):
            degradation = s["degradation"]
            parts.append(f"{degradation.get('operator')}@{float(degradation.get('level', float('nan'))):g}")
        for field, name in (("spec", "model"), ("task", "kind")):
            if isinstance(s.get(field), dict) and name in s[field]:
                parts.append(str(s[field][name]))
        if isinstance(s.get("mitigation"), dict):
            weight = s["mitigation"].get("weight")
            parts[-1] += f"+{s['mitigation'].get('kind')}" + (f":{weight:g}" if weight is not None else "")
        if s.get("replicate"):
            parts.append(f"(replicate {s['replicate']})")
        return " ".join(p for p in parts if p) or "(no description)"


def folder_size(path: str | Path) -> int:
    """Total bytes of the files under ``path`` (0 when it does not exist)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())
