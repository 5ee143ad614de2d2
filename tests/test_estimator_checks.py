"""scikit-learn's own estimator checks, run over every skebm estimator.

The estimators run with fast settings (one or two epochs, tiny networks): the
checks test the scikit-learn contract (cloning, parameters, input validation,
fitted state, pickling, shapes, dtypes, ...), not predictive quality. The
``poor_score`` tag exempts them from R² thresholds, since ``score`` is the
mean log-likelihood.
"""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

import skebm
from skebm import EnergyRegressor

FAST = dict(max_epochs=2, n_noise_samples=16, hidden_size=8, batch_size=32, random_state=0)


def fast_estimators():
    """Every public estimator of skebm, configured to fit in milliseconds."""
    estimators = [EnergyRegressor(**FAST, n_inference_samples=64)]
    distilled = getattr(skebm, "DistilledMDNRegressor", None)
    if distilled is not None:
        estimators.append(distilled(**FAST))
    return estimators


EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {
    # Check name -> why it cannot pass. At most 4 per estimator; none are needed today.
    "EnergyRegressor": {},
    "DistilledMDNRegressor": {},
}


def expected_failed_checks(estimator) -> dict[str, str]:
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


@parametrize_with_checks(fast_estimators(), expected_failed_checks=expected_failed_checks)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("name", sorted(EXPECTED_FAILED_CHECKS))
def test_at_most_four_declared_failures_each_with_a_reason(name):
    declared = EXPECTED_FAILED_CHECKS[name]
    assert len(declared) <= 4
    assert all(isinstance(reason, str) and len(reason) > 20 for reason in declared.values())


def test_every_public_estimator_is_checked():
    checked = {type(estimator).__name__ for estimator in fast_estimators()}
    public = {name for name in skebm.__all__ if name.endswith("Regressor")}
    assert public <= checked
