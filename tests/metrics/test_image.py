"""PSNR / SSIM / NRMSE against scikit-image on the same inputs (DESIGN section 6)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.metrics import normalized_root_mse, peak_signal_noise_ratio, structural_similarity

from reconfair.metrics import nrmse, psnr, ssim

SIZES = [(16, 16), (64, 64), (65, 47), (11, 11)]


def _structured(height: int, width: int) -> np.ndarray:
    """A smooth gradient with a bright disc and a dark bar (values in [0, 1])."""
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    image = 0.3 + 0.4 * xx
    image[(yy - 0.5) ** 2 + (xx - 0.4) ** 2 < 0.05] = 0.9
    image[height // 4 : height // 4 + 2, :] = 0.05
    return np.clip(image, 0, 1)


def _pairs(height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(height * 1000 + width)
    refs = np.stack([rng.random((height, width)), _structured(height, width), _structured(height, width)])
    noise = rng.normal(0.0, [[[0.05]], [[0.1]], [[0.02]]], size=refs.shape)
    xs = np.clip(refs + noise, 0, 1)
    return torch.from_numpy(xs)[:, None], torch.from_numpy(refs)[:, None]


@pytest.mark.parametrize("size", SIZES)
def test_matches_scikit_image(size: tuple[int, int]) -> None:
    x, ref = _pairs(*size)
    ours = {"psnr": psnr(x, ref), "ssim": ssim(x, ref), "nrmse": nrmse(x, ref)}
    for i in range(x.shape[0]):
        a, b = ref[i, 0].numpy(), x[i, 0].numpy()
        expected = {
            "psnr": peak_signal_noise_ratio(a, b, data_range=1),
            "ssim": structural_similarity(
                a, b, data_range=1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
            ),
            "nrmse": normalized_root_mse(a, b),
        }
        for name, value in expected.items():
            assert float(ours[name][i]) == pytest.approx(value, abs=1e-10, rel=1e-10), (name, size, i)


def test_float32_inputs_are_computed_in_float64() -> None:
    x, ref = _pairs(64, 64)
    x32, ref32 = x.float(), ref.float()
    value = ssim(x32, ref32)
    assert value.dtype == torch.float64
    expected = structural_similarity(
        ref32[1, 0].numpy().astype(np.float64), x32[1, 0].numpy().astype(np.float64),
        data_range=1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    )
    assert float(value[1]) == pytest.approx(expected, abs=1e-10)


def test_three_and_four_dimensional_batches_agree() -> None:
    x, ref = _pairs(16, 16)
    for metric in (psnr, ssim, nrmse):
        assert torch.equal(metric(x, ref), metric(x[:, 0], ref[:, 0]))
        assert metric(x, ref).shape == (3,)


def test_identical_images() -> None:
    _, ref = _pairs(16, 16)
    assert torch.isinf(psnr(ref, ref)).all() and (psnr(ref, ref) > 0).all()
    assert torch.allclose(ssim(ref, ref), torch.ones(3, dtype=torch.float64), atol=1e-12)
    assert (nrmse(ref, ref) == 0).all()


def test_hand_computed_psnr_and_nrmse() -> None:
    ref = torch.full((1, 1, 4, 4), 0.5, dtype=torch.float64)
    x = ref + 0.25  # MSE 1/16 -> 10 log10(16); NRMSE 0.25 / 0.5
    assert float(psnr(x, ref)) == pytest.approx(10 * np.log10(16), abs=1e-12)
    assert float(nrmse(x, ref)) == pytest.approx(0.5, abs=1e-12)


def test_ssim_is_batch_independent() -> None:
    x, ref = _pairs(65, 47)
    together = ssim(x, ref)
    alone = torch.cat([ssim(x[i : i + 1], ref[i : i + 1]) for i in range(3)])
    assert torch.allclose(together, alone, atol=1e-14)


def test_errors_name_the_problem() -> None:
    x, ref = _pairs(16, 16)
    with pytest.raises(ValueError, match="shape"):
        psnr(x, ref[:2])
    with pytest.raises(ValueError, match="at least 11"):
        ssim(x[..., :10, :], ref[..., :10, :])
    with pytest.raises(ValueError, match="single-channel"):
        nrmse(x.repeat(1, 3, 1, 1), ref.repeat(1, 3, 1, 1))
    with pytest.raises(ValueError, match="B x H x W"):
        psnr(x[0, 0], ref[0, 0])
    with pytest.raises(TypeError, match="torch"):
        psnr(x.numpy(), ref)  # type: ignore[arg-type]
