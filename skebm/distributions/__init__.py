"""Batches of conditional distributions, as returned by ``predict_dist``.

Every class here is indexable by row (``dist[2:5]``, masks, integers) and takes
and returns float64 NumPy arrays; see :class:`ConditionalDistribution`.
"""

from skebm.distributions._base import ConditionalDistribution
from skebm.distributions.energy import EnergyDistribution
from skebm.distributions.equal_mixture import EqualMixtureDistribution
from skebm.distributions.mixture import GaussianMixtureDistribution

__all__ = ["ConditionalDistribution", "EnergyDistribution", "EqualMixtureDistribution",
           "GaussianMixtureDistribution"]
