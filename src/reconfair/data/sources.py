"""Real data sources: build by kind, and fingerprint the index files that decide a set's contents.

Examples
--------
>>> import hashlib, tempfile, pathlib
>>> from reconfair.config import DatasetConfig
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "index.csv").write_text("path,patient_id\\n")
>>> source = DatasetConfig(name="mine", source={"kind": "folder", "csv": str(folder / "index.csv"), "labels": ["y"]},
...                        degradations=[{"operator": "mri-undersampling", "levels": [4]}]).source
>>> index_fingerprint(source) == [{"file": "index.csv", "sha256": hashlib.sha256(b"path,patient_id\\n").hexdigest()}]
True
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from reconfair.data.lazy import LazySampleSet

__all__ = ["build_source", "index_files", "index_fingerprint"]


def build_source(config: Any, *, seed: int) -> LazySampleSet:
    """The lazily loaded sample set of a real data set (``config.source`` set)."""
    kind = config.source.kind
    if kind == "chexpert":
        from reconfair.data.chexpert import build_chexpert

        return build_chexpert(config, seed=seed)
    if kind == "ucsf-pdgm":
        from reconfair.data.ucsf_pdgm import build_ucsf_pdgm

        return build_ucsf_pdgm(config, seed=seed)
    from reconfair.data.folder import build_folder

    return build_folder(config, seed=seed)


def index_files(source: Any) -> list[Path]:
    """The tables that list a source's samples and their labels/attributes."""
    if source.kind == "chexpert":
        files = [Path(source.root) / source.csv]
        return files + ([Path(source.root) / source.demographics] if source.demographics else [])
    if source.kind == "ucsf-pdgm":
        return [Path(source.root) / source.clinical]
    return [Path(source.csv)]


def index_fingerprint(source: Any) -> list[dict[str, Any]]:
    """SHA-256 of each index file (``None`` when absent), plus the case folders of UCSF-PDGM.

    Editing a CSV changes the fingerprint and so every cached stage built on
    the data set; image files themselves are not hashed (docs/datasets.md).
    """
    entries: list[dict[str, Any]] = []
    for path in index_files(source):
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        entries.append({"file": path.name, "sha256": digest})
    if source.kind == "ucsf-pdgm" and Path(source.root).is_dir():
        cases = sorted(p.name for p in Path(source.root).iterdir() if p.is_dir())
        entries.append({"file": "case folders", "sha256": hashlib.sha256("\n".join(cases).encode()).hexdigest()})
    return entries
