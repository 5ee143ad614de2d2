"""Root pytest configuration: modules needing an optional dependency that is absent are not
collected for doctests."""

import importlib.util

collect_ignore = [] if importlib.util.find_spec("skpro") else ["skebm/skpro.py"]
