"""scikit-learn's own estimator checks, run over every skebm estimator.

The estimators run with fast settings (two epochs, tiny networks): the checks
test the scikit-learn contract (cloning, parameters, input validation, fitted
state, pickling, shapes, dtypes, ...), not predictive quality. The
``poor_score`` tag exempts them from R² thresholds, since ``score`` is the
mean log-likelihood. The expected failures are listed with their reasons in
``expected_failures``; every other check must pass.

The meta-estimator :class:`~skebm.calibration.RecalibratedRegressor` is
checked around a fake base estimator that fits in microseconds, as
scikit-learn checks its own meta-estimators around a cheap base;
``tests/calibration/test_estimator_checks.py`` runs it around a real skebm
estimator. A meta-estimator may have its checks in its own test file
(``EnsembleRegressor``'s are in ``tests/test_ensemble.py``): the last test
here finds every ``parametrize_with_checks`` list in the test suite.
"""

import ast
from pathlib import Path

from helpers import TINY, skebm_estimator_classes
from sklearn.utils.estimator_checks import parametrize_with_checks

from skebm import DistilledMDNRegressor, EnergyRegressor
from skebm.calibration import RecalibratedRegressor
from tests.calibration.helpers import HoldsOutRowsRegressor, WrongScaleRegressor

TESTS = Path(__file__).resolve().parent


def expected_failures(estimator) -> dict[str, str]:
    """The checks that cannot hold, with the reason; each has a statistical counterpart."""
    if isinstance(estimator, RecalibratedRegressor):
        return {
            "check_sample_weight_equivalence_on_dense_data": (
                "the calibration map is fitted to the held-out PIT values with equal weights, "
                "so repeated rows weigh more in it than integer weights do"),
            "check_supervised_y_2d": (
                "a column-vector y is one target column, as for skebm's estimators: "
                "predictions keep the shape (n, 1), without the DataConversionWarning the "
                "check expects of single-output estimators"),
        }
    return {"check_sample_weight_equivalence_on_dense_data": (
        "training is stochastic: weighted rows are visited by weighted resampling, repeated "
        "rows each get their own minibatch slots and noise draws, and an epoch has as many "
        "draws as rows, so the two fits agree in distribution, not to 1e-7; "
        "tests/test_sample_weight.py checks integer weights against repetition statistically "
        "and zero weights against removal exactly")}


@parametrize_with_checks([
    EnergyRegressor(**TINY, n_inference_samples=64),
    DistilledMDNRegressor(**TINY),
    RecalibratedRegressor(WrongScaleRegressor(random_state=0), cv=2, n_fits=1),
    RecalibratedRegressor(WrongScaleRegressor(random_state=0), cv=2, ensemble=True),
    RecalibratedRegressor(HoldsOutRowsRegressor(random_state=0), cv=2, n_fits=2),
], expected_failed_checks=expected_failures)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def _called_name(node: ast.expr) -> str:
    return node.id if isinstance(node, ast.Name) else getattr(node, "attr", "")


def classes_checked_in(path: Path) -> set[str]:
    """Names of the estimators constructed in the lists passed to ``parametrize_with_checks``."""
    checked = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and _called_name(node.func) == "parametrize_with_checks":
            listed = node.args[0] if node.args else None
            if isinstance(listed, (ast.List, ast.Tuple)):
                checked.update(_called_name(item.func) for item in listed.elts
                               if isinstance(item, ast.Call))
    return checked


def test_every_estimator_class_is_checked():
    """Every estimator class defined anywhere in skebm, found by walking the package."""
    found = {cls.__name__ for cls in skebm_estimator_classes()}
    checked = set().union(*(classes_checked_in(path) for path in TESTS.rglob("test_*.py")))
    assert {"EnergyRegressor", "DistilledMDNRegressor", "RecalibratedRegressor"} <= found
    assert found - checked == set(), "estimators that no parametrize_with_checks list holds"
