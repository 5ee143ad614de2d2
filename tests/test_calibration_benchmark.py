"""benchmarks/calibration.py: the quantile-average variants and the refit map, from saved values."""


import numpy as np
import pytest
from scipy.stats import norm

from tests.helpers import load_benchmark

calibration = load_benchmark("calibration")


class _Identity:
    """A calibration map that changes nothing."""

    def inverse(self, levels):
        return levels


def _saved(member_means, y):
    """Saved stage-1 values of normal members N(mean_k, 1), the raw model first."""
    levels = calibration.QUANTILE_LEVELS
    quantiles = [np.broadcast_to(mean + norm.ppf(levels), (len(y), len(levels)))
                 for mean in [0.0, *member_means]]
    return {"test_ppf": np.array(quantiles), "y_test": y}


def test_agreeing_members_give_their_own_distribution():
    y = np.linspace(-2.5, 2.5, 11)
    for adjusted in (False, True):
        pit, log_density = calibration._quantile_average(
            _saved([0.0, 0.0, 0.0], y), [_Identity()] * 3, adjusted=adjusted)
        np.testing.assert_allclose(pit[:, 0], norm.cdf(y), atol=2e-4)
        body = np.abs(y) <= 2.0  # the saved grid is coarser, relative to the slope, in the tails
        np.testing.assert_allclose(log_density[body], norm.logpdf(y[body]), atol=1e-3)
        np.testing.assert_allclose(log_density, norm.logpdf(y), atol=1e-2)


def test_targets_beyond_the_saved_levels_get_no_density():
    y = np.array([-4.0, 0.0, 4.0])  # the grid ends at the 0.25 % tails, about +-2.8
    _, log_density = calibration._quantile_average(_saved([0.0, 0.0], y), [_Identity()] * 2)
    assert np.isnan(log_density[[0, 2]]).all() and np.isfinite(log_density[1])


def test_disagreeing_members_are_narrowed_by_their_spread():
    # Members N(-a, 1), N(0, 1), N(a, 1): the quantile average is N(0, 1) and the
    # medians' variance is a^2, so the adjusted average is N(0, 1 - (2/3) a^2 / V),
    # with V the variance of N(0, 1) on the grid's levels (slightly below 1).
    a, y = 0.6, np.array([-1.5, -0.5, 0.3, 1.2])
    saved = _saved([-a, 0.0, a], y)
    plain_pit, _ = calibration._quantile_average(saved, [_Identity()] * 3)
    np.testing.assert_allclose(plain_pit[:, 0], norm.cdf(y), atol=2e-4)
    levels = np.linspace(calibration.QUANTILE_LEVELS[0], calibration.QUANTILE_LEVELS[-1], 1597)
    scale = np.sqrt(1.0 - (2.0 / 3.0) * a**2 / norm.ppf(levels).var())
    assert scale == pytest.approx(0.87, abs=0.01)
    pit, log_density = calibration._quantile_average(saved, [_Identity()] * 3, adjusted=True)
    np.testing.assert_allclose(pit[:, 0], norm.cdf(y / scale), atol=3e-4)
    np.testing.assert_allclose(log_density, norm.logpdf(y, scale=scale), atol=1e-2)


def test_integer_targets_are_refused():
    saved = {**_saved([0.0], np.zeros(2)), "train_cdf": np.zeros((2, 2))}
    with pytest.raises(ValueError, match="continuous"):
        calibration._quantile_average(saved, [_Identity()])


def test_pooled_coverage_standard_error_is_that_of_the_split_means():
    per_split = [[0.4, 0.8, 0.9, 0.95], [0.6, 0.8, 0.9, 0.95], [0.5, 0.8, 0.9, 0.95]]
    se = calibration._pooled_standard_error(per_split)
    np.testing.assert_allclose(se, [0.1 / np.sqrt(3), 0.0, 0.0, 0.0], atol=1e-12)
    assert np.all(np.isnan(calibration._pooled_standard_error(per_split[:1])))


def test_refit_variant_adds_the_raw_model_pit_on_its_early_stopping_rows():
    # What RecalibratedRegressor(ensemble=False) does: one map on the cross-fitted
    # PIT values and the final model's own held-out ones together.
    rng = np.random.default_rng(0)
    cdf = rng.random((3, 40, 1))  # the raw model and two fold models
    saved = {"test_cdf": cdf, "test_logpdf": np.zeros((3, 40)),
             "train_pit": rng.random(200), "train_fold": np.arange(200) % 2,
             "val_cdf": np.repeat(norm.cdf(3.0 * rng.normal(size=(60, 1))), 2, axis=1)}
    union = calibration.CalibrationMap(np.concatenate([saved["train_pit"],
                                                       saved["val_cdf"][:, 0]]))
    folds_only = calibration.CalibrationMap(saved["train_pit"])
    for variant, expected in (("refit", union), ("refit-fold-pit", folds_only)):
        test_cdf, log_density = calibration.recalibrated_values(saved, variant)
        np.testing.assert_allclose(test_cdf, expected(cdf[0]))
        np.testing.assert_allclose(log_density, expected.log_derivative(cdf[0][:, 0]))
    assert not np.allclose(union(cdf[0]), folds_only(cdf[0]), atol=1e-3)
    with pytest.raises(ValueError, match="add-validation"):
        calibration.recalibrated_values({k: v for k, v in saved.items() if k != "val_cdf"},
                                        "refit")


def test_member_variant_is_one_fold_model_with_the_map_of_all_cross_fitted_values(tmp_path):
    rng = np.random.default_rng(1)
    cdf = rng.random((4, 30, 1))  # the raw model and three fold models
    saved = {"test_cdf": cdf, "test_logpdf": rng.normal(size=(4, 30)), "y_test": np.zeros(30),
             "train_pit": rng.random(90) ** 2, "train_fold": np.arange(90) % 3}
    folds_only = calibration.CalibrationMap(saved["train_pit"])
    test_cdf, log_density = calibration.recalibrated_values(saved, "member-2")
    np.testing.assert_allclose(test_cdf, folds_only(cdf[3]))
    np.testing.assert_allclose(log_density,
                               folds_only.log_derivative(cdf[3][:, 0]) + saved["test_logpdf"][3])
    files = []
    for split in range(2):  # the same values twice, the second with the members reordered
        files.append(tmp_path / f"toy_{split}.npz")
        np.savez(files[-1], **{**saved, "test_cdf": cdf[[0, 3, 2, 1]] if split else cdf})
    mean, spread = calibration.member_spread("toy", files)
    per_member = np.array([calibration._coverage(folds_only(cdf[k][:, 0])) for k in (1, 2, 3)])
    np.testing.assert_allclose(mean, per_member.mean(axis=0))
    np.testing.assert_allclose(spread, per_member.std(axis=0, ddof=1))


def test_two_fits_variant_mixes_each_models_fits_and_learns_the_map_on_the_fold_mixtures(
        tmp_path):
    # What RecalibratedRegressor(n_fits=2) does, from fits 0 and 1 saved side by side.
    rng = np.random.default_rng(2)
    first = {"test_cdf": rng.random((3, 30, 1)), "test_logpdf": rng.normal(size=(3, 30)),
             "train_pit": rng.random(80) ** 2, "y_test": np.zeros(30)}
    second = {"test_cdf": rng.random((3, 30, 1)), "test_logpdf": rng.normal(size=(3, 30)),
              "train_pit": rng.random(80) ** 0.5}
    np.savez(tmp_path / "toy_0.npz", **first)
    (tmp_path / "fit1").mkdir()
    np.savez(tmp_path / "fit1" / "toy_0.npz", **second)
    saved = calibration.load_saved(tmp_path / "toy_0.npz")
    mixed_map = calibration.CalibrationMap((first["train_pit"] + second["train_pit"]) / 2)
    mixed_cdf = (first["test_cdf"][0] + second["test_cdf"][0]) / 2
    mixed_logpdf = np.log((np.exp(first["test_logpdf"][0]) + np.exp(second["test_logpdf"][0]))
                          / 2)
    test_cdf, log_density = calibration.recalibrated_values(saved, "two-fits")
    np.testing.assert_allclose(test_cdf, mixed_map(mixed_cdf))
    np.testing.assert_allclose(log_density,
                               mixed_map.log_derivative(mixed_cdf[:, 0]) + mixed_logpdf)
    np.testing.assert_allclose(calibration.recalibrated_values(saved, "two-fits-no-map")[0],
                               mixed_cdf)
    with pytest.raises(ValueError, match="--fit 1"):
        calibration.recalibrated_values(first, "two-fits")


def test_two_fits_variant_adds_the_final_mixtures_own_rows_when_given():
    # --verify's reconstruction: the final mixture's PIT on the rows both final fits held out.
    rng = np.random.default_rng(3)
    saved = {"test_cdf": rng.random((3, 30, 1)), "test_logpdf": rng.normal(size=(3, 30)),
             "train_pit": rng.random(80) ** 2, "fit1_test_cdf": rng.random((3, 30, 1)),
             "fit1_test_logpdf": rng.normal(size=(3, 30)),
             "fit1_train_pit": rng.random(80) ** 0.5}
    own = rng.random(7) ** 3
    mixed_map = calibration.CalibrationMap(
        np.concatenate([(saved["train_pit"] + saved["fit1_train_pit"]) / 2, own]))
    mixed_cdf = (saved["test_cdf"][0] + saved["fit1_test_cdf"][0]) / 2
    with_own = {**saved, "mixture_val_cdf": np.repeat(own[:, None], 2, axis=1)}
    np.testing.assert_allclose(calibration.recalibrated_values(with_own, "two-fits")[0],
                               mixed_map(mixed_cdf))
    assert not np.allclose(calibration.recalibrated_values(saved, "two-fits")[0],
                           mixed_map(mixed_cdf))
