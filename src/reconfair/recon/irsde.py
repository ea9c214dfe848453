"""IR-SDE: the mean-reverting SDE restoration model of docs/reconstruction.md.

The process (schedule, marginals, posterior, samplers) is
:mod:`reconfair.recon.irsde_sde`; this module holds the network and its
settings.  The network ``f`` is a time-conditioned MONAI ``DiffusionModelUNet``
on ``concat(x_t, mu)`` (its last layer starts at zero), read under the spec's
``prediction``:

- ``noise`` (the study's, preset ``paper``): ``eps_phi = f``, score ``-eps_phi / s_t``,
  ``x0_hat = mu + (x_t - mu - s_t eps_phi) e^{tau_t}``.
- ``x0`` (preset ``demo``): ``x0_hat = mu + f``, and the noise follows from the marginal,
  ``eps_phi = (x_t - m_t(x0_hat)) / s_t``.  An untrained ``f = 0`` gives
  ``x0_hat = mu``, and both samplers then return ``mu`` (the baseline) exactly.

``loss``: ``reverse`` (the reference's) is the L1 distance between the network's
Euler reverse-step mean and the optimal reverse state ``x*_{t-1}``; ``x0`` is the
L1 distance between ``x0_hat`` and ``x0``.  Both draw ``t`` uniformly from
``1..T`` and ``x_t ~ q(x_t | x0)``.  ``sampler`` (``posterior`` or ``euler``) and
``sampling_steps`` choose the deployed sampler.

Examples
--------
>>> method = IRSDEMethod(dict(PRESET_SPECS["demo"]))
>>> y = torch.rand(2, 1, 16, 16)
>>> bool(torch.equal(method.reconstruct(y), y))   # untrained x0 prediction: the baseline
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from monai.networks.nets import DiffusionModelUNet

from reconfair.recon.irsde_sde import SAMPLERS, IRSDESchedule, cosine_theta_schedule, normal_like
from reconfair.recon.unet import check_pairs
from reconfair.seeding import Generators, SeedPart, torch_generator

__all__ = ["LOSSES", "PREDICTIONS", "PRESET_SPECS", "SAMPLERS", "SCHEDULE_VERSION", "IRSDELoss", "IRSDEMethod",
           "IRSDESchedule", "check_spec", "cosine_theta_schedule", "normal_like"]

PREDICTIONS = ("noise", "x0")
LOSSES = ("reverse", "x0")
SCHEDULE_VERSION = 2
"""2: ``theta_t = 1 - alpha_bar_t`` as the reference (1 was the DDPM ``beta_t``, eps 0.01, noise-step sampler)."""

PRESET_SPECS: dict[str, dict[str, Any]] = {
    "demo": {
        "model": "irsde",
        "preset": "demo",
        "schedule_version": SCHEDULE_VERSION,
        "prediction": "x0",
        "sampler": "posterior",
        "loss": "x0",
        "channels": [8, 16, 32, 64],
        "res_blocks": 1,
        "norm_groups": 8,
        "T": 100,
        "lam": 10 / 255,
        "eps": 0.005,
        "sampling_steps": 5,
        "epochs": 10,
        "batch_size": 4,
        "learning_rate": 1e-3,
        "patience": 3,
    },
    "paper": {
        "model": "irsde",
        "preset": "paper",
        "schedule_version": SCHEDULE_VERSION,
        "prediction": "noise",
        "sampler": "euler",
        "loss": "reverse",
        "channels": [64, 128, 256, 512],
        "res_blocks": 2,
        "norm_groups": 32,
        "T": 100,
        "lam": 10 / 255,
        "eps": 0.005,
        "sampling_steps": 100,
        "epochs": 20,
        "batch_size": 16,
        "learning_rate": 1e-4,
        "patience": 5,
    },
}


def check_spec(spec: dict[str, Any]) -> None:
    """Refuse specs of another schedule version (old checkpoints) or unknown choices, naming the field."""
    version = spec.get("schedule_version")
    if version != SCHEDULE_VERSION:
        raise ValueError(
            f"irsde spec has schedule_version={version!r}, expected {SCHEDULE_VERSION}: it was trained on "
            "reconfair's earlier IR-SDE process (theta_t = DDPM beta_t, eps = 0.01), which this version no longer "
            "implements; retrain the model (its weights would sample a different process)"
        )
    for field, allowed in (("prediction", PREDICTIONS), ("sampler", SAMPLERS), ("loss", LOSSES)):
        if spec.get(field) not in allowed:
            raise ValueError(f"irsde {field} {spec.get(field)!r} is unknown; expected one of: {', '.join(allowed)}")


class IRSDEMethod:
    """The network ``f(concat(x_t, mu), t)``, its reading (``prediction``), loss and sampler."""

    def __init__(self, spec: dict[str, Any]) -> None:
        check_spec(spec)
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

    def predict(self, network: torch.nn.Module, x: torch.Tensor, mu: torch.Tensor, t: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(eps_phi, x0_hat)`` at ``x_t = x`` under the spec's ``prediction`` (module docstring)."""
        out = network(torch.cat([x, mu], dim=1), t.to(x.device))
        if self.spec["prediction"] == "noise":
            return out, self.sde.estimate_x0(x, mu, out, t)
        x0 = mu + out
        return self.sde.noise_from_x0(x, mu, x0, t), x0

    def predict_noise(self, network: torch.nn.Module, x: torch.Tensor, mu: torch.Tensor, t: torch.Tensor
                      ) -> torch.Tensor:
        """``eps_phi(x_t, mu, t)``."""
        return self.predict(network, x, mu, t)[0]

    def batch_loss(
        self, network: torch.nn.Module, mu: torch.Tensor, x0: torch.Tensor, generator: torch.Generator
    ) -> torch.Tensor:
        """The spec's ``loss`` at random ``t`` and ``x_t ~ q(x_t | x0)`` (draws from ``generator``, on the CPU)."""
        n = mu.shape[0]
        t = torch.randint(1, self.sde.T + 1, (n,), generator=generator)
        noise = torch.randn(mu.shape, generator=generator, dtype=mu.dtype).to(mu.device)
        xt = self.sde.forward_sample(x0, mu, t, noise)
        eps, x0_hat = self.predict(network, xt, mu, t)
        if self.spec["loss"] == "x0":
            return (x0_hat - x0).abs().mean()
        step = self.sde.euler_mean(xt, mu, x0_hat, t, t - 1)
        return (step - self.sde.optimal_reverse(xt, x0, mu, t)).abs().mean()

    def sample(self, network: torch.nn.Module, mu: torch.Tensor, *, generator: Generators = None,
               steps: int | None = None, sampler: str | None = None, noise: Any = None) -> torch.Tensor:
        """``sampler`` with ``steps`` (defaults: the spec's ``sampler``, ``sampling_steps``), not clamped.

        The graph is kept (a loss on the output trains the network).
        """
        denoiser = lambda x, m, t: self.predict(network, x, m, t)[1]  # noqa: E731
        return self.sde.sample(mu, denoiser, steps=steps or int(self.spec["sampling_steps"]),
                               sampler=sampler or str(self.spec["sampler"]), generator=generator, noise=noise)

    def batch_terms(
        self, network: torch.nn.Module, mu: torch.Tensor, x0: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(loss, output)``: :meth:`batch_loss`, and what the model outputs for ``mu``, differentiably.

        The output is the deployed sampler (``sampler``, ``sampling_steps``) run
        with the graph kept, with its noise drawn from ``generator``, so a loss
        through a downstream model sees images distributed as
        :meth:`reconstruct`'s (not ``x0_hat`` from ``q(x_t | x0)``, which sees the clean image).
        """
        loss = self.batch_loss(network, mu, x0, generator)
        draw = lambda like: torch.randn(like.shape, generator=generator, dtype=like.dtype).to(like.device)  # noqa: E731
        return loss, self.sample(network, mu, noise=draw)

    def make_loss(self, seed_parts: Sequence[SeedPart]) -> IRSDELoss:
        """The loss for ``fit``: :meth:`batch_loss` with draws from a generator seeded by ``seed_parts``."""
        return IRSDELoss(self, torch_generator(*seed_parts, "irsde-draws"))

    def score(self, network: torch.nn.Module, mu: torch.Tensor, x0: torch.Tensor) -> float:
        """Minus the training loss under fixed draws (a deterministic validation score)."""
        return -float(self.batch_loss(network, mu, x0, torch_generator("irsde-validation")))

    @torch.no_grad()
    def reconstruct(self, y: torch.Tensor, *, generator: Generators = None, steps: int | None = None,
                    sampler: str | None = None) -> torch.Tensor:
        """Sample with ``sampler`` and ``steps`` (defaults: the spec's), clamp to [0, 1].

        ``generator=None`` uses a fixed generator, so results stay deterministic.
        """
        check_pairs(y, y, multiple=self.size_multiple)
        if generator is None:
            generator = torch_generator("reconfair.recon.irsde", device=y.device)
        self.network.to(y.device).eval()
        return self.sample(self.network, y, generator=generator, steps=steps, sampler=sampler).clamp(0.0, 1.0)


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
        """``(loss, output)`` on one batch (see :meth:`IRSDEMethod.batch_terms`)."""
        return self.method.batch_terms(network, mu, x0, self.generator)

    def __call__(self, network: torch.nn.Module, mu: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        return self.method.batch_loss(network, mu, x0, self.generator)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """``{"generator": uint8 state}`` of the draw generator."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore :meth:`state_dict`'s output (``ValueError`` on other keys)."""
        if set(state) != {"generator"}:
            raise ValueError(f"IR-SDE loss state must hold exactly 'generator', got {sorted(state)}")
        self.generator.set_state(state["generator"])
