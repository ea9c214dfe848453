"""Rasterisation primitives: geometry against closed forms, batching, smoothness."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from reconfair.data import shapes


def _identity_grid(size: int, batch: int = 1):
    zeros = torch.zeros(batch)
    return shapes.posed_grid(size, shift_x=zeros, shift_y=zeros, angle=zeros, scale=torch.ones(batch))


def test_base_grid_pixel_centres_span_the_image():
    x, y = shapes.base_grid(8)
    assert x.shape == y.shape == (8, 8)
    np.testing.assert_allclose(x[0].numpy(), (np.arange(8) + 0.5) / 4 - 1)
    np.testing.assert_allclose(y[:, 0].numpy(), (np.arange(8) + 0.5) / 4 - 1)
    assert shapes.pixel(8) == 0.25


def test_posed_grid_inverts_the_pose():
    # a point of the anatomy frame at (0.3, -0.2), posed, lands where the forward transform says
    x, y = shapes.posed_grid(256, shift_x=torch.tensor([0.1]), shift_y=torch.tensor([-0.05]),
                             angle=torch.tensor([0.4]), scale=torch.tensor([1.2]))
    ax_, ay_ = 0.3, -0.2
    c, s = math.cos(0.4), math.sin(0.4)
    sx, sy = 1.2 * (c * ax_ - s * ay_) + 0.1, 1.2 * (s * ax_ + c * ay_) - 0.05  # forward pose
    j, i = int((sx + 1) * 128), int((sy + 1) * 128)
    assert abs(float(x[0, i, j]) - ax_) < 0.02 and abs(float(y[0, i, j]) - ay_) < 0.02


def test_soft_step_is_a_monotone_clamped_ramp():
    d = torch.linspace(-1, 1, 201)
    out = shapes.soft_step(d, 0.1)
    assert torch.all(out[1:] <= out[:-1])
    assert float(shapes.soft_step(torch.tensor([0.0]), 0.1)) == 0.5
    assert torch.all(out[d <= -0.2] == 1.0) and torch.all(out[d >= 0.2] == 0.0)
    assert torch.equal(d, torch.linspace(-1, 1, 201)), "soft_step must not modify its input"


@pytest.mark.parametrize("ax, ay, angle", [(0.5, 0.3, 0.0), (0.2, 0.6, 0.7), (0.35, 0.35, 1.0)])
def test_soft_ellipse_area_matches_pi_a_b(ax, ay, angle):
    x, y = _identity_grid(256)
    m = shapes.soft_ellipse(x, y, cx=0.1, cy=-0.1, ax=ax, ay=ay, angle=angle, edge=shapes.pixel(256))
    area = float(m.sum()) * shapes.pixel(256) ** 2
    assert area == pytest.approx(math.pi * ax * ay, rel=0.01)
    assert float(m.min()) >= 0.0 and float(m.max()) <= 1.0


def test_ellipse_distance_sign_and_boundary():
    x = torch.tensor([[[0.0, 0.5, 0.9]]])
    y = torch.zeros_like(x)
    d = shapes.ellipse_distance(x, y, cx=0.0, cy=0.0, ax=0.5, ay=0.2)
    assert float(d[0, 0, 0]) < 0 and abs(float(d[0, 0, 1])) < 1e-6 and float(d[0, 0, 2]) > 0
    assert float(d[0, 0, 2]) == pytest.approx(0.4 * (0.9 + 0.5) / (2 * 0.9), rel=1e-5)  # (q-1)/|grad q|


def test_ellipse_is_rendered_per_sample_from_b_vectors():
    x, y = _identity_grid(32, batch=3)
    ax = torch.tensor([0.2, 0.4, 0.6])
    batch = shapes.soft_ellipse(x, y, cx=0.0, cy=0.0, ax=ax, ay=0.3, edge=0.05)
    for i in range(3):
        alone = shapes.soft_ellipse(x[i:i + 1], y[i:i + 1], cx=0.0, cy=0.0, ax=ax[i:i + 1], ay=0.3, edge=0.05)
        torch.testing.assert_close(batch[i:i + 1], alone)
    areas = batch.sum((1, 2))
    assert torch.all(areas[1:] > areas[:-1])


def test_superellipse_area_between_ellipse_and_rectangle():
    x, y = _identity_grid(256)
    edge = shapes.pixel(256)
    areas = [float(shapes.soft_superellipse(x, y, cx=0.0, cy=0.0, ax=0.5, ay=0.4, power=p, edge=edge).sum())
             * edge**2 for p in (2, 3, 4, 8)]
    assert areas[0] == pytest.approx(math.pi * 0.2, rel=0.01)
    assert all(a < b for a, b in zip(areas, areas[1:]))
    assert areas[-1] < 4 * 0.5 * 0.4
    # closed form of the superellipse area: 4ab Gamma(1+1/p)^2 / Gamma(1+2/p)
    p = 4
    exact = 4 * 0.5 * 0.4 * math.gamma(1 + 1 / p) ** 2 / math.gamma(1 + 2 / p)
    assert areas[2] == pytest.approx(exact, rel=0.01)
    with pytest.raises(ValueError, match="power"):
        shapes.soft_superellipse(x, y, cx=0.0, cy=0.0, ax=0.5, ay=0.4, power=2.5, edge=edge)


def test_radial_profile_matches_numpy():
    theta = torch.linspace(-math.pi, math.pi, 50).reshape(1, 5, 10)
    coeffs = torch.tensor([[[0.1, -0.2], [0.05, 0.3], [0.0, 0.1]]])
    t = theta.numpy()
    expected = 1 + sum(coeffs[0, k, 0].item() * np.cos((k + 1) * t) + coeffs[0, k, 1].item() * np.sin((k + 1) * t)
                       for k in range(3))
    np.testing.assert_allclose(shapes.radial_profile(theta, coeffs).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_soft_blob_area_follows_the_radial_profile():
    # area of r(theta) = R (1 + a cos 2 theta): pi R^2 (1 + a^2 / 2)
    x, y = _identity_grid(256)
    harmonics = torch.tensor([[[0.0, 0.0], [0.3, 0.0]]])
    blob = shapes.soft_blob(x, y, cx=0.0, cy=0.0, radius=0.4, harmonics=harmonics, edge=shapes.pixel(256))
    area = float(blob.sum()) * shapes.pixel(256) ** 2
    assert area == pytest.approx(math.pi * 0.16 * (1 + 0.09 / 2), rel=0.01)


def test_curved_bands_period_and_range():
    x, y = _identity_grid(128)
    bands = shapes.curved_bands(x, y, y0=0.0, curvature=0.0, spacing=0.25, width=0.4)
    column = bands[0, :, 64].numpy()
    assert column.min() == 0.0 and column.max() == pytest.approx(1.0, abs=0.05)
    # period: 0.25 units = 16 pixels
    np.testing.assert_allclose(column[:-16], column[16:], atol=1e-4)
    # duty cycle: about `width` of each period is non-zero
    assert (column > 0).mean() == pytest.approx(0.4, abs=0.05)
    with pytest.raises(ValueError, match="width"):
        shapes.curved_bands(x, y, y0=0.0, curvature=0.0, spacing=0.25, width=1.5)


def test_smooth_field_is_a_separable_cubic_b_spline():
    coarse = torch.randn(2, 5, 7, generator=torch.Generator().manual_seed(0))
    xs, ys = shapes.posed_axes(64, shift_x=torch.zeros(2), shift_y=torch.zeros(2), scale=torch.ones(2))
    field = shapes.smooth_field(coarse, xs, ys)
    assert field.shape == (2, 64, 64)
    # at an interior knot the cubic B-spline is (c[j-1] + 4 c[j] + c[j+1]) / 6 along each axis
    knot_x = torch.tensor([[0.0]])  # middle of 7 knots on [-1, 1]: knot 3
    knot_y = torch.tensor([[0.0]])  # middle of 5 knots: knot 2
    value = shapes.smooth_field(coarse[:1], knot_x, knot_y)[0, 0, 0]
    w = torch.tensor([1.0, 4.0, 1.0]) / 6
    expected = w @ coarse[0, 1:4, 2:5] @ w
    assert float(value) == pytest.approx(float(expected), abs=1e-5)
    # smooth: neighbouring pixels differ far less than the lattice values
    assert float((field[:, :, 1:] - field[:, :, :-1]).abs().max()) < 0.5 * float(coarse.std())


def test_soft_ring_area_and_per_sample_thickness():
    x, y = _identity_grid(256, batch=2)
    thickness = torch.tensor([0.05, 0.15])
    ring = shapes.soft_ring(x, y, cx=0.0, cy=0.0, ax=0.8, ay=0.6, thickness=thickness, edge=shapes.pixel(256))
    areas = ring.sum((1, 2)) * shapes.pixel(256) ** 2
    for area, t in zip(areas.tolist(), thickness.tolist()):
        assert area == pytest.approx(math.pi * (0.8 * 0.6 - (0.8 - t) * (0.6 - t)), rel=0.02)
    assert float(ring.min()) >= 0.0 and float(ring.max()) <= 1.0


def test_soft_step_inplace_overwrites_and_matches():
    d = torch.linspace(-0.3, 0.3, 13)
    expected = shapes.soft_step(d, 0.05)
    out = shapes.soft_step(d, 0.05, inplace=True)
    torch.testing.assert_close(out, expected)
    assert not torch.equal(d, torch.linspace(-0.3, 0.3, 13))
