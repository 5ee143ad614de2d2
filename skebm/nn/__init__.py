"""Pure PyTorch building blocks of skebm (no scikit-learn, no NumPy).

These modules can be used and tested on their own: feature extractors that map a
batch of inputs to ``(batch, features)``, the energy head f(h_x, y), the mixture
density proposal head q(y | h_x), and the joint :class:`EnergyModel`.
"""

from skebm.nn.energy import EnergyHead
from skebm.nn.extractors import MLPExtractor, build_extractor
from skebm.nn.mixture import (
    MixtureDensityHead,
    MixtureParameters,
    fixed_gaussian_noise,
    mixture_log_prob,
    sample_mixture,
)
from skebm.nn.model import EnergyModel

__all__ = [
    "EnergyHead",
    "EnergyModel",
    "MLPExtractor",
    "MixtureDensityHead",
    "MixtureParameters",
    "build_extractor",
    "fixed_gaussian_noise",
    "mixture_log_prob",
    "sample_mixture",
]
