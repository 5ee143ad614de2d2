"""benchmarks/proposal_mixture.py: the mixture's NLL from the two log-densities."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

_BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load_benchmark():
    sys.path.insert(0, str(_BENCHMARKS))  # the script imports uci.py beside it
    try:
        spec = importlib.util.spec_from_file_location(
            "proposal_mixture_benchmark", _BENCHMARKS / "proposal_mixture.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(_BENCHMARKS))
    return module


proposal_mixture = _load_benchmark()


def test_mixture_nll_is_each_density_at_the_ends_and_their_average_between():
    log_p, log_q = np.log([0.2, 0.5, 1e-300]), np.log([0.4, 0.1, 0.3])
    assert proposal_mixture.mixture_nll(log_p, log_q, 0.0) == pytest.approx(-np.mean(log_p))
    assert proposal_mixture.mixture_nll(log_p, log_q, 1.0) == pytest.approx(-np.mean(log_q))
    expected = -np.mean(np.log(0.75 * np.exp(log_p) + 0.25 * np.exp(log_q)))
    assert proposal_mixture.mixture_nll(log_p, log_q, 0.25) == pytest.approx(expected)
