"""Low-dose CT: Radon and FBP against scikit-image, counts against the Poisson model."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.data import shepp_logan_phantom
from skimage.transform import iradon, radon as sk_radon, resize

from reconfair.physics import CTLowDose, fbp, radon
from reconfair.physics.ct import detector_count, hann_ramp_filter, projection_angles
from reconfair.seeding import torch_generator

N = 64


@pytest.fixture(scope="module")
def phantom() -> np.ndarray:
    return resize(shepp_logan_phantom(), (N, N), anti_aliasing=True).astype(np.float64)


def smooth_phantom(size: int = N) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float32) - size / 2 + 0.5
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    blob = 0.6 * torch.exp(-(yy**2 + xx**2) / (2 * (size / 5) ** 2))
    blob += 0.3 * torch.exp(-((yy - size / 8) ** 2 + (xx + size / 10) ** 2) / (2 * (size / 12) ** 2))
    return blob[None, None]


def inside_circle(size: int = N) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size] - size // 2
    return yy**2 + xx**2 < (size // 2 - 1) ** 2


def relative_l2(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.mark.parametrize("n_angles", [256, 90])
def test_radon_matches_scikit_image(phantom: np.ndarray, n_angles: int) -> None:
    theta = projection_angles(n_angles).numpy()
    expected = sk_radon(phantom, theta, circle=False)  # detector x angles
    mine = radon(torch.from_numpy(phantom).float()[None, None], n_angles)[0, 0].double().numpy().T
    assert mine.shape == expected.shape == (detector_count(N), n_angles)
    assert relative_l2(mine, expected) < 1e-4  # achieved ~6e-7 (float32 vs float64)


def test_fbp_matches_scikit_image_iradon_hann(phantom: np.ndarray) -> None:
    theta = projection_angles(256).numpy()
    sinogram = sk_radon(phantom, theta, circle=False)
    expected = iradon(sinogram, theta, filter_name="hann", circle=False, output_size=N)
    mine = fbp(torch.from_numpy(sinogram.T.copy()).float()[None, None], N)[0, 0].double().numpy()
    inside = inside_circle()
    assert relative_l2(mine[inside], expected[inside]) < 0.01  # achieved ~0.3%
    assert relative_l2(mine, expected) < 0.02


def test_hann_filter_matches_its_definition() -> None:
    from skimage.transform.radon_transform import _get_fourier_filter  # the reference implementation

    filt = hann_ramp_filter(128).numpy()
    np.testing.assert_allclose(filt, _get_fourier_filter(128, "hann")[:, 0], rtol=1e-10, atol=1e-12)
    assert filt[64] == pytest.approx(0.0, abs=1e-12)  # the Hann window vanishes at Nyquist
    assert filt[4] == pytest.approx(2 * 4 / 128, rel=0.05)  # a ramp |f| at low frequencies


def test_fbp_of_noiseless_sinogram_reproduces_the_image() -> None:
    x = smooth_phantom()
    rec = fbp(radon(x, 256))[0, 0].double().numpy()
    target = x[0, 0].double().numpy()
    inside = inside_circle()
    psnr_inside = 10 * math.log10(1.0 / np.mean((rec - target)[inside] ** 2))
    psnr_square = 10 * math.log10(1.0 / np.mean((rec - target) ** 2))
    assert psnr_inside > 40  # achieved ~55 dB on this smooth phantom
    assert psnr_square > 40  # the detector covers the whole square


def test_fbp_of_shepp_logan_is_accurate_inside_the_circle(phantom: np.ndarray) -> None:
    rec = fbp(radon(torch.from_numpy(phantom).float()[None, None], 256))[0, 0].double().numpy()
    inside = inside_circle()
    psnr = 10 * math.log10(1.0 / np.mean((rec - phantom)[inside] ** 2))
    assert psnr > 20  # sharp edges blurred by the Hann window: ~22 dB at 64 x 64


def test_mean_counts_follow_bowtie_and_beer_lambert(phantom: np.ndarray) -> None:
    n0, mu, k, angles = 1e3, 4.0, 1.5, 32
    op = CTLowDose(level=n0, n_angles=angles, mu=mu, bowtie_strength=k)
    x = torch.from_numpy(phantom).float()[None, None].expand(64, 1, N, N)
    counts = op.measure(x, generator=torch_generator(0, "ct-counts")).double()
    p = mu * sk_radon(phantom, projection_angles(angles).numpy(), circle=False).T / N
    u = np.linspace(-1, 1, p.shape[1])
    rate = n0 * np.exp(-k * u**2)[None, :] * np.exp(-p)
    mean = counts.mean(dim=(0, 1)).numpy()
    z = (mean - rate) / np.sqrt(rate / 64)  # Poisson standard error of a mean of 64 draws
    assert np.abs(z).max() < 6
    assert abs(z.mean()) < 0.1
    assert op.bowtie(5)[0].item() == pytest.approx(math.exp(-k))


def test_full_width_unit_object_attenuates_by_mu() -> None:
    op = CTLowDose(level=1e4, n_angles=8, mu=3.0)
    p = op.line_integrals(torch.ones(1, 1, N, N))
    assert p[0, 0, 0].max().item() == pytest.approx(3.0, rel=0.02)  # ray across the full width at 0 degrees


def test_image_error_falls_with_dose() -> None:
    x = smooth_phantom()
    clean = torch.clamp(fbp(radon(x, 128)), 0, 1)
    errors = []
    for n0 in (1e2, 1e3, 1e4, 1e5):
        y = CTLowDose(level=n0, n_angles=128).degrade(x, generator=torch_generator(0, "dose"))
        errors.append((y - clean).pow(2).mean().sqrt().item())
    assert all(a > b for a, b in zip(errors, errors[1:])), errors
    assert errors[0] / errors[2] == pytest.approx(10.0, rel=0.3)  # noise std ~ 1/sqrt(N0)
    huge = CTLowDose(level=1e12, n_angles=128).degrade(x, generator=torch_generator(0, "dose"))
    assert (huge - clean).abs().max().item() < 1e-3


def test_bowtie_zero_is_flat() -> None:
    assert torch.equal(CTLowDose(level=1e4, bowtie_strength=0.0).bowtie(7), torch.ones(7))


def test_describe_reports_dose_and_geometry() -> None:
    facts = CTLowDose(level=1e4, n_angles=180, bowtie_strength=2.0).describe()
    assert facts["N0"] == 1e4 and facts["n_angles"] == 180 and facts["bowtie_strength"] == 2.0
    assert facts["bowtie_edge_flux"] == pytest.approx(math.exp(-2.0))


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"level": 0.0}, "level"),
        ({"level": 1e4, "n_angles": 0}, "n_angles"),
        ({"level": 1e4, "n_angles": 10.5}, "n_angles"),
        ({"level": 1e4, "mu": -1.0}, "mu"),
        ({"level": 1e4, "bowtie_strength": -1.0}, "bowtie_strength"),
    ],
)
def test_bad_parameters_name_the_parameter(params: dict, parameter: str) -> None:
    with pytest.raises(ValueError, match=f"'{parameter}'"):
        CTLowDose(**params)


def test_rejects_non_square_images() -> None:
    with pytest.raises(ValueError, match="square"):
        CTLowDose(level=1e4, n_angles=4).degrade(torch.zeros(1, 1, 8, 10))
