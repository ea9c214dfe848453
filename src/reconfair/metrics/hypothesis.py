"""From paired bootstrap resamples to an interval and a test of one change.

Every change ``delta = metric(recon) - metric(original)`` gets, from the same
``B`` paired patient resamples:

- its SE (standard deviation of the resampled deltas) and percentile 95 % CI;
- a p-value from a test with its nominal size:

  * ``percentile`` for smooth statistics (AUROC, mean Dice, worst-group
    AUROC): with ``k`` of the ``n`` valid resampled deltas on the far side of 0
    (``k = min(#{D* <= 0}, #{D* >= 0})``), ``p = min(1, 2 (k + 1) / (n + 1))``
    (Davison & Hinkley 1997, eq. 4.11; North, Curtis & Sham 2002), never 0;
    its floor is ``2 / (n + 1)``;
  * ``wald-gaps`` for the max - min fairness metrics (EODD, EODD_max, EOP, DP,
    AUROC gap, Dice gap, SER), which are not differentiable where the group
    gaps are 0, so that a percentile bootstrap of their delta is far too
    conservative there (Andrews 2000).  The test is of the smooth quantity
    behind them: the change ``theta`` of the signed gaps of each group against
    the first usable group (TPR and FPR for EODD, TPR for EOP, selection rate
    for DP, group AUROC, mean Dice, ``log(1 - Dice)`` for SER), under
    ``H0: theta = 0`` (the reconstruction moves no group's rate relative to the
    others).  The statistic is ``T = theta' S^+ theta`` with ``S`` the
    bootstrap covariance of ``theta*`` (Moore-Penrose inverse over its
    numerical rank); its null distribution is that of the centred resamples
    ``T*_b = (theta*_b - theta)' S^+ (theta*_b - theta)`` (the bootstrap Wald
    test of Hall & Wilson 1991 and Davison & Hinkley 1997, section 4.4), and
    ``p = (1 + #{T*_b >= T}) / (n + 1)``; its floor is ``1 / (n + 1)``.
    ``H0`` implies that the metric does not change; a gap that reverses its
    sign without changing its size is also a change of ``theta``.

A delta whose point estimate is NaN has no SE, CI or p.  A CI or p needs the
delta (and the test's gaps) defined in at least ``min_valid_fraction`` of the
resamples; otherwise they are NaN and ``uncertainty_reason`` says
``"defined in k of B resamples"``.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> deltas = rng.normal(0.5, 0.1, 999)
>>> percentile_p(deltas), p_floor("percentile", 999)  # every resample above 0: p is at its floor
(0.002, 0.002)
>>> theta = np.array([0.0, 0.0])
>>> wald_gap_test(theta, rng.normal(0, 1, (999, 2)))  # no change at all: p = 1
1.0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["Gaps", "BootstrapResult", "RESULT_COLUMNS", "TESTS", "gap_changes", "gap_labels", "percentile_p",
           "wald_gap_test", "p_floor", "summarize_delta"]

TESTS = {"percentile": 2.0, "wald-gaps": 1.0}
"""The tests by name, with the numerator ``c`` of their floor ``c / (n + 1)``."""
RESULT_COLUMNS = ("estimate_original", "estimate", "delta", "se", "ci_low", "ci_high", "p_value", "n_boot_valid",
                  "n_boot", "test", "p_floor", "uncertainty_reason", "gap", "gap_change", "gap_ci_low",
                  "gap_ci_high")
_RANK_TOLERANCE = 1e-10


@dataclass(frozen=True)
class Gaps:
    """The change of the signed group gaps behind a max - min metric: what its Wald test tests.

    ``estimate`` is ``(d,)`` (from all data), ``replicates`` is ``(B, d)``
    (one row per resample; a row with a non-finite value is an invalid
    resample), ``labels`` names each component (``"tpr M - F"``: the change
    of TPR_M - TPR_F).
    """

    estimate: np.ndarray
    replicates: np.ndarray
    labels: tuple[str, ...] = ()


def gap_labels(rates: tuple[str, ...], groups: np.ndarray) -> tuple[str, ...]:
    """Names of the components of :func:`gap_changes`: ``"<rate> <group> - <reference>"``.

    >>> gap_labels(("tpr", "fpr"), np.array(["F", "M"]))
    ('tpr M - F', 'fpr M - F')
    """
    groups = [str(g) for g in groups]
    return tuple(f"{rate} {g} - {groups[0]}" for rate in rates for g in groups[1:])


@dataclass(frozen=True)
class BootstrapResult:
    """A paired bootstrap summary of ``metric(recon) - metric(original)``.

    Attributes
    ----------
    estimate_original, estimate : float
        The metric on all data, original and reconstructed condition.
    delta : float
        ``estimate - estimate_original``.
    se : float
        Standard deviation (ddof 1) of the valid resampled deltas.
    ci_low, ci_high : float
        Percentile 95 % interval of the valid resampled deltas.
    p_value : float
        The test's p-value (see the module docs); never 0.
    n_boot_valid : int
        Resamples where the delta (and the test's gaps) are defined.
    n_boot : int
        Resamples drawn (B).
    test : str
        ``"percentile"``, ``"wald-gaps"``, or ``""`` when there is no p.
    p_floor : float
        The smallest p this test can give with ``n_boot_valid`` resamples.
    uncertainty_reason : str
        Why SE, CI and p are NaN (``""`` when they are defined).
    gap : str
        The signed gap that moved most clearly (the component of the Wald
        test with the largest ``|change| / SE``), e.g. ``"tpr M - F"``; ``""``
        for a percentile test.
    gap_change, gap_ci_low, gap_ci_high : float
        Its change (reconstructed minus original) and percentile 95 % CI: a
        smooth statistic, unlike the max - min delta, so its interval has its
        nominal coverage; it says which way the groups moved when ``delta``
        hides it (a gap that reverses keeps its size).
    """

    estimate_original: float
    estimate: float
    delta: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    n_boot_valid: int
    n_boot: int
    test: str
    p_floor: float
    uncertainty_reason: str
    gap: str = ""
    gap_change: float = float("nan")
    gap_ci_low: float = float("nan")
    gap_ci_high: float = float("nan")


def gap_changes(original: list[np.ndarray], recon: list[np.ndarray], usable: np.ndarray) -> np.ndarray:
    """The change of the signed gaps ``(R'_g - R'_0) - (R_g - R_0)`` of each rate, usable groups only.

    ``original`` and ``recon`` hold one ``(b, k)`` array per rate (groups in
    columns); ``usable`` (``k``, bool) marks the groups of the point estimate;
    the first usable group is the reference.  Returns ``(b, r (u - 1))`` for
    ``r`` rates and ``u`` usable groups (no columns when ``u < 2``); NaN where
    a usable group's rate is undefined in a resample.

    >>> tpr = [np.array([[0.5, 0.7, 0.6]])]
    >>> gap_changes(tpr, [np.array([[0.5, 0.6, 0.6]])], np.array([True, True, False])).round(12).tolist()
    [[-0.1]]
    """
    index = np.flatnonzero(usable)
    rows = original[0].shape[0]
    if index.size < 2:
        return np.empty((rows, 0))
    parts = []
    for before, after in zip(original, recon):
        with np.errstate(invalid="ignore"):
            change = after[:, index] - before[:, index]
            parts.append(change[:, 1:] - change[:, :1])
    return np.concatenate(parts, axis=1)


def percentile_p(deltas: ArrayLike) -> float:
    """Two-sided ``min(1, 2 (k + 1) / (n + 1))`` with ``k = min(#{D* <= 0}, #{D* >= 0})``.

    >>> percentile_p([-0.1, 0.2, 0.3, 0.4])  # k = 1 of n = 4
    0.8
    """
    values = np.asarray(deltas, dtype=np.float64)
    n = values.size
    if n == 0:
        return float("nan")
    k = min(int(np.sum(values <= 0)), int(np.sum(values >= 0)))
    return min(1.0, 2.0 * (k + 1) / (n + 1))


def wald_gap_test(estimate: ArrayLike, replicates: ArrayLike) -> float:
    """Bootstrap Wald p-value of ``H0: theta = 0`` from ``theta`` and its resamples (see the module docs).

    ``replicates`` (``n x d``) must be finite.  A component that no resample
    varies but the estimate moves is a certain change: ``p`` is the floor.

    >>> wald_gap_test([0.5], [[0.4], [0.6], [0.5], [0.55]])  # T = 0.5^2 / var far beyond every T*
    0.2
    """
    theta = np.asarray(estimate, dtype=np.float64).reshape(-1)
    draws = np.asarray(replicates, dtype=np.float64).reshape(-1, theta.size)
    n = draws.shape[0]
    if n == 0 or theta.size == 0:
        return float("nan")
    if n < 2:
        return 1.0 if not np.any(theta) else 1.0 / (n + 1)
    covariance = np.atleast_2d(np.cov(draws, rowvar=False, ddof=1))
    eigenvalues, vectors = np.linalg.eigh(covariance)
    top = float(eigenvalues.max()) if eigenvalues.size else 0.0
    keep = eigenvalues > max(top, 0.0) * _RANK_TOLERANCE
    if top <= 0.0:
        keep[:] = False
    basis, scale = vectors[:, keep], eigenvalues[keep]
    projected = basis @ (basis.T @ theta)
    residual = theta - projected
    if np.linalg.norm(residual) > 1e-12 * (1.0 + np.linalg.norm(theta)):
        return 1.0 / (n + 1)  # moved where no resample moves
    statistic = float(np.sum((basis.T @ theta) ** 2 / scale)) if scale.size else 0.0
    centred = (draws - theta) @ basis
    null = np.sum(centred**2 / scale, axis=1) if scale.size else np.zeros(n)
    exceed = int(np.sum(null >= statistic * (1.0 - 1e-12)))
    return (1 + exceed) / (n + 1)


def p_floor(test: str, n_valid: int) -> float:
    """The smallest p-value ``test`` can give with ``n_valid`` resamples: ``c / (n_valid + 1)``.

    >>> p_floor("wald-gaps", 999), p_floor("percentile", 999)
    (0.001, 0.002)
    """
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r}; expected one of {tuple(TESTS)}")
    return min(1.0, TESTS[test] / (int(n_valid) + 1))


def summarize_delta(replicates_original: ArrayLike, replicates: ArrayLike, estimate_original: float,
                    estimate: float, *, gaps: Gaps | None = None, min_valid_fraction: float = 0.95
                    ) -> BootstrapResult:
    """Summarise paired resamples into a :class:`BootstrapResult` (percentile test, or Wald with ``gaps``).

    >>> r = summarize_delta([0.1, 0.2, 0.3, 0.2], [0.3, 0.3, 0.4, 0.3], 0.2, 0.3)
    >>> round(r.delta, 12), r.p_value, r.p_floor, r.n_boot_valid, r.test
    (0.1, 0.4, 0.4, 4, 'percentile')
    >>> summarize_delta([0.1, 0.2, 0.3, 0.2], [0.3, 0.3, 0.4, float("nan")], 0.2, 0.3).uncertainty_reason
    'defined in 3 of 4 resamples (95 % needed)'
    """
    original = np.asarray(replicates_original, dtype=np.float64)
    recon = np.asarray(replicates, dtype=np.float64)
    if original.shape != recon.shape or original.ndim != 1:
        raise ValueError(f"replicates must be 1-D of equal shape, got {original.shape} and {recon.shape}")
    n_boot = original.size
    delta = float(estimate) - float(estimate_original)
    nan = float("nan")
    test = "" if not np.isfinite(delta) else ("wald-gaps" if gaps is not None else "percentile")

    def undefined(reason: str, n_valid: int = 0) -> BootstrapResult:
        return BootstrapResult(float(estimate_original), float(estimate), delta, nan, nan, nan, nan, n_valid,
                               n_boot, "", nan, reason)

    if not np.isfinite(delta):
        return undefined("delta undefined")
    with np.errstate(invalid="ignore"):
        deltas = recon - original
    valid = ~np.isnan(deltas)  # undefined on either side, or inf - inf (e.g. SER)
    if gaps is not None:
        draws = np.asarray(gaps.replicates, dtype=np.float64)
        if draws.shape[0] != n_boot:
            raise ValueError(f"gaps has {draws.shape[0]} resamples but the deltas have {n_boot}")
        valid &= np.isfinite(draws).all(axis=1)
        if not np.isfinite(np.asarray(gaps.estimate, dtype=np.float64)).all():
            return undefined("signed group gaps undefined")
    n_valid = int(valid.sum())
    if n_valid < max(2, np.ceil(min_valid_fraction * n_boot - 1e-9)):
        return undefined(f"defined in {n_valid} of {n_boot} resamples ({100 * min_valid_fraction:g} % needed)",
                         n_valid)
    kept = deltas[valid]
    with np.errstate(invalid="ignore"):
        se = float(kept.std(ddof=1))
    low, high = np.quantile(kept, [0.025, 0.975])
    strongest: tuple[str, float, float, float] = ("", nan, nan, nan)
    if gaps is None:
        p_value = percentile_p(kept)
    else:
        draws = np.asarray(gaps.replicates, dtype=np.float64)[valid]
        p_value = wald_gap_test(gaps.estimate, draws)
        strongest = _strongest_gap(gaps, draws)
    return BootstrapResult(float(estimate_original), float(estimate), delta, se if np.isfinite(se) else nan,
                           float(low), float(high), float(p_value), n_valid, n_boot, test,
                           p_floor(test, n_valid), "", *strongest)


def _strongest_gap(gaps: Gaps, draws: np.ndarray) -> tuple[str, float, float, float]:
    """The component with the largest ``|change| / SE``: its label, change and percentile CI."""
    estimate = np.asarray(gaps.estimate, dtype=np.float64)
    if estimate.size == 0:
        return "", float("nan"), float("nan"), float("nan")
    spread = draws.std(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        evidence = np.where(spread > 0, np.abs(estimate) / spread, np.where(estimate != 0, np.inf, 0.0))
    j = int(np.argmax(evidence))
    low, high = np.quantile(draws[:, j], [0.025, 0.975])
    label = gaps.labels[j] if j < len(gaps.labels) else f"component {j}"
    return label, float(estimate[j]), float(low), float(high)
