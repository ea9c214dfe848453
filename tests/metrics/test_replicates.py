import numpy as np
import pandas as pd
import pytest

from reconfair.metrics.replicates import summarise_seeds


def test_mean_and_sample_sd_over_seeds_by_hand():
    rows = []
    for seed, (value, delta) in enumerate([(0.10, 0.01), (0.14, 0.05), (0.12, -0.03)]):
        for attribute in ("sex", "race"):
            rows.append({"dataset": "d", "task": "classification", "target": "t", "condition": "c",
                         "attribute": attribute, "metric": "eodd", "seed": seed, "value": value,
                         "delta": delta if attribute == "sex" else 2 * delta, "ci_low": -1.0 + seed, "n_groups": 2})
    out = summarise_seeds(pd.DataFrame(rows)).set_index("attribute")
    assert list(out["n_seeds"]) == [3, 3]
    assert out.loc["sex", "value_mean"] == pytest.approx(0.12, abs=1e-12)
    assert out.loc["sex", "value_sd"] == pytest.approx(np.std([0.10, 0.14, 0.12], ddof=1), abs=1e-12)
    assert out.loc["race", "delta_mean"] == pytest.approx(2 * 0.01, abs=1e-12)
    assert out.loc["sex", "ci_low_mean"] == pytest.approx(0.0, abs=1e-12)


def test_single_seed_has_nan_sd_and_missing_seed_column_is_named():
    table = pd.DataFrame({"metric": ["auroc"], "seed": [0], "value": [0.8]})
    assert np.isnan(summarise_seeds(table)["value_sd"].iloc[0])
    with pytest.raises(ValueError, match="no 'seed' column"):
        summarise_seeds(table.drop(columns="seed"))
