"""The fine-tuning objective of a mitigated reconstructor.

``L = L_recon / sg(L_recon) + lambda * L_fair`` for the equalized-odds loss,
and ``L = L_recon / sg(L_recon) + lambda * KL(q_ref || q(h, y))`` for the
adversarial one (``sg``: stop-gradient): the predictor ``q`` reads the
classifier's features ``h`` (and ``y``, the true labels, only for a
predictor built for equalized odds, the default criterion; see
:mod:`reconfair.mitigate.adversarial`), the reference ``q_ref`` reads the
labels alone (or nothing: chance), and the reconstructor is trained to make
the fixed predictor say what chance says (a confusion loss, Alvi et al.
2018).  The predictor and the reference learn by their own cross-entropies
in the same step (the reconstructor's images detached for the predictor).
Unlike a gradient reversal, which rewards raising the predictor's
cross-entropy without bound (encoding the attribute inverted, which is
information too) and runs away with the images, this term is 0 at chance
and pulls back from either side.  Dividing the reconstruction
loss by its own detached batch value makes its gradient that of
``log L_recon``: unit-free whatever the model's loss is (MSE for the U-Net,
GAN + lambda_L1 L1 for Pix2Pix, IR-SDE's L1 to x0 or to the optimal reverse state), so
one lambda grid means the same thing for all three.  ``L_fair`` is the soft
EODD of :mod:`reconfair.mitigate.soft_eodd`, a number in [0, 1].  Reweighting
changes only which samples a batch holds, so its loss is the plain
reconstruction loss; so is ``finetune``'s, the control that gets the same
extra training with no mitigation at all.

The fairness terms see the reconstruction each loss's ``terms()`` returns:
the U-Net's output, Pix2Pix's generated image, and for IR-SDE its configured
sampler run from ``x_T = mu + lambda z`` with the graph kept (the images the
model outputs, docs/reconstruction.md), each clamped to [0, 1] as the
classifier sees images at inference.  The
classifier is frozen (eval mode, ``requires_grad`` off), so gradient flows
through it to the reconstructor but never into its weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from reconfair.vocabulary import CONTROL, MITIGATION_KINDS, NONE, WEIGHTED_KINDS
from reconfair.mitigate.adversarial import BiasPredictor, ClassifierFeatures, mean_cross_entropy, mean_kl
from reconfair.mitigate.soft_eodd import SoftEqualizedOdds

__all__ = ["ADVERSARY_VERSION", "PLAIN_LOSS", "TRAINED_KINDS", "MitigatedNetwork", "MitigationLoss", "freeze",
           "sample_info"]

ADVERSARY_VERSION = 2
"""2: the confusion loss toward the reference predictor (1: the study's gradient reversal, unbounded)."""
TRAINED_KINDS = tuple(kind for kind in MITIGATION_KINDS if kind != NONE)
"""The kinds :class:`MitigationLoss` fine-tunes with (every kind of :mod:`reconfair.vocabulary` but ``none``)."""
PLAIN_LOSS = (CONTROL, "reweighting")
"""Kinds trained on the reconstructor's own loss (``finetune``: the control, the same training, no mitigation)."""


def freeze(network: torch.nn.Module) -> torch.nn.Module:
    """Eval mode (fixed batch-norm statistics, no dropout) and no gradient into the weights."""
    network.eval()
    network.requires_grad_(False)
    return network


class MitigatedNetwork(torch.nn.Module):
    """What ``fit`` optimises: the reconstructor's network, plus the bias predictor when adversarial.

    One Adam updates both, each by its own term (the predictor never sees the confusion loss).
    """

    def __init__(self, network: torch.nn.Module, adversary: BiasPredictor | None = None) -> None:
        super().__init__()
        self.network = network
        self.adversary = adversary


class MitigationLoss:
    """``fit``'s loss for fine-tuning with a mitigation.

    Parameters
    ----------
    base
        The reconstructor's own loss object (with ``terms(network, y, x) ->
        (loss, reconstruction)``).
    kind
        ``"finetune"`` (the control), ``"reweighting"``, ``"eodd"`` or ``"adversarial"``.
    weight
        lambda (ignored by finetune and reweighting).
    classifier
        The frozen diagnostic classifier (outputs logits, one per label).
    n_labels
        Leading columns of ``sample_info`` that hold labels; the rest are group codes.
    fairness
        The soft EODD penalty (``kind="eodd"``).
    """

    def __init__(
        self, base: Any, *, kind: str, weight: float = 0.0, classifier: torch.nn.Module | None = None,
        n_labels: int = 0, fairness: SoftEqualizedOdds | None = None,
    ) -> None:
        if kind not in TRAINED_KINDS:
            raise ValueError(f"mitigation kind must be one of {', '.join(TRAINED_KINDS)}, got {kind!r}")
        if kind in WEIGHTED_KINDS and classifier is None:
            raise ValueError(f"the {kind} mitigation needs the frozen diagnostic classifier")
        if kind == "eodd" and fairness is None:
            raise ValueError("the eodd mitigation needs its SoftEqualizedOdds penalty")
        self.base, self.kind, self.weight, self.n_labels = base, kind, float(weight), int(n_labels)
        self.classifier = None if classifier is None else freeze(classifier)
        # features (the last linear layer's input, through a hook) only for the adversary: a TorchScript
        # classifier cannot be hooked, yet serves the eodd penalty
        self.features = ClassifierFeatures(self.classifier) if classifier is not None and kind == "adversarial" else None
        self.fairness = fairness
        #: Last batch's terms (floats), for monitoring and tests.
        self.last_terms: dict[str, float] = {}

    def __call__(
        self, model: MitigatedNetwork, y: torch.Tensor, x: torch.Tensor, info: torch.Tensor | None = None
    ) -> torch.Tensor:
        if self.kind in PLAIN_LOSS:  # the loss alone: no reconstruction to build (IR-SDE would sample one)
            recon_loss = self.base(model.network, y, x)
            self.last_terms = {"recon": float(recon_loss.detach())}
            return recon_loss
        recon_loss, estimate = self.base.terms(model.network, y, x)
        self.last_terms = {"recon": float(recon_loss.detach())}
        fair = self.fairness_term(model, estimate, info)
        return recon_loss / recon_loss.detach().clamp_min(1e-12) + fair

    def fairness_term(self, model: MitigatedNetwork, estimate: torch.Tensor, info: torch.Tensor) -> torch.Tensor:
        """``lambda * L_fair`` (eodd); or (adversarial) the predictor's and the reference's CE + ``lambda`` x confusion.

        The predictor gets the batch's labels when it was built for them (``n_labels``: equalized odds).
        """
        if info is None:
            raise ValueError(f"the {self.kind} mitigation needs sample_info (labels and group codes) per batch")
        labels, codes = info[:, : self.n_labels].float(), info[:, self.n_labels :].long()
        self.classifier.to(estimate.device)
        if self.kind == "eodd":
            logits = self.classifier(estimate.clamp(0.0, 1.0))
            probabilities = torch.sigmoid(logits.float())
            self.fairness.update_threshold(probabilities, labels)
            penalty = self.fairness(probabilities, labels, codes)
            self.last_terms["fair"] = float(penalty.detach())
            return self.weight * penalty
        if model.adversary is None:
            raise ValueError("the adversarial mitigation needs a MitigatedNetwork with an adversary")
        _, features = self.features(estimate.clamp(0.0, 1.0))
        features = features.float()
        adversary = model.adversary
        given = labels if adversary.n_labels else None  # equalized odds: the labels too (data, no gradient)
        own = adversary.loss(features.detach(), codes, given)  # the predictor learns, on the images as they are
        chance_logits = adversary.reference(labels)
        chance = mean_cross_entropy(chance_logits, codes)  # the reference learns chance: H(A | y) or H(A)
        # the reconstructor: make the (fixed) predictor say what chance says
        fixed = {name: p.detach() for name, p in adversary.named_parameters()}
        logits = torch.func.functional_call(adversary, fixed, (features, given))
        confusion = mean_kl([c.detach() for c in chance_logits], logits)
        self.last_terms.update(adversary=float(own.detach()), reference=float(chance.detach()),
                               confusion=float(confusion.detach()))
        return own + chance + self.weight * confusion

    def state_dict(self) -> dict[str, torch.Tensor]:
        """lambda (``weight``), the base loss's state (``base.*``) and the running thresholds (``fairness.*``)."""
        state = {"weight": torch.tensor(self.weight, dtype=torch.float64)}
        state.update({f"base.{k}": v for k, v in _state(self.base).items()})
        if self.fairness is not None:
            state.update({f"fairness.{k}": v for k, v in self.fairness.state_dict().items()})
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore :meth:`state_dict`'s output (``ValueError`` when it was saved for another lambda)."""
        saved = float(state.get("weight", torch.tensor(float("nan"))))
        if saved != self.weight:
            raise ValueError(f"mitigation loss state was saved with weight {saved}, this run has {self.weight}")
        base = {k.removeprefix("base."): v for k, v in state.items() if k.startswith("base.")}
        if base:
            self.base.load_state_dict(base)
        if self.fairness is not None:
            self.fairness.load_state_dict(
                {k.removeprefix("fairness."): v for k, v in state.items() if k.startswith("fairness.")}
            )


def _state(loss: Any) -> dict[str, torch.Tensor]:
    return loss.state_dict() if hasattr(loss, "state_dict") else {}


def sample_info(labels: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """``N x (L + A)`` float tensor: labels (NaN = unknown) then group codes."""
    return torch.cat([labels.float(), codes.float()], dim=1)


def n_groups(groups: dict[str, Sequence[str]]) -> list[int]:
    """Number of groups per attribute, in order."""
    return [len(g) for g in groups.values()]
