"""Synthetic patients: seeded per-patient random streams, attributes and images.

Randomness is *counter-based*: a value is a hash of ``(seed, data set,
stream name, patient index, ...)`` (SplitMix64 finaliser over a key from
:func:`reconfair.seeding.derive_seed`).  Every parameter of patient ``k`` is
therefore a pure function of ``(seed, k)``: it does not depend on how many
patients are generated, on chunking or on order, draws are fully vectorised,
and no global RNG is touched.

Sensitive attributes:

- ``sex``: ``"F"`` or ``"M"``, 50/50;
- ``age``: integer years, uniform on 20..90;
- ``race``: ``"R1"``, ``"R2"``, ``"R3"`` with proportions 0.6/0.25/0.15.
  These are **synthetic groups, not real races**: they only exist so that a
  multi-group attribute can carry planted effects;
- ``age_group``: ``"<cut"`` / ``">=cut"``; the cut defaults to the median age
  of the generated patients, rounded to an integer year.

Examples
--------
>>> streams = PatientStreams(0, "demo")
>>> bool((streams.uniform("a", np.arange(3)) == streams.uniform("a", np.arange(5))[:3]).all())
True
>>> demo = draw_demographics(streams, np.arange(4), age_cut=50)
>>> demo.age_cut, demo.groups["age_group"]
(50.0, ('<50', '>=50'))
"""

from __future__ import annotations

import math
from dataclasses import dataclass


import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import ndtri

import torch

from reconfair.seeding import derive_seed

SEXES = ("F", "M")
RACES = ("R1", "R2", "R3")
RACE_PROPORTIONS = (0.6, 0.25, 0.15)
AGE_RANGE = (20, 90)

__all__ = [
    "SEXES",
    "RACES",
    "RACE_PROPORTIONS",
    "AGE_RANGE",
    "PatientStreams",
    "Demographics",
    "draw_demographics",
    "age_group_names",
    "Cohort",
    "make_cohort",
    "validate_generator_args",
    "gather_params",
    "draw_pose",
]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser (a bijection on uint64 with full avalanche)."""
    z = z ^ (z >> np.uint64(30))
    z = z * _MUL1
    z = z ^ (z >> np.uint64(27))
    z = z * _MUL2
    return z ^ (z >> np.uint64(31))


class PatientStreams:
    """Counter-based random numbers for one ``(seed, dataset)``.

    ``uniform(stream, *counters)`` returns one value in (0, 1) per element of
    the broadcast of the integer ``counters`` (e.g. patient index, image
    index, lattice position); the same stream and counters always give the
    same value.

    >>> s = PatientStreams(3, "x")
    >>> u = s.uniform("size", np.arange(1000))
    >>> bool(0.0 < u.min() and u.max() < 1.0), abs(float(u.mean()) - 0.5) < 0.05
    (True, True)
    >>> s.uniform("size", 7) == s.uniform("size", np.array([7]))
    array([ True])
    """

    def __init__(self, seed: int, dataset: str) -> None:
        self.seed = int(seed)
        self.dataset = dataset

    def _hash(self, stream: str, counters: tuple[ArrayLike, ...]) -> np.ndarray:
        h = np.atleast_1d(np.asarray(derive_seed(self.seed, self.dataset, stream), dtype=np.uint64))
        with np.errstate(over="ignore"):
            for counter in counters:
                c = np.asarray(counter)
                if c.dtype.kind not in "iu" or (c.dtype.kind == "i" and c.size and int(c.min()) < 0):
                    raise ValueError(f"stream counters must be non-negative integers, got {c!r}")
                h = _mix(h ^ _mix(c.astype(np.uint64) + _GOLDEN))
        return h

    def uniform(self, stream: str, *counters: ArrayLike) -> np.ndarray:
        """Uniform values in the open interval (0, 1), float64."""
        h = self._hash(stream, counters)
        return ((h >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53

    def normal(self, stream: str, *counters: ArrayLike) -> np.ndarray:
        """Standard normal values (inverse-CDF of :meth:`uniform`)."""
        return ndtri(self.uniform(stream, *counters))

    def between(self, stream: str, low: ArrayLike, high: ArrayLike, *counters: ArrayLike) -> np.ndarray:
        """Uniform values in (``low``, ``high``)."""
        low_, high_ = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
        return low_ + (high_ - low_) * self.uniform(stream, *counters)


def age_group_names(cut: float) -> tuple[str, str]:
    """Names of the two age groups split at ``cut`` years.

    >>> age_group_names(58.0), age_group_names(57.5)
    (('<58', '>=58'), ('<57.5', '>=57.5'))
    """
    text = str(int(cut)) if float(cut).is_integer() else repr(float(cut))
    return f"<{text}", f">={text}"


@dataclass(frozen=True)
class Demographics:
    """Per-patient attributes (arrays of equal length, one entry per patient)."""

    sex: np.ndarray
    age: np.ndarray
    race: np.ndarray
    age_group: np.ndarray
    age_cut: float

    @property
    def groups(self) -> dict[str, tuple[str, ...]]:
        """The possible group values of each categorical attribute."""
        return {"sex": SEXES, "age_group": age_group_names(self.age_cut), "race": RACES}

    def categorical(self) -> dict[str, np.ndarray]:
        """The categorical attributes (``sex``, ``age_group``, ``race``) by name."""
        return {"sex": self.sex, "age_group": self.age_group, "race": self.race}


def draw_demographics(streams: PatientStreams, patients: np.ndarray, *, age_cut: float | None = None) -> Demographics:
    """Draw sex, age, race and age group for the patient indices ``patients``.

    >>> d = draw_demographics(PatientStreams(0, "demo"), np.arange(2000))
    >>> sorted(set(d.sex)), sorted(set(d.race))
    (['F', 'M'], ['R1', 'R2', 'R3'])
    >>> int(d.age.min()) >= 20 and int(d.age.max()) <= 90
    True
    """
    if age_cut is not None and (isinstance(age_cut, bool) or not math.isfinite(float(age_cut))):
        raise ValueError(f"age_cut must be a finite number of years or None (median age), got {age_cut!r}")
    sex = np.asarray(SEXES, dtype=object)[(streams.uniform("sex", patients) >= 0.5).astype(np.int64)]
    low, high = AGE_RANGE
    age = low + np.floor(streams.uniform("age", patients) * (high - low + 1)).astype(np.int64)
    race_index = np.searchsorted(np.cumsum(RACE_PROPORTIONS)[:-1], streams.uniform("race", patients), side="right")
    race = np.asarray(RACES, dtype=object)[race_index]
    if age_cut is None:
        cut = float(np.floor(np.median(age) + 0.5)) if len(age) else float(sum(AGE_RANGE) // 2)
    else:
        cut = float(age_cut)
    young, old = age_group_names(cut)
    age_group = np.asarray((old, young), dtype=object)[(age < cut).astype(np.int64)]
    return Demographics(sex=sex, age=age, race=race, age_group=age_group, age_cut=cut)


def validate_generator_args(
    *, n_patients: int, image_size: int, seed: int, images_per_patient: tuple[int, int]
) -> None:
    """Check the arguments every synthetic generator shares; errors name the field."""
    for name, value, minimum in (("n_patients", n_patients, 1), ("image_size", image_size, 8)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    ok = (
        isinstance(images_per_patient, tuple)
        and len(images_per_patient) == 2
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in images_per_patient)
        and 1 <= images_per_patient[0] <= images_per_patient[1]
    )
    if not ok:
        raise ValueError(
            f"images_per_patient must be a (min, max) tuple of integers with 1 <= min <= max, "
            f"got {images_per_patient!r}"
        )


@dataclass(frozen=True)
class Cohort:
    """Patients and their images: which patient and which repeat each image is."""

    prefix: str
    demographics: Demographics
    image_patient: np.ndarray
    image_repeat: np.ndarray

    @property
    def n_patients(self) -> int:
        return len(self.demographics.age)

    def table(self, labels: dict[str, np.ndarray], *, attributes: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
        """One row per image: ids, attributes (strings) and float per-patient labels.

        ``attributes``: further per-patient attributes (``attr_<name>``, after ``attr_race``).
        """
        p, k = self.image_patient, self.image_repeat
        patient_ids = np.char.add(f"{self.prefix}-p", np.char.zfill(p.astype(str), 5))
        d = self.demographics
        columns = {
            "sample_id": np.char.add(np.char.add(patient_ids, "-i"), k.astype(str)).astype(object),
            "patient_id": patient_ids.astype(object),
            "attr_sex": d.sex[p].astype(object),
            "attr_age": d.age[p].astype(str).astype(object),
            "attr_age_group": d.age_group[p].astype(object),
            "attr_race": d.race[p].astype(object),
        }
        for name, values in (attributes or {}).items():
            columns[f"attr_{name}"] = np.asarray(values, dtype=object)[p]
        for name, values in labels.items():
            columns[f"label_{name}"] = np.asarray(values, dtype=np.float64)[p]
        return pd.DataFrame(columns)


def make_cohort(
    streams: PatientStreams,
    *,
    prefix: str,
    n_patients: int,
    images_per_patient: tuple[int, int],
    age_cut: float | None,
) -> Cohort:
    """Draw the patients' attributes and how many images each one has.

    >>> c = make_cohort(PatientStreams(0, "demo"), prefix="demo", n_patients=3,
    ...                 images_per_patient=(2, 2), age_cut=None)
    >>> c.image_patient.tolist(), c.image_repeat.tolist()
    ([0, 0, 1, 1, 2, 2], [0, 1, 0, 1, 0, 1])
    """
    patients = np.arange(n_patients, dtype=np.int64)
    demographics = draw_demographics(streams, patients, age_cut=age_cut)
    low, high = images_per_patient
    counts = low + np.floor(streams.uniform("n_images", patients) * (high - low + 1)).astype(np.int64)
    image_patient = np.repeat(patients, counts)
    starts = np.cumsum(counts) - counts
    image_repeat = np.arange(len(image_patient), dtype=np.int64) - np.repeat(starts, counts)
    return Cohort(prefix=prefix, demographics=demographics, image_patient=image_patient, image_repeat=image_repeat)


def gather_params(
    cohort: Cohort, patient: dict[str, np.ndarray], image: dict[str, np.ndarray], rows: slice | np.ndarray
) -> dict[str, torch.Tensor]:
    """Float32 parameters of the images at ``rows``: per-patient arrays gathered, per-image ones indexed.

    >>> c = make_cohort(PatientStreams(0, "demo"), prefix="demo", n_patients=3,
    ...                 images_per_patient=(1, 1), age_cut=None)
    >>> gather_params(c, {"a": np.array([1.0, 2.0, 3.0])}, {}, np.array([2, 0]))["a"].tolist()
    [3.0, 1.0]
    """
    idx = cohort.image_patient[rows]
    params = {k: torch.from_numpy(np.ascontiguousarray(v[idx], dtype=np.float32)) for k, v in patient.items()}
    params.update({k: torch.from_numpy(np.ascontiguousarray(v[rows], dtype=np.float32)) for k, v in image.items()})
    return params


def draw_pose(
    streams: PatientStreams,
    cohort: Cohort,
    *,
    shift: float = 0.02,
    angle: float = 0.03,
    scale: float = 0.02,
    gain: float = 0.03,
    offset: float = 0.01,
) -> dict[str, np.ndarray]:
    """Per-image pose (shift, rotation in radians, magnification) and exposure (gain, offset).

    Each is normal around the identity with the given standard deviation and
    depends only on ``(patient, repeat)``.
    """
    p, k = cohort.image_patient, cohort.image_repeat
    return {
        "shift_x": shift * streams.normal("shift_x", p, k),
        "shift_y": shift * streams.normal("shift_y", p, k),
        "angle": angle * streams.normal("angle", p, k),
        "scale": 1.0 + scale * streams.normal("scale", p, k),
        "gain": 1.0 + gain * streams.normal("gain", p, k),
        "offset": offset * streams.normal("offset", p, k),
    }
