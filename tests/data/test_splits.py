"""Patient-level splits: disjoint, proportional, deterministic, validated."""

from __future__ import annotations

import numpy as np
import pytest

from reconfair.data.splits import assign_splits, validate_fractions


def _ids(n_patients: int, repeats: int = 3) -> list[str]:
    rng = np.random.default_rng(0)  # local generator: only decides how many images each patient has
    counts = rng.integers(1, repeats + 1, size=n_patients)
    return [f"p{i:05d}" for i, c in enumerate(counts) for _ in range(c)]


def test_patients_never_cross_splits():
    ids = _ids(500)
    splits = assign_splits(ids, seed=3)
    assert len(splits) == len(ids)
    per_patient = {}
    for pid, split in zip(ids, splits):
        assert per_patient.setdefault(pid, split) == split


@pytest.mark.parametrize("fractions", [(0.6, 0.2, 0.2), (0.7, 0.1, 0.2), (0.5, 0.5, 0.0), (1.0, 0.0, 0.0)])
@pytest.mark.parametrize("n_patients", [1, 7, 100, 1001])
def test_patient_proportions_match_fractions(fractions, n_patients):
    ids = _ids(n_patients)
    splits = assign_splits(ids, fractions=fractions, seed=1)
    first = {}
    for pid, split in zip(ids, splits):
        first.setdefault(pid, split)
    counts = np.array([sum(s == name for s in first.values()) for name in ("train", "val", "test")])
    assert counts.sum() == n_patients
    # whole patients: each split is within one patient of its share
    assert np.all(np.abs(counts - np.asarray(fractions) * n_patients) <= 1.0)


def test_deterministic_and_seed_dependent():
    ids = _ids(300)
    a = assign_splits(ids, seed=11)
    assert np.array_equal(a, assign_splits(ids, seed=11))
    b = assign_splits(ids, seed=12)
    assert not np.array_equal(a, b)
    assert set(a) == {"train", "val", "test"}


def test_order_of_samples_does_not_matter():
    ids = _ids(200)
    splits = dict(zip(ids, assign_splits(ids, seed=5)))
    shuffled = list(reversed(ids))
    assert [splits[p] for p in shuffled] == assign_splits(shuffled, seed=5).tolist()


def test_adding_patients_moves_few_existing_ones():
    ids = [f"p{i}" for i in range(1000)]
    before = assign_splits(ids, seed=2)
    after = assign_splits(ids + [f"q{i}" for i in range(10)], seed=2)[:1000]
    assert (before != after).mean() < 0.02


def test_empty_input():
    assert assign_splits([], seed=0).tolist() == []


@pytest.mark.parametrize(
    "fractions, message",
    [
        ((0.7, 0.2, 0.2), "fractions must sum to 1"),
        ((0.8, 0.3, -0.1), "fractions must be non-negative"),
        ((0.5, 0.5), "fractions must be three numbers"),
        ((0.5, float("nan"), 0.5), "fractions must be non-negative finite"),
        ("abc", "fractions must be three numbers"),
    ],
)
def test_invalid_fractions_name_the_field(fractions, message):
    with pytest.raises(ValueError, match=message):
        assign_splits(["a", "b"], fractions=fractions, seed=0)
    with pytest.raises(ValueError, match=message):
        validate_fractions(fractions)
