"""Networks of the distilled mixture density network (paper Sec. 3.3, Fig. 3).

Two separate networks with their own feature extractors: the student, a
mixture density network g(x) -> q(y | x), and the teacher, an energy network
f(x, y). The student is what predictions use; the teacher only guides its
training and can be dropped afterwards.
"""

from __future__ import annotations

import torch
from torch import nn

from skebm.nn.energy import EnergyHead
from skebm.nn.mixture import MixtureDensityHead, MixtureParameters

__all__ = ["DistilledMixtureModel", "EnergyNetwork", "MixtureDensityNetwork"]


class MixtureDensityNetwork(nn.Module):
    """A stand-alone mixture density network: ``q(y | x) = head(extractor(x))``.

    Parameters
    ----------
    extractor : nn.Module
        Maps a batch of inputs to ``(batch, extractor.out_features)``.
    target_dim : int
        Dimension d of the targets.
    n_components : int
        Number of mixture components K.
    hidden_size : int
        Width of the head's hidden layer.

    Examples
    --------
    >>> import torch
    >>> from skebm.nn import MLPExtractor, MixtureDensityNetwork
    >>> network = MixtureDensityNetwork(MLPExtractor(3, (8,)), target_dim=2,
    ...                                 n_components=4, hidden_size=8)
    >>> network(torch.zeros(5, 3)).means.shape
    torch.Size([5, 4, 2])
    """

    def __init__(
        self, extractor: nn.Module, target_dim: int, n_components: int, hidden_size: int
    ) -> None:
        super().__init__()
        self.extractor = extractor
        self.head = MixtureDensityHead(int(extractor.out_features), target_dim, n_components,
                                       hidden_size)

    def forward(self, inputs: torch.Tensor) -> MixtureParameters:
        """Compute the mixture parameters for a batch of inputs.

        Parameters
        ----------
        inputs : Tensor of shape ``(batch, ...)``
            The preprocessed inputs.

        Returns
        -------
        MixtureParameters
            One mixture per input row.
        """
        return self.head(self.extractor(inputs))


class EnergyNetwork(nn.Module):
    """A stand-alone energy network ``f(x, y) = head(extractor(x), y)``.

    Parameters
    ----------
    extractor : nn.Module
        Maps a batch of inputs to ``(batch, extractor.out_features)``.
    target_dim : int
        Dimension d of the targets.
    hidden_size : int
        Width of the energy head's hidden layers.

    Examples
    --------
    >>> import torch
    >>> from skebm.nn import EnergyNetwork, MLPExtractor
    >>> network = EnergyNetwork(MLPExtractor(3, (8,)), target_dim=1, hidden_size=8)
    >>> network(torch.zeros(5, 3), torch.zeros(5, 7, 1)).shape
    torch.Size([5, 7])
    """

    def __init__(self, extractor: nn.Module, target_dim: int, hidden_size: int) -> None:
        super().__init__()
        self.extractor = extractor
        self.head = EnergyHead(int(extractor.out_features), target_dim, hidden_size)

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Score ``M`` targets per input row.

        Parameters
        ----------
        inputs : Tensor of shape ``(batch, ...)``
            The preprocessed inputs.
        targets : Tensor of shape ``(batch, M, d)``
            The targets to score.

        Returns
        -------
        Tensor of shape ``(batch, M)``
            The energies f(x, y).
        """
        return self.head(self.extractor(inputs), targets)


class DistilledMixtureModel(nn.Module):
    """A mixture density network and, optionally, its energy-based teacher.

    Bundling both in one module lets a single optimiser train them jointly and
    keeps them together when the model is moved or pickled. Calling the module
    runs the student only.

    Parameters
    ----------
    student : MixtureDensityNetwork
        The network whose mixture q(y | x) is the prediction.
    teacher : EnergyNetwork or None
        The energy network f(x, y); ``None`` for plain maximum-likelihood training.
    """

    def __init__(self, student: MixtureDensityNetwork, teacher: EnergyNetwork | None) -> None:
        super().__init__()
        self.student = student
        self.teacher = teacher

    def forward(self, inputs: torch.Tensor) -> MixtureParameters:
        """Compute the student's mixture parameters for a batch of inputs.

        Parameters
        ----------
        inputs : Tensor of shape ``(batch, ...)``
            The preprocessed inputs.

        Returns
        -------
        MixtureParameters
            One mixture per input row.
        """
        return self.student(inputs)
