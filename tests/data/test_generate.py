"""Batched rendering of the synthetic sets is bit for bit the per-row rendering (reconfair.data.generate)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reconfair.data import lazy as lazy_module
from reconfair.data.synthetic_brain import make_synthetic_brain
from reconfair.data.synthetic_chest import make_synthetic_chest

MAKERS = [make_synthetic_chest, make_synthetic_brain]


def _cat(parts):
    images = torch.cat([p[0] for p in parts])
    masks = None if parts[0][1] is None else torch.cat([p[1] for p in parts])
    return images, masks


def _assert_same(a, b):
    assert a[0].dtype == b[0].dtype == torch.float32
    assert torch.equal(a[0], b[0])
    assert (a[1] is None) == (b[1] is None)
    if a[1] is not None:
        assert torch.equal(a[1], b[1])


@pytest.mark.parametrize("make", MAKERS)
@pytest.mark.parametrize("size", [17, 32, 64])
def test_one_batch_equals_rows_rendered_one_by_one(make, size):
    samples = make(n_patients=9, image_size=size, seed=3, lazy=True)
    n = len(samples)
    whole = samples.batch(0, n)
    _assert_same(whole, _cat([samples.batch(i, i + 1) for i in range(n)]))
    # uneven batch boundaries, including an empty batch
    cuts = [0, 3, 3, 4, n - 1, n]
    _assert_same(whole, _cat([samples.batch(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]))
    assert bool(whole[0].std() > 0)  # not a blank image set


@pytest.mark.parametrize("make", MAKERS)
def test_a_reordered_subset_renders_the_same_rows(make):
    samples = make(n_patients=10, image_size=32, seed=1, lazy=True)
    images, masks = samples.batch(0, len(samples))
    order = np.random.default_rng(0).permutation(len(samples))[:7]
    sub = samples.subset(order)
    sub_images, sub_masks = sub.batch(0, len(sub))
    assert torch.equal(sub_images, images[order])
    if masks is not None:
        assert torch.equal(sub_masks, masks[order])
    assert sub.table["sample_id"].tolist() == samples.table["sample_id"].iloc[order].tolist()


@pytest.mark.parametrize("make", MAKERS)
def test_materialize_chunks_do_not_change_the_images(make, monkeypatch):
    samples = make(n_patients=8, image_size=256, seed=2, lazy=True, images_per_patient=(1, 1))
    default = samples.materialize()
    monkeypatch.setattr(lazy_module, "_MATERIALIZE_PIXELS", 3 * 256 * 256)  # chunks of 3 rows: 3 + 3 + 2
    chunked = samples.materialize()
    rows = _cat([samples.batch(i, i + 1) for i in range(len(samples))])
    _assert_same((default.images, default.masks), rows)
    _assert_same((chunked.images, chunked.masks), rows)


@pytest.mark.parametrize("make", MAKERS)
def test_a_row_does_not_depend_on_the_data_set_size(make):
    small = make(n_patients=3, image_size=32, seed=4, images_per_patient=(1, 1))
    large = make(n_patients=30, image_size=32, seed=4, images_per_patient=(1, 1))
    assert torch.equal(small.images, large.images[:3])


def test_rendering_restores_the_callers_thread_count():
    before = torch.get_num_threads()
    make_synthetic_chest(n_patients=2, image_size=16)
    assert torch.get_num_threads() == before
