"""Training feedback of EnergyRegressor: progress bar, history, early stopping, warm start."""

import numpy as np
import pytest
from helpers import FAST, heteroscedastic

from skebm import EnergyRegressor


def fit(X, y, **params):
    return EnergyRegressor(**{**FAST, "n_inference_samples": 64, **params}).fit(X, y)


# ---------------------------------------------------------------- verbose
def test_verbose_shows_a_progress_bar_over_epochs_with_current_losses(capsys):
    fit(*heteroscedastic(200), max_epochs=3, verbose=1)
    err = capsys.readouterr().err
    assert "epochs" in err
    assert "3/3" in err
    assert "nce=" in err and "proposal_kl=" in err


def test_verbose_progress_bar_shows_the_validation_score_with_early_stopping(capsys):
    fit(*heteroscedastic(200), early_stopping=True, verbose=1)
    assert "validation_score=" in capsys.readouterr().err


def test_silent_by_default(capsys):
    fit(*heteroscedastic(200))
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


# ---------------------------------------------------------------- history
def test_history_records_training_losses_per_epoch():
    model = fit(*heteroscedastic(200), max_epochs=4, early_stopping=False)
    assert [record["epoch"] for record in model.history_] == [1, 2, 3, 4]
    for record in model.history_:
        assert {"nce", "proposal_kl"} <= record.keys()
        assert np.isfinite(record["nce"]) and np.isfinite(record["proposal_kl"])
        assert "validation_score" not in record


def test_history_records_the_held_out_log_likelihood_with_early_stopping():
    model = fit(*heteroscedastic(200), max_epochs=4, early_stopping=True, n_iter_no_change=10)
    scores = [record["validation_score"] for record in model.history_]
    assert len(scores) == 4
    assert all(isinstance(score, float) and np.isfinite(score) for score in scores)


def test_training_loss_decreases_over_epochs():
    model = fit(*heteroscedastic(400), max_epochs=5)
    nce = [record["nce"] for record in model.history_]
    assert nce[-1] < nce[0]


# ---------------------------------------------------------------- early stopping
def test_early_stopping_stops_after_n_iter_no_change_epochs_without_improvement():
    patience = 2
    model = fit(*heteroscedastic(200), max_epochs=300, early_stopping=True,
                n_iter_no_change=patience, learning_rate=0.05)
    scores = [record["validation_score"] for record in model.history_]
    best_epoch = int(np.argmax(scores)) + 1
    assert model.n_iter_ < 300
    assert model.n_iter_ == len(scores) == best_epoch + patience
    assert max(scores[best_epoch:]) <= scores[best_epoch - 1]


def test_early_stopping_validation_score_is_a_held_out_log_likelihood():
    # On data from a known density the held-out score lies between the
    # log-likelihood of the best unconditional Gaussian and that of the truth.
    X, y = heteroscedastic(600)
    model = fit(X, y, max_epochs=15, early_stopping=True, n_iter_no_change=15,
                validation_fraction=0.2, learning_rate=0.01)
    true_log_likelihood = np.mean(-0.5 * np.log(2 * np.pi * (0.2 + 0.3 * np.abs(X[:, 0])) ** 2)
                                  - 0.5)
    unconditional_log_likelihood = -0.5 * np.log(2 * np.pi * np.e * y.var())
    scores = [record["validation_score"] for record in model.history_]
    assert max(scores) > unconditional_log_likelihood + 0.5
    assert max(scores) < true_log_likelihood + 0.2  # 120 held-out rows: standard error ~0.07


def test_early_stopping_needs_rows_for_both_sides():
    with pytest.raises(ValueError, match="validation_fraction"):
        fit(*heteroscedastic(5), early_stopping=True, validation_fraction=0.01)


# ---------------------------------------------------------------- warm start
def test_warm_start_continues_training_and_history():
    X, y = heteroscedastic(300)
    model = fit(X, y, warm_start=True, max_epochs=3)
    first_losses = [record["nce"] for record in model.history_]
    model.set_params(max_epochs=2).fit(X, y)
    assert model.n_iter_ == 2
    assert [record["epoch"] for record in model.history_] == [1, 2, 3, 4, 5]
    assert [record["nce"] for record in model.history_[:3]] == first_losses
    # Continued from the trained network: better than a fresh network's first epoch.
    assert model.history_[3]["nce"] < first_losses[0]


def test_without_warm_start_fit_starts_afresh():
    X, y = heteroscedastic(300)
    model = fit(X, y, max_epochs=2)
    first = model.predict(X[:5])
    model.fit(X, y)
    assert [record["epoch"] for record in model.history_] == [1, 2]
    np.testing.assert_array_equal(model.predict(X[:5]), first)


def test_warm_start_refit_changes_predictions():
    X, y = heteroscedastic(300)
    model = fit(X, y, warm_start=True, max_epochs=2)
    first = model.predict(X[:5])
    model.fit(X, y)
    assert not np.allclose(model.predict(X[:5]), first)
