"""The provenance section: versions, seed, bootstrap, correction, families, replicates, input hashes, stages.

Examples
--------
>>> import pandas as pd
>>> bootstrap_words({"bootstrap": "auto"}, [pd.DataFrame({"n_boot": [2000, 2000, float("nan")]})])
'auto (B = 2000 used)'
>>> bootstrap_words({"bootstrap": 1000}, [pd.DataFrame({"n_boot": [1000, 4000]})])
'1000 (B = 1000 to 4000 used)'
>>> bootstrap_words({}, [pd.DataFrame()])
'n/a'
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from reconfair.report.replicates import replicate_count
from reconfair.report.rundata import OPTIONAL, RunData

HASHED_INPUTS = ("config.yaml", "manifest.json", "samples.parquet", "metrics/performance.csv",
                 "metrics/groups.csv", "metrics/fairness.csv",
                 *(f"metrics/{name}" for name in OPTIONAL.values()))


def used_resamples(tables: Sequence[pd.DataFrame | None]) -> list[int]:
    """The distinct bootstrap sizes B of the tables' ``n_boot`` columns."""
    found: set[int] = set()
    for table in tables:
        if table is not None and "n_boot" in table.columns:
            values = table["n_boot"].to_numpy(dtype=float)
            found |= {int(v) for v in values[np.isfinite(values) & (values > 0)]}
    return sorted(found)


def bootstrap_words(evaluation: dict, tables: Sequence[pd.DataFrame | None]) -> str:
    """The configured ``evaluation.bootstrap`` (``auto`` or B) and the B the tables say was used."""
    configured = evaluation.get("bootstrap", "n/a")
    used = used_resamples(tables)
    if not used:
        return str(configured)
    span = str(used[0]) if len(used) == 1 else f"{used[0]} to {used[-1]}"
    return f"{configured} (B = {span} used)"


def provenance(run: RunData, *, family: str) -> dict[str, object]:
    """The facts and tables of ``#provenance``; ``family`` is the family definition in words."""
    manifest = run.manifest
    evaluation = run.evaluation
    facts: dict[str, object] = {"run": run.config.get("name", run.root.name)}
    for key in ("reconfair", "python", "torch", "monai", "numpy", "pandas", "device", "cpu", "seed", "executor",
                "synthetic_data", "cache"):
        facts[key] = manifest.get(key, "n/a")
    facts["data sets"] = ", ".join(run.datasets)
    facts["bootstrap resamples"] = bootstrap_words(evaluation, [run.fairness, run.performance, run.families])
    facts["multiple-testing correction"] = evaluation.get("adjust", "n/a")
    facts["alpha"] = run.alpha
    facts["families"] = family
    configured = run.config.get("replicates", 1)
    found = replicate_count(run.fairness, run.replicates_fairness)
    facts["model replicates"] = f"{configured} configured, {found} in the tables"
    hashes = [{"file": name, "sha256": _sha256(run.root / name)} for name in HASHED_INPUTS
              if (run.root / name).is_file()]
    facts["input_hashes"] = pd.DataFrame(hashes)
    stages = manifest.get("stages", [])
    facts["cache_stages"] = pd.DataFrame([{k: s.get(k, "") for k in ("stage", "key", "status")} for s in stages])
    if run.families is not None:
        facts["multiple_testing_families"] = run.families
    if run.models is not None:
        facts["diagnostic_models"] = run.models
    supplied = manifest.get("supplied_models") or []
    if supplied:  # the user's models this verdict is about: which file (bytes) or factory version
        facts["supplied_models"] = pd.DataFrame(supplied).astype(str)
    return facts


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
