"""A differentiable equalized-odds penalty on a frozen classifier's probabilities.

For label ``l`` the decision is soft, ``s = sigmoid((p - tau_l) / T)`` (T =
0.3 by default), where ``tau_l`` is an exponential moving average of each
batch's equal sensitivity/specificity threshold (the same rule as the
deployed threshold, :func:`~reconfair.metrics.threshold.equal_error_threshold`,
fitted on the batch's detached probabilities: ``tau <- m tau + (1 - m)
tau_batch``, the first batch initialising it).  Per group ``g`` of attribute
``a``::

    TPR_g = sum(s y [g]) / sum(y [g])        FPR_g = sum(s (1 - y) [g]) / sum((1 - y) [g])
    EODD_{l,a} = 1/2 [(max_g TPR_g - min_g TPR_g) + (max_g FPR_g - min_g FPR_g)]

(docs/statistics.md's EODD with soft counts).  Unknown labels (NaN) are left
out; a group without positives (negatives) in the batch is left out of the
TPR (FPR) spread, and a spread over fewer than two groups is 0.  The penalty
is the mean (or max) of ``EODD_{l,a}`` over labels and attributes, a number
in [0, 1].  As ``T -> 0`` it tends to the hard EODD at ``tau``.

Examples
--------
>>> import torch
>>> loss = SoftEqualizedOdds(n_labels=1, temperature=1e-4, momentum=0.9)
>>> p = torch.tensor([[0.9], [0.8], [0.2], [0.7], [0.1], [0.3]])
>>> y = torch.tensor([[1.0], [1.0], [0.0], [1.0], [0.0], [0.0]])
>>> g = torch.tensor([[0], [0], [0], [1], [1], [1]])
>>> round(float(loss(p, y, g, tau=torch.tensor([0.75]))), 4)  # TPR 1 vs 0, FPR 0 vs 0
0.5
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from reconfair.metrics.threshold import equal_error_threshold

__all__ = ["SoftEqualizedOdds", "REDUCTIONS"]

REDUCTIONS = ("mean", "max")


class SoftEqualizedOdds:
    """The soft EODD penalty with its running thresholds (``state_dict`` resumes them).

    Parameters
    ----------
    n_labels
        Number of classifier outputs (labels).
    temperature
        ``T`` of the soft decision.
    momentum
        ``m`` of the threshold's moving average.
    reduce
        ``"mean"`` or ``"max"`` over labels and attributes.
    """

    def __init__(
        self, n_labels: int, *, temperature: float = 0.3, momentum: float = 0.9,
        reduce: Literal["mean", "max"] = "mean",
    ) -> None:
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must lie in [0, 1), got {momentum}")
        if reduce not in REDUCTIONS:
            raise ValueError(f"reduce must be one of {REDUCTIONS}, got {reduce!r}")
        self.temperature, self.momentum, self.reduce = float(temperature), float(momentum), reduce
        self.tau = torch.full((n_labels,), float("nan"), dtype=torch.float64)

    def update_threshold(self, probabilities: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Move each label's ``tau`` towards this batch's equal-error threshold; returns ``tau``.

        A label whose batch lacks a class keeps its threshold.
        """
        p = probabilities.detach().double().cpu().numpy()
        y = labels.detach().double().cpu().numpy()
        for j in range(p.shape[1]):
            known = ~np.isnan(y[:, j])
            if not (known.any() and 0 < y[known, j].sum() < known.sum()):
                continue
            batch_tau = equal_error_threshold(y[:, j], p[:, j])
            previous = float(self.tau[j])
            self.tau[j] = batch_tau if np.isnan(previous) else self.momentum * previous + (1 - self.momentum) * batch_tau
        return self.tau

    def __call__(
        self, probabilities: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor, *,
        tau: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The penalty for a batch: ``probabilities`` and ``labels`` ``B x L``, ``groups`` ``B x A`` codes.

        ``tau`` overrides the running thresholds (which this call does not update).
        """
        thresholds = (self.tau if tau is None else tau).to(probabilities.device, probabilities.dtype)
        terms = []
        for j in range(probabilities.shape[1]):
            if torch.isnan(thresholds[j]):
                continue
            known = ~torch.isnan(labels[:, j])
            soft = torch.sigmoid((probabilities[known, j] - thresholds[j]) / self.temperature)
            y = labels[known, j]
            for a in range(groups.shape[1]):
                terms.append(_soft_eodd(soft, y, groups[known, a]))
        if not terms:
            return probabilities.sum() * 0.0  # no label with a threshold yet: no penalty, graph kept
        stacked = torch.stack(terms)
        return stacked.mean() if self.reduce == "mean" else stacked.max()

    def state_dict(self) -> dict[str, torch.Tensor]:
        """``{"tau": running thresholds}`` (NaN where not yet set)."""
        return {"tau": self.tau.clone()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore :meth:`state_dict`'s output."""
        if set(state) != {"tau"} or state["tau"].shape != self.tau.shape:
            raise ValueError(f"soft EODD state must hold 'tau' of shape {tuple(self.tau.shape)}, got {sorted(state)}")
        self.tau = state["tau"].clone().double()


def _soft_eodd(soft: torch.Tensor, y: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
    """1/2 (spread of soft TPR + spread of soft FPR) over the groups present with each class."""
    tpr, fpr = [], []
    for g in torch.unique(group):
        member = group == g
        pos, neg = member & (y == 1), member & (y == 0)
        if pos.any():
            tpr.append(soft[pos].mean())
        if neg.any():
            fpr.append(soft[neg].mean())
    return 0.5 * (_spread(tpr, soft) + _spread(fpr, soft))


def _spread(rates: list[torch.Tensor], like: torch.Tensor) -> torch.Tensor:
    if len(rates) < 2:
        return like.sum() * 0.0
    stacked = torch.stack(rates)
    return stacked.max() - stacked.min()
