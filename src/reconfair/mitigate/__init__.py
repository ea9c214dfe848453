"""Bias mitigation for reconstruction models: reweighting, an equalized-odds loss, adversarial debiasing.

Each mitigation fine-tunes a trained reconstructor (U-Net, Pix2Pix or
IR-SDE) on the training split, with the frozen downstream classifier in the
loop; see :mod:`reconfair.mitigate.objective` for the losses and
:mod:`reconfair.mitigate.finetune` for the data and the hold-out.
"""

from reconfair.mitigate.adversarial import BiasPredictor, ClassifierFeatures, ReferencePredictor
from reconfair.mitigate.finetune import HoldoutScore, finetune, holdout_split, score_on_holdout
from reconfair.mitigate.groups import group_codes, reweighting_weights
from reconfair.mitigate.objective import MitigatedNetwork, MitigationLoss, freeze
from reconfair.mitigate.soft_eodd import SoftEqualizedOdds

__all__ = [
    "BiasPredictor",
    "ClassifierFeatures",
    "HoldoutScore",
    "MitigatedNetwork",
    "MitigationLoss",
    "ReferencePredictor",
    "SoftEqualizedOdds",
    "finetune",
    "freeze",
    "group_codes",
    "holdout_split",
    "reweighting_weights",
    "score_on_holdout",
]
