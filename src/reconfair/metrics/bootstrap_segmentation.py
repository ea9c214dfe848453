"""Paired patient bootstrap of the segmentation (Dice) deltas.

Per resample ``b`` with patient weights ``w`` (from
:func:`~reconfair.metrics.bootstrap_kernels.patient_weights`, the same draw for
the original and the reconstructed Dice), the group mean Dice is
``D_g = sum_i w_i dice_i 1[g_i = g] / sum_i w_i 1[g_i = g]``; a group with
fewer than ``min_group_size`` samples (weighted, in a resample) is excluded
(as in :func:`~reconfair.metrics.groups.segmentation_groups`), and a
resample uses only the groups of the point estimate.  ``delta_dice`` and
``ser`` follow :func:`~reconfair.metrics.fairness.delta_dice` and
:func:`~reconfair.metrics.fairness.ser` (NaN with fewer than two usable
groups; SER ``inf`` when the best group is perfect, 1 when every usable group
is); ``dice`` is the weighted mean Dice overall.  Their tests
(:mod:`reconfair.metrics.hypothesis`): percentile for mean Dice; a bootstrap
Wald test of the change of the signed gaps of ``D_g`` (``delta_dice``) and of
``log(1 - D_g)`` (``ser``) otherwise.  All resamples of a chunk are evaluated
with one matrix product of the weights and per-patient sums.

Examples
--------
>>> d = np.linspace(0.5, 0.9, 40)
>>> table = paired_dice_bootstrap(d, d - 0.1, np.arange(40) // 2, groups={"sex": ["F", "M"] * 20},
...                               n_boot=20, min_group_size=5, target="tumor")
>>> table[["attribute", "metric", "n_boot_valid"]].values.tolist()
[['', 'dice', 20], ['sex', 'delta_dice', 20], ['sex', 'ser', 20]]
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from reconfair.metrics.bootstrap import PairedReplicates
from reconfair.metrics.bootstrap_kernels import patient_weights
from reconfair.metrics.groups import group_codes
from reconfair.metrics.hypothesis import Gaps, gap_changes, gap_labels

__all__ = ["SEGMENTATION_METRICS", "weighted_group_dice", "dice_fairness", "paired_dice_replicates",
           "paired_dice_bootstrap"]

SEGMENTATION_METRICS = ("delta_dice", "ser")
"""Fairness metrics bootstrapped per attribute (names as in the fairness table)."""


def dice_fairness(means: np.ndarray) -> dict[str, np.ndarray]:
    """``delta_dice`` and ``ser`` per row of (resamples x groups) mean Dice (NaN = excluded group)."""
    usable = ~np.isnan(means)
    enough = usable.sum(axis=1) >= 2
    high = np.where(usable, means, -np.inf).max(axis=1)
    low = np.where(usable, means, np.inf).min(axis=1)
    worst, best = 1.0 - low, 1.0 - high
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(best == 0.0, np.where(worst == 0.0, 1.0, np.inf), worst / best)
    return {"delta_dice": np.where(enough, high - low, np.nan), "ser": np.where(enough, ratio, np.nan)}


def _group_means(sums: np.ndarray, counts: np.ndarray, min_group_size: int) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((counts >= min_group_size) & (counts > 0), sums / counts, np.nan)


def weighted_group_dice(weights: ArrayLike, dice: ArrayLike, groups: ArrayLike, *,
                        min_group_size: int = 1) -> np.ndarray:
    """Weighted mean Dice per group (columns: sorted groups) for each row of sample weights.

    >>> weighted_group_dice([[1, 1, 1], [0, 3, 1]], [1.0, 0.5, 0.25], ["b", "a", "a"]).tolist()
    [[0.375, 1.0], [0.4375, nan]]
    """
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    values = np.asarray(dice, dtype=np.float64).reshape(-1)
    _, codes = group_codes(groups)
    if not (w.shape[1] == values.size == codes.size):
        raise ValueError(f"weights has {w.shape[1]} columns, dice {values.size} and groups {codes.size} "
                         "values; they must all equal the number of samples")
    onehot = np.eye(int(codes.max()) + 1 if codes.size else 0)[codes]
    return _group_means(w @ (onehot * values[:, None]), w @ onehot, int(min_group_size))


def paired_dice_replicates(
    dice_original: ArrayLike, dice_recon: ArrayLike, patient_ids: ArrayLike, *,
    groups: Mapping[str, ArrayLike], target: str = "0", n_boot: int = 1000, seed: int = 0,
    min_group_size: int = 10, chunk_size: int = 100,
) -> PairedReplicates:
    """Estimates and paired replicates of mean Dice, ``delta_dice`` and ``ser``; see :func:`paired_dice_bootstrap`."""
    dice = [np.asarray(d, dtype=np.float64).reshape(-1) for d in (dice_original, dice_recon)]
    n = dice[0].size
    if dice[1].size != n:
        raise ValueError(f"dice_recon has {dice[1].size} values but dice_original has {n}")
    for d, name in zip(dice, ("dice_original", "dice_recon")):
        if not np.isfinite(d).all():
            raise ValueError(f"{name} has {int((~np.isfinite(d)).sum())} non-finite values")
    ids = pd.Series(np.asarray(patient_ids, dtype=object).reshape(-1))
    if ids.size != n or ids.isna().any():
        raise ValueError(f"patient_ids needs {n} non-missing values (one per sample), got {ids.size} "
                         f"with {int(ids.isna().sum())} missing")
    if isinstance(groups, (str, np.ndarray, pd.Series)) or not isinstance(groups, Mapping):
        raise TypeError("groups must be a mapping attribute name -> group of each sample")
    if int(min_group_size) != min_group_size or min_group_size < 1:
        raise ValueError(f"min_group_size must be a positive integer, got {min_group_size!r}")
    patients, patient_index = pd.factorize(ids.astype(str), sort=True)
    n_patients = patient_index.size
    # per-patient sums: columns [count, dice_original, dice_recon] per group; group "" is everyone
    blocks: list[tuple[str, int]] = [("", 1)]
    group_names: list[np.ndarray] = [np.array([""], dtype=object)]
    columns = [np.zeros(n, dtype=np.int64)]
    for a, values in groups.items():
        group_values, codes = group_codes(values)
        if codes.size != n:
            raise ValueError(f"groups[{a!r}] has {codes.size} values but dice has {n}")
        blocks.append((str(a), group_values.size))
        group_names.append(group_values)
        columns.append(codes)
    matrix_parts = []
    for (_, k), codes in zip(blocks, columns):
        index = patients * k + codes
        part = np.stack([np.bincount(index, weights=v, minlength=n_patients * k)
                         for v in (np.ones(n), dice[0], dice[1])], axis=-1)
        matrix_parts.append(part.reshape(n_patients, k * 3))
    matrix = np.concatenate(matrix_parts, axis=1)
    keys = [(str(target), "", "dice")] + [(str(target), a, m) for a, _ in blocks[1:] for m in SEGMENTATION_METRICS]
    minimum = int(min_group_size)
    # the groups of the point estimate (>= min_group_size samples): each resample uses these and only these
    sizes = matrix.sum(axis=0).reshape(-1, 3)[:, 0]
    allowed, col = [], 0
    for _, k in blocks:
        allowed.append(sizes[col:col + k] >= (minimum if col else 1))
        col += k

    def evaluate_chunk(weights: np.ndarray) -> tuple[np.ndarray, dict[int, np.ndarray]]:
        """(n_keys, 2, b) statistics and the (b, d) gap changes of each fairness key, for a chunk of weights."""
        sums = (weights.astype(np.float64) @ matrix).reshape(weights.shape[0], -1, 3)
        out = np.empty((len(keys), 2, weights.shape[0]))
        gaps: dict[int, np.ndarray] = {}
        col, row = 0, 0
        for block, (_, k) in enumerate(blocks):
            part = sums[:, col:col + k]
            col += k
            means = [np.where(allowed[block], _group_means(part[..., 1 + c], part[..., 0],
                                                           minimum if row else 1), np.nan) for c in range(2)]
            if row == 0:
                out[0] = [m[:, 0] for m in means]
                row += 1
                continue
            for c in range(2):
                stats = dice_fairness(means[c])
                out[row:row + len(SEGMENTATION_METRICS), c] = [stats[m] for m in SEGMENTATION_METRICS]
            with np.errstate(divide="ignore", invalid="ignore"):
                errors = [np.log1p(-m) for m in means]  # log(1 - D_g): SER = exp(max - min)
            gaps[row] = gap_changes([means[0]], [means[1]], allowed[block])
            gaps[row + 1] = gap_changes([errors[0]], [errors[1]], allowed[block])
            row += len(SEGMENTATION_METRICS)
        return out, gaps

    point, point_gaps = evaluate_chunk(np.ones((1, n_patients)))
    replicates = np.empty((len(keys), 2, n_boot))
    draws = {i: np.empty((n_boot, g.shape[1])) for i, g in point_gaps.items()}
    start = 0
    for weights in patient_weights(n_patients, n_boot=n_boot, seed=seed, chunk_size=chunk_size):
        stats, gaps = evaluate_chunk(weights)
        stop = start + weights.shape[0]
        replicates[:, :, start:stop] = stats
        for i, g in gaps.items():
            draws[i][start:stop] = g
        start = stop
    labels, row = {}, 1
    for block, (_, k) in enumerate(blocks[1:], start=1):
        names = group_names[block][allowed[block]]
        labels[row], labels[row + 1] = gap_labels(("dice",), names), gap_labels(("log(1 - dice)",), names)
        row += len(SEGMENTATION_METRICS)
    tests = tuple(Gaps(point_gaps[i][0], draws[i], labels[i]) if i in draws else None for i in range(len(keys)))
    return PairedReplicates(tuple(keys), point[:, :, 0], replicates, tests)


def paired_dice_bootstrap(
    dice_original: ArrayLike, dice_recon: ArrayLike, patient_ids: ArrayLike, *,
    groups: Mapping[str, ArrayLike], target: str = "0", n_boot: int = 1000, seed: int = 0,
    min_group_size: int = 10, chunk_size: int = 100, min_valid_fraction: float = 0.95,
) -> pd.DataFrame:
    """Paired patient bootstrap of the mean Dice, ``delta_dice`` and ``ser`` deltas of one target.

    Parameters
    ----------
    dice_original, dice_recon : array_like
        Dice per sample on original and reconstructed images (row i is the
        same image in both; finite).
    patient_ids : array_like
        Patient of each sample: the resampling unit.
    groups : mapping of str to array_like
        Attribute name -> group of each sample (may be empty: mean Dice only).
    target : str, default "0"
        Target name written in the ``target`` column.
    n_boot, seed, chunk_size
        As in :func:`~reconfair.metrics.bootstrap.paired_bootstrap`.
    min_group_size : int, default 10
        Group size (samples; weighted in a resample) below which a group is
        excluded; a resample uses only the groups of the point estimate.
    min_valid_fraction : float, default 0.95
        The fraction of resamples a CI or p needs defined.

    Returns
    -------
    pandas.DataFrame
        One row per ``target, attribute, metric`` (attribute ``""`` for mean
        Dice, metric ``"dice"``) with the
        :class:`~reconfair.metrics.bootstrap.BootstrapResult` fields.
    """
    reps = paired_dice_replicates(dice_original, dice_recon, patient_ids, groups=groups, target=target,
                                  n_boot=n_boot, seed=seed, min_group_size=min_group_size,
                                  chunk_size=chunk_size)
    return reps.summaries(min_valid_fraction=min_valid_fraction)
