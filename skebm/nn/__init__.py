"""Pure PyTorch building blocks of skebm (no scikit-learn, no NumPy).

These modules can be used and tested on their own: feature extractors that map a
batch of inputs to ``(batch, features)`` (MLP for tables; a small CNN and
ResNet-18 for images, no torchvision needed), a piecewise-linear encoding of
table columns, the energy head f(h_x, y), the mixture
density proposal head q(y | h_x), and the joint :class:`EnergyModel`.
"""

from skebm.nn.conv import ConvExtractor
from skebm.nn.distilled import DistilledMixtureModel, EnergyNetwork, MixtureDensityNetwork
from skebm.nn.encoding import EncodedExtractor, PiecewiseLinearEncoding
from skebm.nn.energy import EnergyHead
from skebm.nn.extractors import MLPExtractor
from skebm.nn.mixture import (
    MixtureDensityHead,
    MixtureParameters,
    mixture_log_prob,
    sample_mixture,
)
from skebm.nn.model import EnergyModel
from skebm.nn.resnet import ResNet18Extractor, load_resnet_weights

__all__ = [
    # feature extractors h_x = extractor(x), to pass as ``feature_extractor``
    "ConvExtractor",
    "EncodedExtractor",
    "MLPExtractor",
    "PiecewiseLinearEncoding",
    "ResNet18Extractor",
    "load_resnet_weights",
    # heads and their mixtures
    "EnergyHead",
    "MixtureDensityHead",
    "MixtureParameters",
    "mixture_log_prob",
    "sample_mixture",
    # the fitted networks (``module_`` and ``teacher_`` of the estimators)
    "DistilledMixtureModel",
    "EnergyModel",
    "EnergyNetwork",
    "MixtureDensityNetwork",
]
