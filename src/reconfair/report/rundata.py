"""Read a run directory: the only inputs of the report (nothing is recomputed).

:func:`load_run` reads ``samples.parquet``, ``metrics/*.csv`` (performance,
groups, fairness and, when present, ``mitigation.csv``, ``lambda_sweep.csv``,
``models.csv`` (diagnostic-model sanity), ``families.csv`` (the multiple-testing
families) and ``replicates_fairness.csv`` / ``replicates_performance.csv`` (per
model replicate) and ``observers.csv`` (model observers, with a detection task)), ``config.yaml``, ``manifest.json`` and the example images
``examples/*.npz`` written by :mod:`reconfair.engine.examples`.  Every file but
the required three may be absent (older runs, ``reconfair evaluate`` output).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from reconfair.config.report import ReportConfig, resolve_report
from reconfair.report.evidence import clear_undefined
from reconfair.report.style import SIGNIFICANCE
from reconfair.vocabulary import NONE, ORIGINAL, parse_condition

REQUIRED = ("samples.parquet", "metrics/performance.csv", "metrics/fairness.csv")
OPTIONAL = {"mitigation": "mitigation.csv", "lambda_sweep": "lambda_sweep.csv", "models": "models.csv",
            "families": "families.csv", "replicates_fairness": "replicates_fairness.csv",
            "replicates_performance": "replicates_performance.csv", "observers": "observers.csv"}
"""Optional tables of ``metrics/``: RunData field -> file name."""
CONDITION_FIELDS = {"condition": str, "recon": str, "degradation": str, "mitigation": str, "target": str}


class RunDirectoryError(ValueError):
    """The folder is not a run directory the report can be built from."""


@dataclass
class RunData:
    """Everything the report reads from one run directory."""

    root: Path
    samples: pd.DataFrame
    performance: pd.DataFrame
    fairness: pd.DataFrame
    groups: pd.DataFrame | None
    config: dict[str, Any]
    manifest: dict[str, Any]
    mitigation: pd.DataFrame | None = None
    lambda_sweep: pd.DataFrame | None = None
    models: pd.DataFrame | None = None
    families: pd.DataFrame | None = None
    replicates_fairness: pd.DataFrame | None = None
    replicates_performance: pd.DataFrame | None = None
    observers: pd.DataFrame | None = None
    """Model observers' d', AUC and their changes (``metrics/observers.csv``, only with a detection task)."""
    examples: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    @property
    def datasets(self) -> list[str]:
        """Data sets in configuration order (then any others found in the tables)."""
        names = [d["name"] for d in self.config.get("datasets", [])]
        return names + [d for d in dict.fromkeys(self.performance["dataset"]) if d not in names]

    @property
    def attributes(self) -> list[str]:
        found = list(dict.fromkeys(self.fairness["attribute"].dropna().astype(str)))
        configured = [str(a) for a in self.config.get("attributes", [])]
        return [a for a in configured if a in found] + [a for a in found if a not in configured]

    @property
    def evaluation(self) -> dict[str, Any]:
        """The configuration's ``evaluation`` section ({} when absent)."""
        section = self.config.get("evaluation")
        return section if isinstance(section, dict) else {}

    @property
    def alpha(self) -> float:
        """Significance level of the adjusted p-values: ``evaluation.alpha``, default 0.05."""
        return config_alpha(self.config)

    @property
    def synthetic(self) -> bool:
        """True only when every data set is generated (no ``source`` in the run's configuration)."""
        configured = self.config.get("datasets") or []
        if configured:
            return all(d.get("source") is None for d in configured)
        return bool(self.datasets) and all(name.startswith("synthetic-") for name in self.datasets)

    @property
    def report(self) -> ReportConfig:
        """The effective ``report:`` settings (:func:`~reconfair.config.report.resolve_report`): examples and ids.

        A ``config.yaml`` without the block (older runs) gets the defaults by
        data: no example images and hashed ids unless every data set is synthetic.
        """
        from pydantic import ValidationError

        block = self.config.get("report")
        expected = "expected report: {examples: true|false, ids: keep|hash}"
        if block is not None and not isinstance(block, dict):
            raise RunDirectoryError(f"{self.root / 'config.yaml'}: report: got {block!r}; {expected}")
        try:
            return resolve_report(block, real_data=not self.synthetic)
        except ValidationError as error:
            problems = "; ".join(f"report.{'.'.join(map(str, e['loc']))}: {e['msg']} (received {e.get('input')!r})"
                                 for e in error.errors())
            raise RunDirectoryError(f"{self.root / 'config.yaml'}: {problems}; {expected}") from None

    def condition_order(self) -> list[str]:
        """Conditions as the configuration lists them: original, operators, levels by severity, recons.

        Mitigated conditions (``base+mitigation``) follow their base condition.
        """
        return order_conditions(self.performance["condition"].astype(str).unique(), self.config)


def order_conditions(conditions: Sequence[str], config: dict[str, Any]) -> list[str]:
    """Sort condition names by the configuration's degradation, level and reconstructor order.

    >>> config = {"datasets": [{"degradations": [{"operator": "mri-undersampling", "levels": [4.0, 8.0]}],
    ...                         "reconstructors": [{"name": "baseline"}, {"name": "unet"}]}]}
    >>> order_conditions(["mri-undersampling@8/unet", "mri-undersampling@4/unet+reweighting",
    ...                   "mri-undersampling@4/zero-filled", "original", "mri-undersampling@4/unet"], config)
    ['original', 'mri-undersampling@4/zero-filled', 'mri-undersampling@4/unet', 'mri-undersampling@4/unet+reweighting', 'mri-undersampling@8/unet']
    """
    operators: list[str] = []
    levels: dict[str, list[float]] = {}
    recons: list[str] = []
    for dataset in config.get("datasets", []):
        for spec in dataset.get("degradations", []):
            if spec["operator"] not in operators:
                operators.append(spec["operator"])
            levels.setdefault(spec["operator"], []).extend(float(v) for v in spec.get("levels", []))
        for entry in dataset.get("reconstructors", []):
            name = entry["name"] if isinstance(entry, dict) else str(entry)
            if name not in recons:
                recons.append(name)

    def key(name: str) -> tuple:
        if name == ORIGINAL:
            return (0,)
        try:
            parsed = parse_condition(name)
        except ValueError:
            return (3, name)
        operator, level, recon, mitigation = parsed.operator, parsed.level, parsed.recon, parsed.mitigation
        op_rank = operators.index(operator) if operator in operators else len(operators)
        known = levels.get(operator, [])
        level_rank = known.index(level) if level in known else len(known)
        # baselines are named by their method (identity, zero-filled, fbp), listed as "baseline" in configs
        recon_rank = recons.index(recon) if recon in recons else (
            recons.index("baseline") if "baseline" in recons else -1)
        return (1, op_rank, operator, level_rank, level, recon_rank, recon, mitigation != NONE, mitigation)

    return sorted(dict.fromkeys(conditions), key=key)


def config_alpha(config: dict[str, Any]) -> float:
    """``evaluation.alpha`` of a configuration, 0.05 when absent or invalid.

    >>> config_alpha({"evaluation": {"alpha": 0.01}}), config_alpha({})
    (0.01, 0.05)
    """
    section = config.get("evaluation")
    value = section.get("alpha", SIGNIFICANCE) if isinstance(section, dict) else SIGNIFICANCE
    valid = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1
    return float(value) if valid else SIGNIFICANCE


def check_run_dir(run_dir: str | Path) -> Path:
    """The run directory as a Path; :class:`RunDirectoryError` naming what is missing otherwise."""
    root = Path(run_dir)
    if not root.is_dir():
        raise RunDirectoryError(f"{root}: no such directory; pass the folder a run wrote (e.g. runs/demo)")
    missing = [name for name in REQUIRED if not (root / name).is_file()]
    if missing:
        raise RunDirectoryError(
            f"{root} lacks {', '.join(missing)}; the report is built from a finished run's samples.parquet "
            "and metrics/ (run `reconfair run CONFIG` or `reconfair evaluate` first)"
        )
    return root


def load_run(run_dir: str | Path) -> RunData:
    """Read the run directory's tables, configuration, manifest and example images."""
    root = check_run_dir(run_dir)
    config = _yaml(root / "config.yaml")
    manifest_path = root / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.is_file() else {}
    metrics = root / "metrics"
    optional = {name: _csv(metrics / file) if (metrics / file).is_file() else None for name, file in OPTIONAL.items()}
    alpha = config_alpha(config)
    for name in ("replicates_fairness", "replicates_performance"):
        if optional[name] is not None:
            optional[name] = clear_undefined(optional[name], alpha)
    return RunData(
        root=root,
        samples=pd.read_parquet(root / "samples.parquet"),
        performance=_csv(metrics / "performance.csv"),
        fairness=clear_undefined(_csv(metrics / "fairness.csv"), alpha),
        groups=_csv(metrics / "groups.csv") if (metrics / "groups.csv").is_file() else None,
        config=config,
        manifest=manifest,
        examples=_examples(root / "examples"),
        **optional,
    )


def _yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded if isinstance(loaded, dict) else {}


def _csv(path: Path) -> pd.DataFrame:
    table = pd.read_csv(path, keep_default_na=False, na_values=[""])
    for column, kind in CONDITION_FIELDS.items():
        if column in table.columns:
            table[column] = table[column].astype(kind)
    for column in ("attribute", "mitigation_kind", "test", "family", "uncertainty_reason", "status"):
        if column in table.columns:
            table[column] = table[column].astype(object).where(table[column].notna(), "").astype(str)
    return table


def _examples(folder: Path) -> dict[str, dict[str, np.ndarray]]:
    if not folder.is_dir():
        return {}
    out = {}
    for path in sorted(folder.glob("*.npz")):
        with np.load(path, allow_pickle=False) as archive:
            out[path.stem] = {name: archive[name] for name in archive.files}
    return out


def unmitigated(table: pd.DataFrame) -> pd.DataFrame:
    """Rows of conditions without a bias mitigation (``original``, ``operator@level/recon``).

    A name outside the condition grammar counts as unmitigated; a level such
    as ``1e+06`` is no mitigation.

    >>> table = pd.DataFrame({"condition": ["original", "ct@1e+06/unet", "ct@1e+06/unet+eodd:1", "noisy"]})
    >>> unmitigated(table)["condition"].tolist()
    ['original', 'ct@1e+06/unet', 'noisy']
    """

    def plain(name: str) -> bool:
        try:
            return parse_condition(name).mitigation == NONE
        except ValueError:
            return True

    names = table["condition"].astype(str)
    return table[names.map({name: plain(name) for name in names.unique()}).astype(bool)]
