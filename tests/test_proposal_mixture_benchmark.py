"""benchmarks/archive/proposal_mixture.py: the mixture's NLL from the two log-densities."""


import numpy as np
import pytest

from tests.helpers import load_benchmark

proposal_mixture = load_benchmark("archive/proposal_mixture")


def test_mixture_nll_is_each_density_at_the_ends_and_their_average_between():
    log_p, log_q = np.log([0.2, 0.5, 1e-300]), np.log([0.4, 0.1, 0.3])
    assert proposal_mixture.mixture_nll(log_p, log_q, 0.0) == pytest.approx(-np.mean(log_p))
    assert proposal_mixture.mixture_nll(log_p, log_q, 1.0) == pytest.approx(-np.mean(log_q))
    expected = -np.mean(np.log(0.75 * np.exp(log_p) + 0.25 * np.exp(log_q)))
    assert proposal_mixture.mixture_nll(log_p, log_q, 0.25) == pytest.approx(expected)
