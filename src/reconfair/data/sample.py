"""The sample contract shared by every data set, synthetic or real.

A :class:`SampleSet` holds a batch of images (``N x 1 x H x W`` float32 in
[0, 1]), optional segmentation masks, and a table with one row per sample.
Table columns follow one naming scheme, mapped once in each loader:

- ``sample_id`` (unique str), ``patient_id`` (str), ``split`` (``train``,
  ``val``, ``test``; empty before splitting);
- ``attr_<name>`` for each sensitive attribute, as strings (``attr_sex``,
  ``attr_age_group``, ``attr_race``); ``attr_age`` holds years as a string
  too, so every attribute column is categorical-ready;
- ``label_<name>`` for each binary classification target (1.0, 0.0 or NaN
  for an uncertain/unknown label).

Examples
--------
>>> import torch, pandas as pd
>>> table = pd.DataFrame({"sample_id": ["s0"], "patient_id": ["p0"], "split": ["test"],
...                       "attr_sex": ["F"], "label_nodule": [1.0]})
>>> ss = SampleSet(name="toy", images=torch.zeros(1, 1, 4, 4), table=table)
>>> ss.label_names, ss.attribute_names
(('nodule',), ('sex',))
>>> ss[0].attributes
{'sex': 'F'}
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

ATTR_PREFIX = "attr_"
LABEL_PREFIX = "label_"
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Sample:
    """One image with its target and attributes (docs/reconstruction.md)."""

    sample_id: str
    patient_id: str
    image: torch.Tensor
    target: dict[str, float] | torch.Tensor
    attributes: dict[str, str]


class TableFacts:
    """What a sample set's table says: label and attribute names, labels (shared by eager and lazy sets)."""

    table: pd.DataFrame

    @property
    def label_names(self) -> tuple[str, ...]:
        """Classification targets, in table order (``label_`` prefix removed)."""
        return tuple(c[len(LABEL_PREFIX):] for c in self.table.columns if c.startswith(LABEL_PREFIX))

    @property
    def attribute_names(self) -> tuple[str, ...]:
        """Sensitive attributes, in table order (``attr_`` prefix removed)."""
        return tuple(c[len(ATTR_PREFIX):] for c in self.table.columns if c.startswith(ATTR_PREFIX))

    def labels(self) -> np.ndarray:
        """``N x L`` float array of classification labels (NaN = unknown)."""
        cols = [LABEL_PREFIX + n for n in self.label_names]
        return self.table[cols].to_numpy(dtype=np.float64)


@dataclass
class SampleSet(TableFacts):
    """A data set held as batched tensors plus a per-sample table.

    Parameters
    ----------
    name
        Data set name (``synthetic-chest``, ``chexpert`` ...).
    images
        ``N x 1 x H x W`` float32 tensor with values in [0, 1].
    table
        One row per sample, in the same order as ``images``; columns as in
        the module docstring.
    masks
        Optional ``N x 1 x H x W`` float32 tensor of {0, 1} segmentation masks.
    info
        Free-form facts about how the set was made (generator settings).
    """

    name: str
    images: torch.Tensor
    table: pd.DataFrame
    masks: torch.Tensor | None = None
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.shape[1] != 1:
            raise ValueError(
                f"{self.name}: images must have shape N x 1 x H x W, got {tuple(self.images.shape)}"
            )
        if len(self.table) != self.images.shape[0]:
            raise ValueError(
                f"{self.name}: table has {len(self.table)} rows but there are "
                f"{self.images.shape[0]} images; they must match one to one"
            )
        for column in ("sample_id", "patient_id"):
            if column not in self.table.columns:
                raise ValueError(f"{self.name}: table lacks the required column {column!r}")
        if self.table["sample_id"].duplicated().any():
            dup = self.table.loc[self.table["sample_id"].duplicated(), "sample_id"].iloc[0]
            raise ValueError(f"{self.name}: sample_id {dup!r} is not unique")
        if self.masks is not None and self.masks.shape != self.images.shape:
            raise ValueError(
                f"{self.name}: masks shape {tuple(self.masks.shape)} differs from images "
                f"shape {tuple(self.images.shape)}"
            )
        if "split" not in self.table.columns:
            self.table = self.table.assign(split="")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def batch(self, start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Images and masks (or ``None``) of rows ``start:stop``."""
        masks = None if self.masks is None else self.masks[start:stop]
        return self.images[start:stop], masks

    def materialize(self) -> "SampleSet":
        """Itself: an eager set already holds its images (see :class:`~reconfair.data.lazy.LazySampleSet`)."""
        return self

    def subset(self, index: np.ndarray | list[int]) -> "SampleSet":
        """The samples at ``index`` (positions), as a new set."""
        idx = np.asarray(index, dtype=np.int64)
        t_idx = torch.from_numpy(idx.copy())
        return SampleSet(
            name=self.name,
            images=self.images[t_idx],
            table=self.table.iloc[idx].reset_index(drop=True),
            masks=None if self.masks is None else self.masks[t_idx],
            info=dict(self.info),
        )

    def split(self, name: str) -> "SampleSet":
        """The samples whose ``split`` column equals ``name``."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; expected one of {SPLITS}")
        return self.subset(np.flatnonzero(self.table["split"].to_numpy() == name))

    def __getitem__(self, i: int) -> Sample:
        row = self.table.iloc[i]
        if self.masks is not None:
            target: dict[str, float] | torch.Tensor = self.masks[i]
        else:
            target = {n: float(row[LABEL_PREFIX + n]) for n in self.label_names}
        attributes = {n: str(row[ATTR_PREFIX + n]) for n in self.attribute_names}
        return Sample(
            sample_id=str(row["sample_id"]),
            patient_id=str(row["patient_id"]),
            image=self.images[i],
            target=target,
            attributes=attributes,
        )
