"""The game has the right signs: the predictor learns, the reconstructor fights it (for either criterion),
toward chance (the reference predictor) and not past it.

The equalized-odds adversary also reads the two labels (``n_labels=2``), the demographic-parity one does not.
"""

import math

import pytest
import torch

from reconfair.mitigate import BiasPredictor, MitigatedNetwork, MitigationLoss, freeze
from reconfair.mitigate.adversarial import ClassifierFeatures, ReferencePredictor, mean_cross_entropy
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


def _train(network, loss, y, info, parameters, steps=15, lr=1e-3):
    optimiser = torch.optim.Adam(parameters, lr=lr)
    for _ in range(steps):
        optimiser.zero_grad(set_to_none=True)
        loss(network, y, y, info).backward()
        optimiser.step()


def _reference_entropy(network, info, codes):
    with torch.no_grad():
        return float(mean_cross_entropy(network.adversary.reference(info[:, :2]), codes.view(-1, 1)))


def _ahead(classifier, batch, n_labels, steps=8):
    """The game after the predictor and the reference alone trained: the predictor beats chance."""
    network, loss, y, info, codes = _game(classifier, batch, n_labels)
    _train(network, loss, y, info, network.adversary.parameters(), steps=steps, lr=1e-2)
    assert _cross_entropy(network, loss, y, codes, info) < _reference_entropy(network, info, codes) - 0.05
    return network, loss, y, info, codes


def test_predictor_alone_lowers_its_loss(classifier, batch, n_labels):
    network, loss, y, info, codes = _game(classifier, batch, n_labels)
    start = _cross_entropy(network, loss, y, codes, info)
    _train(network, loss, y, info, network.adversary.parameters())
    assert _cross_entropy(network, loss, y, codes, info) < start - 0.01


def test_the_reference_learns_chance():
    """Demographic parity's reference learns the base rate: its CE falls to the entropy H(A), not below."""
    codes = torch.tensor([[0]] * 6 + [[1]] * 2)
    reference = ReferencePredictor([2])
    optimiser = torch.optim.Adam(reference.parameters(), lr=5e-2)
    for _ in range(300):
        optimiser.zero_grad()
        mean_cross_entropy(reference(torch.zeros(8, 0)), codes).backward()
        optimiser.step()
    entropy = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    with torch.no_grad():
        learned = float(mean_cross_entropy(reference(torch.zeros(8, 0)), codes))
    assert learned == pytest.approx(entropy, abs=1e-4)


def test_reconstructor_against_a_fixed_predictor_raises_its_loss(classifier, batch, n_labels):
    network, loss, y, info, codes = _ahead(classifier, batch, n_labels)
    start = _cross_entropy(network, loss, y, codes, info)
    _train(network, loss, y, info, network.network.parameters())
    assert _cross_entropy(network, loss, y, codes, info) > start + 0.01


def test_the_reconstructor_stops_at_chance(classifier, batch, n_labels):
    """Against a fixed predictor, the confusion loss brings CE up to the reference's, and not far past it.

    The study's reversal (the reconstructor maximises the predictor's CE; written out here) runs on
    past chance: it is rewarded for encoding the attribute inverted, at the images' expense.
    """
    finals, psnrs = {}, {}
    for confusion in (True, False):
        network, loss, y, info, codes = _ahead(classifier, batch, n_labels)
        reference = _reference_entropy(network, info, codes)
        optimiser = torch.optim.Adam(network.network.parameters(), lr=3e-3)
        for _ in range(60):
            optimiser.zero_grad(set_to_none=True)
            if confusion:
                loss(network, y, y, info).backward()
            else:
                recon_loss, estimate = loss.base.terms(network.network, y, y)
                _, features = loss.features(estimate.clamp(0, 1))
                given = info[:, :2] if network.adversary.n_labels else None
                ce = network.adversary.loss(features.float(), codes.view(-1, 1), given)
                (recon_loss / recon_loss.detach() - loss.weight * ce).backward()
            optimiser.step()
        finals[confusion] = _cross_entropy(network, loss, y, codes, info)
        with torch.no_grad():
            out = loss.base.method.forward(network.network, y).clamp(0, 1)
        psnrs[confusion] = float(-10 * torch.log10(((out - y) ** 2).mean()))
    assert finals[True] == pytest.approx(reference, abs=0.1), (finals, reference)
    assert finals[False] > reference + 0.5, (finals, reference)
    assert psnrs[True] > psnrs[False] + 3, psnrs


def test_one_backward_gives_opposite_directions(classifier, batch, n_labels):
    """A small step along each part's own gradient: the predictor's lowers CE, the reconstructor's raises it."""
    network, loss, y, info, codes = _ahead(classifier, batch, n_labels)
    network.zero_grad(set_to_none=True)
    _, estimate = loss.base.terms(network.network, y, y)
    term = loss.fairness_term(network, estimate, info)
    with torch.no_grad():  # the confusion by hand: KL(reference || predictor) of the softmax outputs
        _, features = ClassifierFeatures(loss.classifier)(estimate.clamp(0, 1))
        q = torch.softmax(network.adversary(features, info[:, :2] if n_labels else None)[0], 1).double()
        r = torch.softmax(network.adversary.reference(info[:, :2])[0], 1).double()
        kl = float((r * (r.log() - q.log())).sum(1).mean())
    expected = _cross_entropy(network, loss, y, codes, info) + _reference_entropy(network, info, codes) + 5.0 * kl
    assert float(term.detach()) == pytest.approx(expected, rel=1e-5)  # labels iff EO
    assert loss.last_terms["confusion"] > 0
    term.backward()
    start = _cross_entropy(network, loss, y, codes, info)
    for part, sign in ((network.adversary, -1), (network.network, +1)):
        saved = [p.detach().clone() for p in part.parameters()]
        with torch.no_grad():
            for p in part.parameters():
                if p.grad is not None:
                    p -= 1e-3 * p.grad  # plain gradient descent on the joint loss
        moved = _cross_entropy(network, loss, y, codes, info)
        assert (moved - start) * sign > 0, (part.__class__.__name__, start, moved)
        with torch.no_grad():
            for p, s in zip(part.parameters(), saved):
                p.copy_(s)


def test_at_chance_the_reconstructor_gets_no_push(classifier, batch, n_labels):
    """A predictor that says exactly what the reference says: confusion 0, no gradient reaches the images."""
    network, loss, y, info, codes = _game(classifier, batch, n_labels)
    with torch.no_grad():  # both output 0 logits: uniform, whatever the input
        for head in network.adversary.heads:
            head.weight.zero_()
            head.bias.zero_()
        for p in network.adversary.reference.parameters():
            p.zero_()
    network.zero_grad(set_to_none=True)
    _, estimate = loss.base.terms(network.network, y, y)
    loss.fairness_term(network, estimate, info).backward()
    assert loss.last_terms["confusion"] == pytest.approx(0.0, abs=1e-7)
    assert all(p.grad is None or float(p.grad.abs().max()) == 0.0 for p in network.network.parameters())
