"""skebm.pipeline.predict_dist: predicted distributions through a Pipeline."""

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from skebm.pipeline import predict_dist


class EchoRegressor:
    """Returns its inputs as its "distributions", to show what reached it."""

    def predict_dist(self, X):
        return np.asarray(X)


def test_a_pipeline_transforms_inputs_before_its_final_estimator():
    double = FunctionTransformer(lambda X: 2 * X).fit(np.ones((1, 1)))
    pipeline = Pipeline([("double", double), ("skip", "passthrough"), ("model", EchoRegressor())])
    np.testing.assert_array_equal(predict_dist(pipeline, np.ones((3, 1))), np.full((3, 1), 2.0))


def test_an_estimator_is_called_directly():
    np.testing.assert_array_equal(predict_dist(EchoRegressor(), np.ones(2)), np.ones(2))


def test_an_estimator_without_predict_dist_is_named():
    X = np.arange(6.0).reshape(3, 2)
    pipeline = Pipeline([("model", LinearRegression())]).fit(X, np.arange(3.0))
    with pytest.raises(TypeError, match="LinearRegression has no predict_dist"):
        predict_dist(pipeline, X)
