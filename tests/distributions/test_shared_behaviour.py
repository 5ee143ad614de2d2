"""What every batch of distributions does alike: infinite arguments and selected rows."""

import numpy as np
import pytest
from scipy import stats

from skebm.calibration import CalibrationMap, EqualMixtureDistribution, RecalibratedDistribution
from skebm.distributions import GaussianMixtureDistribution
from tests.helpers import tiny_estimators

N_ROWS = 4


def _mixture(target_dim, n_rows=N_ROWS, seed=0):
    rng = np.random.default_rng(seed)
    return GaussianMixtureDistribution(rng.normal(size=(n_rows, 3)),
                                       rng.normal(size=(n_rows, 3, target_dim)),
                                       np.exp(0.3 * rng.normal(size=(n_rows, 3, target_dim))))


def _wider_map():
    return CalibrationMap(stats.norm.cdf(1.5 * np.random.default_rng(0).normal(size=5000)),
                          n_knots=8)


def _energy(target_dim):
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(40, 1))
    Y = np.sin(X) * np.ones((1, target_dim)) + 0.2 * rng.normal(size=(40, target_dim))
    model = tiny_estimators()["energy"]().fit(X, Y[:, 0] if target_dim == 1 else Y)
    return model.predict_dist(X[:N_ROWS])


MAKERS = {
    "mixture-d1": lambda: _mixture(1),
    "mixture-d2": lambda: _mixture(2),
    "energy-d1": lambda: _energy(1),
    "energy-d2": lambda: _energy(2),
    "recalibrated": lambda: RecalibratedDistribution(_mixture(1), _wider_map()),
    "ensemble": lambda: EqualMixtureDistribution(
        [RecalibratedDistribution(_mixture(1), _wider_map()), _mixture(1, seed=1)]),
}


@pytest.fixture(scope="module", params=sorted(MAKERS))
def dist(request):
    return MAKERS[request.param]()


def _points(dist, values):
    """``values (k,)`` as k query points per row, every coordinate alike."""
    values = np.asarray(values, dtype=float)
    shape = (len(dist), values.size) + ((dist.target_dim,) if dist.target_dim > 1 else ())
    return np.broadcast_to(values.reshape((1, -1) + (1,) * (len(shape) - 2)), shape)


def test_cdf_is_zero_at_minus_infinity_and_one_at_plus_infinity(dist):
    cdf = dist.cdf(_points(dist, [np.inf, -np.inf, 0.0]))
    np.testing.assert_array_equal(cdf[:, :2], np.tile([1.0, 0.0], (len(dist), 1)))
    np.testing.assert_allclose(cdf[:, 2], dist.cdf(_points(dist, [0.0]))[:, 0])
    one_per_row = np.full((len(dist),) + ((dist.target_dim,) if dist.target_dim > 1 else ()),
                          np.inf)
    one_per_row[1] = -np.inf
    np.testing.assert_array_equal(dist.cdf(one_per_row), [1.0, 0.0, 1.0, 1.0])


def test_density_is_zero_at_infinity(dist):
    points = _points(dist, [np.inf, -np.inf, 0.0])
    log_density = dist.logpdf(points)
    assert np.all(log_density[:, :2] == -np.inf)
    assert np.all(np.isfinite(log_density[:, 2]))
    np.testing.assert_array_equal(dist.pdf(points)[:, :2], 0.0)


def test_nan_points_are_still_refused(dist):
    with pytest.raises(ValueError, match="NaN"):
        dist.cdf(_points(dist, [np.nan]))


def test_a_joint_cdf_with_one_infinite_coordinate_is_the_other_marginal():
    dist = _mixture(2)
    points = np.array([[0.3, np.inf]] * N_ROWS)
    marginal = GaussianMixtureDistribution(dist.log_weights, dist.means[:, :, :1],
                                           dist.stds[:, :, :1])
    np.testing.assert_allclose(dist.cdf(points), marginal.cdf(np.full(N_ROWS, 0.3)),
                               rtol=1e-14)
    points[0, 0] = -np.inf
    assert dist.cdf(points)[0] == 0.0


@pytest.mark.parametrize("rows", [slice(1, 2), [3, 0], np.array([False, True, True, False])],
                         ids=["slice", "indices", "mask"])
def test_a_selection_samples_what_the_whole_batch_samples(dist, rows):
    np.testing.assert_array_equal(dist[rows].sample(5, random_state=3),
                                  dist.sample(5, random_state=3)[rows])
    # Selections of selections remember the original rows as well.
    np.testing.assert_array_equal(dist[1:][:1].sample(5, random_state=3),
                                  dist.sample(5, random_state=3)[1:2])
