"""skebm: energy-based probabilistic regression as scikit-learn estimators.

>>> from skebm import EnergyRegressor
"""

from skebm._distilled import DistilledMDNRegressor
from skebm._energy import EnergyRegressor

__version__ = "0.1.0"

__all__ = ["DistilledMDNRegressor", "EnergyRegressor", "__version__"]
