"""The min-max has the right signs: the predictor learns, the reconstructor fights it."""

import torch

from reconfair.mitigate import BiasPredictor, MitigatedNetwork, MitigationLoss, freeze
from reconfair.mitigate.adversarial import ClassifierFeatures
from reconfair.mitigate.objective import sample_info
from reconfair.recon.learned import make_learned
from reconfair.seeding import seeded_torch_global


def _game(classifier, batch, weight=5.0):
    y, labels, sex = batch
    y = (y + 0.3 * sex.view(-1, 1, 1, 1)).clamp(0, 1)  # group membership is visible in the images
    with seeded_torch_global(0, "sign-test"):
        recon = make_learned("unet", residual=False)
        adversary = BiasPredictor(128 * 2 * 2, [2])
    network = MitigatedNetwork(recon.method.trained, adversary)
    loss = MitigationLoss(recon.method.make_loss((0,)), kind="adversarial", weight=weight,
                          classifier=freeze(classifier.network), n_labels=2)
    return network, loss, y, sample_info(labels, sex), sex[:, 0]


def _cross_entropy(network, loss, y, codes):
    with torch.no_grad():
        _, features = ClassifierFeatures(loss.classifier)(loss.base.method.forward(network.network, y).clamp(0, 1))
        return float(network.adversary.loss(features, codes.view(-1, 1)))


def _train(network, loss, y, info, parameters, steps=15):
    optimiser = torch.optim.Adam(parameters, lr=1e-3)
    for _ in range(steps):
        optimiser.zero_grad(set_to_none=True)
        loss(network, y, y, info).backward()
        optimiser.step()


def test_predictor_alone_lowers_its_loss(classifier, batch):
    network, loss, y, info, codes = _game(classifier, batch)
    start = _cross_entropy(network, loss, y, codes)
    _train(network, loss, y, info, network.adversary.parameters())
    assert _cross_entropy(network, loss, y, codes) < start - 0.01


def test_reconstructor_against_a_fixed_predictor_raises_its_loss(classifier, batch):
    network, loss, y, info, codes = _game(classifier, batch)
    start = _cross_entropy(network, loss, y, codes)
    _train(network, loss, y, info, network.network.parameters())
    assert _cross_entropy(network, loss, y, codes) > start + 0.01


def test_one_backward_gives_opposite_directions(classifier, batch):
    """A small step along each part's own gradient: the predictor's lowers CE, the reconstructor's raises it."""
    network, loss, y, info, codes = _game(classifier, batch)
    network.zero_grad(set_to_none=True)
    _, estimate = loss.base.terms(network.network, y, y)
    loss.fairness_term(network, estimate, info).backward()
    start = _cross_entropy(network, loss, y, codes)
    for part, sign in ((network.adversary, -1), (network.network, +1)):
        saved = [p.detach().clone() for p in part.parameters()]
        with torch.no_grad():
            for p in part.parameters():
                p -= 1e-3 * p.grad  # plain gradient descent on the joint loss
        moved = _cross_entropy(network, loss, y, codes)
        assert (moved - start) * sign > 0, (part.__class__.__name__, start, moved)
        with torch.no_grad():
            for p, s in zip(part.parameters(), saved):
                p.copy_(s)
