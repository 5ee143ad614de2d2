"""benchmarks/uci.py: one split of one UCI data set end to end, and its scoring rules."""

import json

import numpy as np
import pytest

from skebm.distributions import GaussianMixtureDistribution
from tests.helpers import load_benchmark

uci = load_benchmark("uci")

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
    assert "1.25 / 1.18 / 0.20" in table
