"""The IR-SDE process: cosine theta schedule, exact marginals, optimal reverse state, two samplers.

Forward SDE ``dx = theta_t (mu - x) dt + sigma_t dw``, ``sigma_t^2 = 2 lambda^2 theta_t``,
``mu`` the degraded image.  Schedule as in the reference code
(Algolzw/image-restoration-sde, ``codes/utils/sde_utils.py``, DESIGN section 5):

    theta_t = 1 - alpha_bar_t      (the cumulative cosine alpha_bar, t = 0..T; theta_0 unused)
    theta_bar_t = sum_{s=1..t} theta_s,   theta_bar_0 = 0
    dt = -log(eps) / theta_bar_T,  so  exp(-theta_bar_T dt) = eps.

Write ``tau_t = theta_bar_t dt`` (:attr:`IRSDESchedule.tau`).  The marginals are exact:

    x_t | x_0 ~ N(m_t, s_t^2),  m_t = mu + (x_0 - mu) e^{-tau_t},  s_t = lambda sqrt(1 - e^{-2 tau_t}).

Posterior of an earlier state.  For ``s < t`` let ``A = e^{-(tau_t - tau_s)}``,
``B = e^{-tau_t}``, ``C = e^{-tau_s}`` (``B = A C``).  The product of
``x_s | x_0 ~ N(mu + (x_0 - mu) C, lambda^2 (1 - C^2))`` and
``x_t | x_s ~ N(mu + (x_s - mu) A, lambda^2 (1 - A^2))`` is

    x_s | x_t, x_0 ~ N(x*_s, v_s),
    x*_s = mu + A (1 - C^2)/(1 - B^2) (x_t - mu) + C (1 - A^2)/(1 - B^2) (x_0 - mu),
    v_s  = lambda^2 (1 - A^2)(1 - C^2)/(1 - B^2).

With ``s = t - 1`` ``x*_{t-1}`` is the reference's optimal reverse state.

Samplers over a strided schedule ``T = t_K > ... > t_0 = 0`` (``K`` steps), from
``x_T = mu + lambda z``; each step asks a denoiser for ``x0_hat(x, mu, t)``:

- ``posterior`` (the reference's ``reverse_posterior``): ``x <- x*_s(x, x0_hat) + sqrt(v_s) z``.
- ``euler``: Euler-Maruyama of the reverse SDE in ``tau``-time, ``delta = tau_t - tau_s``,
  ``x <- x - (delta (mu - x) - 2 lambda^2 delta score) - lambda sqrt(2 delta) z`` with the
  score ``-(x - m_t(x0_hat)) / s_t^2`` (``= -eps / s_t``); for ``s = t - 1`` it is
  exactly ``x - (theta_t (mu - x) - sigma_t^2 score) dt - sigma_t sqrt(dt) z``.

Both end the same way: the step to ``t_0 = 0`` returns ``x0_hat`` with no noise
(the posterior's own last step, since ``C = 1`` there gives ``x*_0 = x0_hat``,
``v_0 = 0``; for ``euler`` it replaces an Euler step that, with few steps, is
unstable: one step from ``T`` multiplies ``x - mu`` by about ``1 - tau_T``).  A
denoiser that returns ``mu`` therefore samples ``mu`` exactly, at any number
of steps.

Examples
--------
>>> sde = IRSDESchedule()
>>> round(float(sde.tau[-1]), 4), round(float(sde.std(torch.tensor([0]))[0]), 4)
(5.2983, 0.0)
>>> sde.sampling_times(4)
[100, 75, 50, 25, 0]
>>> mu = torch.rand(2, 1, 8, 8)
>>> for sampler in SAMPLERS:
...     print(sampler, bool(torch.equal(sde.sample(mu, lambda x, m, t: m, steps=5, sampler=sampler), mu)))
posterior True
euler True
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from reconfair.seeding import Generators, draw_per_sample

__all__ = ["SAMPLERS", "Denoiser", "IRSDESchedule", "cosine_theta_schedule", "normal_like"]

SAMPLERS = ("posterior", "euler")
Denoiser = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
"""``x0_hat(x_t, mu, t_batch)``: the network's estimate of the clean image."""


def cosine_theta_schedule(T: int, s: float = 0.008) -> torch.Tensor:
    """``theta_t = 1 - alpha_bar_t`` for ``t = 0..T`` (float64), ``alpha_bar`` the cosine schedule.

    ``alpha_bar`` is the cumulative cosine schedule on a grid of ``T + 3``
    points, normalised to 1 at the first and truncated at both ends (as the
    reference does), so ``theta`` rises from about 0 to about 1.

    >>> theta = cosine_theta_schedule(100)
    >>> theta.shape, bool((theta[1:] > theta[:-1]).all()), round(float(theta[-1]), 4)
    (torch.Size([101]), True, 0.9998)
    """
    steps = T + 2
    grid = torch.linspace(0, steps, steps + 1, dtype=torch.float64)
    alpha_bar = torch.cos(((grid / steps) + s) / (1 + s) * math.pi * 0.5) ** 2
    alpha_bar = alpha_bar / alpha_bar[0]
    return 1 - alpha_bar[1:-1]


def normal_like(x: torch.Tensor, generator: Generators) -> torch.Tensor:
    """Standard normal noise shaped like ``x``; sample ``i`` from generator ``i`` when a sequence."""
    return draw_per_sample(lambda p, g: torch.randn(p.shape, generator=g, device=p.device, dtype=p.dtype), x, generator)


class IRSDESchedule:
    """The discretised mean-reverting SDE: rates, marginals, posterior, samplers (module docstring)."""

    def __init__(self, T: int = 100, lam: float = 10 / 255, eps: float = 0.005) -> None:
        if T < 1 or lam <= 0 or not 0 < eps < 1:
            raise ValueError(f"IR-SDE needs T >= 1, lam > 0, 0 < eps < 1; got T={T}, lam={lam}, eps={eps}")
        self.T, self.lam, self.eps = int(T), float(lam), float(eps)
        #: ``theta[t] = 1 - alpha_bar_t``, the rate on the step ``t - 1 -> t`` (``theta[0]`` unused).
        self.theta = cosine_theta_schedule(self.T)
        #: ``theta_bar[t] = sum_{s=1..t} theta_s`` (``theta_bar[0] = 0``).
        self.theta_bar = torch.cat([torch.zeros(1, dtype=torch.float64), torch.cumsum(self.theta[1:], 0)])
        self.dt = -math.log(self.eps) / float(self.theta_bar[-1])
        #: ``tau[t] = theta_bar_t dt``: ``m_t = mu + (x0 - mu) exp(-tau_t)``.
        self.tau = self.theta_bar * self.dt
        self._std = self.lam * torch.sqrt(1 - torch.exp(-2 * self.tau))

    def _at(self, values: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return values[t.long().cpu()].to(device=like.device, dtype=like.dtype).view(-1, *([1] * (like.ndim - 1)))

    def std(self, t: torch.Tensor) -> torch.Tensor:
        """``s_t = lambda sqrt(1 - exp(-2 tau_t))`` for integer times ``t`` (float64)."""
        return self._std[t.long().cpu()]

    def mean(self, x0: torch.Tensor, mu: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``m_t = mu + (x0 - mu) exp(-tau_t)``, per sample time ``t``."""
        return mu + (x0 - mu) * torch.exp(-self._at(self.tau, t, x0))

    def forward_sample(self, x0: torch.Tensor, mu: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """``x_t = m_t + s_t * noise``."""
        return self.mean(x0, mu, t) + self._at(self._std, t, x0) * noise

    def posterior(
        self, xt: torch.Tensor, x0: torch.Tensor, mu: torch.Tensor, t: torch.Tensor, s: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean ``x*_s`` and std ``sqrt(v_s)`` of ``x_s | x_t, x_0`` (``s < t``, per sample)."""
        b = torch.exp(-self._at(self.tau, t, xt))
        c = torch.exp(-self._at(self.tau, s, xt))
        a = b / c
        mean = mu + a * (1 - c**2) / (1 - b**2) * (xt - mu) + c * (1 - a**2) / (1 - b**2) * (x0 - mu)
        return mean, self.lam * torch.sqrt((1 - a**2) * (1 - c**2) / (1 - b**2))

    def optimal_reverse(self, xt: torch.Tensor, x0: torch.Tensor, mu: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The optimal reverse state ``x*_{t-1}`` (``t >= 1``): the posterior mean one step back."""
        return self.posterior(xt, x0, mu, t, t - 1)[0]

    def noise_from_x0(self, xt: torch.Tensor, mu: torch.Tensor, x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``eps = (x_t - m_t(x0)) / s_t`` (``t >= 1``)."""
        return (xt - self.mean(x0, mu, t)) / self._at(self._std, t, xt)

    def estimate_x0(self, xt: torch.Tensor, mu: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """One-step ``x0_hat = mu + (x_t - mu - s_t eps) exp(tau_t)`` (inverts :meth:`noise_from_x0`)."""
        return mu + (xt - mu - self._at(self._std, t, xt) * noise) * torch.exp(self._at(self.tau, t, xt))

    def euler_mean(self, x: torch.Tensor, mu: torch.Tensor, x0: torch.Tensor, t: torch.Tensor, s: torch.Tensor
                   ) -> torch.Tensor:
        """Mean of the Euler-Maruyama step ``t -> s``: ``x - (delta (mu - x) - 2 lambda^2 delta score)``."""
        delta = self._at(self.tau, t, x) - self._at(self.tau, s, x)
        score = -self.noise_from_x0(x, mu, x0, t) / self._at(self._std, t, x)
        return x - (delta * (mu - x) - 2 * self.lam**2 * delta * score)

    def step(self, x: torch.Tensor, mu: torch.Tensor, x0: torch.Tensor, t: int, s: int, sampler: str,
             noise: torch.Tensor) -> torch.Tensor:
        """One reverse step ``t -> s`` given ``x0_hat`` and standard normal ``noise``; ``x0_hat`` when ``s = 0``."""
        if s == 0:
            return x0
        times, before = (torch.full((x.shape[0],), v, dtype=torch.long) for v in (t, s))
        if sampler == "posterior":
            mean, std = self.posterior(x, x0, mu, times, before)
            return mean + std * noise
        if sampler == "euler":
            delta = float(self.tau[t] - self.tau[s])
            return self.euler_mean(x, mu, x0, times, before) - self.lam * math.sqrt(2 * delta) * noise
        raise ValueError(f"IR-SDE sampler {sampler!r} is unknown; expected one of: {', '.join(SAMPLERS)}")

    def sampling_times(self, steps: int) -> list[int]:
        """``steps + 1`` decreasing integer times from ``T`` to 0 (a strided schedule)."""
        if not 1 <= steps <= self.T:
            raise ValueError(f"sampling steps must be between 1 and T={self.T}, got {steps}")
        grid = torch.linspace(self.T, 0, steps + 1, dtype=torch.float64).round().long().tolist()
        return [int(v) for v in grid]

    def sample(self, mu: torch.Tensor, denoiser: Denoiser, *, steps: int | None = None, sampler: str = "posterior",
               generator: Generators = None, noise: Callable[[torch.Tensor], torch.Tensor] | None = None
               ) -> torch.Tensor:
        """Reverse process from ``x_T = mu + lambda z`` (not clamped).

        ``noise(like)`` draws each ``z`` (default: :func:`normal_like` with
        ``generator``); the graph is kept, so a loss on the output trains the denoiser.
        """
        if sampler not in SAMPLERS:
            raise ValueError(f"IR-SDE sampler {sampler!r} is unknown; expected one of: {', '.join(SAMPLERS)}")
        draw = noise or (lambda like: normal_like(like, generator))
        x = mu + self.lam * draw(mu)
        times = self.sampling_times(steps or self.T)
        for t, s in zip(times[:-1], times[1:]):
            x0 = denoiser(x, mu, torch.full((x.shape[0],), t, dtype=torch.long, device=x.device))
            x = self.step(x, mu, x0, t, s, sampler, draw(x) if s > 0 else torch.zeros_like(x))
        return x
