"""Adversarial debiasing: a bias predictor on the frozen classifier's features, and a confusion loss.

The predictor reads the features ``h`` the classifier's last linear layer
sees (captured by a forward hook, so any MONAI classifier works) and
predicts every configured attribute (one softmax head each), learning by its
cross-entropy.  A :class:`ReferencePredictor` learns the same attributes
from the labels alone (or from nothing): chance.  The reconstructor is
trained to make the predictor, held fixed, say what chance says:
``KL(q_ref || q(h))`` (:func:`mean_kl`; a confusion loss, Alvi, Zisserman &
Nellåker 2018), 0 once the features carry no attribute information beyond
the labels, and pulling back from either side.  A gradient reversal (Ganin &
Lempitsky 2015), which the study used, instead rewards *raising* the
predictor's cross-entropy without bound: past chance that means encoding the
attribute inverted, which is information too, and the game runs away with
the images (measured: a U-Net at 30 photons fell from 32.3 to 17.7 dB).

For equalized odds the predictor also receives the true labels (Zhang,
Lemoine & Mitchell 2018): ``BiasPredictor(..., n_labels=L)`` reads
``[h, y * k, (1 - y) * k]`` per target (:func:`label_channels`; ``k`` = 1
where the label is known), and so does the reference.  The predictor's best
cross-entropy is then ``H(A | h, y)`` and the reference's ``H(A | y)``: the
reconstructor is pushed only against what the features say about the
attribute beyond the label.  With ``n_labels=0`` (demographic parity) the
predictor reads ``h`` alone, the reference is the groups' base rates, and
any attribute information is pushed out, including what the label carries.

Examples
--------
>>> import torch
>>> predictor = BiasPredictor(8, [2])
>>> [tuple(out.shape) for out in predictor(torch.zeros(3, 8))]
[(3, 2)]
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ["BiasPredictor", "ClassifierFeatures", "ReferencePredictor", "label_channels", "mean_cross_entropy", "mean_kl"]


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
        self.reference = ReferencePredictor(n_groups, n_labels=self.n_labels, hidden=hidden)

    def forward(self, features: torch.Tensor, labels: torch.Tensor | None = None) -> list[torch.Tensor]:
        hidden = self.body(self._inputs(features, labels))
        return [head(hidden) for head in self.heads]

    def loss(self, features: torch.Tensor, codes: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Mean over attributes of the cross-entropy of each head against its group codes."""
        return mean_cross_entropy(self(features, labels), codes)

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


class ReferencePredictor(torch.nn.Module):
    """The chance level of the adversary: the attribute predicted from the labels alone, or from nothing.

    ``n_labels=L`` (equalized odds): a two-layer MLP on :func:`label_channels`, so its cross-entropy
    estimates ``H(A | y)``; ``n_labels=0`` (demographic parity): one learned logit vector per attribute
    (the groups' base rates), so its cross-entropy estimates ``H(A)``.  The features never enter, so
    no gradient reaches the reconstructor through it.  :class:`reconfair.mitigate.MitigationLoss`
    trains it beside the adversary and stops pushing the reconstructor once the adversary does no
    better than this reference: past that point the features carry no attribute information beyond
    the labels, and raising the adversary's loss further would only encode the attribute inverted
    (at the images' expense).

    >>> reference = ReferencePredictor([2, 3])
    >>> [tuple(out.shape) for out in reference(torch.zeros(4, 0))]
    [(4, 2), (4, 3)]
    >>> float(mean_cross_entropy(reference(torch.zeros(2, 0)), torch.tensor([[0, 2], [1, 0]])).detach()) == (
    ...     (torch.log(torch.tensor(2.0)) + torch.log(torch.tensor(3.0))) / 2).item()
    True
    """

    def __init__(self, n_groups: Sequence[int], *, n_labels: int = 0, hidden: int = 64) -> None:
        super().__init__()
        self.n_labels = int(n_labels)
        if self.n_labels:
            self.body = torch.nn.Sequential(torch.nn.Linear(2 * self.n_labels, hidden), torch.nn.ReLU())
            self.heads = torch.nn.ModuleList(torch.nn.Linear(hidden, int(n)) for n in n_groups)
        else:  # base rates: start at uniform, learned like any logit
            self.rates = torch.nn.ParameterList(torch.nn.Parameter(torch.zeros(int(n))) for n in n_groups)

    def forward(self, labels: torch.Tensor) -> list[torch.Tensor]:
        """Logits per attribute for a batch (``labels``: ``N x L``; for ``n_labels=0`` only ``N`` is read)."""
        if not self.n_labels:
            return [rate.expand(labels.shape[0], -1) for rate in self.rates]
        hidden = self.body(label_channels(labels).to(self.body[0].weight))
        return [head(hidden) for head in self.heads]


def mean_cross_entropy(logits: Sequence[torch.Tensor], codes: torch.Tensor) -> torch.Tensor:
    """Mean over attributes ``a`` of ``cross_entropy(logits[a], codes[:, a])`` (a scalar)."""
    return torch.stack([F.cross_entropy(out, codes[:, a]) for a, out in enumerate(logits)]).mean()


def mean_kl(target_logits: Sequence[torch.Tensor], logits: Sequence[torch.Tensor]) -> torch.Tensor:
    """Mean over attributes and rows of ``KL(softmax(target) || softmax(logits))`` (a scalar, >= 0).

    >>> same = [torch.tensor([[0.0, 1.0]])]
    >>> float(mean_kl(same, same))
    0.0
    >>> p, q = torch.tensor([0.5, 0.5]), torch.tensor([0.9, 0.1])
    >>> round(float(mean_kl([p.log()[None]], [q.log()[None]])), 6) == round(float((p * (p / q).log()).sum()), 6)
    True
    """
    terms = [
        (F.softmax(t, dim=1) * (F.log_softmax(t, dim=1) - F.log_softmax(q, dim=1))).sum(1).mean()
        for t, q in zip(target_logits, logits)
    ]
    return torch.stack(terms).mean()
