"""Memory and speed of fit and predict on a uint8 image memmap larger than memory budgets.

Writes ``--gigabytes`` of synthetic RGB ``uint8`` images (blob counts from
``skebm.datasets.make_blob_images``: a pool of ``--pool`` generated images,
copied in blocks with random flips and shifts) to a ``numpy.memmap`` in a
temporary file, then fits ``EnergyRegressor()`` (default CNN) on the memmap and
predicts on all of it, sampling the process's memory every 20 ms in a thread.

Memory is read from ``/proc/self/smaps_rollup``: **anonymous** memory (heap,
torch tensors, NumPy arrays -- what the process itself allocates), sampled, and
the resident set size, which also counts the memmap's file pages the kernel
keeps mapped after they were read (page cache, reclaimable, not allocations).
Sampling can miss peaks shorter than the interval, so the kernel's own peak
RSS (``VmHWM``, reset through ``/proc/self/clear_refs`` before each call) is
reported as well: exact, but it includes file pages first mapped during the
call. Peaks are reported above the baseline taken just before each call.

To keep the run modest, ``--fit-steps`` limits training to that many
minibatches per epoch (drawn from a shuffle of all rows; ``--fit-epochs``
epochs), by limiting the training loop's batch list. ``fit`` still reads the
whole array once (the streamed standardisation statistics; ``uint8`` images
need no NaN check). ``predict`` runs the CNN over every image, or over the
first ``--predict-images`` (a memmap view) when the CPU time for all is not
there.

Run: ``python benchmarks/images_scale.py [--gigabytes 2] [--image-size 128] [--threads 2]
[--fit-steps 20] [--fit-epochs 1] [--predict-images N] [--pool 512] [--tmpdir /tmp]
[--seed 0]``
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch
from _common import machine, print_table

import skebm
import skebm._training
from skebm.datasets import make_blob_images


class MemorySampler:
    """Peak anonymous memory and RSS (bytes) of this process while in a ``with`` block."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval

    @staticmethod
    def read() -> dict[str, int]:
        fields = {}
        for line in Path("/proc/self/smaps_rollup").read_text().splitlines()[1:]:
            name, value = line.split(":", 1)
            fields[name] = int(value.split()[0]) * 1024
        return {"anonymous": fields["Anonymous"], "rss": fields["Rss"]}

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, value in self.read().items():
                self.peak[name] = max(self.peak[name], value)
            self._stop.wait(self.interval)

    def __enter__(self):
        Path("/proc/self/clear_refs").write_text("5")  # restart VmHWM from the current RSS
        self.baseline = self.read()
        self.peak = dict(self.baseline)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        for name, value in self.read().items():
            self.peak[name] = max(self.peak[name], value)
        status = Path("/proc/self/status").read_text()
        self.peak["high_water_rss"] = int(status.split("VmHWM:")[1].split()[0]) * 1024
        self.baseline["high_water_rss"] = self.baseline["rss"]

    def above_baseline(self, name: str) -> float:
        """Peak minus baseline, in MB."""
        return (self.peak[name] - self.baseline[name]) / 1e6


def write_images(path: Path, gigabytes: float, size: int, pool: int, seed: int):
    """A uint8 memmap of about ``gigabytes`` GB of RGB images and their targets."""
    images, counts = make_blob_images(pool, image_size=size, n_channels=3, random_state=seed)
    n_images = int(np.ceil(gigabytes * 1e9 / images[0].nbytes))
    stored = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8,
                                       shape=(n_images, size, size, 3))
    targets = np.empty(n_images)
    rng = np.random.default_rng(seed)
    for start in range(0, n_images, pool):
        stop = min(start + pool, n_images)
        pick = rng.integers(pool, size=stop - start)
        block = images[pick]
        flip = rng.random(len(block)) < 0.5
        block[flip] = block[flip, :, ::-1]
        stored[start:stop] = np.roll(block, rng.integers(-4, 5, size=2), axis=(1, 2))
        targets[start:stop] = counts[pick]
    stored.flush()
    del stored
    return np.load(path, mmap_mode="r"), targets


def limit_steps(steps: int) -> None:
    """Train on the first ``steps`` minibatches of every epoch's shuffle."""
    bounds = skebm._training._batch_bounds
    skebm._training._batch_bounds = lambda n_rows, batch_size: bounds(n_rows, batch_size)[:steps]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=float, default=2.0)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--fit-steps", type=int, default=20)
    parser.add_argument("--fit-epochs", type=int, default=1)
    parser.add_argument("--predict-images", type=int, default=None, help="default: all")
    parser.add_argument("--pool", type=int, default=512)
    parser.add_argument("--tmpdir", default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(machine(), f"skebm from {Path(skebm.__file__).parent}")
    limit_steps(args.fit_steps)
    with tempfile.TemporaryDirectory(dir=args.tmpdir) as folder:
        start = time.perf_counter()
        X, y = write_images(Path(folder) / "images.npy", args.gigabytes, args.image_size,
                            args.pool, args.seed)
        print(f"wrote {X.shape} uint8 = {X.nbytes / 1e9:.2f} GB in "
              f"{time.perf_counter() - start:.0f} s")
        model = skebm.EnergyRegressor(max_epochs=args.fit_epochs, random_state=args.seed)
        with MemorySampler() as fit_memory:
            start = time.perf_counter()
            model.fit(X, y)
            fit_seconds = time.perf_counter() - start
        trained = args.fit_epochs * min(len(X), args.fit_steps * model.batch_size)
        X_predict = X[: args.predict_images]
        with MemorySampler() as predict_memory:
            start = time.perf_counter()
            prediction = model.predict(X_predict)
            predict_seconds = time.perf_counter() - start
        assert prediction.shape == (len(X_predict),) and np.all(np.isfinite(prediction))
        rows = [
            ["fit", fit_memory.above_baseline("anonymous"), fit_memory.above_baseline("rss"),
             fit_memory.above_baseline("high_water_rss"), fit_seconds, trained / fit_seconds],
            ["predict", predict_memory.above_baseline("anonymous"),
             predict_memory.above_baseline("rss"),
             predict_memory.above_baseline("high_water_rss"), predict_seconds,
             len(X_predict) / predict_seconds],
        ]
        print(f"{len(X)} images of {args.image_size}x{args.image_size}x3, "
              f"{args.fit_epochs} epoch(s) of {args.fit_steps} steps, predict on "
              f"{len(X_predict)} images; images/s of fit counts the trained images only "
              "(fit also reads all images once)")
        print_table(["call", "peak anonymous MB above baseline (sampled)",
                     "peak RSS MB above baseline (sampled)", "VmHWM MB above baseline RSS",
                     "seconds", "images/s"], rows)


if __name__ == "__main__":
    main()
