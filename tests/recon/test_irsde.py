"""IR-SDE maths (schedule, marginals, posterior, samplers, parametrisations) and a one-batch overfit."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from reconfair.recon.irsde import SAMPLERS, IRSDEMethod, IRSDESchedule, PRESET_SPECS, check_spec
from reconfair.seeding import sample_generators, torch_generator


def _reference_schedule(T, eps, s=0.008):
    """The reference's cosine_theta_schedule, thetas_cumsum and dt (sde_utils.py), written again in NumPy."""
    timesteps = T + 2
    x = np.linspace(0, timesteps, timesteps + 1)
    alphas_cumprod = np.cos(((x / timesteps) + s) / (1 + s) * np.pi * 0.5) ** 2
    alphas_cumprod = alphas_cumprod / alphas_cumprod[0]
    thetas = 1 - alphas_cumprod[1:-1]
    thetas_cumsum = np.cumsum(thetas) - thetas[0]
    dt = -1 / thetas_cumsum[-1] * np.log(eps)
    return thetas, thetas_cumsum, dt


def test_schedule_equals_the_reference_formula():
    sde = IRSDESchedule(T=100, eps=0.005)
    thetas, thetas_cumsum, dt = _reference_schedule(100, 0.005)
    np.testing.assert_allclose(sde.theta.numpy(), thetas, rtol=1e-12)
    np.testing.assert_allclose(sde.theta_bar.numpy(), thetas_cumsum, rtol=1e-12, atol=1e-14)
    assert sde.dt == pytest.approx(dt, rel=1e-12)
    np.testing.assert_allclose(sde.std(torch.arange(101)).numpy(),
                               10 / 255 * np.sqrt(1 - np.exp(-2 * thetas_cumsum * dt)), rtol=1e-12, atol=1e-15)
    # not the DDPM per-step beta_t = 1 - abar_t / abar_{t-1} of schedule version 1
    assert float(sde.theta[50]) == pytest.approx(0.5, abs=0.05) and float(sde.theta[-1]) > 0.99


def test_schedule_constants():
    sde = IRSDESchedule()
    assert sde.lam == pytest.approx(10 / 255) and sde.eps == 0.005
    assert float(sde.theta_bar[0]) == 0.0 and float(sde.tau[0]) == 0.0
    assert math.exp(-float(sde.tau[-1])) == pytest.approx(0.005)
    assert torch.allclose(sde.tau[1:] - sde.tau[:-1], sde.theta[1:] * sde.dt)


def _x0_oracle(x0):
    return lambda x, mu, t: x0


def _psnr(a, b):
    return float(10 * torch.log10(1 / ((a.detach() - b.detach()) ** 2).mean()))


def test_marginals_match_monte_carlo_simulation():
    sde = IRSDESchedule()
    x0, mu, paths, substeps = 0.9, 0.2, 40000, 20
    g = torch_generator(0, "mc")
    x = torch.full((paths,), x0, dtype=torch.float64)
    checked = 0
    for t in range(1, sde.T + 1):
        theta, h = float(sde.theta[t]), sde.dt / substeps
        sigma = math.sqrt(2 * sde.lam**2 * theta)
        for _ in range(substeps):
            x = x + theta * (mu - x) * h + sigma * math.sqrt(h) * torch.randn(paths, generator=g, dtype=torch.float64)
        if t in (10, 50, 100):
            tt = torch.tensor([t])
            m = float(sde.mean(torch.tensor([[x0]], dtype=torch.float64), torch.tensor([[mu]], dtype=torch.float64), tt))
            s = float(sde.std(tt))
            assert float(x.mean()) == pytest.approx(m, abs=4 * s / math.sqrt(paths) + 2e-4)
            assert float(x.std()) == pytest.approx(s, rel=0.02)
            checked += 1
    assert checked == 3


@pytest.mark.parametrize("t", [1, 2, 30, 100])
def test_optimal_reverse_is_the_gaussian_posterior_mean(t):
    sde = IRSDESchedule()
    x0, mu = 0.7, 0.3
    c = math.exp(-float(sde.tau[t - 1]))
    a = math.exp(-float(sde.theta[t]) * sde.dt)
    prior_m, prior_v = mu + (x0 - mu) * c, sde.lam**2 * (1 - c**2)  # x_{t-1} | x0
    step_v = sde.lam**2 * (1 - a**2)  # x_t | x_{t-1}
    b = math.exp(-float(sde.tau[t]))
    xt = mu + (x0 - mu) * b + 0.8 * sde.lam * math.sqrt(1 - b**2)  # a plausible x_t
    closed = float(sde.optimal_reverse(*(torch.tensor([[v]], dtype=torch.float64) for v in (xt, x0, mu)), torch.tensor([t])))
    if t == 1:
        assert closed == pytest.approx(x0)
        return
    grid = torch.linspace(prior_m - 10 * math.sqrt(prior_v), prior_m + 10 * math.sqrt(prior_v), 200001, dtype=torch.float64)
    log_w = -((grid - prior_m) ** 2) / (2 * prior_v) - (xt - mu - (grid - mu) * a) ** 2 / (2 * step_v)
    w = torch.exp(log_w - log_w.max())
    numeric = float((w * grid).sum() / w.sum())
    assert closed == pytest.approx(numeric, abs=1e-6)


def test_one_step_estimate_with_true_noise_is_exact():
    sde = IRSDESchedule()
    g = torch_generator(0, "x0")
    x0, mu = torch.rand(3, 1, 4, 4, generator=g), torch.rand(3, 1, 4, 4, generator=g)
    t, noise = torch.tensor([5, 50, 100]), torch.randn(3, 1, 4, 4, generator=g)
    xt = sde.forward_sample(x0, mu, t, noise)
    assert torch.allclose(sde.estimate_x0(xt, mu, noise, t), x0, atol=1e-4)


@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize("steps", [1, 10, 100])
def test_samplers_with_an_oracle_recover_x0(sampler, steps):
    sde = IRSDESchedule()
    g = torch_generator(0, "oracle")
    x0 = torch.rand(2, 1, 8, 8, generator=g, dtype=torch.float64)
    mu = (x0 + 0.2 * torch.randn(x0.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    out = sde.sample(mu, _x0_oracle(x0), steps=steps, sampler=sampler, generator=torch_generator(1, "s"))
    assert _psnr(out, x0) > 60 and _psnr(mu, x0) < 25  # the input really was degraded


@pytest.mark.parametrize("prediction", ["noise", "x0"])
def test_posterior_sampler_with_an_oracle_network_recovers_x0(prediction):
    """A network returning the true noise (noise prediction) or the true x0 - mu (x0 prediction), 10 steps."""
    method = IRSDEMethod(dict(PRESET_SPECS["demo"], prediction=prediction, sampler="posterior", channels=[8, 8],
                              norm_groups=4))
    sde = method.sde
    g = torch_generator(0, "oracle-net")
    x0 = torch.rand(2, 1, 8, 8, generator=g)
    mu = (x0 + 0.2 * torch.randn(x0.shape, generator=g)).clamp(0, 1)

    def oracle(inputs, t):
        x = inputs[:, :1]
        return sde.noise_from_x0(x, mu, x0, t) if prediction == "noise" else x0 - mu

    out = method.sample(oracle, mu, steps=10, generator=torch_generator(1, "s"))
    assert _psnr(out, x0) > 60


def test_posterior_is_the_gaussian_product_for_a_strided_step():
    sde = IRSDESchedule()
    x0, mu, t, s = 0.7, 0.3, 60, 20
    b, c = math.exp(-float(sde.tau[t])), math.exp(-float(sde.tau[s]))
    a = b / c
    prior_m, prior_v = mu + (x0 - mu) * c, sde.lam**2 * (1 - c**2)  # x_s | x0
    step_v = sde.lam**2 * (1 - a**2)  # x_t | x_s
    xt = mu + (x0 - mu) * b + 0.8 * sde.lam * math.sqrt(1 - b**2)
    as_tensor = lambda v: torch.tensor([[v]], dtype=torch.float64)  # noqa: E731
    mean, std = sde.posterior(as_tensor(xt), as_tensor(x0), as_tensor(mu), torch.tensor([t]), torch.tensor([s]))
    grid = torch.linspace(prior_m - 10 * math.sqrt(prior_v), prior_m + 10 * math.sqrt(prior_v), 200001, dtype=torch.float64)
    log_w = -((grid - prior_m) ** 2) / (2 * prior_v) - (xt - mu - (grid - mu) * a) ** 2 / (2 * step_v)
    w = torch.exp(log_w - log_w.max())
    numeric_mean = float((w * grid).sum() / w.sum())
    numeric_var = float((w * (grid - numeric_mean) ** 2).sum() / w.sum())
    assert float(mean) == pytest.approx(numeric_mean, abs=1e-6)
    assert float(std) ** 2 == pytest.approx(numeric_var, rel=1e-4)


def test_untrained_x0_prediction_returns_mu():
    method = IRSDEMethod(dict(PRESET_SPECS["demo"]))
    g = torch_generator(0, "untrained")
    mu = torch.rand(3, 1, 16, 16, generator=g)
    xt = mu + 0.05 * torch.randn(mu.shape, generator=g)
    _, x0_hat = method.predict(method.network, xt, mu, torch.tensor([1, 50, 100]))
    assert torch.equal(x0_hat, mu)


@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize("prediction", ["noise", "x0"])
@pytest.mark.parametrize("steps", [1, 2, 5, 10, 100])
def test_a_network_at_the_baseline_samples_the_baseline(sampler, prediction, steps):
    """The samplers add nothing beyond mu when x0_hat = mu: PSNR equals the baseline's at any number of steps.

    For x0 prediction that is the untrained network (last layer zero).  For
    noise prediction it is the network returning eps = (x_t - mu) / s_t; an
    untrained noise network (eps = 0) is *not* at the baseline, since
    x0_hat = mu + (x_t - mu) e^{tau_t} then amplifies the start noise.
    """
    spec = dict(PRESET_SPECS["demo"], prediction=prediction, sampler=sampler, channels=[8, 8], norm_groups=4)
    method = IRSDEMethod(spec)
    g = torch_generator(0, "baseline")
    x0 = torch.rand(2, 1, 8, 8, generator=g)
    mu = (x0 + 0.1 * torch.randn(x0.shape, generator=g)).clamp(0, 1)
    if prediction == "x0":
        network = method.network
    else:
        network = lambda inputs, t: method.sde.noise_from_x0(inputs[:, :1], mu, mu, t)  # noqa: E731
    out = method.sample(network, mu, steps=steps, generator=torch_generator(1, "s")).clamp(0, 1)
    assert _psnr(out, x0) >= _psnr(mu, x0) - 1e-4
    assert torch.allclose(out, mu, atol=1e-5)


def test_old_specs_fail_clearly():
    old = {k: v for k, v in PRESET_SPECS["demo"].items() if k not in ("schedule_version", "prediction")}
    old["parametrisation"] = "x0-residual"
    with pytest.raises(ValueError, match="schedule_version=None, expected 2.*retrain"):
        check_spec(old)
    with pytest.raises(ValueError, match="sampler 'ddim' is unknown; expected one of: posterior, euler"):
        check_spec(dict(PRESET_SPECS["demo"], sampler="ddim"))


def test_sampling_is_deterministic_and_per_sample():
    spec = dict(PRESET_SPECS["demo"], sampling_steps=5)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        method = IRSDEMethod(spec)
        with torch.no_grad():  # a non-zero last layer, so the output depends on the noise
            for p in method.network.out.parameters():
                p.normal_(0, 0.05)
    y = torch.rand(2, 1, 16, 16, generator=torch_generator(0, "y"))
    before = torch.random.get_rng_state()
    a = method.reconstruct(y, generator=torch_generator(3, "g"))
    b = method.reconstruct(y, generator=torch_generator(3, "g"))
    assert torch.equal(a, b)
    assert not torch.equal(a, method.reconstruct(y, generator=torch_generator(4, "g")))
    both = method.reconstruct(y, generator=sample_generators(0, "r", ["a", "b"]))
    alone = method.reconstruct(y[1:], generator=sample_generators(0, "r", ["b"]))
    assert torch.allclose(both[1:], alone, atol=1e-6)
    assert torch.equal(before, torch.random.get_rng_state())
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0


def test_overfits_one_tiny_batch():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        method = IRSDEMethod(dict(PRESET_SPECS["demo"]))
    g = torch_generator(0, "batch")
    x0 = torch.rand(2, 1, 32, 32, generator=g)
    mu = (x0 + 0.1 * torch.randn(x0.shape, generator=g)).clamp(0, 1)
    optimiser = torch.optim.Adam(method.network.parameters(), lr=2e-3)
    method.network.train()
    losses = []
    for _ in range(150):  # one fixed batch: same t and noise draws every step
        loss = method.batch_loss(method.network, mu, x0, torch_generator(0, "draws"))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    assert min(losses[-5:]) < 0.1 * losses[0]
