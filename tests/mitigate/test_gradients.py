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
    "irsde": {},  # x0 prediction, posterior sampler (demo)
    "irsde-noise": {"prediction": "noise", "sampler": "euler"},  # the study's noise prediction
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


@pytest.mark.parametrize("name", ["irsde", "irsde-noise"])
def test_irsde_fairness_sees_the_deployed_sampler(name, classifier, batch):
    """The estimate is the configured sampler run with the graph kept, its noise drawn after the loss's draws."""
    network, loss, (y, x, info) = _setup(name, "eodd", classifier, batch)
    method = loss.base.method
    generator_state = loss.base.generator.get_state()
    _, estimate = loss.base.terms(network.network, y, x)
    loss.base.generator.set_state(generator_state)  # replay the same draws by hand
    method.batch_loss(network.network, y, x, loss.base.generator)
    draw = lambda like: torch.randn(like.shape, generator=loss.base.generator)  # noqa: E731
    expected = method.sample(network.network, y, noise=draw)
    assert torch.allclose(estimate, expected) and estimate.requires_grad


def test_irsde_mitigation_images_match_the_deployed_outputs():
    """Issue 17: the images the classifier sees during IR-SDE mitigation are within 1 dB PSNR of reconstruct()'s.

    A briefly trained model, so that its outputs are not its input.
    """
    g = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 32), torch.linspace(-1, 1, 32), indexing="ij")
    centres = torch.rand(16, 2, generator=g) - 0.5
    x = 0.1 + 0.8 * torch.exp(-((xx - centres[:, :1, None]) ** 2 + (yy - centres[:, 1:, None]) ** 2) / 0.1)[:, None]
    y = (x + 0.15 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    with seeded_torch_global(0, "irsde-mitigation-test"):
        recon = make_learned("irsde", sampling_steps=5)
    method = recon.method
    optimiser = torch.optim.Adam(method.network.parameters(), lr=3e-3)
    train_loss = method.make_loss((0, "irsde-mitigation-test"))
    method.network.train()
    for _ in range(40):
        optimiser.zero_grad()
        train_loss(method.network, y, x).backward()
        optimiser.step()
    method.network.eval()

    def mean_psnr(images):
        return float((10 * torch.log10(1 / ((images.clamp(0, 1) - x) ** 2).mean(dim=(1, 2, 3)))).mean())

    with torch.no_grad():
        _, estimate = method.make_loss((1, "mitigation")).terms(method.network, y, x)
        deployed = recon.reconstruct(y, generator=torch.Generator().manual_seed(2))
    assert mean_psnr(deployed) > mean_psnr(y) + 1  # the model really changes its input
    assert abs(mean_psnr(estimate) - mean_psnr(deployed)) < 1.0


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
