"""Fine-tune a trained reconstructor with a mitigation, and score it on a hold-out.

Data: the training split only (disjoint by patient from the test split and
from the validation split that calibrates the decision threshold).  A seeded
share of its patients (``holdout``, 20 % by default) is held out: the model
is fine-tuned on the rest, degraded afresh every epoch, and the hold-out is
used only to score each lambda (PSNR and EODD) so the sweep's best lambda is
chosen without touching val or test.  Fine-tuning starts from the
unmitigated model's weights and keeps its last epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from reconfair.data.sample import SampleSet
from reconfair.metrics.fairness import eodd
from reconfair.metrics.groups import classification_groups
from reconfair.metrics.image import psnr
from reconfair.metrics.threshold import equal_error_threshold
from reconfair.mitigate.adversarial import BiasPredictor, ClassifierFeatures
from reconfair.mitigate.groups import attribute_groups, group_codes, reweighting_weights
from reconfair.mitigate.objective import MitigatedNetwork, MitigationLoss, freeze, sample_info
from reconfair.mitigate.soft_eodd import SoftEqualizedOdds
from reconfair.config.mitigation import MitigationSpec
from reconfair.vocabulary import WEIGHTED_KINDS
from reconfair.seeding import numpy_generator, sample_generators, seeded_torch_global
from reconfair.training import fit

__all__ = ["HoldoutScore", "finetune", "holdout_split", "score_on_holdout"]


@dataclass(frozen=True)
class HoldoutScore:
    """Image quality and fairness of a reconstructor on the hold-out patients."""

    psnr: float
    eodd: float
    """Mean over labels and attributes of the EODD at the hold-out's own equal-error thresholds."""
    balanced_accuracy: float
    """Mean over labels of (TPR + TNR) / 2 at the same thresholds: 0.5 when every decision is the same."""


def holdout_split(train: SampleSet, share: float, *, seed: int, stage: str) -> tuple[SampleSet, SampleSet]:
    """``(fine-tune, hold-out)`` sets from ``train``, split by patient with a seeded draw.

    >>> import torch, pandas as pd
    >>> table = pd.DataFrame({"sample_id": list("abcdef"), "patient_id": list("ppqrst")})
    >>> tune, hold = holdout_split(SampleSet("toy", torch.zeros(6, 1, 2, 2), table), 0.4, seed=0, stage="doc")
    >>> len(tune) + len(hold), set(tune.table.patient_id) & set(hold.table.patient_id)
    (6, set())
    """
    if not 0.0 < share < 1.0:
        raise ValueError(f"holdout must lie strictly between 0 and 1, got {share}")
    patients = np.array(sorted(train.table["patient_id"].astype(str).unique()))
    if len(patients) < 2:
        raise ValueError(f"{train.name}: fine-tuning needs at least 2 training patients, got {len(patients)}")
    n_hold = min(len(patients) - 1, max(1, round(share * len(patients))))
    held = set(numpy_generator(seed, stage, "holdout").permutation(patients)[:n_hold])
    is_held = train.table["patient_id"].astype(str).isin(held).to_numpy()
    return train.subset(np.flatnonzero(~is_held)), train.subset(np.flatnonzero(is_held))


def finetune(
    recon: Any,
    spec: MitigationSpec,
    *,
    classifier: Any,
    train: SampleSet,
    operator: Any,
    seed: int,
    stage: str,
    resume: str | Path | None = None,
    device: torch.device | str = "cpu",
    progress: bool = False,
    holdout_stage: str | None = None,
) -> tuple[Any, HoldoutScore, HoldoutScore]:
    """Fine-tune ``recon`` (a trained :class:`~reconfair.recon.learned.LearnedReconstructor`) in place.

    ``classifier`` is the data set's trained classification
    :class:`~reconfair.diagnose.DiagnosticModel` (frozen; needed by every
    kind, since the hold-out score reads its predictions).  ``stage`` seeds the
    fine-tuning; ``holdout_stage`` (default: ``stage``) seeds the hold-out
    patients and their degradation, and should be the same for every lambda
    of a sweep so that all are scored on the same images.  Returns the model
    and its hold-out scores after and before fine-tuning.
    """
    holdout_stage = holdout_stage or stage
    tune, hold = holdout_split(train, spec.holdout, seed=seed, stage=holdout_stage)
    hold_inputs = operator.degrade(hold.images,
                                   generator=sample_generators(seed, f"{holdout_stage}/holdout", _ids(hold)))
    before = score_on_holdout(recon, classifier, hold, hold_inputs, spec.attributes, seed=seed, stage=holdout_stage)
    labels = torch.tensor(tune.table[[f"label_{t}" for t in classifier.targets]].to_numpy(np.float64))
    codes, groups = group_codes(train.table, spec.attributes)  # codes over all of train: same groups everywhere
    tune_codes = torch.from_numpy(codes[_positions(train, tune)])
    method, device = recon.method, torch.device(device)
    seed_parts = (seed, stage)
    network = MitigatedNetwork(method.trained, _adversary(spec, classifier, tune, groups, seed_parts))
    fairness = None
    if spec.kind == "eodd":
        fairness = SoftEqualizedOdds(len(classifier.targets), temperature=spec.temperature,
                                     momentum=spec.momentum, reduce=spec.reduce)
    weight = spec.weight if spec.kind in WEIGHTED_KINDS else 0.0
    loss = MitigationLoss(method.make_loss(seed_parts), kind=spec.kind, weight=weight,
                          classifier=freeze(classifier.network), n_labels=len(classifier.targets), fairness=fairness)
    batch = int(recon.spec["batch_size"])

    def degraded_for_epoch(epoch: int) -> torch.Tensor:
        return operator.degrade(tune.images, generator=sample_generators(seed, f"{stage}/epoch{epoch}", _ids(tune)))

    def validate(model: MitigatedNetwork) -> float:
        scores = [method.score(model.network, hold_inputs[i : i + batch].to(device), hold.images[i : i + batch].to(device))
                  * len(hold_inputs[i : i + batch]) for i in range(0, len(hold), batch)]
        return float(sum(scores) / len(hold))

    weights = None
    if spec.kind == "reweighting":
        weights = torch.from_numpy(reweighting_weights(tune.table, spec.attributes))
    options = {"betas": tuple(recon.spec["betas"])} if "betas" in recon.spec else {}
    with seeded_torch_global(*seed_parts, "train"):
        recon.fit_result = fit(
            network, inputs=degraded_for_epoch(0), targets=tune.images, loss=loss, validate=validate,
            epochs=spec.epochs, batch_size=batch,
            learning_rate=float(spec.learning_rate or recon.spec["learning_rate"]), patience=spec.epochs,
            seed_parts=seed_parts, sample_weights=weights, sample_info=sample_info(labels, tune_codes),
            device=device, progress=progress, description=f"mitigate {recon.name} ({spec.label})",
            refresh_inputs=degraded_for_epoch, resume=resume, keep="last", **options,
        )
    for module in method.modules.values():
        module.to("cpu").eval()
    after = score_on_holdout(recon, classifier, hold, hold_inputs, spec.attributes, seed=seed, stage=holdout_stage)
    return recon, after, before


def score_on_holdout(
    recon: Any, classifier: Any, hold: SampleSet, hold_inputs: torch.Tensor, attributes: tuple[str, ...], *,
    seed: int, stage: str,
) -> HoldoutScore:
    """PSNR of the reconstructions, their EODD and balanced accuracy (thresholds: equal-error on the clean images)."""
    with torch.no_grad():
        output = recon.reconstruct(hold_inputs, generator=sample_generators(seed, f"{stage}/score", _ids(hold)))
    quality = float(psnr(output.clamp(0, 1), hold.images).mean())
    clean_scores = classifier.predict(hold.images).numpy()
    scores = classifier.predict(output.clamp(0, 1)).numpy()
    values, accuracies = [], []
    for j, target in enumerate(classifier.targets):
        y = hold.table[f"label_{target}"].to_numpy(np.float64)
        known = ~np.isnan(y)
        if not (0 < y[known].sum() < known.sum()):
            continue
        threshold = equal_error_threshold(y, clean_scores[:, j])
        positive = scores[known, j] >= threshold
        accuracies.append(0.5 * (positive[y[known] == 1].mean() + (~positive[y[known] == 0]).mean()))
        for attribute in attributes:
            frame = classification_groups(y, scores[:, j], _attribute(hold.table, attribute), threshold=threshold)
            value = eodd(frame).value
            if np.isfinite(value):
                values.append(value)
    return HoldoutScore(psnr=quality, eodd=float(np.mean(values)) if values else float("nan"),
                        balanced_accuracy=float(np.mean(accuracies)) if accuracies else float("nan"))


def _adversary(spec: MitigationSpec, classifier: Any, tune: SampleSet, groups: dict, seed_parts: tuple) -> Any:
    if spec.kind != "adversarial":
        return None
    with torch.no_grad():
        _, features = ClassifierFeatures(freeze(classifier.network))(tune.images[:2])
    with seeded_torch_global(*seed_parts, "adversary"):
        n_labels = len(classifier.targets) if spec.criterion == "equalized-odds" else 0  # EO: it also sees y
        return BiasPredictor(features.shape[1], [len(g) for g in groups.values()], n_labels=n_labels)


def _ids(samples: SampleSet) -> list[str]:
    return samples.table["sample_id"].astype(str).tolist()


def _positions(train: SampleSet, part: SampleSet) -> np.ndarray:
    index = pd.Index(train.table["sample_id"])
    return index.get_indexer(part.table["sample_id"])


def _attribute(table: pd.DataFrame, attribute: str) -> np.ndarray:
    return attribute_groups(table, attribute).to_numpy()
