"""Fine-tuning runs for every reconstructor on the training split only, and resumes bit-identically."""

import importlib
import math

import numpy as np
import pytest
import torch

from reconfair.config import DatasetConfig
from reconfair.engine.datasets import build_dataset
from reconfair.config.mitigation import MitigationSpec
from reconfair.mitigate import finetune, holdout_split
from reconfair.physics import make_degradation
from reconfair.recon.learned import make_learned
from reconfair.seeding import seeded_torch_global


@pytest.fixture(scope="module")
def train():
    samples = build_dataset(DatasetConfig(name="synthetic-chest", n_patients=40, image_size=32), seed=0)
    return samples, samples.split("train")


def test_hold_out_and_fine_tuning_patients_come_from_the_training_split_only(train):
    samples, train_set = train
    tune, hold = holdout_split(train_set, 0.25, seed=0, stage="s")
    elsewhere = set(samples.table.loc[samples.table["split"] != "train", "patient_id"])
    tune_patients, hold_patients = set(tune.table["patient_id"]), set(hold.table["patient_id"])
    assert not tune_patients & hold_patients and not (tune_patients | hold_patients) & elsewhere
    assert len(tune) + len(hold) == len(train_set)
    n = train_set.table["patient_id"].nunique()
    assert len(hold_patients) == round(0.25 * n)
    again = holdout_split(train_set, 0.25, seed=0, stage="s")[1]
    assert again.table["sample_id"].tolist() == hold.table["sample_id"].tolist()


@pytest.mark.parametrize("model", ["unet", "pix2pix", "irsde"])
def test_each_reconstructor_fine_tunes_and_is_scored_on_the_hold_out(model, train, classifier):
    _, train_set = train
    with seeded_torch_global(0, "finetune-test", model):
        recon = make_learned(model, batch_size=8)
    before = [p.detach().clone() for p in recon.method.trained.parameters()]
    spec = MitigationSpec(kind="eodd", weight=1.0, attributes=("sex",), epochs=1)
    operator = make_degradation("radiograph-lowdose", 3000)
    recon, after, start = finetune(recon, spec, classifier=classifier, train=train_set, operator=operator, seed=0,
                                   stage=f"test/{model}")
    assert math.isfinite(after.psnr) and math.isfinite(start.psnr) and 0 <= after.balanced_accuracy <= 1
    assert any(not torch.equal(a, b) for a, b in zip(before, recon.method.trained.parameters()))
    assert recon.fit_result is not None and len(recon.fit_result.history) == 1


def test_an_interrupted_fine_tuning_resumes_bit_identically(train, classifier, tmp_path):
    _, train_set = train
    operator = make_degradation("radiograph-lowdose", 3000)

    def run(epochs, resume):
        with seeded_torch_global(0, "resume-test"):
            recon = make_learned("unet", batch_size=8)
        spec = MitigationSpec(kind="eodd", weight=1.0, attributes=("sex",), epochs=epochs)
        return finetune(recon, spec, classifier=classifier, train=train_set, operator=operator, seed=0,
                        stage="resume", resume=resume)[0]

    straight = run(2, None)
    run(1, tmp_path / "state")  # as if killed after one epoch: its training state is on disk
    resumed = run(2, tmp_path / "state")  # continues with the second epoch
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)
    np.testing.assert_equal(straight.fit_result.history[-1]["val_score"], resumed.fit_result.history[-1]["val_score"])


def test_every_lambda_of_a_sweep_is_scored_on_the_same_hold_out(train, classifier):
    _, train_set = train
    operator = make_degradation("radiograph-lowdose", 3000)
    starts = []
    for weight in (1.0, 10.0):
        with seeded_torch_global(0, "sweep-test"):
            recon = make_learned("unet", batch_size=8)
        spec = MitigationSpec(kind="eodd", weight=weight, attributes=("sex",), epochs=1)
        _, _, start = finetune(recon, spec, classifier=classifier, train=train_set, operator=operator, seed=0,
                               stage=f"sweep/{spec.label}", holdout_stage="sweep")
        starts.append(start)
    assert starts[0] == starts[1]  # the unmitigated model, scored on identical hold-out images


def test_the_control_fine_tunes_with_the_same_budget_and_no_mitigation(train, classifier, monkeypatch):
    """finetune: the same epochs on the same patients, unweighted batches, the model's own loss."""
    module = importlib.import_module("reconfair.mitigate.finetune")  # the package exports a function of that name
    seen = {}
    real_fit = module.fit

    def spy(network, **options):
        seen.update(weights=options["sample_weights"], kind=options["loss"].kind, epochs=options["epochs"])
        return real_fit(network, **options)

    monkeypatch.setattr(module, "fit", spy)
    _, train_set = train
    with seeded_torch_global(0, "control-test"):
        recon = make_learned("unet", batch_size=8)
    before = [p.detach().clone() for p in recon.method.trained.parameters()]
    spec = MitigationSpec(kind="finetune", attributes=("sex",), epochs=1)
    assert spec.label == "finetune"
    recon, after, _ = finetune(recon, spec, classifier=classifier, train=train_set,
                               operator=make_degradation("radiograph-lowdose", 3000), seed=0, stage="control")
    assert seen == {"weights": None, "kind": "finetune", "epochs": 1}
    assert any(not torch.equal(a, b) for a, b in zip(before, recon.method.trained.parameters()))
    assert math.isfinite(after.psnr)


def test_the_adversary_criterion_changes_the_fine_tuned_model(train, classifier):
    """Same seeds and data; the equalized-odds adversary also reads the labels, so the models part."""
    _, train_set = train
    operator = make_degradation("radiograph-lowdose", 3000)
    tuned = {}
    for criterion in ("equalized-odds", "demographic-parity"):
        with seeded_torch_global(0, "criterion-finetune"):
            recon = make_learned("unet", batch_size=8)
        spec = MitigationSpec(kind="adversarial", weight=1.0, attributes=("sex",), epochs=1, criterion=criterion)
        recon, after, _ = finetune(recon, spec, classifier=classifier, train=train_set, operator=operator, seed=0,
                                   stage="test/criterion")
        assert math.isfinite(after.psnr)
        tuned[criterion] = [p.detach().clone() for p in recon.method.trained.parameters()]
    assert any(not torch.equal(a, b) for a, b in zip(tuned["equalized-odds"], tuned["demographic-parity"]))
