"""Holm and Benjamini-Hochberg adjusted p-values against hand computations."""

from __future__ import annotations

import numpy as np
import pytest

from reconfair.metrics.multiple_testing import adjust_p_values, benjamini_hochberg, holm

P = [0.01, 0.04, 0.03, 0.005, 0.2]


def test_holm_by_hand() -> None:
    # sorted: 0.005 (x5), 0.01 (x4), 0.03 (x3), 0.04 (x2), 0.2 (x1); running max, capped at 1
    # 0.025, 0.04, 0.09, max(0.09, 0.08) = 0.09, max(0.09, 0.2) = 0.2
    expected = [0.04, 0.09, 0.09, 0.025, 0.2]
    np.testing.assert_allclose(holm(P), expected, rtol=1e-12)


def test_bh_by_hand() -> None:
    # m p_(i) / i: 5(0.005)/1, 5(0.01)/2, 5(0.03)/3, 5(0.04)/4, 5(0.2)/5
    # = 0.025, 0.025, 0.05, 0.05, 0.2; running min from the top changes nothing
    expected = [0.025, 0.05, 0.05, 0.025, 0.2]
    np.testing.assert_allclose(benjamini_hochberg(P), expected, rtol=1e-12)


def test_statsmodels_documented_example() -> None:
    # statsmodels multipletests([0.01, 0.02, 0.03, 0.04, 0.05], method=...)[1]
    p = [0.01, 0.02, 0.03, 0.04, 0.05]
    np.testing.assert_allclose(holm(p), [0.05, 0.08, 0.09, 0.09, 0.09], rtol=1e-12)
    np.testing.assert_allclose(benjamini_hochberg(p), [0.05] * 5, rtol=1e-12)


def test_capped_at_one_and_ties() -> None:
    np.testing.assert_allclose(holm([0.6, 0.6, 0.1]), [1.0, 1.0, 0.3])
    np.testing.assert_allclose(benjamini_hochberg([0.6, 0.6, 0.1]), [0.6, 0.6, 0.3])


@pytest.mark.parametrize("adjust", [holm, benjamini_hochberg])
def test_nan_stays_nan_and_is_not_counted(adjust) -> None:
    with_nan = adjust([0.01, np.nan, 0.04, np.nan, 0.03])
    without = adjust([0.01, 0.04, 0.03])
    assert np.isnan(with_nan[[1, 3]]).all()
    np.testing.assert_array_equal(with_nan[[0, 2, 4]], without)
    assert np.isnan(adjust([np.nan, np.nan])).all()
    assert adjust([]).shape == (0,)


@pytest.mark.parametrize("adjust", [holm, benjamini_hochberg])
def test_properties(adjust) -> None:
    rng = np.random.default_rng(0)
    p = rng.random(50) ** 3
    adjusted = adjust(p)
    assert (adjusted >= p - 1e-15).all() and (adjusted <= 1).all()
    order = np.argsort(p)
    assert (np.diff(adjusted[order]) >= -1e-15).all()  # monotone in p
    np.testing.assert_array_equal(adjust(p[::-1]), adjusted[::-1])  # order-equivariant
    assert adjust([0.3])[0] == 0.3  # a family of one is unadjusted


def test_holm_is_at_least_bh() -> None:
    p = np.random.default_rng(1).random(30) ** 2
    assert (holm(p) >= benjamini_hochberg(p) - 1e-15).all()


@pytest.mark.parametrize("bad", [[0.1, 1.5], [-0.1], [[0.1, 0.2]]])
def test_rejects_bad_input(bad) -> None:
    with pytest.raises(ValueError, match="p_values"):
        holm(bad)


def test_adjust_by_name() -> None:
    np.testing.assert_array_equal(adjust_p_values(P), holm(P))
    np.testing.assert_array_equal(adjust_p_values(P, "bh"), benjamini_hochberg(P))
    with pytest.raises(ValueError, match="unknown method 'bonf'"):
        adjust_p_values(P, "bonf")
