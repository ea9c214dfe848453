"""Linear model observers on ROIs: NPW, Hotelling and the channelized Hotelling observer (docs/observers.md).

Conventions of Barrett & Myers (*Foundations of Image Science*, 2004, ch. 13-14),
pure NumPy in float64.  An observer sees an ROI ``g`` (flattened, ``d``
pixels, centred at the signal's recorded centre, :func:`extract_rois`) and
computes the decision variable ``t = w^T g``; its template ``w`` is fitted on
training pairs (signal-present ``g1``, signal-absent ``g0``) and applied to
test pairs:

- NPW, the non-prewhitening matched filter: ``w = mean(g1) - mean(g0)`` (or
  the known signal ``s``);
- Hotelling: ``w = K^-1 (mean(g1) - mean(g0))``, ``K = (K1 + K0) / 2`` the
  mean of the two classes' sample covariances (ddof 1);
- CHO: channel outputs ``v = U^T g`` (``U`` the ``d x c`` channel matrix, e.g.
  :func:`laguerre_gauss_channels`), then Hotelling on ``v``:
  ``w_v = K_v^-1 (mean(v1) - mean(v0))``.  Internal noise (``internal_noise =
  alpha > 0``): every channel output, training and test, gets independent
  Gaussian noise of standard deviation ``alpha sigma_j``, ``sigma_j^2 =
  [K_v]_jj`` the channel's variance on the (noise-free) training images, so
  that for large samples ``d'^2 = dv^T (K_v + alpha^2 diag K_v)^-1 dv``.

Figures of merit of test decision variables ``t1`` (present) and ``t0``
(absent): :func:`d_prime` ``(mean t1 - mean t0) / sqrt((var t1 + var t0) / 2)``
(ddof 1) and :func:`auc`, the Mann-Whitney statistic (ties count 1/2).

Examples
--------
>>> rng = np.random.default_rng(0)
>>> s = np.zeros(9); s[4] = 1.0
>>> g0, g1 = rng.normal(size=(2000, 9)), rng.normal(size=(2000, 9)) + s
>>> result = run_observer("hotelling", g1[:1000], g0[:1000], g1[1000:], g0[1000:])
>>> round(result.d_prime, 1), round(result.auc, 2)  # ||s|| / sigma = 1
(1.0, 0.75)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import eval_laguerre

from reconfair.metrics.task import auroc
from reconfair.registry import Registry
from reconfair.seeding import numpy_generator

__all__ = [
    "LinearObserver",
    "ObserverResult",
    "OBSERVERS",
    "extract_rois",
    "laguerre_gauss_channels",
    "fit_npw",
    "fit_hotelling",
    "fit_cho",
    "fit_observer",
    "run_observer",
    "d_prime",
    "auc",
]


def extract_rois(images: ArrayLike, centers: ArrayLike, size: int) -> np.ndarray:
    """Square ROIs of odd side ``size`` centred at ``centers``, flattened (row-major), float64.

    Parameters
    ----------
    images
        ``B x 1 x H x W`` or ``B x H x W`` (NumPy, or a CPU torch tensor).
    centers
        ``B x 2`` integer centres ``(row, col)``: the recorded signal centres
        (``LesionPairs.centers``); signal-absent ROIs use the same centres.
    size
        Odd ROI side, e.g. ``2 extent + 1`` to hold the whole signal.

    Returns
    -------
    numpy.ndarray
        ``B x size^2`` float64.

    >>> extract_rois(np.arange(25.0).reshape(1, 5, 5), [[2, 2]], 3).tolist()
    [[6.0, 7.0, 8.0, 11.0, 12.0, 13.0, 16.0, 17.0, 18.0]]
    >>> extract_rois(np.zeros((1, 5, 5)), [[0, 2]], 3)
    Traceback (most recent call last):
    ...
    ValueError: extract_rois: the 3 x 3 ROI of image 0 at (0, 2) leaves the 5 x 5 image; centres must lie in rows 1..3 and columns 1..3
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1 or size % 2 == 0:
        raise ValueError(f"extract_rois: parameter 'size' must be an odd positive integer, got {size!r}; "
                         "use 2 * extent + 1")
    array = np.asarray(images, dtype=np.float64)
    if array.ndim == 4 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 3:
        raise ValueError(f"extract_rois: images must be B x 1 x H x W or B x H x W, got shape {array.shape}")
    where = np.asarray(centers)
    if where.shape != (array.shape[0], 2) or not np.issubdtype(where.dtype, np.integer):
        raise ValueError(f"extract_rois: centers must be {array.shape[0]} x 2 integers (row, col), "
                         f"got shape {where.shape} of {where.dtype}")
    half, (height, width) = size // 2, array.shape[1:]
    rows, cols = where[:, 0], where[:, 1]
    bad = (rows < half) | (rows >= height - half) | (cols < half) | (cols >= width - half)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"extract_rois: the {size} x {size} ROI of image {i} at ({rows[i]}, {cols[i]}) leaves the "
                         f"{height} x {width} image; centres must lie in rows {half}..{height - 1 - half} and "
                         f"columns {half}..{width - 1 - half}")
    offset = np.arange(-half, half + 1)
    r = (rows[:, None] + offset)[:, :, None]
    c = (cols[:, None] + offset)[:, None, :]
    return array[np.arange(array.shape[0])[:, None, None], r, c].reshape(array.shape[0], size * size)


def laguerre_gauss_channels(size: int, n_channels: int, width: float) -> np.ndarray:
    """Laguerre-Gauss channels on a ``size x size`` pixel grid, as the columns of a ``size^2 x n`` matrix.

    ``u_j(r) = (sqrt(2) / a) exp(-pi r^2 / a^2) L_j(2 pi r^2 / a^2)``, ``j = 0 ..
    n - 1``, ``L_j`` the Laguerre polynomial, ``a`` the width in pixels and
    ``r`` the distance from the grid's centre ``((size - 1) / 2, (size - 1) /
    2)``.  They are orthonormal in the plane (``integral u_i u_j = delta_ij``),
    so ``U^T U ≈ I`` on a grid large against ``a``.

    >>> U = laguerre_gauss_channels(101, 3, 10.0)
    >>> U.shape, bool(np.allclose(U.T @ U, np.eye(3), atol=1e-6))
    ((10201, 3), True)
    """
    for name, value in (("size", size), ("n_channels", n_channels)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"laguerre_gauss_channels: parameter {name!r} must be a positive integer, got {value!r}")
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not np.isfinite(width) or width <= 0:
        raise ValueError(f"laguerre_gauss_channels: parameter 'width' (a, pixels) must be > 0, got {width!r}")
    axis = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    r2 = (axis[:, None] ** 2 + axis[None, :] ** 2).reshape(-1)
    x = 2.0 * np.pi * r2 / width**2
    gauss = np.sqrt(2.0) / width * np.exp(-x / 2.0)
    return np.stack([gauss * eval_laguerre(j, x) for j in range(n_channels)], axis=1)


def _pair(present: ArrayLike, absent: ArrayLike, who: str) -> tuple[np.ndarray, np.ndarray]:
    g1, g0 = (np.asarray(a, dtype=np.float64) for a in (present, absent))
    if g1.ndim != 2 or g0.ndim != 2 or g1.shape[1] != g0.shape[1]:
        raise ValueError(f"{who}: present and absent must be n x d arrays of flattened ROIs with the same d, "
                         f"got shapes {g1.shape} and {g0.shape}; flatten ROIs with extract_rois")
    if min(g1.shape[0], g0.shape[0]) < 2:
        raise ValueError(f"{who}: needs at least 2 training images per class, got {g1.shape[0]} present and "
                         f"{g0.shape[0]} absent")
    if not (np.isfinite(g1).all() and np.isfinite(g0).all()):
        raise ValueError(f"{who}: the training ROIs hold non-finite values")
    return g1, g0


def _pooled(g1: np.ndarray, g0: np.ndarray) -> np.ndarray:
    """``(K1 + K0) / 2`` with sample covariances (ddof 1), ``d x d``."""
    return 0.5 * (np.atleast_2d(np.cov(g1, rowvar=False)) + np.atleast_2d(np.cov(g0, rowvar=False)))


def _solve(covariance: np.ndarray, vector: np.ndarray, ridge: float, who: str) -> np.ndarray:
    """``(K + ridge mean(diag K) I)^-1 vector``: Cholesky, else the pseudo-inverse with a warning."""
    d = covariance.shape[0]
    matrix = covariance + ridge * (np.trace(covariance) / d) * np.eye(d)
    try:
        np.linalg.cholesky(matrix)
        return np.linalg.solve(matrix, vector)
    except np.linalg.LinAlgError:
        warnings.warn(f"{who}: the covariance is singular to working precision; the template uses its "
                      "pseudo-inverse (pass ridge > 0, use fewer channels or a smaller roi)", RuntimeWarning,
                      stacklevel=3)
        return np.linalg.pinv(matrix, rcond=1e-12, hermitian=True) @ vector


def _require_generator(generator: np.random.Generator | None, who: str) -> np.random.Generator:
    if not isinstance(generator, np.random.Generator):
        raise ValueError(f"cho observer: {who} with internal noise needs parameter 'generator', a "
                         f"numpy.random.Generator, got {type(generator).__name__}; pass e.g. "
                         "reconfair.seeding.numpy_generator(seed, 'observer', condition)")
    return generator


@dataclass(frozen=True, eq=False)
class LinearObserver:
    """A fitted linear observer: ``t = w^T g`` (+ internal noise on the channel outputs for a noisy CHO).

    Attributes
    ----------
    name
        ``"npw"``, ``"hotelling"`` or ``"cho"``.
    template
        ``w`` in ROI pixel space, ``(d,)`` (for the CHO ``U w_v``).
    channels
        The CHO's ``d x c`` channel matrix ``U`` (``None`` otherwise).
    channel_template
        The CHO's ``w_v`` (``None`` otherwise).
    noise_std
        The CHO's internal-noise standard deviation per channel, ``alpha
        sigma_j`` (``None`` without internal noise).
    """

    name: str
    template: np.ndarray
    channels: np.ndarray | None = None
    channel_template: np.ndarray | None = None
    noise_std: np.ndarray | None = None

    def decision(self, rois: ArrayLike, *, generator: np.random.Generator | None = None) -> np.ndarray:
        """Decision variables ``t`` of ``n x d`` flattened ROIs, ``(n,)`` float64.

        With internal noise, ``t = w_v^T (U^T g + n)``, ``n_j ~ N(0, noise_std_j^2)`` drawn from
        ``generator`` in row order; it is then required (a fixed default would give the present and
        absent images of one test the same noise).
        """
        g = np.asarray(rois, dtype=np.float64)
        if g.ndim != 2 or g.shape[1] != self.template.size:
            raise ValueError(f"{self.name} observer: expects n x {self.template.size} flattened ROIs, got shape "
                             f"{g.shape}; extract them with the roi size it was fitted on")
        t = g @ self.template
        if self.noise_std is not None:
            rng = _require_generator(generator, "decision")
            t = t + (rng.standard_normal((g.shape[0], self.noise_std.size)) * self.noise_std) @ self.channel_template
        return t


def fit_npw(present: ArrayLike, absent: ArrayLike, *, signal: ArrayLike | None = None) -> LinearObserver:
    """The non-prewhitening matched filter: ``w = mean(present) - mean(absent)``, or ``w = signal`` when known.

    >>> fit_npw([[1.0, 2.0], [3.0, 2.0]], [[0.0, 1.0], [0.0, 1.0]]).template.tolist()
    [2.0, 1.0]
    """
    g1, g0 = _pair(present, absent, "npw observer")
    if signal is None:
        return LinearObserver("npw", g1.mean(axis=0) - g0.mean(axis=0))
    known = np.asarray(signal, dtype=np.float64).reshape(-1)
    if known.size != g1.shape[1]:
        raise ValueError(f"npw observer: parameter 'signal' has {known.size} values but the ROIs have "
                         f"{g1.shape[1]} pixels; pass the signal's ROI, flattened")
    return LinearObserver("npw", known)


def fit_hotelling(present: ArrayLike, absent: ArrayLike, *, ridge: float = 0.0) -> LinearObserver:
    """The Hotelling observer: ``w = K^-1 (mean(present) - mean(absent))``, ``K = (K1 + K0) / 2``.

    Parameters
    ----------
    present, absent
        ``n1 x d`` and ``n0 x d`` training ROIs.
    ridge
        ``lambda >= 0``: solve with ``K + lambda mean(diag K) I`` (default 0).
        Without a ridge ``K`` must be estimable: ``d <= n1 + n0 - 2``, else
        ``ValueError`` (use the CHO or a smaller roi).  A ``K`` singular to
        working precision falls back to its pseudo-inverse, with a warning.

    Notes
    -----
    A template fitted on ``n`` training images loses detectability on test
    images by a factor of about ``1 - d / n`` in ``d'^2`` (estimation error
    of ``K``): keep ``n`` at ten times ``d`` or more.

    >>> fit_hotelling(np.ones((5, 9)), np.zeros((5, 9)))
    Traceback (most recent call last):
    ...
    ValueError: hotelling observer: the ROI has d = 9 pixels but the covariance K = (K1 + K0) / 2 of 5 + 5 training images has rank <= 8; use the CHO (fit_cho), a smaller roi, more training images, or pass ridge > 0
    """
    g1, g0 = _pair(present, absent, "hotelling observer")
    if isinstance(ridge, bool) or not isinstance(ridge, (int, float)) or not ridge >= 0 or not np.isfinite(ridge):
        raise ValueError(f"hotelling observer: parameter 'ridge' must be a number >= 0, got {ridge!r}")
    d, rank = g1.shape[1], g1.shape[0] + g0.shape[0] - 2
    if ridge == 0 and d > rank:
        raise ValueError(f"hotelling observer: the ROI has d = {d} pixels but the covariance K = (K1 + K0) / 2 of "
                         f"{g1.shape[0]} + {g0.shape[0]} training images has rank <= {rank}; use the CHO (fit_cho), "
                         "a smaller roi, more training images, or pass ridge > 0")
    delta = g1.mean(axis=0) - g0.mean(axis=0)
    return LinearObserver("hotelling", _solve(_pooled(g1, g0), delta, float(ridge), "hotelling observer"))


def fit_cho(present: ArrayLike, absent: ArrayLike, *, channels: ArrayLike, internal_noise: float = 0.0,
            generator: np.random.Generator | None = None) -> LinearObserver:
    """The channelized Hotelling observer: Hotelling on ``v = U^T g`` (see the module docs).

    Parameters
    ----------
    present, absent
        ``n1 x d`` and ``n0 x d`` training ROIs.
    channels
        ``U``, ``d x c`` (e.g. ``laguerre_gauss_channels(roi, 6, width)``).
    internal_noise
        ``alpha >= 0`` (default 0): channel noise std ``alpha sigma_j``,
        ``sigma_j^2 = [K_v]_jj`` on the noise-free training outputs.
    generator
        Draws the training images' internal noise; required when
        ``internal_noise > 0``.  Pass it (or another) to
        :meth:`LinearObserver.decision` for the test images.

    >>> U = laguerre_gauss_channels(5, 2, 2.0)
    >>> fit_cho(np.ones((3, 25)), np.zeros((3, 25)), channels=U, internal_noise=-1)
    Traceback (most recent call last):
    ...
    ValueError: cho observer: parameter 'internal_noise' must be a number >= 0 (alpha, in channel standard deviations), got -1
    """
    g1, g0 = _pair(present, absent, "cho observer")
    u = np.asarray(channels, dtype=np.float64)
    if u.ndim != 2 or u.shape[0] != g1.shape[1]:
        raise ValueError(f"cho observer: parameter 'channels' must be d x c with d = {g1.shape[1]} (the ROI's "
                         f"pixels), got shape {u.shape}; build it with laguerre_gauss_channels(roi, n, width)")
    alpha = internal_noise
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not np.isfinite(alpha) or alpha < 0:
        raise ValueError("cho observer: parameter 'internal_noise' must be a number >= 0 (alpha, in channel "
                         f"standard deviations), got {alpha!r}")
    if u.shape[1] > g1.shape[0] + g0.shape[0] - 2:
        raise ValueError(f"cho observer: {u.shape[1]} channels need more than {g1.shape[0]} + {g0.shape[0]} "
                         "training images; use fewer channels or more images")
    v1, v0 = g1 @ u, g0 @ u
    noise_std = None
    if alpha > 0:
        noise_std = alpha * np.sqrt(np.diag(_pooled(v1, v0)))
        rng = _require_generator(generator, "fit_cho")
        v1 = v1 + rng.standard_normal(v1.shape) * noise_std
        v0 = v0 + rng.standard_normal(v0.shape) * noise_std
    w_v = _solve(_pooled(v1, v0), v1.mean(axis=0) - v0.mean(axis=0), 0.0, "cho observer")
    return LinearObserver("cho", u @ w_v, u, w_v, noise_std)


#: Observer name -> its fitting function (``fit(present, absent, **params)``).
OBSERVERS = Registry("observer")
OBSERVERS.register("npw")(fit_npw)
OBSERVERS.register("hotelling")(fit_hotelling)
OBSERVERS.register("cho")(fit_cho)


def fit_observer(name: str, present: ArrayLike, absent: ArrayLike, **params: Any) -> LinearObserver:
    """Fit the observer registered as ``name`` (``OBSERVERS.names()``); an unknown parameter is named.

    >>> fit_observer("npw", np.ones((2, 4)), np.zeros((2, 4)), ridge=1.0)
    Traceback (most recent call last):
    ...
    ValueError: observer 'npw' got unknown parameter 'ridge'; allowed parameters: present, absent, signal
    """
    return OBSERVERS.create(name, present=present, absent=absent, **params)


def d_prime(t_present: ArrayLike, t_absent: ArrayLike) -> float:
    """``(mean t1 - mean t0) / sqrt((var t1 + var t0) / 2)`` with ddof-1 variances; NaN when undefined.

    >>> d_prime([1.0, 3.0], [0.0, 2.0])
    0.7071067811865475
    """
    t1, t0 = (np.asarray(t, dtype=np.float64).reshape(-1) for t in (t_present, t_absent))
    if t1.size < 2 or t0.size < 2:
        return float("nan")
    pooled = 0.5 * (t1.var(ddof=1) + t0.var(ddof=1))
    return float((t1.mean() - t0.mean()) / np.sqrt(pooled)) if pooled > 0 else float("nan")


def auc(t_present: ArrayLike, t_absent: ArrayLike) -> float:
    """The Mann-Whitney AUC: ``P(t1 > t0) + P(t1 = t0) / 2`` over all present x absent pairs.

    >>> auc([1.0, 2.0], [1.0, 0.0])
    0.875
    """
    t1, t0 = (np.asarray(t, dtype=np.float64).reshape(-1) for t in (t_present, t_absent))
    labels = np.concatenate([np.ones(t1.size), np.zeros(t0.size)])
    return float(auroc(labels, np.concatenate([t1, t0])))


@dataclass(frozen=True, eq=False)
class ObserverResult:
    """An observer fitted on training pairs and its test decision variables, ``d'`` and AUC."""

    observer: LinearObserver
    t_present: np.ndarray
    t_absent: np.ndarray
    d_prime: float
    auc: float


def run_observer(name: str, train_present: ArrayLike, train_absent: ArrayLike, test_present: ArrayLike,
                 test_absent: ArrayLike, *, generator: np.random.Generator | None = None,
                 **params: Any) -> ObserverResult:
    """Fit observer ``name`` on the training pairs, apply it to the test pairs, and score it.

    ``generator`` draws the CHO's internal noise, training first then test
    (``None``: ``numpy_generator("reconfair.observers", name)``); ``params``
    go to the fitting function (``channels``, ``internal_noise``, ``ridge``,
    ``signal``).
    """
    rng = numpy_generator("reconfair.observers", name) if generator is None else generator
    if name == "cho":
        params = {**params, "generator": rng}
    fitted = fit_observer(name, train_present, train_absent, **params)
    t1 = fitted.decision(test_present, generator=rng)
    t0 = fitted.decision(test_absent, generator=rng)
    return ObserverResult(fitted, t1, t0, d_prime(t1, t0), auc(t1, t0))
