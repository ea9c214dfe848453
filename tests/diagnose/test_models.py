import numpy as np
import pandas as pd
import pytest
import torch

from reconfair.data.sample import SampleSet
from reconfair.diagnose import DiagnosticModel, load_model
from reconfair.diagnose.models import class_balanced_weights
from reconfair.metrics.task import auroc


def _bright_square_set(n: int, seed: int, name: str = "toy", prevalence: float = 0.5) -> SampleSet:
    """Label 1 <=> a bright square is present; mask = the square."""
    g = torch.Generator().manual_seed(seed)
    images = 0.2 * torch.rand(n, 1, 32, 32, generator=g)
    labels = (torch.rand(n, generator=g) < prevalence).float()
    masks = torch.zeros_like(images)
    masks[labels == 1, :, 10:20, 12:22] = 1.0
    images = (images + 0.6 * masks).clamp(0, 1)
    table = pd.DataFrame({
        "sample_id": [f"{name}{seed}-{i}" for i in range(n)],
        "patient_id": [f"p{seed}-{i}" for i in range(n)],
        "attr_sex": ["F", "M"] * (n // 2),
        "label_square": labels.numpy().astype(float),
    })
    return SampleSet(name=name, images=images, table=table, masks=masks)


def test_class_balanced_weights_by_hand():
    labels = torch.tensor([[1.0, 0.0], [0.0, float("nan")], [0.0, 1.0], [0.0, 1.0]])
    weights = class_balanced_weights(labels)
    # label 0: one positive (1/1), three negatives (1/3 each); label 1: two positives (1/2), one negative (1/1)
    expected = torch.tensor([(1 + 1) / 2, (1 / 3 + 0) / 2, (1 / 3 + 1 / 2) / 2, (1 / 3 + 1 / 2) / 2])
    torch.testing.assert_close(weights, expected)


def test_classifier_learns_a_separable_finding_and_round_trips(tmp_path):
    train, val = _bright_square_set(64, 0), _bright_square_set(32, 1)
    model = DiagnosticModel(kind="classification", targets=("square",), image_size=32, seed_parts=(0, "t"))
    result = model.fit(train, val, epochs=4, batch_size=16, learning_rate=3e-3, patience=4,
                       seed_parts=(0, "t"), progress=False)
    scores = model.predict(val.images)[:, 0].numpy()
    assert auroc(val.table["label_square"].to_numpy(), scores) > 0.95
    assert result.best_score == pytest.approx(max(h["val_score"] for h in result.history))
    model.save(tmp_path / "clf")
    loaded = load_model(tmp_path / "clf")
    assert torch.equal(loaded.predict(val.images), model.predict(val.images))


def test_training_is_deterministic_for_a_seed():
    train, val = _bright_square_set(32, 0), _bright_square_set(16, 1)
    outputs = []
    for _ in range(2):
        model = DiagnosticModel(kind="classification", targets=("square",), image_size=32, seed_parts=(5,))
        model.fit(train, val, epochs=1, batch_size=8, learning_rate=1e-3, patience=1, seed_parts=(5,), progress=False)
        outputs.append(model.predict(val.images))
    assert torch.equal(outputs[0], outputs[1])


def test_segmenter_learns_the_mask():
    train, val = _bright_square_set(48, 2, prevalence=1.0), _bright_square_set(16, 3, prevalence=1.0)
    model = DiagnosticModel(kind="segmentation", targets=("tumor",), image_size=32, seed_parts=(0, "s"))
    result = model.fit(train, val, epochs=5, batch_size=8, learning_rate=3e-3, patience=5,
                       seed_parts=(0, "s"), progress=False)
    first = result.history[0]["val_score"]  # mean Dice at threshold 0.5 on validation
    assert result.best_score > 0.6 and result.best_score > first + 0.2
    soft = model.predict(val.images)
    assert soft.shape == val.images.shape and float(soft.min()) >= 0 and float(soft.max()) <= 1


def test_segmentation_without_masks_is_a_clear_error():
    train = _bright_square_set(8, 0)
    train.masks = None
    model = DiagnosticModel(kind="segmentation", targets=("tumor",), image_size=32)
    with pytest.raises(ValueError, match="segmentation needs masks"):
        model.fit(train, train, epochs=1, batch_size=4, learning_rate=1e-3, patience=1, seed_parts=(0,), progress=False)
