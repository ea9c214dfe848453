"""Adversarial debiasing: a bias predictor on the frozen classifier's features, behind gradient reversal.

The predictor reads the features the classifier's last linear layer sees
(captured by a forward hook, so any MONAI classifier works) and predicts
every configured attribute (one softmax head each).  Its cross-entropy
``CE`` enters the loss through :func:`gradient_reversal`: the forward pass
is the identity, the backward pass multiplies the gradient by ``-lambda``.
One backward step therefore *lowers* CE in the predictor's weights and
*raises* it in the reconstructor's (a correct min-max, Ganin & Lempitsky
2015), and the frozen classifier's weights receive nothing.

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

__all__ = ["BiasPredictor", "ClassifierFeatures", "gradient_reversal"]


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
    """A two-layer MLP with one softmax head per attribute.

    >>> predictor = BiasPredictor(8, [2, 3])
    >>> codes = torch.tensor([[0, 2], [1, 0]])
    >>> float(predictor.loss(torch.zeros(2, 8), codes).detach()) > 0
    True
    """

    def __init__(self, n_features: int, n_groups: Sequence[int], *, hidden: int = 64) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(n_features, hidden), torch.nn.ReLU())
        self.heads = torch.nn.ModuleList(torch.nn.Linear(hidden, int(n)) for n in n_groups)

    def forward(self, features: torch.Tensor) -> list[torch.Tensor]:
        hidden = self.body(features)
        return [head(hidden) for head in self.heads]

    def loss(self, features: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """Mean over attributes of the cross-entropy of each head against its group codes."""
        logits = self(features)
        return torch.stack([F.cross_entropy(out, codes[:, a]) for a, out in enumerate(logits)]).mean()
