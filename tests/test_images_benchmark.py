"""benchmarks/images.py and its tasks: shapes, ground truth, scoring and the diagnosis."""

import json
import sys

import numpy as np
import pytest

from tests.helpers import FAST, TINY, load_benchmark

images = load_benchmark("images")
tasks = sys.modules[images.ImageTask.__module__]  # benchmarks/_image_tasks.py


@pytest.mark.parametrize("name", ["cells", "age", "pose", "box"])
def test_tasks_give_uint8_images_and_targets_inside_their_support(name):
    task = tasks.TASKS[name](12, 8, 16, 0)
    assert task.X_train.dtype == np.uint8 and task.X_train.shape[:3] == (12, 16, 16)
    assert task.X_test.shape[:3] == (8, 16, 16)
    for y in (task.y_train, task.y_test):
        y = y.reshape(len(y), -1)
        assert np.all((y >= task.low) & (y <= task.high))
    assert np.isfinite(task.uniform_nll())


def test_symmetric_bars_are_unchanged_by_a_half_turn_and_directed_bars_are_not():
    pytest.importorskip("skimage")
    task = tasks.make_angle(40, 8, 20, 0)
    symmetric = ~np.isnan(task.second_mode_train)
    assert 0.2 < symmetric.mean() < 0.8
    images_ = task.X_train.astype(float)
    # a half turn about the centre of an even-sized image is a flip of both axes
    turned = images_[:, ::-1, ::-1]
    change = np.abs(images_ - turned).mean(axis=(1, 2))
    assert change[symmetric].max() < 7.5 < change[~symmetric].min()  # pixel noise: ~6
    np.testing.assert_allclose(
        task.second_mode_train[symmetric],
        (task.y_train[symmetric] + np.pi) % (2 * np.pi))
    assert task.uniform_nll() == pytest.approx(np.log(2 * np.pi))


def test_noseless_poses_have_a_second_mode_half_a_turn_of_yaw_away():
    task = tasks.make_pose(10, 40, 16, 0)
    ambiguous = task.ambiguous_test()
    assert 0 < ambiguous.sum() < 40
    yaw, second = task.y_test[ambiguous, 0], task.second_mode_test[ambiguous, 0]
    np.testing.assert_allclose(np.abs(yaw - second), 180.0)
    np.testing.assert_array_equal(task.second_mode_test[ambiguous, 1:],
                                  task.y_test[ambiguous, 1:])
    noseless = tasks._render_wire(np.array([[30.0, 10.0, -5.0], [-150.0, 10.0, -5.0]]),
                                  np.array([False, False]), 16, 0.0, 0.0,
                                  np.random.default_rng(0))
    np.testing.assert_array_equal(noseless[0], noseless[1])  # the same image


def test_a_model_fitted_on_standardised_targets_is_scored_in_user_units():
    task = tasks.make_age(60, 20, 12, 0)
    tiny = {key: value for key, value in TINY.items() if key != "random_state"}
    model, shift, scale, seconds = images.fit_model("mdn", 0, task, tiny)
    assert seconds > 0 and shift == 0 and scale == 1
    direct = images.score(model, shift, scale, task.X_test, task.y_test,
                          task.ambiguous_test())
    z = (task.y_train - 7.0) / 3.0
    model.fit(task.X_train, z)
    mapped = images.score(model, 7.0, 3.0, task.X_test, task.y_test, task.ambiguous_test())
    by_hand = -np.mean(model.predict_dist(task.X_test).logpdf((task.y_test - 7.0) / 3.0))
    assert mapped["nll"] == pytest.approx(by_hand + np.log(3.0))
    assert direct["nll_ambiguous"] is None and mapped["rmse"] > 0


def test_proposal_alone_is_the_density_of_a_fit_with_proposal_weight_one():
    from skebm import EnergyRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 2))
    y = X[:, 0] + 0.3 * rng.normal(size=80)
    model = EnergyRegressor(**FAST, n_inference_samples=64).fit(X, y)
    refit = EnergyRegressor(**FAST, n_inference_samples=64, proposal_weight=1.0,
                            background_weight=0.0).fit(X, y)
    alone = images.with_weights(model, 1.0)
    np.testing.assert_allclose(alone.predict_dist(X[:5]).logpdf(y[:5]),
                               refit.predict_dist(X[:5]).logpdf(y[:5]), rtol=1e-6)
    assert model.proposal_weight_ != 1.0 or model.background_weight_ != 0.0  # untouched


def test_fixed_gaussian_noise_share_matches_its_closed_form():
    from skebm import EnergyRegressor

    model = EnergyRegressor(noise="gaussian", sigmas=(1.0, 2.0))
    share = images.gaussian_noise_share(model, np.zeros(3), np.full(3, 1.0), 0.5, None)
    # half of the draws from N(0, 1), half from N(0, 4), within 0.5 of 1
    # Phi(1.5) - Phi(0.5) = 0.24173 and Phi(0.75) - Phi(0.25) = 0.17466
    assert share == pytest.approx(0.5 * (0.24173 + 0.17466), abs=1e-4)


def test_diagnosis_splits_the_half_turn_mass_into_energy_proposal_and_background():
    pytest.importorskip("skimage")
    from skebm import EnergyRegressor

    task = tasks.make_angle(220, 10, 12, 0)
    model = EnergyRegressor(**TINY, early_stopping=True, n_inference_samples=64)
    model.fit(task.X_train, task.y_train)
    result = images.diagnose("ebm", model, task, window=0.25, n_draws=8)
    parts = [result[f"second_from_{p}"] for p in ("energy", "proposal", "background")]
    assert result["rows"] > 0 and all(p >= -1e-9 for p in parts)
    assert sum(parts) == pytest.approx(result["mass_second"])
    assert 0 <= result["noise_near_second"] <= 1 and 0 <= result["noise_near_first"] <= 1
    assert 1 <= result["best_epoch"] <= result["epochs"] == model.n_iter_


def test_tables_give_mean_and_standard_error_and_the_uniform_density(tmp_path):
    rows = [{"kind": "score", "task": "age", "model": "ebm", "seed": s, "n_train": 10,
             "image_size": 8, "nll": v, "nll_ambiguous": None, "rmse": 1.0, "mae": 0.5,
             "fit_s": 2.0, "epochs": 10, "uniform_nll": 4.382} for s, v in enumerate([1.0, 3.0])]
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    table = images.summary_table(images.read_results(path))
    assert "| age | EnergyRegressor() | 2 | 2.000 ± 1.000 |" in table
    assert "| age | uniform over the training range | | 4.382 | | | | | | |" in table
