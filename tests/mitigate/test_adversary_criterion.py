"""The equalized-odds adversary sees the label, the demographic-parity one does not (Zhang et al. 2018).

The reference is closed-form: the attribute ``A`` depends on the label ``y``
(P(A = 1 | y = 1) = 0.9, P(A = 1 | y = 0) = 0.1, P(y = 1) = 0.5) and the
features are noise independent of both.  The best cross-entropy of a
predictor of ``A`` is the entropy of ``A`` given what it reads: from the
features alone ``H(A) = ln 2``; from the features and ``y``,
``H(A | y) = H_b(0.1)``.  Trained adversaries are scored on fresh samples.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from reconfair.mitigate import BiasPredictor
from reconfair.mitigate.adversarial import label_channels
from reconfair.seeding import seeded_torch_global

P_GIVEN_Y = {1: 0.9, 0: 0.1}
H_A = math.log(2.0)
H_A_GIVEN_Y = -(0.1 * math.log(0.1) + 0.9 * math.log(0.9))  # H_b(0.1) = 0.3251 nats
N_FEATURES = 2


def _draw(n, seed, unknown=0.0):
    """Noise features, labels (a share ``unknown`` NaN) and attribute codes drawn from y."""
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(n, N_FEATURES, generator=generator)
    y = (torch.rand(n, generator=generator) < 0.5).float()
    a = (torch.rand(n, generator=generator) < torch.where(y == 1, 0.9, 0.1)).long()
    hidden = torch.rand(n, generator=generator) < unknown
    labels = torch.where(hidden, torch.full_like(y, float("nan")), y).view(-1, 1)
    return features, labels, a.view(-1, 1)


def _trained(n_labels, seed=0, unknown=0.0, steps=150):
    features, labels, codes = _draw(4000, seed, unknown)
    with seeded_torch_global(seed, "criterion-test"):
        predictor = BiasPredictor(N_FEATURES, [2], n_labels=n_labels)
    optimiser = torch.optim.Adam(predictor.parameters(), lr=1e-2)
    given = labels if n_labels else None
    for _ in range(steps):
        optimiser.zero_grad(set_to_none=True)
        predictor.loss(features, codes, given).backward()
        optimiser.step()
    return predictor


def _row_cross_entropy(predictor, features, labels, codes):
    with torch.no_grad():
        logits = predictor(features, labels if predictor.n_labels else None)[0]
    return F.cross_entropy(logits, codes[:, 0], reduction="none")


def test_the_reference_entropies():
    assert H_A == pytest.approx(0.6931, abs=1e-4) and H_A_GIVEN_Y == pytest.approx(0.3251, abs=1e-4)
    features, labels, codes = _draw(20000, seed=7)
    y, a = labels[:, 0], codes[:, 0].float()
    assert float(a.mean()) == pytest.approx(0.5, abs=0.01)
    assert float(a[y == 1].mean()) == pytest.approx(P_GIVEN_Y[1], abs=0.01)
    assert float(a[y == 0].mean()) == pytest.approx(P_GIVEN_Y[0], abs=0.01)


def test_predictable_from_the_label_not_the_features():
    """DP adversary: chance, H(A).  EO adversary (it reads y): H(A | y).  Fresh samples, 20,000 of them."""
    features, labels, codes = _draw(20000, seed=1)
    dp = float(_row_cross_entropy(_trained(0), features, labels, codes).mean())
    eo = float(_row_cross_entropy(_trained(1), features, labels, codes).mean())
    assert dp == pytest.approx(H_A, abs=0.03)
    assert eo == pytest.approx(H_A_GIVEN_Y, abs=0.03)
    assert dp - eo > 0.3


def test_an_unknown_label_tells_the_eo_adversary_nothing():
    """With 30 % of labels NaN (both label channels 0): known rows reach H(A | y), unknown rows stay at H(A)."""
    features, labels, codes = _draw(20000, seed=2, unknown=0.3)
    rows = _row_cross_entropy(_trained(1, unknown=0.3), features, labels, codes)
    known = ~torch.isnan(labels[:, 0])
    assert float(rows[known].mean()) == pytest.approx(H_A_GIVEN_Y, abs=0.03)
    assert float(rows[~known].mean()) == pytest.approx(H_A, abs=0.03)


def test_label_channels_by_hand():
    labels = torch.tensor([[1.0, 0.0], [float("nan"), 1.0], [0.0, float("nan")]])
    assert label_channels(labels).tolist() == [[1, 0, 0, 1], [0, 1, 0, 0], [0, 0, 1, 0]]


def test_the_predictor_refuses_inputs_of_the_other_criterion():
    features, labels, codes = _draw(4, seed=3)
    with pytest.raises(ValueError, match="reads the features alone .* pass no labels"):
        BiasPredictor(N_FEATURES, [2]).loss(features, codes, labels)
    with pytest.raises(ValueError, match=r"reads the features and 1 labels .* got None"):
        BiasPredictor(N_FEATURES, [2], n_labels=1).loss(features, codes)
    with pytest.raises(ValueError, match=r"expected labels of shape \(N, 2\), got \(4, 1\)"):
        BiasPredictor(N_FEATURES, [2], n_labels=2).loss(features, codes, labels)
