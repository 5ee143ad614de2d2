"""Prediction memory against the rows predicted, on memmapped images.

Writes ``--rows`` random 32 x 32 RGB uint8 images to a ``.npy`` memmap in a
temporary folder, fits a default ``EnergyRegressor`` for one epoch on the
first 2000 of them, then predicts the first 10% and all of them, reading
the anonymous resident memory (``RssAnon`` of ``/proc/self/status``, Linux)
before and after each ``predict``, and its peak (sampled every 10 ms in a
thread). Pages of the memmap are file-backed and do not count: what grows is
what prediction itself allocates, which must be bounded by its block of rows
(``skebm._blocks``), not by the rows.

Run: ``python benchmarks/memory.py [--rows 100000]``
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from _common import machine, print_table

from skebm import EnergyRegressor


def anonymous_mb() -> float:
    """Anonymous resident memory of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("RssAnon is not reported here (Linux only).")


def peak_during(call) -> tuple[float, float, float]:
    """Seconds of ``call`` and the growth of anonymous memory: at its end and at its peak (MB)."""
    before, peak, done = anonymous_mb(), [0.0], threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], anonymous_mb())
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    start = time.perf_counter()
    call()
    seconds = time.perf_counter() - start
    done.set()
    watcher.join()
    return seconds, anonymous_mb() - before, max(peak[0], anonymous_mb()) - before


def memmapped_images(folder: Path, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Random 32 x 32 x 3 uint8 images in a read-only memmap, and targets from their pixels."""
    path = folder / "images.npy"
    rng = np.random.default_rng(0)
    images = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8,
                                       shape=(n_rows, 32, 32, 3))
    for start in range(0, n_rows, 10_000):
        block = images[start : start + 10_000]
        block[:] = rng.integers(0, 256, size=block.shape, dtype=np.uint8)
    images.flush()
    del images
    X = np.load(path, mmap_mode="r")
    y = X[:, :4, :4, 0].reshape(n_rows, -1).mean(axis=1) / 255.0
    return X, y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as folder:
        X, y = memmapped_images(Path(folder), args.rows)
        model = EnergyRegressor(max_epochs=1, random_state=0).fit(X[:2000], y[:2000])
        table = []
        for n_rows in (args.rows // 10, args.rows):
            seconds, end, peak = peak_during(lambda n=n_rows: model.predict(X[:n]))
            table.append([n_rows, f"{X[:n_rows].nbytes / 1e6:.0f}", f"{seconds:.1f}",
                          f"{end:.0f}", f"{peak:.0f}"])
        print(f"\npredict on memmapped 32 x 32 x 3 images (n_threads_={model.n_threads_})\n")
        print_table(["rows", "images (MB)", "seconds", "anonymous memory growth at end (MB)",
                     "peak growth (MB)"], table)


if __name__ == "__main__":
    main()
