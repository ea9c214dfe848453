"""Adversarial debiasing: a bias predictor on the frozen classifier's features, behind gradient reversal.

The predictor reads the features the classifier's last linear layer sees
(captured by a forward hook, so any MONAI classifier works) and predicts
every configured attribute (one softmax head each).  Its cross-entropy
``CE`` enters the loss through :func:`gradient_reversal`: the forward pass
is the identity, the backward pass multiplies the gradient by ``-lambda``.
One backward step therefore *lowers* CE in the predictor's weights and
*raises* it in the reconstructor's (a correct min-max, Ganin & Lempitsky
2015), and the frozen classifier's weights receive nothing.

For equalized odds the predictor also receives the true labels (Zhang,
Lemoine & Mitchell 2018): ``BiasPredictor(..., n_labels=L)`` reads
``[h, y * k, (1 - y) * k]`` per target (:func:`label_channels`; ``k`` = 1
where the label is known), the labels beside, not behind, the reversal (they
are data).  Its best cross-entropy is then ``H(A | h, y)`` and at least
``H(A | y)``: the reconstructor is pushed only against what the features say
about the attribute beyond the label.  With ``n_labels=0`` (demographic
parity) it reads ``h`` alone and any attribute information is pushed out,
including what the label carries.

Examples
--------
>>> import torch
>>> x = torch.ones(3, requires_grad=True)
>>> gradient_reversal(x, 2.0).sum().backward()
>>> x.grad.tolist()
[-2.0, -2.0, -2.0]
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ["BiasPredictor", "ClassifierFeatures", "gradient_reversal", "label_channels"]


class _Reverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: float) -> torch.Tensor:  # noqa: ANN001
        ctx.weight = weight
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # noqa: ANN001
        return -ctx.weight * grad, None


def gradient_reversal(x: torch.Tensor, weight: float = 1.0) -> torch.Tensor:
    """Identity forward; gradient times ``-weight`` backward."""
    return _Reverse.apply(x, float(weight))


def label_channels(labels: torch.Tensor) -> torch.Tensor:
    """``N x 2L`` inputs for the equalized-odds adversary: ``y * k`` then ``(1 - y) * k``, ``k`` = label known.

    An unknown (NaN) label gives 0 in both channels, so it tells the adversary nothing.

    >>> label_channels(torch.tensor([[1.0, float("nan")], [0.0, 1.0]])).tolist()
    [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 1.0, 0.0]]
    """
    known = ~torch.isnan(labels)
    y = torch.where(known, labels, torch.zeros_like(labels)).float()
    k = known.float()
    return torch.cat([y * k, (1.0 - y) * k], dim=1)


class ClassifierFeatures:
    """Run a frozen classifier and return ``(logits, features)``; features = its last linear layer's input.

    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    >>> logits, features = ClassifierFeatures(net)(torch.zeros(5, 1, 2, 2))
    >>> tuple(logits.shape), tuple(features.shape)
    ((5, 2), (5, 8))
    """

    def __init__(self, network: torch.nn.Module) -> None:
        linear = [m for m in network.modules() if isinstance(m, torch.nn.Linear)]
        if not linear:
            raise ValueError(f"{type(network).__name__} has no linear layer to read features from")
        self.network, self.layer = network, linear[-1]

    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        captured: list[torch.Tensor] = []
        hook = self.layer.register_forward_pre_hook(lambda module, inputs: captured.append(inputs[0]))
        try:  # the hook lives for this call only, so the classifier is left as it was
            logits = self.network(images)
        finally:
            hook.remove()
        return logits, captured[-1].flatten(1)


class BiasPredictor(torch.nn.Module):
    """A two-layer MLP with one softmax head per attribute; with ``n_labels`` it also reads the true labels.

    ``n_labels=0``: demographic parity, the input is the features.  ``n_labels=L``: equalized odds, the
    input is the features and :func:`label_channels` of the ``L`` labels (``labels`` is then required).

    >>> predictor = BiasPredictor(8, [2, 3])
    >>> codes = torch.tensor([[0, 2], [1, 0]])
    >>> float(predictor.loss(torch.zeros(2, 8), codes).detach()) > 0
    True
    >>> eo = BiasPredictor(8, [2], n_labels=1)
    >>> [tuple(out.shape) for out in eo(torch.zeros(2, 8), torch.tensor([[1.0], [0.0]]))]
    [(2, 2)]
    """

    def __init__(self, n_features: int, n_groups: Sequence[int], *, n_labels: int = 0, hidden: int = 64) -> None:
        super().__init__()
        if n_labels < 0:
            raise ValueError(f"n_labels must be >= 0 (0: demographic parity), got {n_labels}")
        self.n_labels = int(n_labels)
        self.body = torch.nn.Sequential(torch.nn.Linear(n_features + 2 * self.n_labels, hidden), torch.nn.ReLU())
        self.heads = torch.nn.ModuleList(torch.nn.Linear(hidden, int(n)) for n in n_groups)

    def forward(self, features: torch.Tensor, labels: torch.Tensor | None = None) -> list[torch.Tensor]:
        hidden = self.body(self._inputs(features, labels))
        return [head(hidden) for head in self.heads]

    def loss(self, features: torch.Tensor, codes: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Mean over attributes of the cross-entropy of each head against its group codes."""
        logits = self(features, labels)
        return torch.stack([F.cross_entropy(out, codes[:, a]) for a, out in enumerate(logits)]).mean()

    def _inputs(self, features: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if self.n_labels == 0:
            if labels is not None:
                raise ValueError("this bias predictor reads the features alone (demographic parity, n_labels=0); "
                                 "pass no labels, or build it with n_labels for equalized odds")
            return features
        if labels is None or labels.shape[1:] != (self.n_labels,):
            got = None if labels is None else tuple(labels.shape)
            raise ValueError(f"this bias predictor reads the features and {self.n_labels} labels (equalized odds); "
                             f"expected labels of shape (N, {self.n_labels}), got {got}")
        return torch.cat([features, label_channels(labels).to(features)], dim=1)
