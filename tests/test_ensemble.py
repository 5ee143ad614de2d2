"""EnsembleRegressor: members, seeds, the exact mixture, parallel fits, scikit-learn checks."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from skebm import DistilledMDNRegressor, EnergyRegressor
from skebm.distributions import GaussianMixtureDistribution
from skebm.ensemble import EnsembleRegressor, member_clones, member_random_state, member_seed
from tests.helpers import linear_data

TINY = dict(max_epochs=2, n_noise_samples=16, hidden_size=8, random_state=0)


class SeededGaussianRegressor(RegressorMixin, BaseEstimator):
    """Weighted least squares whose slope is shifted by a seed-dependent amount.

    A cheap stand-in for a stochastic probabilistic regressor: its fit
    depends on ``random_state`` (so ensemble members differ), its
    distribution is Gaussian, and integer weights equal repeated rows.
    """

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y, sample_weight=None):
        X, y = validate_data(self, X, y, y_numeric=True)
        weights = _check_sample_weight(sample_weight, X)
        design = np.column_stack([np.ones(len(X)), X])
        root = np.sqrt(weights)[:, None]
        self.coef_ = np.linalg.lstsq(design * root, y * root[:, 0], rcond=None)[0]
        self.coef_[1:] += 0.01 * np.random.default_rng(self.random_state).normal(size=X.shape[1])
        residuals = y - design @ self.coef_
        self.scale_ = np.sqrt(np.average(residuals**2, weights=weights)) + 1e-3
        return self

    def predict_dist(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        means = self.coef_[0] + X @ self.coef_[1:]
        n = len(X)
        return GaussianMixtureDistribution(np.zeros((n, 1)), means[:, None, None],
                                           np.full((n, 1, 1), self.scale_))

    def predict(self, X):
        return self.predict_dist(X).mean()


@parametrize_with_checks([EnsembleRegressor(SeededGaussianRegressor(random_state=0),
                                            n_estimators=3)])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def fitted():
    X, y = linear_data(n=120)
    return X, y, EnsembleRegressor(EnergyRegressor(**TINY), n_estimators=3).fit(X, y)


def test_member_zero_is_the_estimator_as_given(fitted):
    X, y, ensemble = fitted
    alone = EnergyRegressor(**TINY).fit(X, y)
    np.testing.assert_array_equal(ensemble.estimators_[0].predict(X), alone.predict(X))


def test_members_are_differently_seeded(fitted):
    X, _, ensemble = fitted
    states = [member.random_state for member in ensemble.estimators_]
    assert states[0] == 0 and len(set(states)) == 3
    assert states[1] == member_random_state(member_seed(EnergyRegressor(**TINY)), 1)
    predictions = [member.predict(X) for member in ensemble.estimators_]
    assert not np.allclose(predictions[0], predictions[1])


def test_the_distribution_is_the_members_equal_mixture(fitted):
    X, y, ensemble = fitted
    members = [member.predict_dist(X) for member in ensemble.estimators_]
    dist = ensemble.predict_dist(X)
    expected = np.log(np.mean([np.exp(m.logpdf(y)) for m in members], axis=0))
    np.testing.assert_allclose(dist.logpdf(y), expected, rtol=1e-10)
    np.testing.assert_allclose(dist.mean(), np.mean([m.mean() for m in members], axis=0))
    np.testing.assert_allclose(dist.cdf(y), np.mean([m.cdf(y) for m in members], axis=0))
    np.testing.assert_allclose(ensemble.predict(X), dist.mean())
    assert ensemble.score(X, y) == pytest.approx(np.mean(expected))


def test_a_seeded_ensemble_is_reproducible_and_independent_of_n_jobs(fitted):
    X, y, ensemble = fitted
    parallel = clone(ensemble).set_params(n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(parallel.predict(X), ensemble.predict(X))
    np.testing.assert_array_equal(parallel.sample(X[:3], 5), ensemble.sample(X[:3], 5))


def test_one_member_predicts_like_the_estimator():
    X, y = linear_data(n=80)
    one = EnsembleRegressor(DistilledMDNRegressor(**TINY), n_estimators=1).fit(X, y)
    alone = DistilledMDNRegressor(**TINY).fit(X, y)
    np.testing.assert_array_equal(one.predict(X), alone.predict(X))


def test_ensemble_of_seeded_fakes_lowers_the_variance_of_the_mean():
    X, y = linear_data(n=200, seed=1)
    ensemble = EnsembleRegressor(SeededGaussianRegressor(random_state=3), n_estimators=50)
    ensemble.fit(X, y)
    slopes = np.array([member.coef_[1] for member in ensemble.estimators_])
    # The members' seed-dependent shifts are independent N(0, 0.01^2) draws.
    assert 0.005 < slopes.std() < 0.02
    mixture_mean = ensemble.predict_dist(X).mean()
    np.testing.assert_allclose(mixture_mean, np.mean([m.predict(X) for m in
                                                      ensemble.estimators_], axis=0))


def test_multi_output_targets_are_mixed():
    X, Y = linear_data(n=100, n_targets=2)
    ensemble = EnsembleRegressor(DistilledMDNRegressor(**TINY), n_estimators=2).fit(X, Y)
    dist = ensemble.predict_dist(X)
    members = [member.predict_dist(X) for member in ensemble.estimators_]
    assert ensemble.predict(X).shape == (100, 2)
    assert ensemble.sample(X[:4], 7).shape == (4, 7, 2)
    expected = np.log(np.mean([np.exp(m.logpdf(Y)) for m in members], axis=0))
    np.testing.assert_allclose(dist.logpdf(Y), expected, rtol=1e-10)
    means = np.array([m.mean() for m in members])
    total_var = np.mean([m.var() for m in members], axis=0) + means.var(axis=0)
    np.testing.assert_allclose(dist.var(), total_var, rtol=1e-10)


def test_pipelines_and_grid_search_reach_the_members():
    X, y = linear_data(n=90)
    pipe = make_pipeline(StandardScaler(), SeededGaussianRegressor(random_state=0))
    ensemble = EnsembleRegressor(pipe, n_estimators=2).fit(X, y)
    states = [m[-1].random_state for m in ensemble.estimators_]
    assert states[0] == 0 and states[1] != 0
    search = GridSearchCV(EnsembleRegressor(SeededGaussianRegressor(random_state=0),
                                            n_estimators=2),
                          {"estimator__random_state": [0, 1]}, cv=2).fit(X, y)
    assert search.best_estimator_.n_estimators == 2


def test_an_estimator_without_random_state_needs_one_member():
    class Unseeded(SeededGaussianRegressor):
        def __init__(self):
            pass

        random_state = None

    with pytest.raises(ValueError, match="random_state"):
        member_clones(Unseeded(), 2)
    assert len(member_clones(Unseeded(), 1)) == 1


def test_sample_weight_reaches_every_member():
    X, y = linear_data(n=60)
    weights = np.r_[np.zeros(30), np.ones(30)]
    weighted = EnsembleRegressor(SeededGaussianRegressor(random_state=0), n_estimators=2)
    weighted.fit(X, y, sample_weight=weights)
    dropped = clone(weighted).fit(X[30:], y[30:])
    np.testing.assert_allclose(weighted.predict(X), dropped.predict(X))


def test_a_column_vector_target_keeps_its_shape_as_the_members_do(fitted):
    X, y, _ = fitted
    column = EnsembleRegressor(EnergyRegressor(**TINY), n_estimators=2).fit(X, y[:, None])
    member = column.estimators_[0]
    assert column.predict(X[:3]).shape == member.predict(X[:3]).shape == (3, 1)
    assert column.predict(X[:3], kind="median").shape == (3, 1)
    assert column.sample(X[:3], 4).shape == member.sample(X[:3], 4).shape == (3, 4, 1)


def test_sample_weight_reaches_the_last_step_of_a_pipeline():
    X, y = linear_data(n=60)
    weights = np.r_[np.zeros(30), np.ones(30)]
    pipe = make_pipeline(StandardScaler(), SeededGaussianRegressor(random_state=0))
    weighted = EnsembleRegressor(pipe, n_estimators=2).fit(X, y, sample_weight=weights)
    reference = make_pipeline(StandardScaler(), SeededGaussianRegressor(random_state=0))
    reference.fit(X, y, seededgaussianregressor__sample_weight=weights)
    np.testing.assert_allclose(weighted.estimators_[0].predict(X), reference.predict(X))


def test_base_estimators_predict_the_median_of_each_marginal(fitted):
    X, y, ensemble = fitted
    member = ensemble.estimators_[0]
    np.testing.assert_allclose(member.predict(X, kind="median"),
                               member.predict_dist(X).median())


def test_a_random_state_instance_is_drawn_from_once_per_fit():
    X, y = linear_data(n=60)
    state = np.random.RandomState(5)
    EnsembleRegressor(SeededGaussianRegressor(random_state=state), n_estimators=3).fit(X, y)
    reference = np.random.RandomState(5)
    reference.randint(np.iinfo(np.int32).max)  # the one seed the members derive from
    assert state.randint(1000) == reference.randint(1000)
