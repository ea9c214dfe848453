"""A content-addressed store for stage outputs (trained models, per-condition rows).

An entry's key is the hash of what determines its output: the stage name, the
configuration slice that matters, the keys of the entries it was computed
from, and the package version.  Cosmetic fields (run name, output folder) are
never part of a slice, so changing them reuses every entry.  Entries are
written into a temporary folder and renamed into place, so a run killed
mid-write leaves no half-written entry behind.

Checksums.  :meth:`Cache.store` records every file of the entry (relative
path, size, sha256) in ``entry.json``.  :meth:`Cache.lookup` checks the size
of every file and the sha256 of every file up to :data:`HASH_LIMIT_BYTES`
(larger files: size only; :meth:`Cache.verify` hashes every file).  A damaged
entry (missing file, wrong size or hash, unreadable ``entry.json``, a folder
without ``entry.json``) is moved aside, never deleted, to
``root/quarantine/<stage>/<key>-<time>/``; a :class:`CacheDamageWarning` and a
``damaged`` event name it, and the lookup answers ``None`` so the caller
computes the entry again.  Entries written before checksums existed (no
``files`` in ``entry.json``) are accepted unchecked.

Locks.  :meth:`Cache.claim` holds an entry's lock (``root/locks/<stage>/<key>.lock``,
``fcntl.flock``) while the caller computes it, so concurrent runs on one cache
compute each entry once: the second waits, then finds it ``cached``.

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
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import reconfair

try:  # POSIX; elsewhere claim() computes without a lock
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["HASH_LIMIT_BYTES", "Cache", "CacheDamageWarning", "CacheEntry", "EntryCheck", "default_cache_dir",
           "folder_size"]

CACHE_ENV = "RECONFAIR_CACHE"
#: Files up to this size are hashed on every lookup; larger ones by :meth:`Cache.verify` only (lookup: size).
HASH_LIMIT_BYTES = 256 * 1024**2
_SLICE_FILE = "entry.json"
_SCRATCH = "scratch"
_QUARANTINE = "quarantine"
_LOCKS = "locks"
_RESERVED = frozenset({_SCRATCH, _QUARANTINE, _LOCKS})


class CacheDamageWarning(UserWarning):
    """A cache entry was damaged or incomplete; it was moved to quarantine and is computed again."""


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

    def _record(self, stage: str, key: str, status: str, detail: str = "") -> None:
        """Note an event: ``cached`` and ``computed`` (also passed to :attr:`on_event`), or ``damaged``."""
        event = {"stage": stage, "key": key, "status": status, "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
        if detail:
            event["detail"] = detail
        self.events.append(event)
        self._log(f"{event['time']} {status:8} {stage:13} {key}" + (f": {detail}" if detail else ""))
        if self.on_event is not None and status in ("cached", "computed"):
            self.on_event(event)

    def _log(self, line: str) -> None:
        if self.log_path is not None:
            with open(self.log_path, "a", encoding="utf-8") as log:
                log.write(line + "\n")

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
        """The entry's folder when it is complete and intact, else ``None``.

        Checks every file ``entry.json`` lists: its size, and its sha256 when
        it is at most :data:`HASH_LIMIT_BYTES`.  A damaged entry is moved to
        quarantine (with a :class:`CacheDamageWarning` and a ``damaged``
        event) and ``None`` is returned, so the caller computes it again.
        """
        folder = self.folder(stage, key)
        if not folder.is_dir():
            return None
        problems = _problems(folder, full=False)
        if problems:
            self._quarantine(stage, key, problems)
            return None
        self._record(stage, key, "cached")
        return folder

    @contextmanager
    def claim(self, stage: str, key: str) -> Iterator[Path | None]:
        """Hold the entry's lock while it is computed; yield its folder when it is complete, else ``None``.

        The lock is ``fcntl.flock`` on ``root/locks/<stage>/<key>.lock``,
        blocking; when another process holds it, a line ``waiting for <stage>
        <key> (another run computes it)`` goes to stderr and the run's log.
        An intact entry is yielded (recorded ``cached``; it may have been
        computed meanwhile by the process that held the lock).  On ``None``
        the caller computes the entry and calls :meth:`store` inside the block.

        >>> import tempfile
        >>> cache = Cache(tempfile.mkdtemp())
        >>> with cache.claim("demo-stage", "k1") as found:
        ...     if found is None:
        ...         _ = cache.store("demo-stage", "k1", lambda tmp: (tmp / "v.txt").write_text("1"))
        >>> with cache.claim("demo-stage", "k1") as found:
        ...     (found / "v.txt").read_text()
        '1'
        """
        found = self.lookup(stage, key)  # an intact entry needs no lock (and works on a read-only cache)
        if found is not None or fcntl is None:
            yield found
            return
        lock_path = self.root / _LOCKS / stage / f"{key}.lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_path, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                line = f"{time.strftime('%Y-%m-%dT%H:%M:%S')} waiting for {stage} {key} (another run computes it)"
                print(line, file=sys.stderr, flush=True)
                self._log(line)
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield self.lookup(stage, key)
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def verify(self, *, repair: bool = False) -> list[EntryCheck]:
        """Check every entry (sizes and the sha256 of every file); with ``repair``, quarantine damaged ones.

        One :class:`EntryCheck` per entry folder, by stage then key; its
        ``problems`` is empty when the entry is intact.  Folders without
        ``entry.json`` are entries too (damaged); interrupted writes
        (``.*`` folders, see :meth:`leftovers`) are not.
        """
        checks = []
        for stage_folder in self._stage_folders():
            for folder in sorted(stage_folder.iterdir()):
                if folder.name.startswith(".") or not folder.is_dir():
                    continue
                problems = _problems(folder, full=True)
                meta = _read_meta(folder)
                checked = isinstance(meta, dict) and isinstance(meta.get("files"), list)
                description = _description(meta)
                moved = None
                if problems and repair:
                    moved = self._quarantine(stage_folder.name, folder.name, problems, warn=False)
                checks.append(EntryCheck(stage_folder.name, folder.name, folder, description, tuple(problems),
                                         checked, moved))
        return checks

    def quarantined(self) -> list[Path]:
        """The damaged entries moved aside: ``root/quarantine/<stage>/<key>-<time>/``."""
        folder = self.root / _QUARANTINE
        if not folder.is_dir():
            return []
        return sorted(p for stage in folder.iterdir() if stage.is_dir() for p in stage.iterdir() if p.is_dir())

    def _quarantine(self, stage: str, key: str, problems: list[str], *, warn: bool = True) -> Path | None:
        """Move a damaged entry to quarantine, warn and record ``damaged``; its new folder (``None``: gone already)."""
        folder = self.folder(stage, key)
        description = _description(_read_meta(folder))
        target = self.root / _QUARANTINE / stage / f"{key}-{time.strftime('%Y%m%dT%H%M%S')}"
        target.parent.mkdir(parents=True, exist_ok=True)
        suffix = 1
        while target.exists():
            target = target.with_name(f"{target.name.split('~')[0]}~{suffix}")
            suffix += 1
        try:
            os.replace(folder, target)
        except FileNotFoundError:  # another process moved it first
            return None
        what = "; ".join(problems)
        if warn:
            warnings.warn(
                f"cache entry {stage} {key} ({description}) is damaged: {what}; moved to {target}, "
                "it is computed again",
                CacheDamageWarning,
                stacklevel=3,
            )
        self._record(stage, key, "damaged", f"{description}: {what}; moved to {target}")
        return target

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
            files = [{"path": path.relative_to(tmp).as_posix(), "size": path.stat().st_size, "sha256": _sha256(path)}
                     for path in sorted(tmp.rglob("*")) if path.is_file() and path.name != _SLICE_FILE]
            meta = {"stage": stage, "key": key, "version": reconfair.__version__, "slice": config_slice,
                    "files": files, **(extra or {})}
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
            p for p in self.root.iterdir() if p.is_dir() and p.name not in _RESERVED and not p.name.startswith(".")
        )


@dataclass(frozen=True)
class EntryCheck:
    """What :meth:`Cache.verify` found for one entry folder."""

    stage: str
    key: str
    folder: Path
    description: str
    problems: tuple[str, ...]
    """Empty when the entry is intact."""
    checked: bool
    """False for an entry written before checksums existed (its files are not checked)."""
    quarantined: Path | None = None
    """Where ``verify(repair=True)`` moved it."""

    @property
    def ok(self) -> bool:
        return not self.problems


def _read_meta(folder: Path) -> Any:
    """The parsed ``entry.json``, or ``None`` when it is missing or unreadable."""
    try:
        return json.loads((folder / _SLICE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _description(meta: Any) -> str:
    slice_ = meta.get("slice") if isinstance(meta, dict) else None
    return CacheEntry("", "", Path("."), 0, 0.0, slice_ if isinstance(slice_, dict) else None).description


def _problems(folder: Path, *, full: bool) -> list[str]:
    """What is wrong with an entry folder (empty: intact); ``full`` hashes files above :data:`HASH_LIMIT_BYTES` too."""
    meta_file = folder / _SLICE_FILE
    if not meta_file.is_file():
        return ["no entry.json (an incomplete entry)"]
    meta = _read_meta(folder)
    if not isinstance(meta, dict):
        return ["entry.json is unreadable"]
    files = meta.get("files")
    if files is None:  # written before checksums existed: accepted as it is
        return []
    if not isinstance(files, list):
        return ["entry.json has a malformed file list"]
    problems = []
    for record in files:
        try:
            relative, size, digest = str(record["path"]), int(record["size"]), str(record["sha256"])
        except (KeyError, TypeError, ValueError):
            problems.append("entry.json has a malformed file record")
            continue
        path = folder / relative
        try:
            actual = path.stat().st_size if path.is_file() else None
            if actual is None:
                problems.append(f"{relative} is missing")
            elif actual != size:
                problems.append(f"{relative} has {actual:,} bytes, expected {size:,}")
            elif (full or size <= HASH_LIMIT_BYTES) and _sha256(path) != digest:
                problems.append(f"{relative} has the wrong sha256 (its content changed)")
        except OSError as error:
            problems.append(f"{relative} is unreadable ({error.strerror or error})")
    return problems


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
        if isinstance(s.get("label"), str):  # the stage's label, as the plan shows it
            return s["label"]
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
