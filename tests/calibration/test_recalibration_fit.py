"""RecalibratedRegressor.fit: row weights, fold errors, column-vector targets, n_jobs, kind."""

import warnings

import numpy as np
import pytest
from helpers import linear_data, tiny_estimators
from joblib import parallel_config

from skebm.calibration import RecalibratedRegressor
from tests.calibration.helpers import WrongScaleRegressor, sample_data


def test_too_few_rows_for_the_folds_names_cv_the_fold_and_the_rows():
    X, y = linear_data(n=3)
    with pytest.raises(ValueError, match=r"cv=2 on 3 rows: the model of fold 1 of 2 is "
                                         r"fitted on 1 rows \(2 held out\)"):
        RecalibratedRegressor(tiny_estimators()["distilled"](), cv=2, n_fits=1).fit(X, y)


def test_a_column_vector_target_keeps_its_shape_without_a_warning():
    X, y = sample_data(60, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = RecalibratedRegressor(WrongScaleRegressor(), cv=3, n_fits=1).fit(X, y[:, None])
    assert model.predict(X[:4]).shape == (4, 1)
    assert model.sample(X[:2], n_samples=5).shape == (2, 5, 1)


def test_n_jobs_gives_the_fits_of_one_job():
    X, y = linear_data(n=40)
    model = RecalibratedRegressor(tiny_estimators()["distilled"](), cv=2, n_fits=2)
    serial = model.fit(X, y).predict(X)
    with parallel_config(backend="threading"):
        parallel = model.set_params(n_jobs=2).fit(X, y).predict(X)
    np.testing.assert_array_equal(parallel, serial)


def test_predict_kind_gives_the_distributions_mean_or_median():
    X, y = sample_data(60, seed=0)
    model = RecalibratedRegressor(WrongScaleRegressor(), cv=3, n_fits=1).fit(X, y)
    dist = model.predict_dist(X[:5])
    np.testing.assert_array_equal(model.predict(X[:5], kind="median"), dist.median())
    np.testing.assert_array_equal(model.predict(X[:5]), dist.mean())
    with pytest.raises(ValueError, match="kind"):
        model.predict(X[:5], kind="average")


def test_parameters_after_the_estimator_are_keyword_only_and_method_is_gone():
    with pytest.raises(TypeError):
        RecalibratedRegressor(WrongScaleRegressor(), 3)
    assert "method" not in RecalibratedRegressor().get_params()
    assert RecalibratedRegressor().get_params()["estimator"] is None


def test_zero_weight_rows_are_removed_and_weights_reach_the_fits():
    X, y = linear_data(n=40)
    weights = np.ones(40)
    weights[::4] = 0.0
    kept = np.flatnonzero(weights)
    model = RecalibratedRegressor(tiny_estimators()["distilled"](), cv=2, n_fits=1)
    weighted = model.fit(X, y, sample_weight=weights)
    removed = RecalibratedRegressor(tiny_estimators()["distilled"](), cv=2, n_fits=1).fit(
        X[kept], y[kept])
    np.testing.assert_array_equal(weighted.pit_values_, removed.pit_values_)
    np.testing.assert_array_equal(weighted.predict(X), removed.predict(X))


def test_weights_for_an_estimator_without_sample_weight_are_refused():
    class Unweighted(WrongScaleRegressor):
        def fit(self, X, y):
            return super().fit(X, y)

    X, y = sample_data(30, seed=0)
    with pytest.raises(ValueError, match="does not accept sample_weight"):
        RecalibratedRegressor(Unweighted(), cv=2, n_fits=1).fit(X, y, sample_weight=np.ones(30))


def test_a_bad_parameter_of_the_estimator_is_not_blamed_on_the_folds():
    from sklearn.utils._param_validation import InvalidParameterError

    from skebm import EnergyRegressor

    X, y = np.random.default_rng(0).normal(size=(40, 1)), np.random.default_rng(1).normal(size=40)
    with pytest.raises(InvalidParameterError, match="hidden_size") as caught:
        RecalibratedRegressor(EnergyRegressor(hidden_size=-1), cv=2, n_fits=1).fit(X, y)
    assert "fold" not in str(caught.value)
