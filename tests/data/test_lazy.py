"""Lazy sample sets render exactly the eager set's images, batch by batch."""

from __future__ import annotations

import platform

import numpy as np
import pytest
import torch

from reconfair.data.lazy import LazySampleSet
from reconfair.data.synthetic_brain import make_synthetic_brain
from reconfair.data.synthetic_chest import make_synthetic_chest
from reconfair.engine.memory import release_freed_memory


@pytest.mark.parametrize("make", [make_synthetic_chest, make_synthetic_brain])
def test_lazy_batches_equal_the_eager_images(make):
    eager = make(n_patients=40, image_size=32, seed=5)
    lazy = make(n_patients=40, image_size=32, seed=5, lazy=True)
    assert isinstance(lazy, LazySampleSet) and len(lazy) == len(eager)
    assert lazy.table.equals(eager.table) and lazy.label_names == eager.label_names
    index = np.array([7, 0, 3, 11, 2])
    part, lazy_part = eager.subset(index), lazy.subset(index)
    images, masks = lazy_part.batch(1, 4)
    assert torch.equal(images, part.images[1:4])
    assert (masks is None) == (eager.masks is None)
    if masks is not None:
        assert torch.equal(masks, part.masks[1:4])
    test = lazy.split("test").materialize()
    assert torch.equal(test.images, eager.split("test").images)
    assert test.table.equals(eager.split("test").table)


def test_unknown_split_and_mismatched_rows_are_refused():
    lazy = make_synthetic_chest(n_patients=5, image_size=16, lazy=True)
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        lazy.split("dev")
    with pytest.raises(ValueError, match="table has 10 rows but 3 images"):
        LazySampleSet("x", lazy.table.head(10), lazy.render, np.arange(3), 16)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_freed_memory_is_released_on_glibc():
    assert release_freed_memory() is True
