"""The public Python API: ``from reconfair import load_config, run_study, evaluate`` (``docs/api.md``).

Three functions, each the command line's path from Python:

- :func:`load_config`: a YAML file, a mapping or a :class:`~reconfair.config.StudyConfig`
  to a fully validated study (``reconfair validate``:
  :func:`reconfair.engine.validate.load_study` / :func:`~reconfair.engine.validate.parse_study`);
- :func:`run_study`: run it into a folder (``reconfair run``), returning the
  :class:`~reconfair.engine.run.RunResult`;
- :func:`evaluate`: the metric tables of a per-sample table, a DataFrame or a
  ``.parquet``/``.csv`` file (``reconfair evaluate``).  The command builds its
  settings and reads its table with the same two functions,
  :func:`evaluation_settings` and :func:`evaluation_table`, so both give the
  same tables for the same input and options (tested).

``reconfair/__init__.py`` re-exports the three lazily (PEP 562), so ``import
reconfair`` imports nothing heavy; the first use imports this module.

Examples
--------
>>> import reconfair
>>> study = reconfair.load_config({"datasets": [{"name": "synthetic-chest"}], "attributes": ["sex"]})
>>> study.datasets[0].degradations[0].operator
'radiograph-lowdose'
>>> reconfair.load_config({"datasets": [{"name": "synthetic-chest", "n_patients": 5}]})
Traceback (most recent call last):
...
reconfair.config.schema.ConfigError: <config>: invalid configuration
  - datasets[0].n_patients: Input should be greater than or equal to 20 (received 5)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconfair.config import StudyConfig

if TYPE_CHECKING:
    import pandas as pd

    from reconfair.engine.run import RunResult
    from reconfair.metrics.evaluate import EvaluationTables
    from reconfair.metrics.settings import EvaluationSettings

__all__ = ["evaluate", "evaluation_settings", "evaluation_table", "load_config", "run_study"]

DEFAULT_ATTRIBUTES = ("sex", "age_group", "race")
"""The attributes :func:`evaluate` and ``reconfair evaluate`` use unless told otherwise."""


def load_config(config: str | Path | Mapping[str, Any] | StudyConfig, *,
                base_dir: str | Path | None = None) -> StudyConfig:
    """A study configuration, validated as ``reconfair validate`` does: structure and every stage check.

    Parameters
    ----------
    config : str, Path, mapping or StudyConfig
        A YAML file (relative data paths resolve against its folder), a
        mapping such as ``yaml.safe_load`` gives (relative paths resolve
        against ``base_dir``, default the working directory), or a
        :class:`~reconfair.config.StudyConfig`, which is checked and returned
        as it is.
    base_dir : str or Path, optional
        The folder relative paths of a mapping resolve against; only for a mapping.

    Returns
    -------
    StudyConfig
        The frozen, validated study.

    Raises
    ------
    ConfigError
        (a ``ValueError``) listing every problem, each naming its field as a
        dotted path (``datasets[0].degradations[0].levels[1]``); for a file it
        starts with the file's name.
    TypeError
        For anything but a path, a mapping or a StudyConfig, and for
        ``base_dir`` given with a path or a StudyConfig.
    """
    from reconfair.engine.validate import load_study, parse_study, validate_study

    if isinstance(config, StudyConfig):
        _no_base_dir(base_dir, "a StudyConfig (its paths are already absolute)")
        return validate_study(config)
    if isinstance(config, (str, Path)):
        _no_base_dir(base_dir, "a YAML file (its relative paths resolve against its folder)")
        return load_study(config)
    if isinstance(config, Mapping):
        return parse_study(dict(config), base_dir=base_dir)
    raise TypeError(f"config: expected a YAML file path, a mapping or a StudyConfig, got {type(config).__name__}")


def run_study(
    config: str | Path | Mapping[str, Any] | StudyConfig,
    out_dir: str | Path,
    *,
    progress: bool = True,
    cache_dir: str | Path | None = None,
    executor: str = "local",
    address: str | None = None,
) -> RunResult:
    """Run a study into ``out_dir``, as ``reconfair run CONFIG --out OUT_DIR`` does; return its RunResult.

    ``config`` is anything :func:`load_config` takes (a mapping's relative
    paths resolve against the working directory; call :func:`load_config`
    with ``base_dir`` for another folder).  ``out_dir`` receives
    ``report.html``, ``samples.parquet``, ``metrics/``, ``figures/``,
    ``tables/``, ``summary.md``, ``manifest.json`` and ``config.yaml`` (and
    ``examples/`` with ``report.examples``, ``export/`` with an ``export:``
    block); ``cache_dir`` (default ``$RECONFAIR_CACHE``, else ``out_dir/.cache``)
    keeps every stage, so a second call reuses them.  ``executor="ray"`` runs
    independent stages in parallel (at ``address``; default a local Ray).
    See :func:`reconfair.engine.run.run_study`.

    The result holds ``out_dir``, ``samples`` (the per-sample table),
    ``tables`` (:class:`~reconfair.metrics.evaluate.EvaluationTables`) and
    ``summary`` (one row per data set x task x condition).
    """
    from reconfair.engine.run import run_study as run

    study = config if isinstance(config, StudyConfig) else load_config(config)  # the run validates it again
    return run(study, out_dir, progress=progress, cache_dir=cache_dir, executor=executor, address=address)


def evaluation_settings(*, attributes: str | Sequence[str] = DEFAULT_ATTRIBUTES, **fields: Any) -> EvaluationSettings:
    """The :class:`~reconfair.metrics.settings.EvaluationSettings` of :func:`evaluate` and ``reconfair evaluate``.

    ``attributes`` may be one comma-separated text (``"sex,age_group"``, as
    ``--attributes`` takes it) or a sequence; intersections are written
    ``sex*age_group``.  ``fields`` are the other fields of the settings
    (their defaults are the settings' own); ``threshold`` and ``bootstrap``
    may be text (``"0.5"``, ``"200"``, ``"auto"``).  A bad value is a
    ``ValueError`` naming the keyword (``threshold: expected ...``).

    >>> evaluation_settings(attributes="sex, sex*age_group", bootstrap="200").attributes
    ('sex', 'sex*age_group')
    """
    from reconfair.metrics.settings import EvaluationSettings

    if isinstance(attributes, str):
        attributes = tuple(a.strip() for a in attributes.split(",") if a.strip())
    return EvaluationSettings(attributes=tuple(attributes), **fields)


def evaluation_table(table: pd.DataFrame | str | Path, *, scores: str = "probabilities") -> pd.DataFrame:
    """The checked per-sample table of :func:`evaluate` and ``reconfair evaluate`` (``docs/samples-table.md``).

    A path is read by :func:`reconfair.metrics.schema.read_table` (its
    suffix, ``.parquet`` or ``.csv``, picks the reader); a DataFrame is
    checked as a copy by :func:`~reconfair.metrics.schema.prepare_samples`,
    so a table and the file it was written to give the same result.
    ``scores="logits"`` turns ``y_score`` into probabilities.  A problem is
    a ``ValueError`` naming the row and column (not the file).
    """
    from reconfair.metrics.schema import prepare_samples, read_table

    if isinstance(table, (str, Path)):
        return read_table(table, scores=scores)
    return prepare_samples(table, scores=scores)


def evaluate(
    table: pd.DataFrame | str | Path,
    *,
    attributes: str | Sequence[str] = DEFAULT_ATTRIBUTES,
    min_group_size: int = 10,
    split: str = "test",
    threshold: str | float = "fixed-validation",
    patient_level: bool = False,
    scores: str = "probabilities",
    bootstrap: int | str = 1000,
    bootstrap_budget_s: float = 600.0,
    seed: int = 0,
    adjust: str = "holm",
    family: str | Sequence[str] = "metric",
    alpha: float = 0.05,
    power: float = 0.8,
    min_valid_fraction: float = 0.95,
    group_auroc: bool = False,
) -> EvaluationTables:
    """The metric tables of a per-sample table made anywhere, as ``reconfair evaluate`` computes them.

    Parameters
    ----------
    table : DataFrame, str or Path
        One row per sample x condition x target (``docs/samples-table.md``),
        in memory or a ``.parquet``/``.csv`` file.
    attributes
        Sensitive attributes, a sequence or comma-separated text; ``a*b`` is an intersection.
    min_group_size, split, threshold, patient_level, bootstrap, bootstrap_budget_s, seed, adjust, family, \
alpha, power, min_valid_fraction, group_auroc
        The fields of :class:`~reconfair.metrics.settings.EvaluationSettings`
        (the options of ``reconfair evaluate``: ``--bootstrap-budget`` is
        ``bootstrap_budget_s``, ``--bootstrap-group-auroc`` is ``group_auroc``;
        ``power`` and ``min_valid_fraction`` have no option).  The defaults
        are the command's.
    scores : {"probabilities", "logits"}
        What ``y_score`` holds.

    Returns
    -------
    EvaluationTables
        ``performance``, ``groups``, ``fairness`` and, when computed,
        ``models``, ``families``, ``replicates_*``; ``notes`` holds the
        warnings the command prints; ``tables.to_csv(folder)`` writes the
        command's CSV files.

    Raises
    ------
    ValueError
        A bad option (naming the keyword), or a problem of the table (naming
        the row and column; for a path, the message starts with it).
    """
    from reconfair.metrics.schema import SCORE_SCALES
    from reconfair.metrics.uncertainty import evaluate_with_uncertainty

    if scores not in SCORE_SCALES:
        raise ValueError(f"scores: expected one of {SCORE_SCALES}, got {scores!r}")
    settings = evaluation_settings(
        attributes=attributes, min_group_size=min_group_size, split=split, threshold=threshold,
        patient_level=patient_level, bootstrap=bootstrap, bootstrap_budget_s=bootstrap_budget_s, seed=seed,
        adjust=adjust, family=family, alpha=alpha, power=power, min_valid_fraction=min_valid_fraction,
        group_auroc=group_auroc,
    )
    if isinstance(table, (str, Path)):
        try:
            samples = evaluation_table(table, scores=scores)
        except ValueError as error:
            raise ValueError(f"{table}: {error}") from None
    else:
        samples = evaluation_table(table, scores=scores)
    return evaluate_with_uncertainty(samples, settings)


def _no_base_dir(base_dir: str | Path | None, what: str) -> None:
    if base_dir is not None:
        raise TypeError(f"base_dir: applies to a mapping only, got base_dir={str(base_dir)!r} with {what}; "
                        "drop base_dir, or pass the configuration as a mapping")
