"""Pure PyTorch building blocks of skebm (no scikit-learn, no NumPy).

These modules can be used and tested on their own: feature extractors that map a
batch of inputs to ``(batch, features)`` (MLP for tables; a small CNN and
ResNet-18 for images, no torchvision needed), a piecewise-linear encoding of
table columns, the energy head f(h_x, y), the mixture
density proposal head q(y | h_x), and the joint :class:`EnergyModel`.
"""

from skebm.nn.conv import BatchNorm2d, ConvExtractor
from skebm.nn.distilled import DistilledMixtureModel, EnergyNetwork, MixtureDensityNetwork
from skebm.nn.encoding import EncodedExtractor, PiecewiseLinearEncoding
from skebm.nn.energy import EnergyHead
from skebm.nn.extractors import (
    EXTRACTOR_NAMES,
    AutocastExtractor,
    MLPExtractor,
    build_extractor,
    check_extractor,
    feature_size,
    instantiate_extractor,
)
from skebm.nn.mixture import (
    MixtureDensityHead,
    MixtureParameters,
    draw_mixture,
    fixed_gaussian_noise,
    mixture_log_prob,
    sample_mixture,
)
from skebm.nn.model import EnergyModel
from skebm.nn.resnet import BasicBlock, ResNet18Extractor, load_resnet_weights

__all__ = [
    "EXTRACTOR_NAMES",
    "AutocastExtractor",
    "BasicBlock",
    "BatchNorm2d",
    "ConvExtractor",
    "DistilledMixtureModel",
    "EncodedExtractor",
    "EnergyHead",
    "EnergyModel",
    "EnergyNetwork",
    "MLPExtractor",
    "MixtureDensityHead",
    "MixtureDensityNetwork",
    "MixtureParameters",
    "PiecewiseLinearEncoding",
    "ResNet18Extractor",
    "build_extractor",
    "check_extractor",
    "feature_size",
    "draw_mixture",
    "fixed_gaussian_noise",
    "instantiate_extractor",
    "load_resnet_weights",
    "mixture_log_prob",
    "sample_mixture",
]
