"""scikit-learn's own estimator checks, run over every skebm estimator.

The estimators run with fast settings (one or two epochs, tiny networks): the
checks test the scikit-learn contract (cloning, parameters, input validation,
fitted state, pickling, shapes, dtypes, ...), not predictive quality. The
``poor_score`` tag exempts them from R² thresholds, since ``score`` is the
mean log-likelihood. No check is declared as an expected failure: every one
must pass.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

import skebm
from skebm import DistilledMDNRegressor, EnergyRegressor

FAST = dict(max_epochs=2, n_noise_samples=16, hidden_size=8, batch_size=32, random_state=0)


def fast_estimators():
    """Every public estimator of skebm, configured to fit in milliseconds."""
    return [EnergyRegressor(**FAST, n_inference_samples=64), DistilledMDNRegressor(**FAST)]


@parametrize_with_checks(fast_estimators())
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_every_public_estimator_is_checked():
    checked = {type(estimator).__name__ for estimator in fast_estimators()}
    public = {name for name in skebm.__all__ if name.endswith("Regressor")}
    assert public <= checked
