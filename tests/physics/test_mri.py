"""MRI undersampling: FFT conventions vs NumPy, mask fractions, zero-filled magnitude."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reconfair.physics import MRIUndersampling, fft2c, ifft2c
from reconfair.physics.mri import MASK_KINDS
from reconfair.seeding import sample_generators, torch_generator


def random_image(shape: tuple[int, ...] = (2, 1, 32, 32), seed: int = 0) -> torch.Tensor:
    return torch.rand(shape, generator=torch_generator(seed, "mri-image"))


def test_fft2c_matches_numpy_centred_orthonormal_fft() -> None:
    x = random_image((1, 1, 16, 12)).double()
    expected = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(x.numpy(), axes=(-2, -1)), norm="ortho"), axes=(-2, -1))
    np.testing.assert_allclose(fft2c(x).numpy(), expected, rtol=1e-10, atol=1e-12)


def test_fft2c_puts_dc_at_the_centre() -> None:
    k = fft2c(torch.full((1, 1, 8, 10), 2.0, dtype=torch.float64))
    assert k[0, 0, 4, 5].real.item() == pytest.approx(2.0 * np.sqrt(80))
    k[0, 0, 4, 5] = 0
    assert k.abs().max().item() < 1e-12


def test_parseval_and_inverse() -> None:
    g = torch_generator(0, "complex")
    z = torch.complex(torch.randn(3, 1, 16, 16, generator=g), torch.randn(3, 1, 16, 16, generator=g))
    z = z.to(torch.complex128)
    k = fft2c(z)
    assert torch.allclose(k.abs().pow(2).sum(dim=(-2, -1)), z.abs().pow(2).sum(dim=(-2, -1)), rtol=1e-12)
    assert torch.allclose(ifft2c(k), z, atol=1e-12)
    assert torch.allclose(fft2c(ifft2c(z)), z, atol=1e-12)


@pytest.mark.parametrize("kind", MASK_KINDS)
@pytest.mark.parametrize("acceleration", [4, 8, 16])
def test_sampled_fraction_is_one_over_acceleration(kind: str, acceleration: int) -> None:
    op = MRIUndersampling(level=acceleration, mask=kind)
    masks = op.draw_masks(16, (128, 128), torch_generator(0, "mask", kind))
    assert masks.shape == (16, 1, 128, 128)
    assert set(masks.unique().tolist()) <= {0.0, 1.0}
    assert masks.mean().item() == pytest.approx(1.0 / acceleration, rel=0.10)
    facts = op.describe(shape=(128, 128))
    assert facts["nominal_acceleration"] == acceleration
    assert facts["true_acceleration"] == pytest.approx(acceleration, rel=0.10)
    assert facts["true_acceleration"] == pytest.approx(1.0 / op.sampling_probability((128, 128)).mean().item())


@pytest.mark.parametrize("kind", ["random", "equispaced"])
@pytest.mark.parametrize(("acceleration", "center_fraction"), [(4, 0.08), (8, 0.04), (16, 0.02)])
def test_cartesian_centre_is_fully_sampled(kind: str, acceleration: int, center_fraction: float) -> None:
    op = MRIUndersampling(level=acceleration, mask=kind)
    assert op.resolved_center_fraction == pytest.approx(center_fraction)
    width = 200
    masks = op.draw_masks(8, (64, width), torch_generator(0, "centre"))
    n_centre = round(width * center_fraction)
    start = (width - n_centre + 1) // 2
    assert start <= width // 2 < start + n_centre  # the DC column is inside
    assert masks[..., start : start + n_centre].min().item() == 1.0
    assert torch.equal(masks, masks[:, :, :1, :].expand_as(masks))  # whole columns


def test_masks_differ_between_samples_and_follow_their_generator() -> None:
    op = MRIUndersampling(level=8, mask="random")
    gens = sample_generators(0, "m", ["a", "b", "c"])
    masks = op.draw_masks(3, (32, 64), gens)
    assert not torch.equal(masks[0], masks[1])
    alone = op.draw_masks(1, (32, 64), sample_generators(0, "m", ["c"]))
    assert torch.equal(masks[2:], alone)


def test_radial_and_variable_density_shapes() -> None:
    radial = MRIUndersampling(level=8, mask="radial").draw_masks(1, (64, 64), torch_generator(0, "r"))[0, 0]
    assert radial[32, 32].item() == 1.0  # every spoke crosses the centre
    vd = MRIUndersampling(level=8, mask="variable-density").sampling_probability((64, 64))
    yy, xx = torch.meshgrid(torch.arange(64) - 32, torch.arange(64) - 32, indexing="ij")
    radius = torch.hypot(yy.float(), xx.float())
    assert vd[radius <= 2].min().item() == 1.0  # fully sampled centre
    assert vd[(radius > 8) & (radius < 12)].mean() > vd[(radius > 24) & (radius < 28)].mean()


@pytest.mark.parametrize("kind", MASK_KINDS)
def test_full_sampling_reproduces_the_image(kind: str) -> None:
    x = random_image()
    for random_phase in (False, True):
        y = MRIUndersampling(level=1, mask=kind, random_phase=random_phase).degrade(x, generator=torch_generator(0))
        assert (y - x).abs().max().item() < 1e-6


def test_zero_filled_uses_the_complex_magnitude() -> None:
    x = random_image()
    op = MRIUndersampling(level=1, random_phase=True)
    k = op.measure(x, generator=torch_generator(0, "phase"))
    real_part = ifft2c(k).real.abs()
    assert (real_part - x).abs().max().item() > 0.1  # the phase moves energy out of the real part
    assert (op.to_image(k) - x).abs().max().item() < 1e-6
    undersampled = MRIUndersampling(level=4, random_phase=True)
    k4 = undersampled.measure(x, generator=torch_generator(0, "phase"))
    assert torch.allclose(undersampled.to_image(k4), ifft2c(k4).abs().clamp(0, 1))


def test_measurement_is_masked_kspace() -> None:
    x = random_image()
    op = MRIUndersampling(level=4)
    y = op.measure(x, generator=torch_generator(0, "k"))
    masks = op.draw_masks(2, (32, 32), torch_generator(0, "k"))
    assert y.dtype == torch.complex64
    assert torch.allclose(y, fft2c(x.to(torch.complex64)) * masks, atol=1e-6)


def test_kspace_noise_has_the_requested_std() -> None:
    x = torch.zeros(4, 1, 64, 64)
    y = MRIUndersampling(level=1, noise_std=0.05).measure(x, generator=torch_generator(0, "noise"))
    assert y.real.std().item() == pytest.approx(0.05, rel=0.05)
    assert y.imag.std().item() == pytest.approx(0.05, rel=0.05)


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"level": 0.5}, "level"),
        ({"level": 4, "mask": "spiral"}, "mask"),
        ({"level": 4, "center_fraction": 0.3}, "center_fraction"),
        ({"level": 4, "center_fraction": -0.1}, "center_fraction"),
        ({"level": 4, "noise_std": -1.0}, "noise_std"),
        ({"level": 4, "random_phase": "yes"}, "random_phase"),
    ],
)
def test_bad_parameters_name_the_parameter(params: dict, parameter: str) -> None:
    with pytest.raises(ValueError, match=f"'{parameter}'"):
        MRIUndersampling(**params)


def test_to_image_rejects_real_input() -> None:
    with pytest.raises(ValueError, match="complex k-space"):
        MRIUndersampling(level=4).to_image(torch.zeros(1, 1, 8, 8))
