"""Batched, soft-edged rasterisation primitives for the synthetic phantoms.

Every primitive is evaluated on a coordinate grid shared by (or posed per)
the samples of a batch: coordinates are ``B x H x W`` tensors in a frame where
the image spans [-1, 1] on both axes, ``x`` to the right and ``y`` *down*
(image row order).  Shape parameters (centres, axes, angles ...) are Python
floats or 1-D tensors with one entry per sample (``B``-vectors); no primitive
loops over samples.  Edges are soft (a smooth ramp about ``edge`` wide, in
grid units), so the same phantom renders consistently at any image size.

Examples
--------
>>> x, y = posed_grid(8, shift_x=torch.zeros(2), shift_y=torch.zeros(2),
...                   angle=torch.zeros(2), scale=torch.ones(2))
>>> disc = soft_ellipse(x, y, cx=0.0, cy=0.0, ax=torch.tensor([0.5, 0.9]), ay=0.5, edge=0.05)
>>> disc.shape
torch.Size([2, 8, 8])
>>> bool(disc[1].sum() > disc[0].sum())
True
"""

from __future__ import annotations

import math

import torch

Param = float | torch.Tensor

__all__ = [
    "pixel",
    "base_grid",
    "posed_grid",
    "soft_step",
    "ellipse_distance",
    "soft_ellipse",
    "soft_ring",
    "soft_superellipse",
    "soft_blob",
    "radial_profile",
    "curved_bands",
    "posed_axes",
    "smooth_field",
]


def pixel(size: int) -> float:
    """The width of one pixel in grid units (the image spans 2 units).

    >>> pixel(64)
    0.03125
    """
    return 2.0 / size


def _per_sample(value: Param) -> Param:
    """A B-vector as ``B x 1 x 1`` so it broadcasts over the pixel grid."""
    if isinstance(value, torch.Tensor) and value.ndim == 1:
        return value[:, None, None]
    return value


def base_grid(size: int, *, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre coordinates ``(x, y)``, each ``H x W`` (``H = W = size``).

    >>> x, y = base_grid(4)
    >>> x[0].tolist(), y[:, 0].tolist()
    ([-0.75, -0.25, 0.25, 0.75], [-0.75, -0.25, 0.25, 0.75])
    """
    if size < 1:
        raise ValueError(f"size must be a positive number of pixels, got {size}")
    centres = (torch.arange(size, dtype=dtype) + 0.5) * (2.0 / size) - 1.0
    y, x = torch.meshgrid(centres, centres, indexing="ij")
    return x, y


def posed_grid(
    size: int,
    *,
    shift_x: torch.Tensor,
    shift_y: torch.Tensor,
    angle: torch.Tensor,
    scale: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample anatomy-frame coordinates ``(x, y)``, each ``B x H x W``.

    A sample whose anatomy is shifted by ``(shift_x, shift_y)``, rotated by
    ``angle`` (radians, clockwise on screen) and magnified by ``scale`` is
    rendered by evaluating the unposed shapes at these coordinates.

    >>> x, y = posed_grid(4, shift_x=torch.tensor([0.0, 0.25]), shift_y=torch.zeros(2),
    ...                   angle=torch.zeros(2), scale=torch.ones(2))
    >>> x[1, 0].tolist()
    [-1.0, -0.5, 0.0, 0.5]
    """
    gx, gy = base_grid(size, dtype=shift_x.dtype)
    dx = gx - _per_sample(shift_x)
    dy = gy - _per_sample(shift_y)
    cos, sin = _per_sample(torch.cos(angle)), _per_sample(torch.sin(angle))
    inv = 1.0 / _per_sample(scale)
    return (cos * dx + sin * dy) * inv, (cos * dy - sin * dx) * inv


def soft_step(distance: torch.Tensor, edge: Param, *, inplace: bool = False) -> torch.Tensor:
    """1 inside (``distance < 0``), 0 outside, with a smooth ramp across the boundary.

    The ramp is a cubic smoothstep over ``|distance| < 2 * edge`` (10-90 %
    rise over about ``1.2 * edge``); it is exactly 0 or 1 beyond, which keeps
    masks free of the denormal floats a logistic tail produces (those make
    CPU arithmetic many times slower).  ``inplace=True`` overwrites
    ``distance`` (saves an allocation in hot loops).

    >>> soft_step(torch.tensor([-1.0, 0.0, 1.0]), 0.01).tolist()
    [1.0, 0.5, 0.0]
    """
    t = distance if inplace else distance.clone()
    t = t.mul_(-0.25 / _per_sample(edge)).add_(0.5).clamp_(0.0, 1.0)
    out = t.mul(-2.0).add_(3.0)
    return out.mul_(t).mul_(t)


def _local(x: torch.Tensor, y: torch.Tensor, cx: Param, cy: Param, angle: Param | None):
    u = x - _per_sample(cx)
    v = y - _per_sample(cy)
    if angle is None:
        return u, v
    if not isinstance(angle, torch.Tensor):
        angle = torch.tensor(float(angle), dtype=x.dtype)
    cos, sin = _per_sample(torch.cos(angle)), _per_sample(torch.sin(angle))
    ur = (u * cos).addcmul_(v, sin)
    vr = v.mul_(cos).addcmul_(u, sin, value=-1.0)
    return ur, vr


def ellipse_distance(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    cx: Param,
    cy: Param,
    ax: Param,
    ay: Param,
    angle: Param | None = None,
) -> torch.Tensor:
    """Approximate signed distance to an ellipse boundary (negative inside).

    First order: ``(q - 1) / |grad q|`` with ``q = (u/ax)^2 + (v/ay)^2`` in
    the ellipse frame; exact on the boundary, monotone in ``q``.  Adding a
    smooth field to it perturbs the boundary (irregular shapes).

    >>> x, y = base_grid(4)
    >>> d = ellipse_distance(x[None], y[None], cx=0.0, cy=0.0, ax=0.5, ay=0.5)
    >>> round(float(d[0, 1, 1]), 4)  # radius 0.3536: inside (true distance -0.1464)
    -0.1768
    """
    u, v = _local(x, y, cx, cy, angle)
    iax2, iay2 = 1.0 / _per_sample(ax) ** 2, 1.0 / _per_sample(ay) ** 2
    a = u.mul_(u).mul_(iax2)
    b = v.mul_(v).mul_(iay2)
    q = a + b
    grad = a.mul_(iax2).add_(b.mul_(iay2)).add_(1e-12).sqrt_().mul_(2.0)
    return q.sub_(1.0).div_(grad)


def soft_ellipse(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    cx: Param,
    cy: Param,
    ax: Param,
    ay: Param,
    edge: Param,
    angle: Param | None = None,
) -> torch.Tensor:
    """Soft indicator of an ellipse with semi-axes ``ax``, ``ay`` rotated by ``angle``.

    Uses :func:`ellipse_distance`, so the edge is about ``edge`` wide all
    around, whatever the aspect ratio.

    >>> x, y = base_grid(5)
    >>> m = soft_ellipse(x[None], y[None], cx=0.0, cy=0.0, ax=0.5, ay=0.5, edge=1e-3)
    >>> int((m > 0.5).sum())
    5
    """
    return soft_step(ellipse_distance(x, y, cx=cx, cy=cy, ax=ax, ay=ay, angle=angle), edge, inplace=True)


def soft_ring(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    cx: Param,
    cy: Param,
    ax: Param,
    ay: Param,
    thickness: Param,
    edge: Param,
    angle: Param | None = None,
) -> torch.Tensor:
    """Soft elliptical ring: the ellipse ``(ax, ay)`` minus the one inset by ``thickness``.

    >>> x, y = base_grid(64)
    >>> ring = soft_ring(x[None], y[None], cx=0.0, cy=0.0, ax=0.8, ay=0.6, thickness=0.1, edge=0.01)
    >>> round(float(ring.sum()) * pixel(64) ** 2, 2)  # pi (0.8 * 0.6 - 0.7 * 0.5)
    0.41
    """
    t = _per_sample(thickness)
    outer = soft_ellipse(x, y, cx=cx, cy=cy, ax=ax, ay=ay, edge=edge, angle=angle)
    inner = soft_ellipse(x, y, cx=cx, cy=cy, ax=_per_sample(ax) - t, ay=_per_sample(ay) - t, edge=edge, angle=angle)
    return outer.sub_(inner).clamp_(min=0.0)


def _int_power(t: torch.Tensor, power: int) -> torch.Tensor:
    """``t ** power`` by repeated squaring (cheaper than ``pow``); new tensor."""
    result: torch.Tensor | None = None
    base = t
    while power:
        if power & 1:
            result = base.clone() if result is None else result.mul_(base)
        power >>= 1
        if power:
            base = base * base
    assert result is not None
    return result


def soft_superellipse(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    cx: Param,
    cy: Param,
    ax: Param,
    ay: Param,
    power: int,
    edge: Param,
    angle: Param | None = None,
) -> torch.Tensor:
    """Soft superellipse ``|u/ax|^p + |v/ay|^p <= 1`` (integer ``p > 2``: squarer corners).

    The edge uses the first-order distance ``(S - 1) / p * min(ax, ay)`` with
    ``S`` the left-hand side; it is exact on the axes of a circle.

    >>> x, y = base_grid(16)
    >>> square = soft_superellipse(x[None], y[None], cx=0.0, cy=0.0, ax=0.5, ay=0.5, power=8, edge=0.01)
    >>> round_ = soft_ellipse(x[None], y[None], cx=0.0, cy=0.0, ax=0.5, ay=0.5, edge=0.01)
    >>> bool(square.sum() > round_.sum())
    True
    """
    if isinstance(power, bool) or not isinstance(power, int) or power < 2:
        raise ValueError(f"power must be an integer >= 2, got {power!r}")
    u, v = _local(x, y, cx, cy, angle)
    u = u.div_(_per_sample(ax)).abs_()
    v = v.div_(_per_sample(ay)).abs_()
    total = _int_power(u, power).add_(_int_power(v, power))
    if isinstance(ax, torch.Tensor) or isinstance(ay, torch.Tensor):
        scale: Param = torch.minimum(torch.as_tensor(ax), torch.as_tensor(ay))
    else:
        scale = min(ax, ay)
    return soft_step(total.sub_(1.0).mul_(_per_sample(scale) / power), edge, inplace=True)


def radial_profile(theta: torch.Tensor, harmonics: torch.Tensor) -> torch.Tensor:
    """``1 + sum_k a_k cos(k theta) + b_k sin(k theta)`` for ``k = 1..K``.

    ``harmonics`` is ``B x K x 2`` (``a_k, b_k``); the sum is a smooth random
    perturbation of a radius when the coefficients are random.

    >>> theta = torch.zeros(1, 1, 1)
    >>> round(float(radial_profile(theta, torch.tensor([[[0.1, 0.5], [0.2, 0.0]]]))[0, 0, 0]), 6)
    1.3
    """
    out = torch.ones_like(theta)
    for k in range(harmonics.shape[1]):
        out = out + _per_sample(harmonics[:, k, 0]) * torch.cos((k + 1) * theta)
        out = out + _per_sample(harmonics[:, k, 1]) * torch.sin((k + 1) * theta)
    return out


def soft_blob(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    cx: Param,
    cy: Param,
    radius: Param,
    harmonics: torch.Tensor,
    edge: Param,
    aspect: Param = 1.0,
) -> torch.Tensor:
    """Soft irregular blob: a circle whose radius varies with angle.

    The boundary is ``radius * radial_profile(theta, harmonics)``; ``aspect``
    stretches it vertically (``y`` semi-axis = ``aspect * radius``).

    >>> x, y = base_grid(32)
    >>> smooth = soft_blob(x[None], y[None], cx=0.0, cy=0.0, radius=0.5,
    ...                    harmonics=torch.zeros(1, 3, 2), edge=0.01)
    >>> disc = soft_ellipse(x[None], y[None], cx=0.0, cy=0.0, ax=0.5, ay=0.5, edge=0.01)
    >>> bool(((smooth > 0.5) == (disc > 0.5)).all())
    True
    """
    u = x - _per_sample(cx)
    v = (y - _per_sample(cy)) / _per_sample(aspect)
    rho = torch.sqrt(u * u + v * v)
    boundary = _per_sample(radius) * radial_profile(torch.atan2(v, u), harmonics)
    return soft_step(rho - boundary, edge, inplace=True)


def curved_bands(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    y0: Param,
    curvature: Param,
    spacing: Param,
    width: float,
) -> torch.Tensor:
    """Periodic curved bands (ribs): ``y - curvature * x^2`` cut into stripes.

    Each stripe is a smooth bump (peak 1) covering about ``width`` (a
    fraction in (0, 1)) of one period ``spacing``.

    >>> x, y = base_grid(32)
    >>> bands = curved_bands(x[None], y[None], y0=0.0, curvature=0.0, spacing=0.5, width=0.4)
    >>> float(bands.max()) <= 1.0 and float(bands.min()) >= 0.0
    True
    """
    if not 0.0 < width < 1.0:
        raise ValueError(f"width must be a fraction in (0, 1), got {width}")
    phase = (y - _per_sample(y0) - _per_sample(curvature) * x * x) * (2.0 * math.pi / _per_sample(spacing))
    threshold = math.cos(math.pi * width)
    return ((torch.cos(phase) - threshold) * (1.0 / (1.0 - threshold))).clamp_(min=0.0)


def posed_axes(
    size: int, *, shift_x: torch.Tensor, shift_y: torch.Tensor, scale: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample column and row coordinates (``B x W``, ``B x H``), rotation ignored.

    The separable counterpart of :func:`posed_grid`, for :func:`smooth_field`.

    >>> xs, ys = posed_axes(4, shift_x=torch.tensor([0.25]), shift_y=torch.zeros(1), scale=torch.ones(1))
    >>> xs.tolist()
    [[-1.0, -0.5, 0.0, 0.5]]
    """
    centres = (torch.arange(size, dtype=shift_x.dtype) + 0.5) * (2.0 / size) - 1.0
    inv = 1.0 / scale[:, None]
    return (centres - shift_x[:, None]) * inv, (centres - shift_y[:, None]) * inv


def _bspline_weights(coords: torch.Tensor, n: int) -> torch.Tensor:
    """``B x N x n`` cubic B-spline weights of a lattice of ``n`` knots on [-1, 1]."""
    knots = torch.arange(n, dtype=coords.dtype)
    d = ((coords.clamp(-1.0, 1.0) + 1.0) * (0.5 * (n - 1)))[..., None] - knots
    d = d.abs_()
    inner = (d * d).mul_(d.mul(3.0).sub_(6.0)).add_(4.0)
    outer = (2.0 - d).clamp_(min=0.0).pow_(3)
    w = torch.where(d < 1.0, inner, outer)
    return w / w.sum(-1, keepdim=True)


def smooth_field(coarse: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    """Smooth random field: a cubic B-spline through ``B x h x w`` lattice values.

    The lattice spans [-1, 1] on both axes; the field is evaluated on the
    separable grid of column coordinates ``xs`` (``B x W``) and row
    coordinates ``ys`` (``B x H``) as ``Wy @ coarse @ Wx^T`` (two batched
    matrix products, far cheaper than 2-D interpolation).  Feature size is
    about ``2 / (h - 1)`` grid units; the B-spline smooths, so a field of
    independent standard normal lattice values has a standard deviation of
    about 0.6 between knots.  Coordinates outside [-1, 1] take border values.

    >>> xs, ys = posed_axes(16, shift_x=torch.zeros(2), shift_y=torch.zeros(2), scale=torch.ones(2))
    >>> f = smooth_field(torch.ones(2, 4, 5), xs, ys)
    >>> f.shape, bool(torch.allclose(f, torch.ones(2, 16, 16), atol=1e-5))
    (torch.Size([2, 16, 16]), True)
    """
    wy = _bspline_weights(ys, coarse.shape[1])
    wx = _bspline_weights(xs, coarse.shape[2])
    return torch.matmul(torch.matmul(wy, coarse), wx.transpose(1, 2))
