"""benchmarks/uci.py: one split of one UCI data set end to end, and its scoring rules."""

import json

import numpy as np
import pytest

from skebm.distributions import GaussianMixtureDistribution
from skebm.ensemble import EnsembleRegressor
from tests.helpers import TINY, load_benchmark

uci = load_benchmark("uci")
peers = load_benchmark("uci_peers")

SMALL = {"max_epochs": 40, "n_noise_samples": 16, "hidden_size": 16, "n_inference_samples": 256}


def test_one_split_of_yacht_beats_an_unconditional_gaussian():
    if not (uci.UCI / "yacht" / "data.txt").exists():
        pytest.skip(f"{uci.UCI / 'yacht'} not available (set SKEBM_SHARED_DATA)")
    X_train, y_train, X_test, y_test = uci.load_split("yacht", 0)
    assert X_train.shape == (277, 6) and X_test.shape == (31, 6)
    result = uci.run_skebm("ebm", SMALL, X_train, y_train, X_test, y_test, seed=0,
                           discrete=False)
    # An unconditional Gaussian fitted to the training targets: NLL ~4.1, RMSE ~15.
    baseline_nll = 0.5 * np.log(2 * np.pi * np.e * y_train.var())
    assert result["nll"] < baseline_nll - 1.0
    assert result["rmse"] < 0.5 * y_test.std()
    assert 0 < result["crps"] < result["rmse"]
    assert result["fit_s"] > 0 and result["epochs"] >= 1


def test_diabetes_splits_are_fixed_disjoint_and_cover_the_table():
    X_train, y_train, X_test, y_test = uci.load_split("diabetes", 3)
    assert X_train.shape == (397, 10) and X_test.shape == (45, 10)
    assert uci.n_splits("diabetes") == 20
    assert len(np.unique(np.concatenate([y_train, y_test]))) > 200  # raw targets, not scaled
    again = uci.load_split("diabetes", 3)
    assert all(np.array_equal(a, b) for a, b in zip((X_train, y_train, X_test, y_test), again))
    rows = {tuple(row) for row in X_train}
    assert not any(tuple(row) in rows for row in X_test)
    assert not np.array_equal(uci.load_split("diabetes", 4)[2], X_test)


def test_discrete_score_is_the_log_probability_of_the_integer_bin():
    # N(4, 0.1^2) puts almost all its mass in (3.5, 4.5] and a share of
    # Phi(-5) - Phi(-15) ~ 2.9e-7 in (4.5, 5.5].
    dist = GaussianMixtureDistribution(np.zeros((2, 1)), np.full((2, 1, 1), 4.0),
                                       np.full((2, 1, 1), 0.1))
    result = uci.evaluate(dist, np.array([4.0, 5.0]), discrete=True)
    assert result["nll"] == pytest.approx(-0.5 * np.log(2.8665e-7), rel=1e-3)
    continuous = uci.evaluate(dist, np.array([4.0, 4.0]), discrete=False)
    assert continuous["nll"] == pytest.approx(-np.log(1 / (0.1 * np.sqrt(2 * np.pi))))


def test_results_file_round_trip_gives_mean_and_standard_error(tmp_path):
    path = tmp_path / "results.jsonl"
    rows = [{"dataset": "yacht", "split": s, "method": "ebm", "tag": "", "nll": v,
             "rmse": 1.0, "crps": 0.5, "fit_s": 2.0} for s, v in enumerate([1.0, 2.0, 3.0])]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    table = uci.summary_table(uci.read_results(path))
    assert "| yacht | ebm | 3 | 2.000 ± 0.577 |" in table
    assert "| 0.05 ± 0.28 (PGBM) |" in table
    small = [{**row, "dataset": "energy-grid", "rmse": 0.00075} for row in rows]
    assert "| 0.000750 ± 0.000000 |" in uci.summary_table(small)  # three significant digits


def requires_table(name):
    if not (uci.UCI / name / "data.txt").exists():
        pytest.skip(f"{uci.UCI / name} not available (set SKEBM_SHARED_DATA)")


def test_energy_grid_adds_two_constant_columns_and_puts_the_target_on_the_grid():
    requires_table("energy")
    X_train, y_train, X_test, y_test = uci.load_split("energy-grid", 2)
    E_train, e_train, _, e_test = uci.load_split("energy", 2)
    assert X_train.shape == (E_train.shape[0], E_train.shape[1] + 2)
    assert uci.n_splits("energy-grid") == 20
    np.testing.assert_array_equal(X_train[:, :-2], E_train)
    assert all(len(np.unique(X_train[:, j])) == 1 for j in (-2, -1))
    assert max(len(np.unique(X_train[:, j])) for j in range(X_train.shape[1])) < 20
    for gridded, raw in ((y_train, e_train), (y_test, e_test)):
        steps = gridded / uci.GRID
        np.testing.assert_allclose(steps, np.round(steps), atol=1e-9)
        assert np.max(np.abs(gridded - raw / 500)) <= uci.GRID / 2 + 1e-12


def test_ensemble_method_fits_five_seeded_members_of_the_pipeline():
    requires_table("yacht")
    model = uci.make_skebm("ensemble", {}, seed=3)
    assert isinstance(model, EnsembleRegressor) and model.n_estimators == 5
    assert model.estimator[-1].random_state == 3
    params = {key: value for key, value in TINY.items() if key != "random_state"}
    result = uci.run_skebm("ensemble", params, *uci.load_split("yacht", 0), seed=0,
                           discrete=False)
    assert np.isfinite(result["nll"]) and result["epochs"] == TINY["max_epochs"]


def test_gaussian_result_scores_the_peer_normal():
    result = uci.gaussian_result(np.array([1.0, 2.0]), np.array([0.5, 0.5]), 1.5,
                                 np.array([1.0, 2.0]), discrete=False)
    assert result["nll"] == pytest.approx(np.log(0.5 * np.sqrt(2 * np.pi)))
    assert result["rmse"] == 0.0 and result["fit_s"] == 1.5
    # CRPS of N(mu, s^2) at its mean is s (2 phi(0) - 1/sqrt(pi)).
    assert result["crps"] == pytest.approx(0.5 * (2 / np.sqrt(2 * np.pi) - 1 / np.sqrt(np.pi)),
                                           rel=1e-3)


def test_a_missing_peer_is_skipped_with_a_message(monkeypatch, capsys):
    def missing(*args):
        raise ImportError("No module named 'catboost'")

    monkeypatch.setitem(peers._FITS, "catboost", missing)
    monkeypatch.setattr(peers, "_UNAVAILABLE", {})
    X = np.zeros((4, 1))
    assert peers.run_peer("catboost", X, np.zeros(4), X, seed=0, threads=1) is None
    assert peers.run_peer("catboost", X, np.zeros(4), X, seed=0, threads=1) is None
    assert capsys.readouterr().out.count("skipping catboost: not available") == 1


@pytest.mark.parametrize("name", [
    "catboost", pytest.param("pgbm", marks=pytest.mark.slow)])  # PGBM compiles C++ once
def test_peer_predicts_a_normal_that_follows_a_linear_signal(name):
    pytest.importorskip(name)
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(400, 2))
    y = 3 * X[:, 0] + 0.3 * rng.normal(size=400)
    loc, scale, fit_s = peers.run_peer(name, X[:300], y[:300], X[300:], seed=0, threads=1)
    assert loc.shape == scale.shape == (100,) and fit_s > 0
    assert np.sqrt(np.mean((loc - 3 * X[300:, 0]) ** 2)) < 0.3  # signal std 1.7
    assert 0.1 < np.median(scale) < 0.9  # noise std 0.3
