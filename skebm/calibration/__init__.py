"""Calibration of predictive distributions: diagnose with PIT values, fix by recalibration.

A model is calibrated when its probability integral transform (PIT)
``F(y | x)`` is uniform on held-out data, so that its ``p``-quantiles are
exceeded a fraction ``1 - p`` of the time and its intervals hold their
nominal mass. :func:`pit` and :func:`calibration_error` measure this;
:class:`RecalibratedRegressor` repairs it with a monotone map of the CDF
learned on cross-fitted PIT values (Kuleshov et al., ICML 2018), keeping a
consistent density.
"""

from skebm.calibration._distribution import RecalibratedDistribution
from skebm.calibration._map import CalibrationMap
from skebm.calibration._pit import calibration_error, pit
from skebm.calibration._regressor import RecalibratedRegressor
from skebm.distributions.equal_mixture import EqualMixtureDistribution  # noqa: F401 (old home)

__all__ = [
    "CalibrationMap",
    "RecalibratedDistribution",
    "RecalibratedRegressor",
    "calibration_error",
    "pit",
]
