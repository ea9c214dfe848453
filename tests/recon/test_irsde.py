"""IR-SDE maths (marginals, optimal reverse state, sampler) and a one-batch overfit."""

from __future__ import annotations

import math

import pytest
import torch

from reconfair.recon.irsde import IRSDEMethod, IRSDESchedule, PRESET_SPECS
from reconfair.seeding import sample_generators, torch_generator


def _oracle(sde: IRSDESchedule, x0: torch.Tensor):
    """The true noise of x_t ~ N(m_t, s_t^2) given the known clean image."""
    stds = sde.std(torch.arange(sde.T + 1))

    def noise_fn(x, mu, t):
        return (x - sde.mean(x0, mu, t)) / stds[t].to(x.dtype).view(-1, 1, 1, 1)

    return noise_fn


def test_schedule_constants():
    sde = IRSDESchedule()
    assert sde.lam == pytest.approx(10 / 255)
    assert float(sde.theta_bar[0]) == 0.0
    assert math.exp(-float(sde.theta_bar[-1])) == pytest.approx(0.01)
    assert torch.allclose(sde.theta_bar[1:] - sde.theta_bar[:-1], sde.theta[1:] * sde.dt)


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
    c = math.exp(-float(sde.theta_bar[t - 1]))
    a = math.exp(-float(sde.theta[t]) * sde.dt)
    prior_m, prior_v = mu + (x0 - mu) * c, sde.lam**2 * (1 - c**2)  # x_{t-1} | x0
    step_v = sde.lam**2 * (1 - a**2)  # x_t | x_{t-1}
    b = math.exp(-float(sde.theta_bar[t]))
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


@pytest.mark.parametrize("steps, tolerance", [(100, 0.003), (25, 0.006)])
def test_reverse_process_with_oracle_noise_recovers_x0(steps, tolerance):
    sde = IRSDESchedule()
    g = torch_generator(0, "oracle")
    x0 = torch.rand(2, 1, 8, 8, generator=g, dtype=torch.float64)
    mu = (x0 + 0.2 * torch.randn(x0.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    out = sde.sample(mu, _oracle(sde, x0), steps=steps, generator=torch_generator(1, "s"))
    assert float((out - x0).abs().mean()) < tolerance
    assert float((mu - x0).abs().mean()) > 5 * tolerance  # the input really was degraded


def test_sampling_is_deterministic_and_per_sample():
    spec = dict(PRESET_SPECS["demo"], sampling_steps=5)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        method = IRSDEMethod(spec)
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
