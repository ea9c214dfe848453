"""Seeded, patient-level train/val/test splits.

Patients (not images) are assigned: all images of a patient land in the same
split.  Each patient gets a key ``derive_seed(seed, "split", patient_id)``;
patients are ranked by key and the ranking is cut at the cumulative
fractions, so the split sizes match the fractions as closely as whole
patients allow.  A patient's key does not depend on the other patients, so
adding or removing a few patients only moves patients whose rank is near a cut.

With ``strata`` (one stratum per sample, constant within a patient) the cut
is made within each stratum: a stratum's patients, ranked by key, sit at
positions ``u = (rank + 0.5) / m + offset`` (mod 1) with a seeded offset per
stratum, and ``u`` is cut at the cumulative fractions.  Large strata are
split in the fractions exactly; a stratum of one or two patients lands in
each split with the fractions' probabilities instead of always in ``train``.

Examples
--------
>>> assign_splits(["a", "a", "b", "c", "d", "e"], fractions=(0.6, 0.2, 0.2), seed=0).tolist()
['train', 'train', 'train', 'train', 'test', 'val']
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from reconfair.data.sample import SPLITS
from reconfair.seeding import derive_seed

__all__ = ["assign_splits", "validate_fractions"]


def validate_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    """Check ``fractions`` is three non-negative finite numbers summing to 1.

    >>> validate_fractions((0.5, 0.5, 0.0))
    (0.5, 0.5, 0.0)
    >>> validate_fractions((0.7, 0.2, 0.2))
    Traceback (most recent call last):
    ...
    ValueError: fractions must sum to 1 (train, val, test), got (0.7, 0.2, 0.2) which sums to 1.1
    """
    try:
        values = tuple(float(f) for f in fractions)
    except (TypeError, ValueError):
        raise ValueError(f"fractions must be three numbers (train, val, test), got {fractions!r}") from None
    if len(values) != 3:
        raise ValueError(f"fractions must be three numbers (train, val, test), got {len(values)}: {fractions!r}")
    if any(not math.isfinite(v) or v < 0.0 for v in values):
        raise ValueError(f"fractions must be non-negative finite numbers (train, val, test), got {fractions!r}")
    total = math.fsum(values)
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"fractions must sum to 1 (train, val, test), got {fractions!r} which sums to {total:.6g}")
    return values  # type: ignore[return-value]


def assign_splits(
    patient_ids: Sequence[str],
    *,
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
    seed: int = 0,
    strata: Sequence[str] | None = None,
) -> np.ndarray:
    """The split (``"train"``, ``"val"`` or ``"test"``) of each sample.

    Parameters
    ----------
    patient_ids
        One patient id per sample; repeated ids share a split.
    fractions
        Fractions of *patients* in train, val and test (sum to 1).
    seed
        Split seed; the same seed and ids always give the same assignment.
    strata
        Optional stratum of each sample (e.g. ``"sex=F|edema=1"``); all
        samples of a patient must share one.  ``None``: no stratification.

    Returns
    -------
    numpy.ndarray
        Object array of split names, one per sample, in input order.

    Examples
    --------
    >>> ids = [f"p{i}" for i in range(100)]
    >>> s = assign_splits(ids, seed=1)
    >>> [int((s == name).sum()) for name in ("train", "val", "test")]
    [60, 20, 20]
    """
    train, val, _ = validate_fractions(fractions)
    ids = np.asarray([str(p) for p in patient_ids], dtype=object)
    if ids.size == 0:
        return np.asarray([], dtype=object)
    unique, inverse = np.unique(ids, return_inverse=True)
    if strata is not None:
        return _stratified(ids, unique, inverse, strata, (train, val), int(seed))
    keys = np.fromiter((derive_seed(int(seed), "split", p) for p in unique), dtype=np.uint64, count=len(unique))
    order = np.lexsort((unique, keys))  # rank by key; ties (practically impossible) broken by id
    n = len(unique)
    cuts = np.floor(np.array([train, train + val]) * n + 0.5).astype(np.int64)
    rank_split = np.searchsorted(cuts, np.arange(n), side="right")
    patient_split = np.empty(n, dtype=np.int64)
    patient_split[order] = rank_split
    return np.asarray(SPLITS, dtype=object)[patient_split[inverse]]


def _stratified(
    ids: np.ndarray, unique: np.ndarray, inverse: np.ndarray, strata: Sequence[str], fractions: tuple[float, float],
    seed: int,
) -> np.ndarray:
    """Per-stratum cuts (module docstring); ``unique``/``inverse`` as from ``np.unique(ids)``."""
    labels = np.asarray([str(s) for s in strata], dtype=object)
    if labels.shape != ids.shape:
        raise ValueError(f"strata must give one stratum per sample: {labels.size} strata for {ids.size} samples")
    patient_stratum = np.empty(len(unique), dtype=object)
    patient_stratum[inverse] = labels  # the last sample's stratum; checked next
    differs = patient_stratum[inverse] != labels
    if differs.any():
        i = int(np.flatnonzero(differs)[0])
        raise ValueError(
            f"patient {ids[i]!r} has samples in strata {labels[i]!r} and {patient_stratum[inverse[i]]!r}; "
            "a patient's samples must share one stratum"
        )
    train, val = fractions
    keys = np.fromiter((derive_seed(seed, "split", p) for p in unique), dtype=np.uint64, count=len(unique))
    position = np.empty(len(unique), dtype=np.float64)
    for stratum in sorted(set(patient_stratum)):
        members = np.flatnonzero(patient_stratum == stratum)
        order = members[np.lexsort((unique[members], keys[members]))]
        offset = (derive_seed(seed, "split-stratum", stratum) >> 11) * 2.0**-53
        position[order] = np.mod((np.arange(len(order)) + 0.5) / len(order) + offset, 1.0)
    patient_split = np.searchsorted(np.array([train, train + val]), position, side="right")
    return np.asarray(SPLITS, dtype=object)[patient_split[inverse]]
