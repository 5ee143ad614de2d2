"""Root pytest configuration: modules needing an optional dependency that is absent are not
collected for doctests, and each test has a 600 s limit where pytest-timeout is installed."""

import importlib.util
import os

import pytest

TEST_TIMEOUT_S = 600

collect_ignore = [module for module, dependency in (("skebm/skpro.py", "skpro"),
                                                   ("skebm/dask.py", "dask"))
                  if importlib.util.find_spec(dependency) is None]


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Set pytest-timeout's limit unless ``--timeout``, ``PYTEST_TIMEOUT`` or the ini file did.

    Without the plugin nothing is set and pytest runs as usual (an
    ``addopts = "--timeout=..."`` would make it refuse to start).
    """
    if not config.pluginmanager.hasplugin("timeout"):
        return
    if (config.getoption("timeout") is None and "PYTEST_TIMEOUT" not in os.environ
            and not config.getini("timeout")):
        config.option.timeout = TEST_TIMEOUT_S
