"""Shared test configuration: one torch thread per test process, fixed seeds."""

from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(1)

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True)
def _seed_everything():
    """Fixed global seeds, so tests that forget a random_state still repeat."""
    np.random.seed(0)  # noqa: NPY002 (legacy global state used by some libraries)
    torch.manual_seed(0)


@pytest.fixture
def gustafsson_csv():
    """The paper's first toy data set from ../shared/data, or skip when absent."""
    import pandas as pd

    path = SHARED_DATA / "toy_gustafsson2020_train.csv"
    if not path.exists():
        pytest.skip(f"{path} not available")
    frame = pd.read_csv(path)
    return frame[["x"]].to_numpy(), frame["y"].to_numpy()
