"""No silent wrong answers and no crashes, for every estimator.

Concurrent fit and predict, warm starts that cannot continue, targets of huge
magnitude, non-finite network outputs and targets written as text.
"""

import threading

import numpy as np
import pytest
import torch
from helpers import linear_data, tiny_estimators
from torch import nn

from skebm import DistilledMDNRegressor
from skebm.exceptions import NonFiniteOutputError

ESTIMATORS = tiny_estimators()


@pytest.fixture(params=sorted(ESTIMATORS))
def make(request):
    """A factory of tiny, seeded estimators of each kind."""
    return ESTIMATORS[request.param]


# ================================================================ concurrency
@pytest.mark.parametrize("warm_start", [False, True])
def test_predicting_while_the_same_estimator_refits_in_another_thread_never_fails(
        make, warm_start):
    X, y = linear_data(300)
    model = make(max_epochs=4, hidden_size=32, warm_start=warm_start).fit(X, y)
    errors = []

    def refit():
        try:
            for _ in range(3):
                model.fit(X, y)
        except Exception as error:  # noqa: BLE001 (reported by the main thread)
            errors.append(error)

    thread = threading.Thread(target=refit)
    thread.start()
    predictions = 0
    while thread.is_alive() or predictions < 3:
        point = model.predict(X[:100])
        assert point.shape == (100,) and np.all(np.isfinite(point))
        assert np.isfinite(model.score(X[:100], y[:100]))
        # The mode climbs the energy's gradient: it must not share autograd state with fit.
        assert np.all(np.isfinite(model.predict(X[:50], kind="mode")))
        predictions += 1
    thread.join()
    assert not errors
    assert predictions >= 3


def test_prediction_leaves_every_attribute_as_it_was(make):
    X, y = linear_data()
    model = make().fit(X, y)
    before = dict(vars(model))
    state = {name: value.clone() for name, value in model.module_.state_dict().items()}
    model.predict(X), model.predict_dist(X).std(), model.sample(X, 2), model.score(X, y)
    assert vars(model).keys() == before.keys()
    assert all(vars(model)[name] is value for name, value in before.items())
    for name, value in model.module_.state_dict().items():
        torch.testing.assert_close(value, state[name], rtol=0, atol=0)


# ================================================================ warm start
def test_a_warm_start_trains_a_copy_and_leaves_earlier_networks_alone(make):
    X, y = linear_data()
    model = make(warm_start=True).fit(X, y)
    first = model.module_
    weights = [p.detach().clone() for p in first.parameters()]
    model.fit(X, y)
    assert model.module_ is not first
    assert all(torch.equal(p, w) for p, w in zip(first.parameters(), weights))


def test_a_warm_start_refuses_targets_outside_the_fitted_range(make):
    X, y = linear_data()
    model = make(warm_start=True).fit(X, y)
    before = model.predict(X)
    with pytest.raises(ValueError, match="warm_start=True keeps the target scaling"):
        model.fit(X, y + 100.0)
    np.testing.assert_array_equal(model.predict(X), before)  # the failed call changed nothing
    assert make(warm_start=False).fit(X, y + 100.0).predict(X).mean() == pytest.approx(
        100.0, abs=1.0)


def test_a_warm_start_accepts_new_targets_inside_the_fitted_range(make):
    X, y = linear_data(120)
    model = make(warm_start=True).fit(X[:60], y[:60])
    model.fit(X[60:], np.clip(y[60:], y[:60].min(), y[:60].max()))
    assert len(model.history_) == 4


@pytest.mark.parametrize("param, value", [("hidden_size", 12), ("n_components", 2),
                                          ("feature_extractor_kwargs", {"hidden_sizes": (4,)}),
                                          ("input_bins", 3)])
def test_a_warm_start_refuses_changed_architecture_parameters(make, param, value):
    X, y = linear_data()
    model = make(warm_start=True).fit(X, y)
    model.set_params(**{param: value})
    with pytest.raises(ValueError, match=f"cannot change {param}"):
        model.fit(X, y)
    model.set_params(warm_start=False).fit(X, y)  # a fresh fit may change anything


# ================================================================ huge targets
@pytest.mark.parametrize("value", [1e17, 1e18, -3e150])
def test_constant_targets_of_huge_magnitude_give_finite_sensible_answers(make, value):
    X, _ = linear_data()
    y = np.full(len(X), value)
    model = make().fit(X, y)
    dist = model.predict_dist(X[:5])
    np.testing.assert_allclose(model.predict(X[:5]), value, rtol=1e-6)
    std = dist.std()
    # Well above float64's resolution of the targets (2e-16 |value|), well below |value|,
    # and alike for rows that all saw the same constant.
    assert np.all(std > 1e-12 * abs(value)) and np.all(std < 1e-6 * abs(value))
    assert std.max() < 3 * std.min()
    score = model.score(X, y)
    assert np.isfinite(score)
    assert score == pytest.approx(np.mean(dist[:1].logpdf(y[:1])), abs=5.0)
    low, high = dist.interval(0.9)
    assert np.all(low < high) and np.all(low <= value) and np.all(high >= value)


def test_targets_varying_too_little_for_their_magnitude_are_refused_with_advice(make):
    # A spread of ~1 around 1e12 would be standardised to ~0.01 (the scale floor
    # is 1e-10 |mean| = 100) and the fitted density would be ~100 times too wide.
    X, y = linear_data()
    with pytest.raises(ValueError, match=r"varies too little.*column 0.*Subtract a constant"):
        make().fit(X, y + 1e12)
    two_columns = np.column_stack([y, y + 1e12])
    with pytest.raises(ValueError, match="column 1"):
        make().fit(X, two_columns)
    make().fit(X, y + 1e9)  # 1e-10 |mean| = 0.1: the floor does not bind


# ================================================================ non-finite outputs
class NaNInEvalMode(nn.Module):
    """An extractor that works in training and returns NaN in eval mode."""

    def __init__(self, input_shape):
        super().__init__()
        self.linear = nn.Linear(input_shape[0], 4)
        self.out_features = 4

    def forward(self, inputs):
        features = self.linear(inputs)
        return features if self.training else features * float("nan")


def test_inputs_overflowing_the_network_raise_a_named_error():
    X, y = linear_data()
    model = ESTIMATORS["distilled"]().fit(X, y)
    with pytest.raises(NonFiniteOutputError, match=r"3 of 3 rows.*outside the range"), \
            np.errstate(over="ignore"):  # the float32 cast overflows, as the error says
        model.predict(X[:3] * 1e200)
    assert np.all(np.isfinite(model.predict(X[:3])))


@pytest.mark.parametrize("method", ["predict", "mode", "sample", "interval"])
def test_an_extractor_returning_nan_in_eval_mode_raises_a_named_error(method):
    X, y = linear_data()
    model = ESTIMATORS["distilled"](feature_extractor=NaNInEvalMode).fit(X, y)
    call = {
        "predict": lambda: model.predict(X),
        "mode": lambda: model.predict(X, kind="mode"),
        "sample": lambda: model.sample(X, 3),
        "interval": lambda: model.predict_dist(X).interval(0.9),
    }[method]
    with pytest.raises(NonFiniteOutputError, match=r"60 of 60 rows.*eval mode"):
        call()


# ================================================================ targets as text
def test_numeric_strings_as_targets_fit_and_score_as_the_numbers(make):
    X, y = linear_data()
    as_text = y.astype(str)
    model, reference = make().fit(X, as_text), make().fit(X, y)
    np.testing.assert_array_equal(model.predict(X), reference.predict(X))
    assert model.score(X, as_text) == reference.score(X, y)


def test_words_as_targets_raise_a_clear_error(make):
    X, y = linear_data()
    with pytest.raises(ValueError, match="y must be real numbers.*'high'"):
        make().fit(X, np.where(y > 0, "high", "1.0"))


# ================================================================ input columns
def test_one_huge_value_in_a_column_does_not_erase_the_feature():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 1))
    y = 2 * X[:, 0] + 0.1 * rng.normal(size=300)
    X[0, 0] = 1e12
    model = DistilledMDNRegressor(max_epochs=40, hidden_size=8, random_state=0).fit(X, y)
    # Without the huge value: [-1.97, 0.005, 1.97]; scaled by the standard deviation it
    # gives [-0.085, -0.085, -0.085].
    np.testing.assert_allclose(model.predict([[-1.0], [0.0], [1.0]]), [-2.0, 0.0, 2.0],
                               atol=0.25)


@pytest.mark.parametrize("input_bins", [0, "auto"])
def test_a_column_constant_in_training_has_no_effect(make, input_bins):
    X, y = linear_data()
    X = np.column_stack([X, np.zeros(len(X))])
    model = make(input_bins=input_bins).fit(X, y)
    rows = np.array([[0.5, -0.5, value] for value in (0.0, 5.0, -50.0, 1e6)])
    same = np.repeat(rows[:1], len(rows), axis=0)
    np.testing.assert_array_equal(model.predict(rows), model.predict(same))
    np.testing.assert_array_equal(model.predict_dist(rows).std(), model.predict_dist(same).std())
