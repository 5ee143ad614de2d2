"""Quantile bin edges of the input encoding (the standardisers are tested in test_inputs)."""

import numpy as np
import pytest

from skebm._preprocessing import MIN_BIN_WIDTH, quantile_bin_edges


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
