"""The min-max has the right signs: the predictor learns, the reconstructor fights it (for either criterion).

The equalized-odds adversary also reads the two labels (``n_labels=2``), the demographic-parity one does not.
"""

import pytest
import torch

from reconfair.mitigate import BiasPredictor, MitigatedNetwork, MitigationLoss, freeze
from reconfair.mitigate.adversarial import ClassifierFeatures
from reconfair.mitigate.objective import sample_info
from reconfair.recon.learned import make_learned
from reconfair.seeding import seeded_torch_global


@pytest.fixture(params=[0, 2], ids=["demographic-parity", "equalized-odds"])
def n_labels(request):
    return request.param


def _game(classifier, batch, n_labels, weight=5.0):
    y, labels, sex = batch
    y = (y + 0.3 * sex.view(-1, 1, 1, 1)).clamp(0, 1)  # group membership is visible in the images
    with seeded_torch_global(0, "sign-test"):
        recon = make_learned("unet", residual=False)
        adversary = BiasPredictor(128 * 2 * 2, [2], n_labels=n_labels)
    network = MitigatedNetwork(recon.method.trained, adversary)
    loss = MitigationLoss(recon.method.make_loss((0,)), kind="adversarial", weight=weight,
                          classifier=freeze(classifier.network), n_labels=2)
    return network, loss, y, sample_info(labels, sex), sex[:, 0]


def _cross_entropy(network, loss, y, codes, info):
    labels = info[:, :2] if network.adversary.n_labels else None
    with torch.no_grad():
        _, features = ClassifierFeatures(loss.classifier)(loss.base.method.forward(network.network, y).clamp(0, 1))
        return float(network.adversary.loss(features, codes.view(-1, 1), labels))


def _train(network, loss, y, info, parameters, steps=15):
    optimiser = torch.optim.Adam(parameters, lr=1e-3)
    for _ in range(steps):
        optimiser.zero_grad(set_to_none=True)
        loss(network, y, y, info).backward()
        optimiser.step()


def test_predictor_alone_lowers_its_loss(classifier, batch, n_labels):
    network, loss, y, info, codes = _game(classifier, batch, n_labels)
    start = _cross_entropy(network, loss, y, codes, info)
    _train(network, loss, y, info, network.adversary.parameters())
    assert _cross_entropy(network, loss, y, codes, info) < start - 0.01


def test_reconstructor_against_a_fixed_predictor_raises_its_loss(classifier, batch, n_labels):
    network, loss, y, info, codes = _game(classifier, batch, n_labels)
    start = _cross_entropy(network, loss, y, codes, info)
    _train(network, loss, y, info, network.network.parameters())
    assert _cross_entropy(network, loss, y, codes, info) > start + 0.01


def test_one_backward_gives_opposite_directions(classifier, batch, n_labels):
    """A small step along each part's own gradient: the predictor's lowers CE, the reconstructor's raises it."""
    network, loss, y, info, codes = _game(classifier, batch, n_labels)
    network.zero_grad(set_to_none=True)
    _, estimate = loss.base.terms(network.network, y, y)
    term = loss.fairness_term(network, estimate, info)
    assert float(term.detach()) == pytest.approx(_cross_entropy(network, loss, y, codes, info), rel=1e-5)  # labels iff EO
    term.backward()
    start = _cross_entropy(network, loss, y, codes, info)
    for part, sign in ((network.adversary, -1), (network.network, +1)):
        saved = [p.detach().clone() for p in part.parameters()]
        with torch.no_grad():
            for p in part.parameters():
                p -= 1e-3 * p.grad  # plain gradient descent on the joint loss
        moved = _cross_entropy(network, loss, y, codes, info)
        assert (moved - start) * sign > 0, (part.__class__.__name__, start, moved)
        with torch.no_grad():
            for p, s in zip(part.parameters(), saved):
                p.copy_(s)
