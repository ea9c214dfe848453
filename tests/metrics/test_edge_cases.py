"""Constant scores: every metric stays defined and matches the references."""

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from reconfair.metrics.bootstrap import weighted_auroc
from reconfair.metrics.evaluate import evaluate
from reconfair.metrics.task import auroc
from reconfair.metrics.threshold import equal_error_threshold


def test_constant_scores_give_auroc_one_half_like_sklearn():
    y = np.array([0, 1, 1, 0, 1, 0, 0, 1], dtype=float)
    scores = np.full(8, 0.3)
    assert auroc(y, scores) == roc_auc_score(y, scores) == 0.5
    weights = np.array([[1, 2, 0, 1, 1, 3, 0, 0]], dtype=float)
    assert weighted_auroc(y, scores, weights)[0] == 0.5


def test_constant_scores_predict_everyone_positive_and_no_group_gap():
    n = 40
    table = pd.DataFrame({
        "sample_id": [f"v{i}" for i in range(n)] + [f"s{i}" for i in range(n)],
        "split": ["val"] * n + ["test"] * n,
        "dataset": "toy", "task": "classification", "target": "t", "condition": "original",
        "y_true": [float(i % 2) for i in range(n)] * 2,
        "y_score": 0.42,
        "attr_sex": ["F", "M", "M", "F"] * (2 * n // 4),
    })
    assert equal_error_threshold(table["y_true"], table["y_score"]) == 0.42
    tables = evaluate(table, attributes=["sex"], min_group_size=1)
    groups = tables.groups.set_index("group")
    assert (groups["tpr"] == 1.0).all() and (groups["fpr"] == 1.0).all()
    fairness = tables.fairness.set_index("metric")["value"]
    assert fairness["eodd"] == 0.0 and fairness["eop"] == 0.0 and fairness["dp"] == 0.0
