"""predict holds the state of one block of rows at a time (skebm._blocks)."""

import tracemalloc

import numpy as np
import pytest
from helpers import TINY

import skebm._blocks
from skebm import EnergyRegressor
from skebm._evaluator import EnergyEvaluator


@pytest.fixture(scope="module")
def memmapped_images(tmp_path_factory):
    """800 random 8 x 8 RGB uint8 images in a read-only memmap, and targets."""
    path = tmp_path_factory.mktemp("images") / "images.npy"
    rng = np.random.default_rng(0)
    images = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(800, 8, 8, 3))
    images[:] = rng.integers(0, 256, size=images.shape, dtype=np.uint8)
    images.flush()
    del images
    X = np.load(path, mmap_mode="r")
    return X, X[:, 0, 0, 0] / 255.0 + 0.1 * rng.normal(size=len(X))


@pytest.fixture(scope="module")
def image_model(memmapped_images):
    X, y = memmapped_images
    return EnergyRegressor(**TINY, n_inference_samples=16).fit(X[:100], y[:100])


def test_predict_holds_one_block_of_rows_at_a_time(image_model, memmapped_images, monkeypatch):
    X, _ = memmapped_images
    held = []
    original = EnergyEvaluator.__init__

    def counting(evaluator, model, inputs, *args, **kwargs):
        held.append(int(inputs.shape[0]))
        original(evaluator, model, inputs, *args, **kwargs)

    expected = image_model.predict_dist(X[:300]).mean()
    monkeypatch.setattr(EnergyEvaluator, "__init__", counting)
    monkeypatch.setattr(skebm._blocks, "PREDICT_BLOCK_ROWS", 64)
    predicted = image_model.predict(X[:300])
    assert held == [64, 64, 64, 64, 44]
    np.testing.assert_allclose(predicted, expected, rtol=1e-6, atol=1e-9)


def test_predict_memory_does_not_grow_with_the_rows_of_a_memmap(image_model, memmapped_images,
                                                                monkeypatch):
    X, _ = memmapped_images
    monkeypatch.setattr(skebm._blocks, "PREDICT_BLOCK_ROWS", 64)
    peaks = {}
    for n_rows in (200, 800):
        image_model.predict(X[:n_rows])  # warm caches before measuring
        tracemalloc.start()
        image_model.predict(X[:n_rows])
        peaks[n_rows] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    # Four times the rows: only the (n,) output grows (600 x 8 bytes more), nothing per block.
    assert peaks[800] < peaks[200] + 64_000
