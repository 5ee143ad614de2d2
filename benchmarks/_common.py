"""Helpers shared by the benchmark scripts: data loading and table printing."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import numpy as np

SHARED_DATA = Path(os.environ.get(
    "SKEBM_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def load_toy(name: str, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """One of the paper's toy CSVs from ../shared/data; exits cleanly when absent."""
    import pandas as pd

    path = SHARED_DATA / f"toy_{name}_{split}.csv"
    if not path.exists():
        print(f"skipping: {path} not found (set SKEBM_SHARED_DATA)")
        sys.exit(0)
    frame = pd.read_csv(path)
    return frame[["x"]].to_numpy(), frame["y"].to_numpy()


def machine() -> str:
    """A one-line description of where the benchmark ran."""
    import torch

    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
            f"Python {platform.python_version()}")


def print_table(header: list[str], rows: list[list]) -> None:
    """Print a Markdown table."""
    cells = [[f"{c:.4g}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in cells:
        print("| " + " | ".join(row) + " |")
