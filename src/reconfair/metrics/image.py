"""Per-sample image-quality metrics: PSNR, SSIM, NRMSE (docs/statistics.md).

All three take a batch ``x`` (the image under test) and ``ref`` (the clean
image), shaped ``B x 1 x H x W`` or ``B x H x W``, with values in [0, 1], and
return one float64 value per sample (a tensor of shape ``B``) on the inputs'
device.  The data range is always 1 (docs/reconstruction.md: one normalisation policy
for every model), and the arithmetic is done in float64.

The definitions match scikit-image on the same inputs:

- :func:`psnr` = ``peak_signal_noise_ratio(ref, x, data_range=1)``;
- :func:`ssim` = ``structural_similarity(ref, x, data_range=1,
  gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``;
- :func:`nrmse` = ``normalized_root_mse(ref, x)`` (Euclidean normalisation).

Examples
--------
>>> import torch
>>> ref = torch.linspace(0, 1, 2 * 16 * 16).reshape(2, 1, 16, 16)
>>> x = (ref + 0.1).clamp(0, 1)
>>> psnr(x, ref).shape
torch.Size([2])
>>> bool((ssim(ref, ref) == 1).all()), bool(torch.isinf(psnr(ref, ref)).all())
(True, True)
"""

from __future__ import annotations

import torch

__all__ = ["psnr", "ssim", "nrmse", "SSIM_WINDOW", "SSIM_SIGMA"]

SSIM_SIGMA = 1.5
"""Standard deviation of the SSIM Gaussian window (Wang et al. 2004)."""
SSIM_TRUNCATE = 3.5
"""Truncation of the Gaussian in standard deviations (scikit-image's choice)."""
SSIM_WINDOW = 2 * int(SSIM_TRUNCATE * SSIM_SIGMA + 0.5) + 1
"""Width of the SSIM window: 11 taps for sigma 1.5."""
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def _pair(x: torch.Tensor, ref: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Check shapes and return both as float64 ``B x H x W`` tensors."""
    if not isinstance(x, torch.Tensor) or not isinstance(ref, torch.Tensor):
        raise TypeError(
            f"expected two torch tensors, got {type(x).__name__} and {type(ref).__name__}; "
            "convert with torch.as_tensor"
        )
    if x.shape != ref.shape:
        raise ValueError(
            f"x has shape {tuple(x.shape)} but ref has shape {tuple(ref.shape)}; "
            "they must be equal"
        )
    if x.ndim == 4:
        if x.shape[1] != 1:
            raise ValueError(
                f"expected B x 1 x H x W single-channel images, got shape {tuple(x.shape)}"
            )
        x, ref = x[:, 0], ref[:, 0]
    elif x.ndim != 3:
        raise ValueError(
            f"expected a batch shaped B x 1 x H x W or B x H x W, got shape {tuple(x.shape)}; "
            "add a batch dimension with x[None] for a single image"
        )
    return x.to(torch.float64), ref.to(torch.float64)


def _mse(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    return ((x - ref) ** 2).flatten(1).mean(dim=1)


def psnr(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB with data range 1: ``10 log10(1 / MSE)``.

    Parameters
    ----------
    x, ref : torch.Tensor
        Image under test and clean reference, ``B x 1 x H x W`` or ``B x H x W``.

    Returns
    -------
    torch.Tensor
        Shape ``B``, float64.  Identical images (MSE = 0) give ``+inf``; callers
        averaging PSNR must decide how to treat it (the evaluation ignores
        non-finite values and counts them).

    Examples
    --------
    >>> import torch
    >>> ref = torch.zeros(1, 4, 4)
    >>> round(float(psnr(ref + 0.1, ref)), 6)  # MSE = 0.01 -> 20 dB
    20.0
    """
    x, ref = _pair(x, ref)
    return 10.0 * torch.log10(1.0 / _mse(x, ref))


def nrmse(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Normalised root-mean-square error ``||ref - x||_2 / ||ref||_2``.

    Parameters
    ----------
    x, ref : torch.Tensor
        Image under test and clean reference, ``B x 1 x H x W`` or ``B x H x W``.

    Returns
    -------
    torch.Tensor
        Shape ``B``, float64.  An all-zero reference gives ``inf`` (or ``nan``
        when ``x`` is all zero too), as scikit-image's ``normalized_root_mse``.

    Examples
    --------
    >>> import torch
    >>> ref = torch.ones(1, 1, 2, 2)
    >>> float(nrmse(0.5 * ref, ref))
    0.5
    """
    x, ref = _pair(x, ref)
    num = (ref - x).flatten(1).norm(dim=1)
    den = ref.flatten(1).norm(dim=1)
    return num / den


def _gaussian_window(device: torch.device) -> torch.Tensor:
    """The normalised 1-D Gaussian of ``scipy.ndimage.gaussian_filter`` (float64)."""
    radius = (SSIM_WINDOW - 1) // 2
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64, device=device)
    weights = torch.exp(-0.5 * (offsets / SSIM_SIGMA) ** 2)
    return weights / weights.sum()


def _filter_valid(images: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian filter, keeping only outputs whose window fits inside.

    ``images`` is ``N x 1 x H x W``; the result is ``N x 1 x (H-10) x (W-10)``.
    These are exactly the pixels scikit-image keeps after cropping
    ``(win_size - 1) // 2`` on each side, and in that region its ``reflect``
    padding is never read, so no padding is needed here.
    """
    k = window.numel()
    rows = torch.nn.functional.conv2d(images, window.view(1, 1, k, 1))
    return torch.nn.functional.conv2d(rows, window.view(1, 1, 1, k))


def ssim(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Structural similarity (Wang et al. 2004), mean over the valid region.

    Gaussian window of 11 taps (sigma 1.5, truncated at 3.5 sigma), constants
    ``K1 = 0.01``, ``K2 = 0.03``, data range 1, population (not sample)
    covariance.  The SSIM map is averaged over the pixels at least 5 pixels from
    every border, which equals scikit-image's ``structural_similarity`` with
    ``gaussian_weights=True, sigma=1.5, use_sample_covariance=False``.

    Parameters
    ----------
    x, ref : torch.Tensor
        Image under test and clean reference, ``B x 1 x H x W`` or ``B x H x W``,
        with ``H, W >= 11``.

    Returns
    -------
    torch.Tensor
        Shape ``B``, float64.

    Examples
    --------
    >>> import torch
    >>> ref = torch.rand(3, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    >>> bool(torch.allclose(ssim(ref, ref), torch.ones(3, dtype=torch.float64)))
    True
    >>> bool((ssim(1 - ref, ref) < 0.5).all())
    True
    """
    x, ref = _pair(x, ref)
    height, width = x.shape[-2:]
    if height < SSIM_WINDOW or width < SSIM_WINDOW:
        raise ValueError(
            f"SSIM needs images of at least {SSIM_WINDOW} x {SSIM_WINDOW} pixels "
            f"(the Gaussian window), got {height} x {width}"
        )
    window = _gaussian_window(x.device)
    batch = x.shape[0]
    # One filter call for the five local moments of every image in the batch.
    stack = torch.stack([x, ref, x * x, ref * ref, x * ref], dim=1)
    moments = _filter_valid(stack.reshape(batch * 5, 1, height, width), window)
    moments = moments.reshape(batch, 5, *moments.shape[-2:])
    mu_x, mu_r, m_xx, m_rr, m_xr = moments.unbind(dim=1)
    var_x = m_xx - mu_x * mu_x
    var_r = m_rr - mu_r * mu_r
    cov = m_xr - mu_x * mu_r
    c1 = SSIM_K1**2
    c2 = SSIM_K2**2
    numerator = (2 * mu_x * mu_r + c1) * (2 * cov + c2)
    denominator = (mu_x * mu_x + mu_r * mu_r + c1) * (var_x + var_r + c2)
    return (numerator / denominator).flatten(1).mean(dim=1)
