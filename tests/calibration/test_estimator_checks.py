"""scikit-learn's estimator checks on RecalibratedRegressor around a fast skebm estimator."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skebm import DistilledMDNRegressor
from skebm.calibration import RecalibratedRegressor

FAST = dict(max_epochs=2, n_noise_samples=16, hidden_size=8, batch_size=32, random_state=0)


@parametrize_with_checks([
    RecalibratedRegressor(DistilledMDNRegressor(**FAST), cv=2),
    RecalibratedRegressor(DistilledMDNRegressor(**FAST), cv=2, ensemble=True),
    RecalibratedRegressor(DistilledMDNRegressor(**FAST), cv=2, n_fits=2),
])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)
