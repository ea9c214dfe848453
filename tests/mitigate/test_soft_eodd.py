"""The soft equalized-odds penalty against fairlearn's rates and hand computation."""

import numpy as np
import pytest
import torch
from fairlearn.metrics import MetricFrame, false_positive_rate, true_positive_rate

from reconfair.metrics.threshold import equal_error_threshold
from reconfair.mitigate import SoftEqualizedOdds


def _study_eodd_fairlearn(y, decisions, groups):
    frame = MetricFrame(metrics={"tpr": true_positive_rate, "fpr": false_positive_rate}, y_true=y,
                        y_pred=decisions, sensitive_features=groups)
    spread = frame.difference(method="between_groups")
    return 0.5 * (spread["tpr"] + spread["fpr"])


def test_vanishing_temperature_gives_the_hard_eodd_of_fairlearn_rates():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 200).astype(float)
    groups = rng.integers(0, 3, 200)
    p = np.clip(0.3 * y + 0.2 * (groups == 1) + 0.5 * rng.random(200), 0, 1)
    tau = 0.55
    p = np.where(np.isclose(p, tau), p + 1e-3, p)  # keep scores off the threshold itself
    penalty = SoftEqualizedOdds(1, temperature=1e-6)(
        torch.tensor(p).unsqueeze(1), torch.tensor(y).unsqueeze(1), torch.tensor(groups).unsqueeze(1),
        tau=torch.tensor([tau]))
    expected = _study_eodd_fairlearn(y, (p >= tau).astype(int), groups)
    assert float(penalty) == pytest.approx(expected, abs=1e-9)


def test_soft_rates_by_hand():
    # group 0: positives p = .5, .7; negatives .3  | group 1: positive .5; negative .5
    p = torch.tensor([[0.5], [0.7], [0.3], [0.5], [0.5]])
    y = torch.tensor([[1.0], [1.0], [0.0], [1.0], [0.0]])
    g = torch.tensor([[0], [0], [0], [1], [1]])
    s = lambda v: 1 / (1 + np.exp(-(v - 0.5) / 0.3))  # noqa: E731
    tpr0, fpr0, tpr1, fpr1 = (s(0.5) + s(0.7)) / 2, s(0.3), s(0.5), s(0.5)
    expected = 0.5 * (abs(tpr0 - tpr1) + abs(fpr0 - fpr1))
    assert float(SoftEqualizedOdds(1)(p, y, g, tau=torch.tensor([0.5]))) == pytest.approx(expected, rel=1e-6)


def test_unknown_labels_and_groups_without_a_class_are_left_out():
    p = torch.tensor([[0.9], [0.1], [0.8], [0.2], [0.6]])
    y = torch.tensor([[1.0], [0.0], [1.0], [float("nan")], [0.0]])
    g = torch.tensor([[0], [0], [1], [1], [2]])  # group 1: no negative once NaN is dropped; group 2: no positive
    penalty = SoftEqualizedOdds(1, temperature=1e-6)(p, y, g, tau=torch.tensor([0.5]))
    # TPR over groups 0, 1: 1 vs 1; FPR over groups 0, 2: 0 vs 1
    assert float(penalty) == pytest.approx(0.5)


def test_threshold_is_a_moving_average_of_batch_equal_error_thresholds():
    loss = SoftEqualizedOdds(2, momentum=0.75)
    rng = np.random.default_rng(0)
    expected = [np.nan, np.nan]
    for _ in range(3):
        p = rng.random((40, 2))
        y = (rng.random((40, 2)) < 0.5).astype(float)
        y[:5, 1] = np.nan
        loss.update_threshold(torch.tensor(p), torch.tensor(y))
        for j in range(2):
            batch = equal_error_threshold(y[:, j], p[:, j])
            expected[j] = batch if np.isnan(expected[j]) else 0.75 * expected[j] + 0.25 * batch
    np.testing.assert_allclose(loss.tau.numpy(), expected, rtol=1e-12)
    keep = loss.tau.clone()
    loss.update_threshold(torch.rand(4, 2), torch.ones(4, 2))  # one class only: thresholds unchanged
    assert torch.equal(loss.tau, keep)


def test_mean_and_max_reductions_over_labels_and_attributes():
    p = torch.tensor([[0.9, 0.9], [0.1, 0.1], [0.1, 0.9], [0.1, 0.1]])
    y = torch.tensor([[1.0, 1.0], [0.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    g = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]])
    tau = torch.tensor([0.5, 0.5])
    per_term = []
    for label in range(2):
        for attribute in range(2):
            per_term.append(float(SoftEqualizedOdds(1, temperature=1e-6)(
                p[:, [label]], y[:, [label]], g[:, [attribute]], tau=tau[[label]])))
    mean = SoftEqualizedOdds(2, temperature=1e-6)(p, y, g, tau=tau)
    worst = SoftEqualizedOdds(2, temperature=1e-6, reduce="max")(p, y, g, tau=tau)
    assert float(mean) == pytest.approx(np.mean(per_term)) and float(worst) == pytest.approx(max(per_term))
    assert max(per_term) > np.mean(per_term)  # the two reductions differ on this batch


def test_state_round_trip_and_bad_settings():
    loss = SoftEqualizedOdds(1)
    loss.update_threshold(torch.tensor([[0.2], [0.8]]), torch.tensor([[0.0], [1.0]]))
    other = SoftEqualizedOdds(1)
    other.load_state_dict(loss.state_dict())
    assert torch.equal(other.tau, loss.tau) and float(other.tau[0]) == pytest.approx(0.8)
    with pytest.raises(ValueError, match="reduce"):
        SoftEqualizedOdds(1, reduce="median")
    with pytest.raises(ValueError, match="temperature"):
        SoftEqualizedOdds(1, temperature=0)
