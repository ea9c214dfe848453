"""Diagnostic models: a multi-label classifier and a segmenter behind one class.

Both are trained on clean training images with :func:`reconfair.training.fit`
and early stopping on a validation score (macro AUROC for classification,
mean Dice at threshold 0.5 for segmentation), and saved as safetensors + JSON.

Examples
--------
>>> import torch
>>> model = DiagnosticModel(kind="classification", targets=("nodule",), preset="cpu-small", image_size=32)
>>> tuple(model.predict(torch.zeros(3, 1, 32, 32)).shape)
(3, 1)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from monai.losses import DiceLoss

from reconfair.training.checkpoint import load_checkpoint, save_checkpoint
from reconfair.data.sample import SampleSet
from reconfair.diagnose.networks import build_network
from reconfair.metrics.task import auroc, binarize, dice
from reconfair.seeding import seeded_torch_global
from reconfair.training import FitResult, fit


class DiagnosticModel:
    """A classifier (``predict`` -> probabilities N x L) or segmenter (soft masks N x 1 x H x W)."""

    threshold = 0.5
    """Probability at or above which a segmentation pixel is foreground."""

    def __init__(
        self,
        *,
        kind: str,
        targets: tuple[str, ...],
        preset: str = "cpu-small",
        image_size: int = 64,
        seed_parts: tuple[Any, ...] = (0,),
    ) -> None:
        self.spec = {
            "kind": kind,
            "preset": preset,
            "targets": list(targets),
            "n_outputs": len(targets) if kind == "classification" else 1,
            "image_size": int(image_size),
        }
        with seeded_torch_global(*seed_parts, "init"):
            self.network = build_network(self.spec)
        self.network.eval()
        self.fit_result: FitResult | None = None

    @property
    def kind(self) -> str:
        return str(self.spec["kind"])

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(self.spec["targets"])

    def fit(
        self,
        train: SampleSet,
        val: SampleSet,
        *,
        epochs: int,
        batch_size: int,
        learning_rate: float,
        patience: int,
        seed_parts: tuple[Any, ...],
        device: torch.device | str = "cpu",
        progress: bool = True,
    ) -> FitResult:
        """Train on ``train`` (clean images), early-stopping on ``val``."""
        device = torch.device(device)
        if self.kind == "classification":
            targets = torch.tensor(_label_matrix(train, self.targets), dtype=torch.float32)
            weights = class_balanced_weights(targets)
            val_labels = _label_matrix(val, self.targets)
            loss, validate = _classification_loss, lambda net: _macro_auroc(net, val.images, val_labels, device)
        else:
            if train.masks is None or val.masks is None:
                raise ValueError(f"{train.name}: segmentation needs masks, but the data set has none")
            targets, weights = train.masks, None
            loss, validate = _segmentation_loss, lambda net: _mean_dice(net, val.images, val.masks, device)
        with seeded_torch_global(*seed_parts, "train"):
            self.fit_result = fit(
                self.network,
                inputs=train.images,
                targets=targets,
                loss=loss,
                validate=validate,
                epochs=epochs,
                batch_size=batch_size,
                learning_rate=learning_rate,
                patience=patience,
                seed_parts=seed_parts,
                sample_weights=weights,
                device=device,
                progress=progress,
                description=f"train {train.name} {self.kind}",
            )
        self.network.to("cpu")
        return self.fit_result

    @torch.no_grad()
    def predict(self, images: torch.Tensor, *, batch_size: int = 256, device: torch.device | str = "cpu") -> torch.Tensor:
        """Probabilities per target (classification) or soft masks (segmentation), on CPU."""
        return _predict(self.network, images, batch_size=batch_size, device=torch.device(device))

    def save(self, stem: str | Path) -> None:
        """Write ``stem.safetensors`` and ``stem.json``."""
        meta = dict(self.spec)
        if self.fit_result is not None:
            meta["best_epoch"] = self.fit_result.best_epoch
            meta["best_score"] = self.fit_result.best_score
            meta["history"] = list(self.fit_result.history)
        save_checkpoint(stem, self.network.state_dict(), meta)


def load_model(stem: str | Path) -> DiagnosticModel:
    """Rebuild a saved :class:`DiagnosticModel` from its JSON spec and safetensors weights."""
    state, meta = load_checkpoint(stem)
    model = DiagnosticModel(
        kind=meta["kind"], targets=tuple(meta["targets"]), preset=meta["preset"], image_size=meta["image_size"]
    )
    model.network.load_state_dict(state)
    model.network.eval()
    return model


def class_balanced_weights(labels: torch.Tensor) -> torch.Tensor:
    """Per-sample weights giving each label's positives and negatives equal total weight.

    For each label, a positive sample gets ``1/n_pos`` and a negative ``1/n_neg``;
    unknown (NaN) labels contribute nothing; the sample weight is the mean over
    labels.

    >>> class_balanced_weights(torch.tensor([[1.0], [0.0], [0.0], [0.0]])).tolist()
    [1.0, 0.3333333432674408, 0.3333333432674408, 0.3333333432674408]
    """
    known = ~torch.isnan(labels)
    positive = (labels == 1) & known
    negative = (labels == 0) & known
    n_pos = positive.sum(0).clamp(min=1)
    n_neg = negative.sum(0).clamp(min=1)
    per_label = positive / n_pos + negative / n_neg
    return per_label.mean(1).clamp(min=1e-12)


def _label_matrix(samples: SampleSet, targets: tuple[str, ...]) -> np.ndarray:
    missing = [t for t in targets if f"label_{t}" not in samples.table.columns]
    if missing:
        raise ValueError(f"{samples.name}: no label column for {missing}; found labels {samples.label_names}")
    return samples.table[[f"label_{t}" for t in targets]].to_numpy(dtype=np.float64)


def _classification_loss(network: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    known = ~torch.isnan(labels)
    logits = network(images)
    losses = F.binary_cross_entropy_with_logits(logits, torch.nan_to_num(labels), reduction="none")
    return (losses * known).sum() / known.sum().clamp(min=1)


_dice_loss = DiceLoss(sigmoid=True)


def _segmentation_loss(network: torch.nn.Module, images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    logits = network(images)
    return _dice_loss(logits, masks) + F.binary_cross_entropy_with_logits(logits, masks)


def _predict(network: torch.nn.Module, images: torch.Tensor, *, batch_size: int, device: torch.device) -> torch.Tensor:
    network.to(device).eval()
    outputs = [torch.sigmoid(network(images[i : i + batch_size].to(device))).cpu() for i in range(0, len(images), batch_size)]
    return torch.cat(outputs) if outputs else torch.empty(0)


def _macro_auroc(network: torch.nn.Module, images: torch.Tensor, labels: np.ndarray, device: torch.device) -> float:
    scores = _predict(network, images, batch_size=256, device=device).numpy()
    values = [auroc(labels[:, j], scores[:, j]) for j in range(labels.shape[1])]
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _mean_dice(network: torch.nn.Module, images: torch.Tensor, masks: torch.Tensor, device: torch.device) -> float:
    soft = _predict(network, images, batch_size=256, device=device)
    return float(np.mean(dice(binarize(soft), masks)))
