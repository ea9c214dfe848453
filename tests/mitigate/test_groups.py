"""Reweighting weights (1 / n per group combination) and the sampler they drive."""

import numpy as np
import pandas as pd
import pytest
import torch

from reconfair.mitigate import group_codes, reweighting_weights


def _table():
    sex = ["F"] * 10 + ["M"] * 30
    race = ["A"] * 2 + ["B"] * 8 + ["A"] * 25 + ["B"] * 5
    return pd.DataFrame({"attr_sex": sex, "attr_race": race, "attr_age": ["50"] * 40})


def test_weights_are_inverse_combination_counts_with_mean_one():
    table = _table()
    weights = reweighting_weights(table, ["sex", "race"])
    counts = table.groupby(["attr_sex", "attr_race"])["attr_sex"].transform("size").to_numpy()
    expected = (1 / counts) * 40 / np.sum(1 / counts)
    np.testing.assert_allclose(weights, expected)
    assert weights[0] == pytest.approx(40 / 4 / 2)  # F x A: 2 samples, 4 combinations -> 1/4 of the mass


def test_sampling_with_replacement_balances_the_combinations():
    table = _table()
    weights = torch.tensor(reweighting_weights(table, ["sex", "race"]))
    draws = torch.multinomial(weights, 200_000, replacement=True, generator=torch.Generator().manual_seed(0))
    codes, _ = group_codes(table, ["sex", "race"])
    combination = codes[draws.numpy(), 0] * 2 + codes[draws.numpy(), 1]
    shares = np.bincount(combination, minlength=4) / len(draws)
    np.testing.assert_allclose(shares, 0.25, atol=0.005)


def test_missing_values_form_their_own_group_and_bad_attributes_are_named():
    table = pd.DataFrame({"attr_sex": ["F", None, "M", ""]})
    codes, groups = group_codes(table, ["sex"])
    assert groups == {"sex": ("F", "M", "unknown")} and codes[:, 0].tolist() == [0, 2, 1, 2]
    with pytest.raises(ValueError, match="'age' is continuous; use its groups, e.g. 'age_group'"):
        group_codes(_table(), ["age"])
    with pytest.raises(ValueError, match="no column 'attr_ethnicity'; attributes found: age, race, sex"):
        group_codes(_table(), ["ethnicity"])
