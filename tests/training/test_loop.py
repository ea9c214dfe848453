"""The one training loop: seeded batches, early stopping, NaN scores, fresh inputs, resume, mixed precision."""

import json
import math

import pytest
import torch
from safetensors.torch import load_file

from reconfair.seeding import seeded_torch_global
from reconfair.training import fit

pytestmark = pytest.mark.usefixtures("one_torch_thread")


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


# --- fresh inputs per epoch, resume, mixed precision -------------------------------------------


def _dropout_net():
    with seeded_torch_global(0, "net"):
        return torch.nn.Sequential(torch.nn.Linear(1, 16), torch.nn.Dropout(0.5), torch.nn.Linear(16, 1))


def _train(net, epochs, stem=None, loss=_mse, **options):
    x, y = _data()
    with seeded_torch_global(0, "train"):  # dropout draws from the global RNG
        return fit(net, inputs=x, targets=y, loss=loss, validate=lambda n: -float(_mse(n, x, y)), epochs=epochs,
                   batch_size=16, learning_rate=0.01, patience=50, seed_parts=(0, "t"), progress=False,
                   resume=stem, **options)


def _checkpoint(stem):
    return load_file(str(stem.with_suffix(".safetensors"))), json.loads(stem.with_suffix(".json").read_text())


def _assert_same_checkpoint(a, b):
    (tensors_a, meta_a), (tensors_b, meta_b) = _checkpoint(a), _checkpoint(b)
    assert sorted(tensors_a) == sorted(tensors_b)
    assert all(torch.equal(tensors_a[k], tensors_b[k]) for k in tensors_a), [
        k for k in tensors_a if not torch.equal(tensors_a[k], tensors_b[k])]
    assert meta_a == meta_b


def test_refresh_inputs_is_called_per_epoch_and_its_tensors_are_used():
    x, y = _data()
    calls, seen = [], []

    def refresh(epoch):
        calls.append(epoch)
        return x + 10.0 * (epoch + 1)

    def loss(net, a, b):
        seen.append((len(calls) - 1, a.clone()))
        return _mse(net, a, b)

    fit(torch.nn.Linear(1, 1), inputs=x, targets=y, loss=loss, validate=lambda n: 0.0, epochs=3, batch_size=32,
        learning_rate=0.01, patience=5, seed_parts=(0,), progress=False, refresh_inputs=refresh)
    assert calls == [0, 1, 2]
    assert len(seen) == 9  # 3 batches per epoch
    for epoch, batch in seen:
        assert bool(((batch - 10.0 * (epoch + 1) >= -1) & (batch - 10.0 * (epoch + 1) <= 1)).all())


def test_refresh_inputs_of_the_wrong_shape_is_refused():
    x, y = _data()
    with pytest.raises(ValueError, match=r"refresh_inputs\(0\) returned \(79, 1\)"):
        fit(torch.nn.Linear(1, 1), inputs=x, targets=y, loss=_mse, validate=lambda n: 0.0, epochs=1,
            batch_size=16, learning_rate=0.01, patience=1, seed_parts=(0,), progress=False,
            refresh_inputs=lambda e: x[1:])


def test_resume_after_k_epochs_is_bit_identical(tmp_path):
    whole = _dropout_net()
    expected = _train(whole, 6, tmp_path / "whole")
    first = _dropout_net()
    _train(first, 2, tmp_path / "part")
    resumed = _dropout_net()
    result = _train(resumed, 6, tmp_path / "part")
    assert result == expected and len(result.history) == 6
    assert all(torch.equal(a, b) for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()))
    _assert_same_checkpoint(tmp_path / "whole", tmp_path / "part")


def test_resume_after_a_crash_mid_epoch_is_bit_identical_with_refreshed_inputs(tmp_path):
    x, _ = _data()
    calls = []

    def refresh(epoch):
        calls.append(epoch)
        return x + 0.01 * epoch

    expected = _train(_dropout_net(), 4, tmp_path / "whole", refresh_inputs=refresh)
    batches = iter(range(100))

    def crashing(net, a, b):
        if next(batches) == 7:  # the third batch of epoch 1 (5 batches an epoch)
            raise RuntimeError("power cut")
        return _mse(net, a, b)

    calls.clear()
    with pytest.raises(RuntimeError, match="power cut"):
        _train(_dropout_net(), 4, tmp_path / "part", loss=crashing, refresh_inputs=refresh)
    assert _checkpoint(tmp_path / "part")[1]["next_epoch"] == 1
    calls.clear()
    assert _train(_dropout_net(), 4, tmp_path / "part", refresh_inputs=refresh) == expected
    assert calls == [1, 2, 3]
    _assert_same_checkpoint(tmp_path / "whole", tmp_path / "part")


def test_finished_or_stopped_runs_return_the_stored_best_weights(tmp_path):
    x, y = _data()
    scores = iter([0.1, 0.5, 0.2, 0.3, 0.4])
    net = torch.nn.Linear(1, 1)
    options = dict(inputs=x, targets=y, batch_size=16, learning_rate=0.1, patience=3, seed_parts=(0,),
                   progress=False, resume=tmp_path / "run")
    first = fit(net, loss=_mse, validate=lambda n: next(scores), epochs=20, **options)
    assert len(first.history) == 5 and first.best_epoch == 1

    def never(*_):
        raise AssertionError("a stopped run must not train again")

    again = torch.nn.Linear(1, 1)
    assert fit(again, loss=never, validate=never, epochs=50, **options) == first
    assert torch.equal(again.weight, net.weight) and torch.equal(again.bias, net.bias)


def test_mismatched_checkpoints_are_refused_naming_the_file(tmp_path):
    x, y = _data()
    options = dict(inputs=x, targets=y, loss=_mse, validate=lambda n: 0.0, epochs=1, batch_size=16,
                   learning_rate=0.01, patience=1, seed_parts=(0,), progress=False, resume=tmp_path / "run")
    fit(torch.nn.Linear(1, 1), **options)
    wider = torch.nn.Sequential(torch.nn.Linear(1, 2), torch.nn.Linear(2, 1))
    with pytest.raises(ValueError, match=r"run\.safetensors does not match"):
        fit(wider, **options)
    with pytest.raises(ValueError, match=r"run\.json was written with settings"):
        fit(torch.nn.Linear(1, 1), **{**options, "batch_size": 8})
    (tmp_path / "run.json").unlink()
    with pytest.raises(ValueError, match=r"run\.json does not exist"):
        fit(torch.nn.Linear(1, 1), **options)


def test_cpu_training_runs_without_autocast():
    x, y = _data()
    dtypes = []

    def loss(net, a, b):
        out = net(a)
        dtypes.append((out.dtype, torch.is_autocast_enabled("cuda"), torch.is_autocast_enabled("cpu")))
        return ((out - b) ** 2).mean()

    fit(torch.nn.Linear(1, 1), inputs=x, targets=y, loss=loss, validate=lambda n: 0.0, epochs=1, batch_size=80,
        learning_rate=0.01, patience=1, seed_parts=(0,), progress=False)
    assert dtypes == [(torch.float32, False, False)]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_training_runs_the_loss_under_bf16_autocast():
    x, y = _data()
    for mixed, dtype in ((True, torch.bfloat16), (False, torch.float32)):
        seen = []

        def loss(net, a, b):
            out = net(a)
            seen.append((a.device.type, out.dtype, torch.is_autocast_enabled("cuda")))
            return ((out.float() - b) ** 2).mean()

        net = torch.nn.Linear(1, 1)
        result = fit(net, inputs=x, targets=y, loss=loss, validate=lambda n: -float(_mse(n, x.cuda(), y.cuda())),
                     epochs=20, batch_size=16, learning_rate=0.05, patience=20, seed_parts=(0,), progress=False,
                     device="cuda", mixed_precision=mixed)
        assert set(seen) == {("cuda", dtype, mixed)}
        assert net.weight.dtype == torch.float32 and result.best_score > result.history[0]["val_score"]
