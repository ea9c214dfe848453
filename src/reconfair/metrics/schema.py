"""The input contract of the per-sample table: which columns, which values, one row per key.

:func:`check_samples` validates a table already in memory; :func:`read_table`
reads one from ``.parquet`` or ``.csv`` (ids and text kept as strings,
optionally turning logits into probabilities) and checks it;
:func:`prepare_samples` does the same to a table in memory (a copy), so a
DataFrame and the file it was written to give the same table.  Their messages
name the row (0-based, in table order), the column and what was expected, and
never the file: the caller names the file once (``reconfair evaluate`` prints
``error: <file>: <message>``).

Columns (``docs/samples-table.md``):

- :data:`REQUIRED_COLUMNS` in every table;
- :data:`TASK_COLUMNS`: those of each task present (``y_true``, ``y_score``
  for classification rows, ``dice`` for segmentation rows);
- optional (:data:`OPTIONAL_COLUMNS`): ``patient_id`` (without it each sample
  is its own patient), ``recon``, ``degradation``, ``level``, ``mitigation``
  (carried into every metric table when present), ``seed`` and
  ``replicate`` (one diagnostic model each), ``psnr``, ``ssim``, ``nrmse``
  (image-quality rows only when present) and the sensitive attributes
  ``attr_<name>``.

Examples
--------
>>> import pandas as pd
>>> rows = pd.DataFrame({"sample_id": ["a", "b"], "split": "test", "dataset": "d",
...     "task": "classification", "target": "t", "condition": "original",
...     "y_true": [1.0, 0.0], "y_score": [0.9, 0.2]})
>>> check_samples(rows)
>>> check_samples(rows.assign(y_score=[0.9, 3.0]))
Traceback (most recent call last):
...
ValueError: y_score = 3.0 in row 1 (sample_id 'b', condition 'original', target 't') is outside [0, 1]; ...
>>> check_samples(rows.assign(sample_id="a"))
Traceback (most recent call last):
...
ValueError: duplicate key: row 1 repeats row 0 (sample_id 'a', condition 'original', target 't'); ...
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_numeric_dtype, is_string_dtype

__all__ = [
    "REQUIRED_COLUMNS",
    "TASK_COLUMNS",
    "OPTIONAL_COLUMNS",
    "ATTRIBUTE_PREFIX",
    "KEY_COLUMNS",
    "SCORE_SCALES",
    "SUFFIXES",
    "check_samples",
    "prepare_samples",
    "read_table",
    "sigmoid",
]

REQUIRED_COLUMNS = ("sample_id", "split", "dataset", "task", "target", "condition")
"""Columns every per-sample table needs, whatever its tasks."""
TASK_COLUMNS = {"classification": ("y_true", "y_score"), "segmentation": ("dice",)}
"""Columns needed by the rows of each task (only for the tasks present)."""
OPTIONAL_COLUMNS = {
    "patient_id": "patient of the image; without it each sample is its own patient (and --patient-level fails)",
    "recon": "reconstruction; carried into the metric tables when present",
    "degradation": "degradation operator; carried into the metric tables when present",
    "level": "degradation level; carried into the metric tables when present",
    "mitigation": "bias mitigation of the reconstructor; carried into the metric tables when present",
    "seed": "run seed of the diagnostic model; several seeds give per-seed metrics and their mean and sd",
    "replicate": "replicate of the diagnostic model; part of the row key when present",
    "psnr": "image quality; without it (and ssim, nrmse) there are no image-quality rows",
    "ssim": "image quality; without it there is no ssim row",
    "nrmse": "image quality; without it there is no nrmse row",
    "attr_<name>": "a sensitive attribute (text); only the attributes asked for are needed",
}
"""Optional columns and what happens without them."""
ATTRIBUTE_PREFIX = "attr_"
KEY_COLUMNS = ("sample_id", "condition", "target")
"""A row's key, with ``seed`` and ``replicate`` when those columns exist: each key appears once."""
KEY_OPTIONAL = ("seed", "replicate")
TEXT_COLUMNS = ("sample_id", "patient_id", "split", "dataset", "task", "target", "condition", "recon",
                "degradation", "mitigation")
"""Read as strings from CSV (with every ``attr_*`` column): ``"007"`` stays ``"007"``."""
NUMERIC_COLUMNS = ("level", "seed", "replicate", "y_true", "y_score", "dice", "psnr", "ssim", "nrmse")
SCORE_SCALES = ("probabilities", "logits")
"""What ``y_score`` holds in a file: probabilities in [0, 1], or logits (a sigmoid is applied)."""
SUFFIXES = (".parquet", ".csv")
_SEE = "see docs/samples-table.md"


def check_samples(samples: pd.DataFrame) -> None:
    """Raise a ``ValueError`` naming the first problem of a per-sample table; return None if it is usable.

    Checks: the required columns and the task columns of every task present;
    no missing values in the required columns; known task names; numbers in
    the numeric columns; finite Dice in segmentation rows; ``y_score`` in
    [0, 1] (or NaN) in classification rows; each key (``sample_id``,
    ``condition``, ``target``, plus ``seed`` and ``replicate`` when present)
    at most once.  Rows are named by their 0-based position in the table.

    Parameters
    ----------
    samples : pandas.DataFrame
        One row per sample x condition x target (``docs/samples-table.md``).

    Raises
    ------
    TypeError
        If ``samples`` is not a DataFrame.
    ValueError
        The first problem found; the message names no file.

    Examples
    --------
    >>> import pandas as pd
    >>> check_samples(pd.DataFrame({"sample_id": ["a"], "split": ["test"], "dataset": ["d"],
    ...                             "task": ["segmentation"], "target": ["tumor"], "condition": ["original"]}))
    Traceback (most recent call last):
    ...
    ValueError: the table has segmentation rows but lacks column(s) ['dice']; ...
    """
    if not isinstance(samples, pd.DataFrame):
        raise TypeError(f"samples must be a pandas DataFrame, got {type(samples).__name__}")
    missing = [c for c in REQUIRED_COLUMNS if c not in samples.columns]
    if missing:
        raise ValueError(
            f"missing required column(s) {missing}; every per-sample table needs {list(REQUIRED_COLUMNS)} "
            f"plus the task columns {_task_columns_text()}; found {list(map(str, samples.columns))}; {_SEE}"
        )
    for column in REQUIRED_COLUMNS:
        absent = samples[column].isna().to_numpy()
        if absent.any():
            raise ValueError(
                f"column {column!r} has {int(absent.sum())} missing value(s), the first in {_row(samples, absent)}; "
                f"every row needs a value in each of {list(REQUIRED_COLUMNS)}"
            )
    task = samples["task"].astype(str).to_numpy()
    unknown = ~np.isin(task, list(TASK_COLUMNS))
    if unknown.any():
        raise ValueError(
            f"unknown task value(s) {sorted(set(task[unknown]))} in column 'task' (first in "
            f"{_row(samples, unknown)}); expected one of {sorted(TASK_COLUMNS)}"
        )
    for name in sorted(set(task)):
        lacking = [c for c in TASK_COLUMNS[name] if c not in samples.columns]
        if lacking:
            raise ValueError(f"the table has {name} rows but lacks column(s) {lacking}; {name} rows need "
                             f"{list(TASK_COLUMNS[name])}; {_SEE}")
    for column in (c for c in NUMERIC_COLUMNS if c in samples.columns):
        _check_numeric(samples, column)
    segmentation = task == "segmentation"
    if segmentation.any():
        dice = samples["dice"].to_numpy(dtype=float)
        bad = segmentation & ~np.isfinite(dice)
        if bad.any():
            raise ValueError(
                f"dice = {_value(dice[bad][0])} in {_row(samples, bad)}: column 'dice' has {int(bad.sum())} "
                "non-finite value(s) in segmentation rows; Dice is always defined (empty truth and empty "
                "prediction give 1)"
            )
    classification = task == "classification"
    if classification.any():
        score = samples["y_score"].to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            outside = classification & ~np.isnan(score) & ((score < 0) | (score > 1))
        if outside.any():
            raise ValueError(
                f"y_score = {_value(score[outside][0])} in {_row(samples, outside)} is outside [0, 1]; "
                f"{int(outside.sum())} classification row(s) are; y_score is a probability: pass --scores "
                "logits if these are logits (read_table(..., scores='logits')), else rescale them to [0, 1]"
            )
    _check_unique(samples)


def read_table(path: str | Path, *, scores: str = "probabilities") -> pd.DataFrame:
    """Read a per-sample table from ``.parquet`` or ``.csv`` and check it with :func:`check_samples`.

    Only :data:`REQUIRED_COLUMNS` and the :data:`TASK_COLUMNS` of the tasks
    present are required.  From CSV the id and text columns (``sample_id``,
    ``patient_id``, ``split``, ``dataset``, ``task``, ``target``,
    ``condition``, ``recon``, ``degradation``, ``mitigation``, ``attr_*``) are
    read as strings, so ``007`` stays ``"007"``; from Parquet those columns
    are turned into strings if they are not already, so both formats give
    the same table.

    Parameters
    ----------
    path : str or Path
        The table; its suffix (``.parquet`` or ``.csv``, any case) picks the reader.
    scores : {"probabilities", "logits"}
        What ``y_score`` holds: probabilities in [0, 1] (checked), or logits,
        turned into probabilities with :func:`sigmoid`.

    Returns
    -------
    pandas.DataFrame
        The table, rows in file order.

    Raises
    ------
    ValueError
        For an unknown ``scores``, another suffix, a missing, unreadable or
        empty file, or any problem :func:`check_samples` finds.  Messages do
        not contain the path: the caller names the file.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> folder = tempfile.mkdtemp()
    >>> _ = Path(folder, "t.csv").write_text(
    ...     "sample_id,split,dataset,task,target,condition,y_true,y_score\\n"
    ...     "007,test,d,classification,t,original,1,0.0\\n")
    >>> table = read_table(Path(folder, "t.csv"), scores="logits")
    >>> table["sample_id"].tolist(), table["y_score"].tolist()
    (['007'], [0.5])
    >>> read_table(Path(folder, "t.txt"))
    Traceback (most recent call last):
    ...
    ValueError: unsupported file type '.txt': expected a per-sample table ending in .parquet or .csv
    """
    if scores not in SCORE_SCALES:
        raise ValueError(f"scores: expected one of {SCORE_SCALES}, got {scores!r}")
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"unsupported file type {path.suffix or '(no suffix)'!r}: expected a per-sample table "
                         f"ending in {' or '.join(SUFFIXES)}")
    if not path.exists():
        raise ValueError("no such file; pass the per-sample table that reconfair run wrote (RUN_DIR/samples.parquet) "
                         f"or one made elsewhere ({_SEE})")
    if not path.is_file():
        raise ValueError("is a folder, not a file; pass the per-sample table itself, e.g. RUN_DIR/samples.parquet")
    kind = "CSV" if suffix == ".csv" else "Parquet"
    try:
        table = _read_csv(path) if suffix == ".csv" else _text_columns(pd.read_parquet(path))
    except pd.errors.EmptyDataError:
        raise ValueError(f"the file is empty; expected a header naming the columns, then one row per "
                         f"sample x condition x target; {_SEE}") from None
    except (OSError, ValueError) as error:
        detail = str(error).replace(str(path), "the file").replace(path.name, "the file")
        raise ValueError(f"cannot be read as {kind} ({type(error).__name__}: {detail}); "
                         f"expected a {kind} per-sample table") from None
    return _prepared(table, scores)


def prepare_samples(table: pd.DataFrame, *, scores: str = "probabilities") -> pd.DataFrame:
    """A per-sample table in memory as :func:`read_table` gives it from a file: a checked copy.

    The id and text columns become strings (missing values stay missing),
    logits become probabilities with ``scores="logits"``, and
    :func:`check_samples` runs; ``table`` itself is not modified.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"sample_id": [7], "split": "test", "dataset": "d", "task": "classification",
    ...                      "target": "t", "condition": "original", "y_true": [1.0], "y_score": [0.0]})
    >>> prepared = prepare_samples(rows, scores="logits")
    >>> prepared["sample_id"].tolist(), prepared["y_score"].tolist(), rows["y_score"].tolist()
    (['7'], [0.5], [0.0])
    """
    if scores not in SCORE_SCALES:
        raise ValueError(f"scores: expected one of {SCORE_SCALES}, got {scores!r}")
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame (or a .parquet/.csv path), got {type(table).__name__}")
    return _prepared(_text_columns(table.copy()), scores)


def _prepared(table: pd.DataFrame, scores: str) -> pd.DataFrame:
    """``table`` (text columns already strings) with logits turned into probabilities, checked."""
    if len(table) == 0:
        raise ValueError(f"the table has no rows (columns {list(map(str, table.columns))}); expected one row per "
                         "sample x condition x target")
    if scores == "logits" and "y_score" in table.columns and is_numeric_dtype(table["y_score"]):
        table["y_score"] = sigmoid(table["y_score"].to_numpy(dtype=float))
    check_samples(table)
    return table


def sigmoid(x: Any) -> np.ndarray:
    """The logistic function ``1 / (1 + exp(-x))``, without overflow for any ``x`` (NaN stays NaN).

    Examples
    --------
    >>> sigmoid([0.0, -1000.0, 1000.0, float("nan")]).tolist()
    [0.5, 0.0, 1.0, nan]
    """
    x = np.asarray(x, dtype=float)
    flat = x.reshape(-1)
    out = np.empty_like(flat)
    positive = flat >= 0  # NaN is False: exp(NaN) / (1 + exp(NaN)) stays NaN
    out[positive] = 1.0 / (1.0 + np.exp(-flat[positive]))
    exp = np.exp(flat[~positive])
    out[~positive] = exp / (1.0 + exp)
    return out.reshape(x.shape)


def _read_csv(path: Path) -> pd.DataFrame:
    header = pd.read_csv(path, nrows=0).columns
    text = {c: str for c in header if c in TEXT_COLUMNS or str(c).startswith(ATTRIBUTE_PREFIX)}
    return pd.read_csv(path, dtype=text)


def _text_columns(table: pd.DataFrame) -> pd.DataFrame:
    """Id and text columns as strings (missing values stay missing), as :func:`_read_csv` reads them."""
    for column in table.columns:
        if (column in TEXT_COLUMNS or str(column).startswith(ATTRIBUTE_PREFIX)) and not is_string_dtype(table[column]):
            values = table[column]
            table[column] = values.astype(str).where(values.notna())
    return table


def _check_numeric(samples: pd.DataFrame, column: str) -> None:
    values = samples[column]
    if is_numeric_dtype(values):
        return
    parsed = pd.to_numeric(values, errors="coerce")
    bad = (parsed.isna() & values.notna()).to_numpy()
    if bad.any():
        raise ValueError(
            f"column {column!r} holds {int(bad.sum())} non-number(s), the first {_value(values.to_numpy()[bad][0])} "
            f"in {_row(samples, bad)}; expected numbers (NaN, or an empty CSV cell, where unknown)"
        )


def _check_unique(samples: pd.DataFrame) -> None:
    shown = [*KEY_COLUMNS, *(c for c in KEY_OPTIONAL if c in samples.columns)]
    key = ["dataset", *shown]  # a sample id may recur in another data set
    codes = samples.groupby(key, sort=False, dropna=False).ngroup().to_numpy()
    repeated = pd.Series(codes).duplicated().to_numpy()
    if not repeated.any():
        return
    second = int(np.flatnonzero(repeated)[0])
    first = int(np.flatnonzero(codes == codes[second])[0])
    values = ", ".join(f"{c} {_value(samples[c].iloc[second])}" for c in shown)
    raise ValueError(
        f"duplicate key: row {second} repeats row {first} ({values}); {int(repeated.sum())} row(s) repeat an "
        f"earlier key; each ({', '.join(shown)}) must appear once per data set: drop the repeats or give them "
        "distinct values"
    )


def _row(samples: pd.DataFrame, mask: np.ndarray) -> str:
    """``row 5 (sample_id '005', condition 'original', target 'nodule')``: the first row of ``mask``."""
    position = int(np.flatnonzero(mask)[0])
    named = [c for c in KEY_COLUMNS if c in samples.columns]
    return f"row {position} (" + ", ".join(f"{c} {_value(samples[c].iloc[position])}" for c in named) + ")"


def _value(value: Any) -> str:
    """``repr`` of a plain Python value (``1.2``, ``'007'``), not ``np.float64(1.2)``."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _task_columns_text() -> str:
    return ", ".join(f"{list(columns)} for {task} rows" for task, columns in TASK_COLUMNS.items())
