import math

import torch

from reconfair.training import fit


def _data():
    x = torch.linspace(-1, 1, 80).unsqueeze(1)
    return x, 3 * x - 1


def _mse(net, a, b):
    return ((net(a) - b) ** 2).mean()


def test_fit_learns_a_line_and_is_deterministic():
    x, y = _data()
    results = []
    for _ in range(2):
        torch_gen = torch.Generator().manual_seed(0)
        net = torch.nn.Linear(1, 1)
        with torch.no_grad():
            net.weight.copy_(torch.randn(1, 1, generator=torch_gen))
            net.bias.zero_()
        fit(net, inputs=x, targets=y, loss=_mse, validate=lambda n: -float(_mse(n, x, y)), epochs=60,
            batch_size=16, learning_rate=0.05, patience=60, seed_parts=(0, "t"), progress=False)
        results.append((net.weight.item(), net.bias.item()))
    assert results[0] == results[1]
    assert abs(results[0][0] - 3) < 0.05 and abs(results[0][1] + 1) < 0.05


def test_early_stopping_keeps_the_best_epoch():
    x, y = _data()
    net = torch.nn.Linear(1, 1)
    scores = iter([0.1, 0.5, 0.2, 0.3, 0.4, 0.45, 0.9])
    result = fit(net, inputs=x, targets=y, loss=_mse, validate=lambda n: next(scores), epochs=7,
                 batch_size=16, learning_rate=0.01, patience=3, seed_parts=(0,), progress=False)
    # best is epoch 1 (0.5); epochs 2, 3, 4 do not improve, so training stops after epoch 4
    assert result.best_epoch == 1 and result.best_score == 0.5
    assert len(result.history) == 5


def test_nan_validation_scores_never_win():
    x, y = _data()
    scores = iter([math.nan, 0.2, math.nan, 0.1])
    result = fit(torch.nn.Linear(1, 1), inputs=x, targets=y, loss=_mse, validate=lambda n: next(scores),
                 epochs=4, batch_size=16, learning_rate=0.01, patience=4, seed_parts=(0,), progress=False)
    assert result.best_epoch == 1
