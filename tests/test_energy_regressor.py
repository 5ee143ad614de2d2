"""What only EnergyRegressor does: importance sampling, the Gaussian baseline, the 1-D grid.

Behaviour shared with DistilledMDNRegressor is tested in ``test_estimators.py``.
"""

import pickle

import numpy as np
import pytest
import torch
from helpers import FAST, heteroscedastic
from scipy.stats import norm
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from skebm import EnergyRegressor
from skebm._stacking import stacking_weight
from skebm.distributions import GaussianMixtureDistribution


# ---------------------------------------------------------------- prediction
def test_predictions_do_not_depend_on_chunk_size(monkeypatch):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(100, 3))
    Y = np.column_stack([X[:, 0], -X[:, 1]]) + 0.3 * rng.normal(size=(100, 2))
    model = EnergyRegressor(**FAST).fit(X, Y)
    before = (model.predict(X[:40]), model.score(X[:40], Y[:40]), model.sample(X[:40], 3))
    monkeypatch.setattr("skebm._chunking.PAIRS_PER_CHUNK", 3000)
    after = (model.predict(X[:40]), model.score(X[:40], Y[:40]), model.sample(X[:40], 3))
    for b, a in zip(before, after):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_density_integrates_to_one_beyond_the_training_range():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 1))
    y = 1000 + 300 * rng.normal(size=300)
    dist = EnergyRegressor(max_epochs=2, random_state=0).fit(X, y).predict_dist(X[:3])
    grid = np.linspace(-5000, 7000, 100_001)
    mass = np.trapezoid(dist.pdf(np.broadcast_to(grid, (3, grid.size))), grid, axis=1)
    np.testing.assert_allclose(mass, 1.0, atol=1e-3)


def test_mixed_precision_wraps_the_extractor_in_autocast():
    X, y = heteroscedastic(200)
    model = EnergyRegressor(mixed_precision=True, **FAST).fit(X, y)
    assert type(model.module_.extractor).__name__ == "AutocastExtractor"


# ---------------------------------------------------------------- gaussian baseline
def test_gaussian_noise_baseline_learns_and_predicts():
    X, y = heteroscedastic(400)
    model = EnergyRegressor(noise="gaussian", max_epochs=20, random_state=0).fit(X, y)
    assert np.mean((model.predict(X) - 2 * X[:, 0]) ** 2) < 0.1


def test_grid_search_over_sigmas_rejects_absurd_widths():
    X, y = heteroscedastic(400)
    search = GridSearchCV(
        EnergyRegressor(noise="gaussian", max_epochs=20, early_stopping=False, random_state=0),
        {"sigmas": [(0.05, 0.4), (0.2, 1.6), (200.0, 1600.0)]},
        cv=2,
    )
    search.fit(X, y)
    assert search.best_params_["sigmas"] == (0.2, 1.6)
    scores = search.cv_results_["mean_test_score"]
    assert scores[2] < scores[1] - 0.1


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "params, name",
    [
        ({"noise": "uniform"}, "noise"),
        ({"sigmas": (0.1, -0.5), "noise": "gaussian"}, "sigmas"),
        ({"n_inference_samples": 0}, "n_inference_samples"),
    ],
)
def test_invalid_parameters_are_named(params, name):
    X, y = heteroscedastic(20)
    with pytest.raises(ValueError, match=name):
        EnergyRegressor(**{**FAST, **params}).fit(X, y)


# ---------------------------------------------------------------- the proposal's share
def test_the_proposal_weight_changes_predictions_not_training():
    X, y = heteroscedastic(300)
    settings = dict(FAST, max_epochs=6, early_stopping=True, n_iter_no_change=2,
                    background_weight=0.0)
    plain = EnergyRegressor(**settings, proposal_weight=0.0).fit(X, y)
    mixed = EnergyRegressor(**settings, proposal_weight=0.4).fit(X, y)
    assert plain.proposal_weight_ == 0.0 and mixed.proposal_weight_ == 0.4
    for name, value in plain.module_.state_dict().items():
        torch.testing.assert_close(mixed.module_.state_dict()[name], value, rtol=0, atol=0)
    # Predictions are the mixture of the energy-based density and the proposal.
    energy = plain.predict_dist(X[:5])
    proposal = GaussianMixtureDistribution(*energy._evaluator.proposal_components(np.arange(5)))
    queries = np.broadcast_to(np.linspace(-6.0, 6.0, 9), (5, 9))
    expected = np.logaddexp(np.log(0.6) + energy.logpdf(queries),
                            np.log(0.4) + proposal.logpdf(queries))
    np.testing.assert_allclose(mixed.predict_dist(X[:5]).logpdf(queries), expected, atol=2e-4)
    np.testing.assert_allclose(mixed.predict(X[:5]),
                               0.6 * plain.predict(X[:5]) + 0.4 * proposal.mean(), atol=1e-3)


def test_auto_proposal_weight_is_stacked_on_the_held_out_rows():
    X, y = heteroscedastic(400)
    settings = dict(FAST, max_epochs=6, early_stopping=True, n_iter_no_change=2)
    model = EnergyRegressor(**settings).fit(X, y)  # proposal_weight="auto"
    assert 0.0 <= model.proposal_weight_ <= 1.0
    # Rebuild the held-out rows as fit draws them, and stack by hand.
    held_out = torch.randperm(len(y), generator=torch.Generator().manual_seed(
        int(np.random.RandomState(0).randint(2**31 - 1, size=3)[1])))[:40].numpy()
    plain = clone(model).set_params(proposal_weight=0.0, background_weight=0.0).fit(X, y)
    energy = plain.predict_dist(X[held_out])
    log_p = energy.logpdf(y[held_out])
    log_q = GaussianMixtureDistribution(
        *energy._evaluator.proposal_components(np.arange(40))).logpdf(y[held_out])
    log_b = norm.logpdf(y[held_out], np.mean(y), np.std(y))
    expected = stacking_weight(log_p, log_q, log_b, model.background_weight_)
    assert model.proposal_weight_ == pytest.approx(expected, abs=1e-9)
    # Without held-out rows there is nothing to stack on: the energy alone.
    assert clone(model).set_params(early_stopping=False).fit(X, y).proposal_weight_ == 0.0


def test_models_pickled_before_the_proposal_weight_predict_as_before():
    X, y = heteroscedastic(200)
    model = EnergyRegressor(**FAST, proposal_weight=0.0).fit(X, y)
    state = model.__getstate__()
    del state["proposal_weight"], state["proposal_weight_"]
    state["_skebm_pickle_format"] = 2  # the last format without the proposal weight
    old = EnergyRegressor.__new__(EnergyRegressor)
    old.__setstate__(pickle.loads(pickle.dumps(state)))
    assert old.get_params()["proposal_weight"] == 0.0
    np.testing.assert_array_equal(old.predict(X[:5]), model.predict(X[:5]))
