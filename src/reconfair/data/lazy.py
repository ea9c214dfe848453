"""A sample set whose images are rendered (or loaded) only when a batch is asked for.

Inference streams through a :class:`LazySampleSet` batch by batch, so its
memory does not grow with the data set; training calls :meth:`materialize`
on its split.  A batch is rendered in one batched call, but each row's
image depends only on that row's own parameters, so any batch (or chunk,
subset or order) gives bit for bit the images of rendering the rows one by
one, and a lazy set's batches equal the eager set's images exactly
(``tests/data/test_generate.py``).

Examples
--------
>>> import numpy as np, pandas as pd, torch
>>> table = pd.DataFrame({"sample_id": ["a", "b", "c"], "patient_id": ["p", "p", "q"],
...                       "split": ["train", "test", "test"], "label_x": [1.0, 0.0, 1.0]})
>>> render = lambda rows: (torch.tensor(rows, dtype=torch.float32).view(-1, 1, 1, 1), None)
>>> lazy = LazySampleSet(name="toy", table=table, render=render, rows=np.arange(3), image_size=1)
>>> test = lazy.split("test")
>>> len(test), test.batch(0, 2)[0].flatten().tolist(), test.label_names
(2, [1.0, 2.0], ('x',))
>>> test.materialize().images.flatten().tolist()
[1.0, 2.0]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from reconfair.data.sample import SPLITS, SampleSet, TableFacts

__all__ = ["LazySampleSet", "Renderer"]

#: ``render(rows)`` -> (images ``len(rows) x 1 x H x W``, masks of the same shape or ``None``).
Renderer = Callable[[np.ndarray], tuple[torch.Tensor, torch.Tensor | None]]
_MATERIALIZE_PIXELS = 2**18  # pixels rendered per chunk (64 images at 64 x 64): bounds memory, stays in cache


@dataclass
class LazySampleSet(TableFacts):
    """A table plus a renderer; ``rows[i]`` is the generator's row of table row ``i``."""

    name: str
    table: pd.DataFrame
    render: Renderer
    rows: np.ndarray
    image_size: int
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.table) != len(self.rows):
            raise ValueError(f"{self.name}: table has {len(self.table)} rows but {len(self.rows)} images")

    def __len__(self) -> int:
        return len(self.rows)

    def subset(self, index: np.ndarray | list[int]) -> "LazySampleSet":
        """The samples at ``index`` (positions); nothing is rendered."""
        idx = np.asarray(index, dtype=np.int64)
        return LazySampleSet(self.name, self.table.iloc[idx].reset_index(drop=True), self.render, self.rows[idx],
                             self.image_size, dict(self.info))

    def split(self, name: str) -> "LazySampleSet":
        """The samples whose ``split`` column equals ``name``."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; expected one of {SPLITS}")
        return self.subset(np.flatnonzero(self.table["split"].to_numpy() == name))

    def batch(self, start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Render table rows ``start:stop``: images and masks (or ``None``)."""
        return self.render(self.rows[start:stop])

    def materialize(self) -> SampleSet:
        """Render every sample (in chunks) into an eager :class:`SampleSet`."""
        step = max(1, _MATERIALIZE_PIXELS // (self.image_size * self.image_size))
        parts = [self.batch(start, start + step) for start in range(0, len(self), step)]
        size = (0, 1, self.image_size, self.image_size)
        images = torch.cat([p[0] for p in parts]) if parts else torch.empty(size)
        has_masks = parts[0][1] is not None if parts else False
        masks = torch.cat([p[1] for p in parts]) if has_masks else None
        return SampleSet(name=self.name, images=images, table=self.table.copy(), masks=masks, info=dict(self.info))
