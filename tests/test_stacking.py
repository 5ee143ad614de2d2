"""The proposal's weight in the predictive mixture, chosen on held-out rows."""

import numpy as np
import pytest
from scipy import stats

from skebm._stacking import stacking_weight


def mean_log_likelihood(weight, log_p, log_q, log_b, background):
    mixed = np.logaddexp(np.log1p(-weight) + log_p, np.log(weight) + log_q) if 0 < weight < 1 \
        else (log_p if weight == 0 else log_q)
    return np.mean(np.logaddexp(np.log1p(-background) + mixed, np.log(background) + log_b))


@pytest.mark.parametrize("seed", range(5))
def test_the_weight_maximises_the_held_out_likelihood(seed):
    rng = np.random.default_rng(seed)
    y = rng.standard_t(4, size=200)  # neither member is right: an interior optimum
    log_p = stats.norm.logpdf(y, 0.0, 0.8)
    log_q = stats.norm.logpdf(y, 0.3, 2.0)
    log_b = stats.norm.logpdf(y, 0.0, 5.0)
    weight = stacking_weight(log_p, log_q, log_b, 0.01)
    grid = np.linspace(0.0, 1.0, 10_001)
    scores = [mean_log_likelihood(a, log_p, log_q, log_b, 0.01) for a in grid]
    assert 0.0 < weight < 1.0
    assert weight == pytest.approx(grid[int(np.argmax(scores))], abs=2e-4)


def test_a_member_better_on_every_row_takes_all_the_weight():
    rng = np.random.default_rng(0)
    log_p = rng.normal(size=50)
    log_b = np.full(50, -5.0)
    assert stacking_weight(log_p, log_p - 0.1, log_b, 0.01) == 0.0
    assert stacking_weight(log_p, log_p + 0.1, log_b, 0.01) == 1.0
    assert stacking_weight(log_p, log_p, log_b, 0.01) == 0.0  # a tie keeps the energy alone


def test_a_row_both_members_deem_impossible_is_left_to_the_background():
    rng = np.random.default_rng(0)
    y = rng.standard_t(4, size=200)
    log_p, log_q = stats.norm.logpdf(y, 0.0, 0.8), stats.norm.logpdf(y, 0.3, 2.0)
    log_b = stats.norm.logpdf(y, 0.0, 5.0)
    base = stacking_weight(log_p, log_q, log_b, 0.01)
    # One outlier that q finds far less impossible than p (1e-100 against 1e-400):
    outlier = (np.append(log_p, -920.0), np.append(log_q, -230.0), np.append(log_b, -6.0))
    assert stacking_weight(*outlier, 0.01) == pytest.approx(base, abs=1e-3)
    assert stacking_weight(*outlier, 0.0) > base + 0.01  # without a background it pulls


def test_a_weight_that_one_row_asks_for_is_not_used():
    log_p = np.zeros(100)
    log_q = np.full(100, -0.2)
    log_q[0] = 3.0  # q is worse on every row but one
    log_b = np.full(100, -5.0)
    grid = np.linspace(0.0, 1.0, 1001)
    scores = [mean_log_likelihood(a, log_p, log_q, log_b, 0.01) for a in grid]
    assert grid[int(np.argmax(scores))] > 0.0  # the maximiser alone would mix q in
    assert stacking_weight(log_p, log_q, log_b, 0.01) == 0.0
    log_q[:10] = 3.0  # ten rows: a gain beyond its standard error
    assert stacking_weight(log_p, log_q, log_b, 0.01) > 0.0


def test_infinite_log_densities_give_a_finite_weight():
    log_p = np.array([-np.inf, 0.0, -1.0])
    log_q = np.array([-1.0, -np.inf, -np.inf])
    log_b = np.array([-3.0, -3.0, -np.inf])
    weight = stacking_weight(log_p, log_q, log_b, 0.01)
    assert 0.0 <= weight <= 1.0
