"""Model observers against closed forms: matched filter and Hotelling SNR, LG orthonormality, CHO, AUC, physics."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from reconfair.metrics.observers import (
    auc,
    d_prime,
    extract_rois,
    fit_cho,
    fit_hotelling,
    fit_npw,
    fit_observer,
    laguerre_gauss_channels,
    run_observer,
)
from reconfair.physics.lesions import GaussianSignal, make_pairs
from reconfair.physics.mri import MRIUndersampling
from reconfair.physics.radiograph import RadiographLowDose
from reconfair.seeding import numpy_generator, sample_generators, torch_generator

TOLERANCE = 0.03
N_PAIRS = 10_000  # per split (training and test)


def gaussian_roi(size: int, sigma: float) -> np.ndarray:
    """The signal ``exp(-r^2 / (2 sigma^2))`` on a ``size x size`` grid by hand, flattened."""
    axis = np.arange(size) - size // 2
    return np.exp(-(axis[:, None] ** 2 + axis[None, :] ** 2) / (2 * sigma**2)).reshape(-1)


def grid_covariance(size: int, length: float, nugget: float) -> np.ndarray:
    """Gaussian-kernel covariance ``exp(-|r_i - r_j|^2 / (2 l^2)) + nugget delta_ij`` of a ``size x size`` ROI."""
    rows, cols = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    points = np.stack([rows.ravel(), cols.ravel()], axis=1)
    squared = ((points[:, None] - points[None]) ** 2).sum(-1)
    return np.exp(-squared / (2 * length**2)) + nugget * np.eye(size * size)


def test_npw_and_hotelling_reach_the_matched_filter_snr_in_white_noise() -> None:
    signal = gaussian_roi(9, 1.5)
    # the package's rendering is the same profile (it is what make_pairs inserts)
    np.testing.assert_allclose(GaussianSignal(amplitude=1.0, sigma=1.5).patch().numpy()[2:11, 2:11].reshape(-1),
                               signal, rtol=1e-6)
    expected = 2.5
    sigma = np.linalg.norm(signal) / expected  # d' = ||s|| / sigma
    rng = numpy_generator(0, "white")
    g1 = rng.normal(0.0, sigma, (2 * N_PAIRS, 81)) + 0.4 + signal
    g0 = rng.normal(0.0, sigma, (2 * N_PAIRS, 81)) + 0.4
    npw = run_observer("npw", g1[:N_PAIRS], g0[:N_PAIRS], g1[N_PAIRS:], g0[N_PAIRS:])
    known = run_observer("npw", g1[:N_PAIRS], g0[:N_PAIRS], g1[N_PAIRS:], g0[N_PAIRS:], signal=signal)
    hotelling = run_observer("hotelling", g1[:N_PAIRS], g0[:N_PAIRS], g1[N_PAIRS:], g0[N_PAIRS:])
    for result in (npw, known, hotelling):
        assert result.d_prime == pytest.approx(expected, rel=TOLERANCE)
    # white noise: the Hotelling template is the matched filter up to a scale
    cosine = hotelling.observer.template @ signal / np.linalg.norm(hotelling.observer.template) / np.linalg.norm(signal)
    assert cosine > 0.95


def test_hotelling_reaches_its_closed_form_in_correlated_noise() -> None:
    signal = gaussian_roi(7, 1.5)
    covariance = grid_covariance(7, 1.5, 0.2)
    covariance *= signal @ np.linalg.solve(covariance, signal) / 2.5**2  # scaled so that d' = 2.5
    expected = math.sqrt(signal @ np.linalg.solve(covariance, signal))
    root = np.linalg.cholesky(covariance)
    rng = numpy_generator(0, "correlated")
    g1 = rng.standard_normal((2 * N_PAIRS, 49)) @ root.T + signal
    g0 = rng.standard_normal((2 * N_PAIRS, 49)) @ root.T
    hotelling = run_observer("hotelling", g1[:N_PAIRS], g0[:N_PAIRS], g1[N_PAIRS:], g0[N_PAIRS:])
    npw = run_observer("npw", g1[:N_PAIRS], g0[:N_PAIRS], g1[N_PAIRS:], g0[N_PAIRS:], signal=signal)
    npw_expected = (signal @ signal) / math.sqrt(signal @ covariance @ signal)  # NPW closed form
    assert expected == pytest.approx(2.5)
    assert hotelling.d_prime == pytest.approx(expected, rel=TOLERANCE)
    assert npw.d_prime == pytest.approx(npw_expected, rel=TOLERANCE)
    assert npw_expected < 0.9 * expected  # correlated noise: prewhitening matters


def test_laguerre_gauss_channels_are_orthonormal_on_a_large_grid_and_follow_the_formula() -> None:
    u = laguerre_gauss_channels(201, 6, 15.0)
    assert u.shape == (201 * 201, 6)
    assert np.abs(u.T @ u - np.eye(6)).max() < 1e-3
    centre = 100 * 201 + 100  # r = 0: L_j(0) = 1
    np.testing.assert_allclose(u[centre], math.sqrt(2) / 15.0, rtol=1e-12)
    x = 2 * math.pi * 10.0**2 / 15.0**2  # pixel (100, 110): r = 10; L_1(x) = 1 - x, L_2 = 1 - 2x + x^2 / 2
    gauss = math.sqrt(2) / 15.0 * math.exp(-x / 2)
    assert u[centre + 10, 1] == pytest.approx(gauss * (1 - x), rel=1e-10)
    assert u[centre + 10, 2] == pytest.approx(gauss * (1 - 2 * x + x**2 / 2), rel=1e-10)


def test_auc_is_phi_of_d_prime_over_root_two_for_gaussian_decision_variables() -> None:
    rng = numpy_generator(0, "auc")
    for separation in (0.5, 1.0, 2.0):
        t1, t0 = rng.normal(separation, 1.0, 20_000), rng.normal(0.0, 1.0, 20_000)
        assert d_prime(t1, t0) == pytest.approx(separation, rel=TOLERANCE)
        assert auc(t1, t0) == pytest.approx(norm.cdf(separation / math.sqrt(2)), abs=0.01)
        labels = np.r_[np.ones(t1.size), np.zeros(t0.size)]
        assert auc(t1, t0) == pytest.approx(roc_auc_score(labels, np.r_[t1, t0]), abs=1e-12)
    ties = [1.0, 1.0, 2.0], [1.0, 0.0]  # by hand: (1/2 + 1/2 + 1 + 1 + 1 + 1) / 6
    assert auc(*ties) == pytest.approx(5 / 6)
    assert d_prime([1.0, 3.0], [0.0, 2.0]) == pytest.approx(1 / math.sqrt(2))  # means 2, 1; variances 2, 2


def test_cho_reaches_its_closed_form_and_internal_noise_lowers_it() -> None:
    roi, amplitude = 17, 1.0
    signal = amplitude * gaussian_roi(roi, 2.0)
    covariance = grid_covariance(roi, 2.0, 0.5)
    channels = laguerre_gauss_channels(roi, 5, 4.0)
    dv, kv = channels.T @ signal, channels.T @ covariance @ channels  # by hand from U, s, K
    scale = math.sqrt(dv @ np.linalg.solve(kv, dv)) / 2.5
    covariance, kv = covariance * scale**2, kv * scale**2
    expected = math.sqrt(dv @ np.linalg.solve(kv, dv))
    alpha = 0.5
    expected_noisy = math.sqrt(dv @ np.linalg.solve(kv + alpha**2 * np.diag(np.diag(kv)), dv))
    root = np.linalg.cholesky(covariance)
    rng = numpy_generator(0, "cho")
    n = 5_000
    g1 = rng.standard_normal((2 * n, roi * roi)) @ root.T + signal
    g0 = rng.standard_normal((2 * n, roi * roi)) @ root.T
    clean = run_observer("cho", g1[:n], g0[:n], g1[n:], g0[n:], channels=channels)
    noisy = run_observer("cho", g1[:n], g0[:n], g1[n:], g0[n:], channels=channels, internal_noise=alpha,
                         generator=numpy_generator(0, "internal"))
    assert clean.d_prime == pytest.approx(expected, rel=TOLERANCE)
    assert noisy.d_prime == pytest.approx(expected_noisy, rel=TOLERANCE)
    assert noisy.d_prime < 0.9 * clean.d_prime
    np.testing.assert_allclose(noisy.observer.noise_std, alpha * np.sqrt(np.diag(kv)), rtol=0.05)
    # the pixel-space template of the noise-free CHO gives the same decision variables as U^T g
    np.testing.assert_allclose(clean.t_present, (g1[n:] @ channels) @ clean.observer.channel_template, rtol=1e-9)


def test_hotelling_refuses_an_roi_larger_than_the_training_set_and_names_the_fix() -> None:
    rng = numpy_generator(0, "small")
    g1, g0 = rng.normal(size=(40, 81)), rng.normal(size=(40, 81))
    with pytest.raises(ValueError, match=r"d = 81 pixels.*rank <= 78.*CHO \(fit_cho\), a smaller roi"):
        fit_hotelling(g1, g0)
    assert np.isfinite(fit_hotelling(g1, g0, ridge=0.1).template).all()  # a ridge makes it estimable


@pytest.mark.parametrize(("call", "field"), [
    (lambda: fit_hotelling(np.ones((5, 2)), np.zeros((5, 2)), ridge=-1.0), "'ridge'"),
    (lambda: fit_cho(np.ones((5, 4)), np.zeros((5, 4)), channels=np.ones((9, 2))), "'channels'"),
    (lambda: fit_npw(np.ones((5, 4)), np.zeros((5, 4)), signal=np.ones(3)), "'signal'"),
    (lambda: fit_observer("ideal", np.ones((5, 4)), np.zeros((5, 4))), "'ideal'"),
    (lambda: laguerre_gauss_channels(9, 0, 3.0), "'n_channels'"),
    (lambda: laguerre_gauss_channels(9, 2, -3.0), "'width'"),
    (lambda: extract_rois(np.zeros((1, 9, 9)), [[4, 4]], 4), "'size'"),
    (lambda: fit_cho(np.eye(6)[:5] + 1, np.eye(6)[1:], channels=np.eye(6)[:, :2], internal_noise=0.5), "'generator'"),
])
def test_bad_parameters_name_the_field(call, field) -> None:
    with pytest.raises(ValueError, match=field):
        call()


def test_extract_rois_by_hand() -> None:
    images = np.arange(2 * 6 * 7, dtype=np.float64).reshape(2, 1, 6, 7)
    rois = extract_rois(images, np.array([[1, 1], [3, 4]]), 3)
    np.testing.assert_array_equal(rois[0], images[0, 0, 0:3, 0:3].ravel())
    np.testing.assert_array_equal(rois[1], images[1, 0, 2:5, 3:6].ravel())
    assert np.array_equal(extract_rois(torch.from_numpy(images), np.array([[1, 1], [3, 4]]), 3), rois)


# physics: the real operators, lesions in their domain, the degraded image as the identity reconstruction


def smooth_backgrounds(n: int, size: int, seed: int, base: float, lumps: float) -> torch.Tensor:
    """Random smooth backgrounds: ``base + lumps * bicubic(4 x 4 normal grid)``, inside (0.05, 0.95)."""
    coarse = torch.randn(n, 1, 4, 4, generator=torch_generator(seed, "backgrounds"))
    return (base + lumps * F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=True)).clamp(
        0.05, 0.95)


def cho_d_prime(operator, pairs, ids: list[str], n_train: int, channels: np.ndarray, roi: int) -> float:
    """Degrade present and absent images with their own per-sample generators, then train/test a CHO."""
    present = operator.degrade(pairs.present, generator=sample_generators(0, "present", ids))
    absent = operator.degrade(pairs.absent, generator=sample_generators(0, "absent", ids))
    centers = pairs.centers.numpy()
    g1, g0 = extract_rois(present, centers, roi), extract_rois(absent, centers, roi)
    return run_observer("cho", g1[:n_train], g0[:n_train], g1[n_train:], g0[n_train:], channels=channels).d_prime


def test_cho_d_prime_rises_with_radiograph_dose() -> None:
    n = 300
    ids = [f"s{i}" for i in range(2 * n)]
    signal = GaussianSignal(amplitude=0.1, sigma=2.0)  # in the line integral p = mu x
    pairs = make_pairs(smooth_backgrounds(2 * n, 32, 0, 0.3, 0.05), ids, signal=signal, domain="line-integral",
                       mu=4.0)
    roi = 2 * signal.extent + 1
    channels = laguerre_gauss_channels(roi, 5, 5.0)
    values = [cho_d_prime(RadiographLowDose(level=n0, mu=4.0), pairs, ids, n, channels, roi)
              for n0 in (1e2, 1e3, 1e4, 1e5)]
    assert all(later > 1.2 * earlier for earlier, later in zip(values, values[1:])), values
    # quantum-limited: d' grows about as sqrt(N0) (10x the dose, ~3.2x d') while the noise dominates
    assert values[1] / values[0] == pytest.approx(math.sqrt(10), rel=0.35)


def test_cho_d_prime_falls_with_mri_acceleration() -> None:
    n = 300
    ids = [f"s{i}" for i in range(2 * n)]
    signal = GaussianSignal(amplitude=0.15, sigma=2.0)  # in the magnitude image
    pairs = make_pairs(smooth_backgrounds(2 * n, 64, 1, 0.4, 0.1), ids, signal=signal, domain="image")
    roi = 2 * signal.extent + 1
    channels = laguerre_gauss_channels(roi, 5, 5.0)
    values = [cho_d_prime(MRIUndersampling(level=r), pairs, ids, n, channels, roi) for r in (2, 4, 8, 16)]
    assert all(later < 0.85 * earlier for earlier, later in zip(values, values[1:])), values


def test_the_examples_of_docs_observers_run() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "observers.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"docs/observers.md block {number}", "exec"), {})
