"""The piecewise-linear encoding of table columns and the extractor that reads it."""

import copy
import pickle

import pytest
import torch

from skebm.nn import EncodedExtractor, MLPExtractor, PiecewiseLinearEncoding


def test_each_bin_is_zero_left_one_right_and_linear_inside():
    encoding = PiecewiseLinearEncoding([torch.tensor([0.0, 1.0, 3.0, 4.0])])
    got = encoding(torch.tensor([[0.5], [2.0], [3.5]]))
    expected = torch.tensor([[0.5, 0.0, 0.0],
                             [1.0, 0.5, 0.0],
                             [1.0, 1.0, 0.5]])
    torch.testing.assert_close(got, expected)


def test_outer_bins_extrapolate_linearly():
    encoding = PiecewiseLinearEncoding([torch.tensor([0.0, 1.0, 3.0])])
    got = encoding(torch.tensor([[-2.0], [7.0]]))
    torch.testing.assert_close(got, torch.tensor([[-2.0, 0.0], [1.0, 3.0]]))


def test_widths_times_bins_give_back_the_column():
    # sum_t (b_t - b_{t-1}) e_t(x) = x - b_0 for every x, inside the edges or not:
    # the encoding keeps all of the column's information, linearly.
    generator = torch.Generator().manual_seed(0)
    edges = [torch.cumsum(torch.rand(k + 1, generator=generator) + 0.1, 0) - 2.0
             for k in (1, 3, 7)]
    encoding = PiecewiseLinearEncoding(edges)
    inputs = 4.0 * torch.randn(500, 3, generator=generator)
    encoded = encoding(inputs)
    start = 0
    for column, column_edges in enumerate(edges):
        widths = column_edges[1:] - column_edges[:-1]
        block = encoded[:, start:start + len(widths)]
        torch.testing.assert_close(block @ widths, inputs[:, column] - column_edges[0])
        start += len(widths)


def test_columns_may_have_different_numbers_of_bins():
    encoding = PiecewiseLinearEncoding([torch.tensor([0.0, 1.0]),
                                        torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0])])
    assert encoding.out_features == 5
    assert encoding(torch.zeros(6, 2)).shape == (6, 5)


@pytest.mark.parametrize("edges", [[0.0], [1.0, 1.0], [2.0, 1.0], [0.0, 1.0, 1.0]])
def test_edges_must_increase(edges):
    with pytest.raises(ValueError, match="increasing"):
        PiecewiseLinearEncoding([torch.tensor(edges)])


def test_needs_a_column():
    with pytest.raises(ValueError, match="at least one column"):
        PiecewiseLinearEncoding([])


def test_buffers_are_finite_and_travel_with_the_module():
    # Finite bounds: averaging the buffers (a + w (b - a)) never forms inf - inf.
    encoding = PiecewiseLinearEncoding([torch.tensor([0.0, 1.0, 2.0])])
    assert all(torch.isfinite(buffer.float()).all() for buffer in encoding.buffers())
    inputs = torch.tensor([[-5.0], [0.3], [9.0]])
    restored = pickle.loads(pickle.dumps(encoding))
    torch.testing.assert_close(restored(inputs), encoding(inputs))
    averaged = copy.deepcopy(encoding)
    for mine, theirs in zip(averaged.buffers(), encoding.buffers(), strict=True):
        if mine.is_floating_point():
            mine.lerp_(theirs, 0.3)
    torch.testing.assert_close(averaged(inputs), encoding(inputs))


def test_encoded_extractor_reads_the_columns_beside_their_bins():
    encoding = PiecewiseLinearEncoding([torch.tensor([0.0, 1.0, 2.0]),
                                        torch.tensor([-1.0, 1.0])])
    inner = MLPExtractor(2 + encoding.out_features, hidden_sizes=(8,))
    extractor = EncodedExtractor(encoding, inner)
    inputs = torch.randn(4, 2, requires_grad=True)
    expected = inner(torch.cat([inputs, encoding(inputs)], dim=1))
    torch.testing.assert_close(extractor(inputs), expected)
    assert extractor.out_features == 8
    extractor(inputs).sum().backward()
    assert inputs.grad is not None and torch.isfinite(inputs.grad).all()
