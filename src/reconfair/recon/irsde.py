"""IR-SDE: the mean-reverting SDE restoration model of docs/reconstruction.md.

Forward SDE ``dx = theta_t (mu - x) dt + sigma_t dw`` with
``sigma_t^2 = 2 lambda^2 theta_t``, ``mu`` the degraded image, ``lambda = 10/255``,
``T = 100`` steps and a cosine ``theta`` schedule.  ``theta`` is constant on each
step, ``theta_bar_t = sum_{i<=t} theta_i dt`` (``theta_bar_0 = 0``) and ``dt`` is
chosen so that ``exp(-theta_bar_T) = eps = 0.01``.  The marginals are exact:

    x_t | x_0 ~ N(m_t, s_t^2),  m_t = mu + (x_0 - mu) e^{-theta_bar_t},
                                s_t = lambda sqrt(1 - e^{-2 theta_bar_t}).

Optimal reverse state.  With ``A = e^{-theta_t dt}``, ``B = e^{-theta_bar_t}``,
``C = e^{-theta_bar_{t-1}}`` (so ``B = A C``), ``x_{t-1} | x_0`` is
``N(mu + (x_0 - mu) C, lambda^2 (1 - C^2))`` and ``x_t | x_{t-1}`` is
``N(mu + (x_{t-1} - mu) A, lambda^2 (1 - A^2))``.  The product of the two
Gaussians gives the posterior ``x_{t-1} | x_t, x_0`` with mean

    x*_{t-1} = mu + A (1 - C^2) / (1 - B^2) (x_t - mu) + C (1 - A^2) / (1 - B^2) (x_0 - mu)

and variance ``lambda^2 (1 - A^2)(1 - C^2) / (1 - B^2)``.  Training minimises
the L1 distance between the mean of the network's reverse step (below,
without its noise) and ``x*_{t-1}``.

Reverse step from ``t`` to ``s < t`` (``s = t - 1`` for full sampling; a
strided schedule for fewer steps) with ``delta = theta_bar_t - theta_bar_s``,
which equals ``theta_t dt`` for ``s = t - 1``:

    x <- x - (delta (mu - x) - 2 lambda^2 delta score) - lambda sqrt(2 delta) z,
    score = -eps_phi(x, mu, t) / s_t,

i.e. Euler-Maruyama of the reverse SDE in ``theta_bar``-time; for ``s = t - 1``
it is exactly ``x - (theta_t (mu - x) - sigma_t^2 score) dt - sigma_t sqrt(dt) z``.
The final step (``s = 0``) adds no noise (as DDPM samplers do): the posterior
of ``x_0`` has zero variance there.
Sampling starts at ``x_T = mu + lambda z`` and the result is clamped to [0, 1].

Noise network.  ``eps_phi`` is a time-conditioned U-Net ``f`` on
``concat(x_t, mu)``.  With ``parametrisation: noise`` (the study's, preset
``paper``) ``eps_phi = f``.  With ``parametrisation: x0-residual`` (preset
``demo``) ``f`` predicts the correction ``x0 - mu`` and the noise follows from
the marginal: ``eps_phi = (x_t - mu - e^{-theta_bar_t} f) / s_t``.  It is the
same model (the one-step estimate is then ``x0_hat = mu + f``), but an
untrained ``f = 0`` (MONAI zero-initialises the last layer) already samples
back to ``mu``, the baseline, so a few CPU epochs suffice.

Examples
--------
>>> sde = IRSDESchedule()
>>> round(float(sde.theta_bar[-1]), 4), round(float(sde.std(torch.tensor([0]))[0]), 4)
(4.6052, 0.0)
>>> sde.sampling_times(4)
[100, 75, 50, 25, 0]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from monai.networks.nets import DiffusionModelUNet

from reconfair.recon.unet import check_pairs
from reconfair.seeding import Generators, SeedPart, draw_per_sample, torch_generator

PARAMETRISATIONS = ("noise", "x0-residual")
NoiseFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]

__all__ = ["PRESET_SPECS", "IRSDESchedule", "IRSDELoss", "IRSDEMethod", "cosine_theta_schedule", "normal_like"]

PRESET_SPECS: dict[str, dict[str, Any]] = {
    "demo": {
        "model": "irsde",
        "preset": "demo",
        "parametrisation": "x0-residual",
        "channels": [8, 16, 16],
        "res_blocks": 1,
        "norm_groups": 4,
        "T": 100,
        "lam": 10 / 255,
        "eps": 0.01,
        "sampling_steps": 10,
        "epochs": 10,
        "batch_size": 16,
        "learning_rate": 1e-3,
        "patience": 3,
    },
    "paper": {
        "model": "irsde",
        "preset": "paper",
        "parametrisation": "noise",
        "channels": [64, 128, 256, 512],
        "res_blocks": 2,
        "norm_groups": 32,
        "T": 100,
        "lam": 10 / 255,
        "eps": 0.01,
        "sampling_steps": 100,
        "epochs": 20,
        "batch_size": 16,
        "learning_rate": 1e-4,
        "patience": 5,
    },
}


def cosine_theta_schedule(T: int, s: float = 0.008) -> torch.Tensor:
    """``T + 1`` cosine-schedule rates (index 0 unused by the process), float64.

    >>> theta = cosine_theta_schedule(100)
    >>> theta.shape, bool((theta > 0).all()), bool(theta[50] > theta[1])
    (torch.Size([101]), True, True)
    """
    steps = T + 2
    grid = torch.linspace(0, steps, steps + 1, dtype=torch.float64)
    alphas = torch.cos(((grid / steps) + s) / (1 + s) * math.pi * 0.5) ** 2
    alphas = alphas / alphas[0]
    return 1 - alphas[1:-1] / alphas[:-2]


def normal_like(x: torch.Tensor, generator: Generators) -> torch.Tensor:
    """Standard normal noise shaped like ``x``; sample ``i`` from generator ``i`` when a sequence."""
    return draw_per_sample(lambda p, g: torch.randn(p.shape, generator=g, device=p.device, dtype=p.dtype), x, generator)


class IRSDESchedule:
    """The discretised mean-reverting SDE: rates, marginals, optimal reverse state, steps."""

    def __init__(self, T: int = 100, lam: float = 10 / 255, eps: float = 0.01) -> None:
        if T < 1 or lam <= 0 or not 0 < eps < 1:
            raise ValueError(f"IR-SDE needs T >= 1, lam > 0, 0 < eps < 1; got T={T}, lam={lam}, eps={eps}")
        self.T, self.lam = int(T), float(lam)
        theta = cosine_theta_schedule(self.T)
        theta[0] = 0.0
        self.dt = -math.log(eps) / float(theta.sum())
        self.theta = theta  # theta[t]: rate on the step t-1 -> t
        self.theta_bar = torch.cumsum(theta, 0) * self.dt  # theta_bar[0] = 0

    def _at(self, values: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return values[t.long().cpu()].to(device=like.device, dtype=like.dtype).view(-1, *([1] * (like.ndim - 1)))

    def std(self, t: torch.Tensor) -> torch.Tensor:
        """``s_t = lambda sqrt(1 - exp(-2 theta_bar_t))`` for integer times ``t`` (float64)."""
        return self.lam * torch.sqrt(1 - torch.exp(-2 * self.theta_bar[t.long()]))

    def mean(self, x0: torch.Tensor, mu: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``m_t = mu + (x0 - mu) exp(-theta_bar_t)``, per sample time ``t``."""
        return mu + (x0 - mu) * torch.exp(-self._at(self.theta_bar, t, x0))

    def forward_sample(
        self, x0: torch.Tensor, mu: torch.Tensor, t: torch.Tensor, noise: torch.Tensor
    ) -> torch.Tensor:
        """``x_t = m_t + s_t * noise``."""
        return self.mean(x0, mu, t) + self._at(self.std(torch.arange(self.T + 1)), t, x0) * noise

    def optimal_reverse(
        self, xt: torch.Tensor, x0: torch.Tensor, mu: torch.Tensor, t: torch.Tensor
    ) -> torch.Tensor:
        """Posterior mean ``x*_{t-1}`` of ``x_{t-1}`` given ``x_t`` and ``x_0`` (``t >= 1``)."""
        a = torch.exp(-self._at(self.theta * self.dt, t, xt))
        b = torch.exp(-self._at(self.theta_bar, t, xt))
        c = torch.exp(-self._at(self.theta_bar, t - 1, xt))
        return mu + a * (1 - c**2) / (1 - b**2) * (xt - mu) + c * (1 - a**2) / (1 - b**2) * (x0 - mu)

    def reverse_mean(
        self, x: torch.Tensor, mu: torch.Tensor, noise_pred: torch.Tensor, t: torch.Tensor, s: torch.Tensor
    ) -> torch.Tensor:
        """Mean of the reverse step ``t -> s``: ``x - (delta (mu - x) - 2 lambda^2 delta score)``."""
        delta = self._at(self.theta_bar, t, x) - self._at(self.theta_bar, s, x)
        score = -noise_pred / self._at(self.std(torch.arange(self.T + 1)), t, x)
        return x - (delta * (mu - x) - 2 * self.lam**2 * delta * score)

    def reverse_step(
        self, x: torch.Tensor, mu: torch.Tensor, noise_pred: torch.Tensor, t: int, s: int, generator: Generators
    ) -> torch.Tensor:
        """One reverse step ``t -> s`` (Euler-Maruyama in theta_bar-time); no noise when ``s = 0``.

        The last step adds no noise: the posterior of ``x_0`` given ``x_t``
        and ``x_0`` has zero variance (``C = 1``), and noise added there would
        stay in the output (with 10 steps it alone caps the PSNR near 42 dB).
        """
        times = torch.full((x.shape[0],), t, dtype=torch.long)
        before = torch.full((x.shape[0],), s, dtype=torch.long)
        mean = self.reverse_mean(x, mu, noise_pred, times, before)
        if s == 0:
            return mean
        delta = float(self.theta_bar[t] - self.theta_bar[s])
        return mean - self.lam * math.sqrt(2 * delta) * normal_like(x, generator)

    def estimate_x0(
        self, xt: torch.Tensor, mu: torch.Tensor, noise_pred: torch.Tensor, t: torch.Tensor
    ) -> torch.Tensor:
        """One-step ``x0_hat = mu + (x_t - mu - s_t eps) exp(theta_bar_t)``."""
        s_t = self._at(self.std(torch.arange(self.T + 1)), t, xt)
        return mu + (xt - mu - s_t * noise_pred) * torch.exp(self._at(self.theta_bar, t, xt))

    def sampling_times(self, steps: int) -> list[int]:
        """``steps + 1`` decreasing integer times from ``T`` to 0 (a strided schedule)."""
        if not 1 <= steps <= self.T:
            raise ValueError(f"sampling steps must be between 1 and T={self.T}, got {steps}")
        grid = torch.linspace(self.T, 0, steps + 1, dtype=torch.float64).round().long().tolist()
        return [int(v) for v in grid]

    def sample(
        self, mu: torch.Tensor, noise_fn: NoiseFn, *, steps: int | None = None, generator: Generators = None
    ) -> torch.Tensor:
        """Reverse process from ``x_T = mu + lambda z``; ``noise_fn(x, mu, t_batch)`` predicts eps."""
        x = mu + self.lam * normal_like(mu, generator)
        times = self.sampling_times(steps or self.T)
        for t, s in zip(times[:-1], times[1:]):
            noise = noise_fn(x, mu, torch.full((x.shape[0],), t, dtype=torch.long, device=x.device))
            x = self.reverse_step(x, mu, noise, t, s, generator)
        return x


class IRSDEMethod:
    """Noise network ``eps_phi(x_t, mu, t)`` (a time-conditioned U-Net on concat(x_t, mu))."""

    def __init__(self, spec: dict[str, Any]) -> None:
        if spec["parametrisation"] not in PARAMETRISATIONS:
            raise ValueError(
                f"irsde parametrisation {spec['parametrisation']!r} is unknown; expected one of: "
                f"{', '.join(PARAMETRISATIONS)}"
            )
        self.spec = spec
        self.sde = IRSDESchedule(int(spec["T"]), float(spec["lam"]), float(spec["eps"]))
        channels = [int(c) for c in spec["channels"]]
        self.network = DiffusionModelUNet(
            spatial_dims=2,
            in_channels=2,
            out_channels=1,
            num_res_blocks=int(spec["res_blocks"]),
            channels=channels,
            attention_levels=[False] * len(channels),
            norm_num_groups=int(spec["norm_groups"]),
        )
        self.network.eval()

    @property
    def modules(self) -> dict[str, torch.nn.Module]:
        return {"network": self.network}

    @property
    def trained(self) -> torch.nn.Module:
        return self.network

    @property
    def size_multiple(self) -> int:
        return 2 ** (len(self.spec["channels"]) - 1)

    def predict_noise(
        self, network: torch.nn.Module, x: torch.Tensor, mu: torch.Tensor, t: torch.Tensor
    ) -> torch.Tensor:
        """``eps_phi(x_t, mu, t)`` under the spec's parametrisation (module docstring)."""
        out = network(torch.cat([x, mu], dim=1), t.to(x.device))
        if self.spec["parametrisation"] == "noise":
            return out
        decay = torch.exp(-self.sde._at(self.sde.theta_bar, t, x))
        std = self.sde._at(self.sde.std(torch.arange(self.sde.T + 1)), t, x)
        return (x - mu - decay * out) / std

    def batch_loss(
        self, network: torch.nn.Module, mu: torch.Tensor, x0: torch.Tensor, generator: torch.Generator
    ) -> torch.Tensor:
        """L1 between the network's reverse-step mean and ``x*_{t-1}`` at random ``t``, ``x_t``."""
        return self.batch_terms(network, mu, x0, generator)[0]

    def batch_terms(
        self, network: torch.nn.Module, mu: torch.Tensor, x0: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(loss, x0_hat)``: :meth:`batch_loss` and the one-step estimate of ``x0`` from the same draw.

        ``x0_hat = mu + (x_t - mu - s_t eps_phi) exp(theta_bar_t)`` (docs/reconstruction.md) keeps the
        graph to the network, so a loss through a downstream model trains it.
        """
        n = mu.shape[0]
        t = torch.randint(1, self.sde.T + 1, (n,), generator=generator)
        noise = torch.randn(mu.shape, generator=generator, dtype=mu.dtype).to(mu.device)
        xt = self.sde.forward_sample(x0, mu, t, noise)
        predicted = self.predict_noise(network, xt, mu, t)
        step = self.sde.reverse_mean(xt, mu, predicted, t, t - 1)
        loss = (step - self.sde.optimal_reverse(xt, x0, mu, t)).abs().mean()
        return loss, self.sde.estimate_x0(xt, mu, predicted, t)

    def make_loss(self, seed_parts: Sequence[SeedPart]) -> IRSDELoss:
        """The loss for ``fit``: :meth:`batch_loss` with draws from a generator seeded by ``seed_parts``."""
        return IRSDELoss(self, torch_generator(*seed_parts, "irsde-draws"))

    def score(self, network: torch.nn.Module, mu: torch.Tensor, x0: torch.Tensor) -> float:
        """Minus the training loss under fixed draws (a deterministic validation score)."""
        return -float(self.batch_loss(network, mu, x0, torch_generator("irsde-validation")))

    @torch.no_grad()
    def reconstruct(self, y: torch.Tensor, *, generator: Generators = None, steps: int | None = None) -> torch.Tensor:
        """Sample with ``steps`` (default: the spec's ``sampling_steps``), clamp to [0, 1].

        ``generator=None`` uses a fixed generator, so results stay deterministic.
        """
        check_pairs(y, y, multiple=self.size_multiple)
        if generator is None:
            generator = torch_generator("reconfair.recon.irsde", device=y.device)
        self.network.to(y.device).eval()
        noise_fn = lambda x, mu, t: self.predict_noise(self.network, x, mu, t)  # noqa: E731
        x = self.sde.sample(y, noise_fn, steps=steps or int(self.spec["sampling_steps"]), generator=generator)
        return x.clamp(0.0, 1.0)


class IRSDELoss:
    """``fit``'s loss; its state (``generator``: the running draw generator's state) resumes with ``fit``.

    >>> method = IRSDEMethod(dict(PRESET_SPECS["demo"]))
    >>> loss = method.make_loss((0,))
    >>> saved = loss.state_dict()
    >>> y = torch.rand(2, 1, 32, 32)
    >>> first = loss(method.network, y, y)
    >>> loss.load_state_dict(saved)
    >>> bool(torch.equal(first, loss(method.network, y, y)))
    True
    """

    def __init__(self, method: IRSDEMethod, generator: torch.Generator) -> None:
        self.method, self.generator = method, generator

    def terms(self, network: torch.nn.Module, mu: torch.Tensor, x0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(loss, x0_hat)`` on one batch (see :meth:`IRSDEMethod.batch_terms`)."""
        return self.method.batch_terms(network, mu, x0, self.generator)

    def __call__(self, network: torch.nn.Module, mu: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        return self.terms(network, mu, x0)[0]

    def state_dict(self) -> dict[str, torch.Tensor]:
        """``{"generator": uint8 state}`` of the draw generator."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore :meth:`state_dict`'s output (``ValueError`` on other keys)."""
        if set(state) != {"generator"}:
            raise ValueError(f"IR-SDE loss state must hold exactly 'generator', got {sorted(state)}")
        self.generator.set_state(state["generator"])
