"""Every loss-based mitigation trains every reconstructor, and never the frozen classifier.

The original study's diffusion fairness loss had no gradient to the network;
these tests fail if that happens here.
"""

import pytest
import torch

from reconfair.mitigate import BiasPredictor, MitigatedNetwork, MitigationLoss, SoftEqualizedOdds, freeze
from reconfair.mitigate.objective import sample_info
from reconfair.recon.learned import make_learned
from reconfair.seeding import seeded_torch_global

RECONSTRUCTORS = {
    "unet": {},
    "pix2pix": {},
    "irsde": {},  # x0-residual parametrisation (demo)
    "irsde-noise": {"parametrisation": "noise"},  # the study's noise parametrisation
}


def _setup(name, kind, classifier, batch):
    model = name.split("-")[0]
    with seeded_torch_global(0, "gradient-test", name):
        recon = make_learned(model, **RECONSTRUCTORS[name])
    y, labels, sex = batch
    method = recon.method
    adversary = None
    if kind == "adversarial":
        with seeded_torch_global(0, "gradient-test", "adversary"):
            adversary = BiasPredictor(128 * 2 * 2, [2])
    network = MitigatedNetwork(method.trained, adversary)
    fairness = SoftEqualizedOdds(2) if kind == "eodd" else None
    loss = MitigationLoss(method.make_loss((0, "gradient-test")), kind=kind, weight=1.0,
                          classifier=freeze(classifier.network), n_labels=2, fairness=fairness)
    return network, loss, (y, (y + 0.05).clamp(0, 1), sample_info(labels, sex))


@pytest.mark.parametrize("kind", ["eodd", "adversarial"])
@pytest.mark.parametrize("name", list(RECONSTRUCTORS))
def test_fairness_term_reaches_the_reconstructor_and_not_the_classifier(name, kind, classifier, batch):
    network, loss, (y, x, info) = _setup(name, kind, classifier, batch)
    _, estimate = loss.base.terms(network.network, y, x)
    network.zero_grad(set_to_none=True)
    loss.fairness_term(network, estimate, info).backward()
    recon_grads = [p.grad for p in network.network.parameters() if p.grad is not None]
    assert recon_grads and max(float(g.abs().max()) for g in recon_grads) > 0
    assert all(p.grad is None for p in classifier.network.parameters())
    assert not any(p.requires_grad for p in classifier.network.parameters())


@pytest.mark.parametrize("kind", ["eodd", "adversarial", "reweighting"])
def test_a_training_step_leaves_the_classifier_unchanged(kind, classifier, batch):
    network, loss, (y, x, info) = _setup("unet", kind if kind != "reweighting" else "eodd", classifier, batch)
    if kind == "reweighting":
        loss = MitigationLoss(loss.base, kind="reweighting")
    before = {k: v.clone() for k, v in classifier.network.state_dict().items()}
    weights = [p.clone() for p in network.network.parameters()]
    optimiser = torch.optim.Adam(network.parameters(), lr=1e-2)
    loss(network, y, x, info).backward()
    optimiser.step()
    after = classifier.network.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # weights and batch-norm statistics
    assert any(not torch.equal(a, b) for a, b in zip(weights, network.network.parameters()))


def test_irsde_fairness_goes_through_the_one_step_estimate(classifier, batch):
    """x0_hat = mu + (x_t - mu - s_t eps) exp(theta_bar_t), computed from the network's predicted noise."""
    network, loss, (y, x, info) = _setup("irsde-noise", "eodd", classifier, batch)
    generator_state = loss.base.generator.get_state()
    _, estimate = loss.base.terms(network.network, y, x)
    method = loss.base.method
    loss.base.generator.set_state(generator_state)  # replay the same draws by hand
    t = torch.randint(1, method.sde.T + 1, (len(y),), generator=loss.base.generator)
    noise = torch.randn(y.shape, generator=loss.base.generator)
    xt = method.sde.forward_sample(x, y, t, noise)
    eps = method.predict_noise(network.network, xt, y, t)
    expected = method.sde.estimate_x0(xt, y, eps, t)
    assert torch.allclose(estimate, expected) and estimate.requires_grad


@pytest.mark.parametrize("kind", ["finetune", "reweighting"])
def test_plain_loss_kinds_are_the_reconstructors_own_loss(kind, classifier, batch):
    """The control (finetune) and reweighting add nothing to the loss: its value and gradient are the base loss's."""
    network, loss, (y, x, info) = _setup("unet", kind, classifier, batch)
    value = loss(network, y, x, info)
    grads = torch.autograd.grad(value, list(network.network.parameters()))
    base = loss.base(network.network, y, x)
    expected = torch.autograd.grad(base, list(network.network.parameters()))
    assert torch.equal(value.detach(), base.detach())
    assert all(torch.equal(a, b) for a, b in zip(grads, expected))
    assert "fair" not in loss.last_terms and "adversary" not in loss.last_terms
