"""skebm: energy-based probabilistic regression as scikit-learn estimators.

>>> from skebm import EnergyRegressor
"""

from skebm._distilled import DistilledMDNRegressor
from skebm._energy import EnergyRegressor
from skebm._persistence import get_untrusted_types, load, save

__version__ = "0.2.0"

__all__ = ["DistilledMDNRegressor", "EnergyRegressor", "__version__", "get_untrusted_types",
           "load", "save"]
