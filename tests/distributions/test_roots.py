"""Tests for skebm.distributions._roots: quantiles by bracketed root finding."""

import numpy as np
import pytest
from scipy import stats

from skebm.distributions._roots import invert_cdf


def _normal_cdf(centres):
    def cdf(rows, values):
        return stats.norm.cdf(values - centres[rows, None])
    return cdf


@pytest.mark.parametrize("offset", [0.0, -3e3, 1e9, 1e12])
def test_roots_are_as_accurate_far_from_zero_as_near_it(offset):
    # The stopping rule must be relative to the bracket, not to |y|: at 1e12
    # a tolerance of 1e-12 |y| is 1 unit, half the spread of the problem.
    probabilities = np.array([1e-6, 0.1, 0.5, 0.9, 1 - 1e-6])
    centres = np.full(5, offset)
    roots = invert_cdf(_normal_cdf(centres), probabilities, centres - 10.0, centres + 10.0)
    # Stopped at |cdf - p| <= 1e-10, or a bracket as narrow as floats allow there
    # (the density is at most 0.4, so that costs at most 0.4 bracket widths of cdf).
    resolution = 4 * np.spacing(abs(offset) + 10.0)
    error = np.abs(stats.norm.cdf(roots - offset) - probabilities)
    assert np.all(error <= 1e-10 + 0.4 * resolution)


def test_an_empty_or_point_bracket_returns_its_end():
    centres = np.array([5.0, 5.0])
    roots = invert_cdf(_normal_cdf(centres), np.array([0.5, 0.5]), np.array([5.0, 4.0]),
                       np.array([5.0, 6.0]))
    assert roots[0] == 5.0
    assert roots[1] == pytest.approx(5.0, abs=1e-9)
