"""Scaling of table columns and the quantile bin edges of the input encoding (the
image standardiser is tested in test_inputs)."""

import warnings

import numpy as np
import pytest

from skebm._preprocessing import MIN_BIN_WIDTH, TableStandardizer, quantile_bin_edges


def test_bins_hold_equal_counts_of_a_continuous_column():
    column = np.random.default_rng(0).lognormal(size=(4000, 1))
    (edges,) = quantile_bin_edges(column, 8)
    assert edges.dtype == np.float32 and len(edges) == 9
    assert edges[0] == np.float32(column.min()) and edges[-1] == np.float32(column.max())
    counts, _ = np.histogram(column, bins=edges.astype(np.float64))
    np.testing.assert_allclose(counts, 500, atol=2)


def test_columns_with_few_values_get_fewer_bins():
    rng = np.random.default_rng(1)
    columns = np.column_stack([rng.integers(0, 2, 300), rng.integers(0, 3, 300),
                               np.full(300, 2.5), rng.normal(size=300)])
    binary, ternary, constant, continuous = quantile_bin_edges(columns, 8)
    np.testing.assert_array_equal(binary, [0.0, 1.0])
    np.testing.assert_array_equal(ternary, [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(constant, [2.0, 3.0])
    assert len(continuous) == 9
    for edges in (binary, ternary, constant, continuous):
        assert np.all(np.diff(edges) > 0)


def test_edges_that_round_together_in_float32_are_merged():
    column = np.array([[1.0], [1.0 + 1e-12], [1.0 + 2e-12], [2.0]])
    (edges,) = quantile_bin_edges(column, 3)
    assert np.all(np.diff(edges) > 0)


@pytest.mark.parametrize("n_bins", [1, 2, 5])
def test_one_bin_spans_the_range(n_bins):
    (edges,) = quantile_bin_edges(np.arange(10.0)[:, None], n_bins)
    assert len(edges) == n_bins + 1 and edges[0] == 0.0 and edges[-1] == 9.0


def test_no_bin_is_narrower_than_the_minimum_width():
    # A fifth of the rows at 0 and a fifth a hair above: an outer bin that narrow
    # would scale a value just outside it by a million.
    rng = np.random.default_rng(2)
    column = np.concatenate([np.zeros(200), np.full(200, 1e-6), rng.uniform(1.0, 4.0, 600)])
    (edges,) = quantile_bin_edges(column[:, None], 8)
    assert np.all(np.diff(edges) >= MIN_BIN_WIDTH)
    assert edges[0] == 0.0 and edges[-1] == np.float32(column.max()) and len(edges) >= 6


# ---------------------------------------------------------------- table scaling
def ordinary_columns(n=400, seed=0):
    """Normal, log-normal (sigma 2), binary, and tied columns (yacht's first column)."""
    rng = np.random.default_rng(seed)
    tied = rng.choice([-5.0, -2.4, -2.3, -2.2, 0.0], n, p=[0.18, 0.14, 0.47, 0.04, 0.17])
    return np.column_stack([rng.normal(3.0, 2.0, n), rng.lognormal(0.0, 2.0, n),
                            rng.integers(0, 2, n), tied])


def test_ordinary_columns_keep_their_mean_and_standard_deviation():
    X = ordinary_columns()
    scaler = TableStandardizer(X)
    assert not np.any(scaler.robust)
    np.testing.assert_allclose(scaler.mean, X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(scaler.scale, X.std(axis=0), rtol=1e-12)
    np.testing.assert_allclose(scaler.transform(X).numpy(),
                               (X - X.mean(axis=0)) / X.std(axis=0), rtol=1e-6, atol=1e-6)


def test_one_huge_value_leaves_the_other_rows_of_its_column_resolved():
    X = np.random.default_rng(0).normal(size=(300, 1))
    X[0, 0] = 1e12  # its standard deviation, 6e10, would put every other row at -0.058
    scaler = TableStandardizer(X)
    standard = scaler.transform(X).numpy()[:, 0]
    assert scaler.robust[0]
    np.testing.assert_allclose(np.std(standard[1:]), 1.0, atol=0.1)
    assert len(np.unique(standard)) == 300
    assert 10.0 < standard[0] < 300.0  # beyond 10 spreads compressed logarithmically
    assert np.all(np.diff(scaler.transform(np.array([[5.0], [50.0], [1e6], [1e30]])).numpy()[:, 0])
                  > 0)  # order kept


def test_a_column_constant_but_for_one_value_is_two_levels_without_a_warning():
    column = np.zeros((300, 1))
    column[7] = 1e12
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        standard = TableStandardizer(column).transform(column).numpy()
    assert len(np.unique(standard)) == 2 and np.all(np.isfinite(standard))


def test_values_that_become_equal_in_float32_are_named_in_a_warning():
    columns = np.column_stack([np.random.default_rng(0).normal(size=300), np.zeros(300)])
    columns[:2, 1] = [1.0, 1e12]  # 0 and 1 become one number beside 1e12
    with pytest.warns(UserWarning, match=r"Column 1 of X has 3 distinct values .* only 2"):
        TableStandardizer(columns)


@pytest.mark.parametrize("value", [2.5, -40.0, 1e6])
def test_a_column_constant_in_training_reads_zero_at_any_value(value):
    X = np.column_stack([np.arange(5.0), np.full(5, 2.5)])
    scaler = TableStandardizer(X)
    np.testing.assert_array_equal(scaler.transform([[1.0, value]]).numpy()[:, 1], 0.0)
