"""Random flips and crops of training images."""

import numpy as np
import pytest
import torch
from sklearn.base import clone

from skebm import DistilledMDNRegressor, EnergyRegressor
from skebm._augmentation import augment_images, crop_padding
from skebm.datasets import make_blob_images

TINY = dict(max_epochs=1, batch_size=16, n_noise_samples=8, hidden_size=8, random_state=0,
            feature_extractor_kwargs={"channels": (4, 8)})


def distinct_images(n=200, channels=2, size=8):
    """Images whose every pixel differs, so any flip or shift is recognisable."""
    return torch.arange(n * channels * size * size, dtype=torch.float32).reshape(
        n, channels, size, size) + 1.0


def test_flip_mirrors_about_half_the_images_left_right():
    images = distinct_images()
    flipped = augment_images(images, "flip", torch.Generator().manual_seed(0))
    same = (flipped == images).flatten(1).all(1)
    mirrored = (flipped == images.flip(-1)).flatten(1).all(1)
    assert bool((same ^ mirrored).all())
    assert 70 < int(mirrored.sum()) < 130


def test_crop_shifts_each_image_within_the_padding_and_fills_with_zeros():
    images = distinct_images(size=16)
    padding = crop_padding(16, 16)
    assert padding == 2
    cropped = augment_images(images, "crop", torch.Generator().manual_seed(0))
    padded = torch.nn.functional.pad(images, (padding,) * 4)
    shifts = []
    for image, result in zip(padded, cropped):
        matches = [(dy, dx) for dy in range(2 * padding + 1) for dx in range(2 * padding + 1)
                   if torch.equal(image[:, dy:dy + 16, dx:dx + 16], result)]
        assert len(matches) == 1
        shifts.append(matches[0])
    assert len(set(shifts)) == (2 * padding + 1) ** 2  # every offset occurs in 200 draws


def test_flip_and_crop_are_reproducible_and_keep_shape_and_dtype():
    images = distinct_images(n=20)
    first = augment_images(images, "flip+crop", torch.Generator().manual_seed(3))
    second = augment_images(images, "flip+crop", torch.Generator().manual_seed(3))
    assert first.shape == images.shape and first.dtype == torch.float32
    torch.testing.assert_close(first, second, rtol=0, atol=0)


@pytest.mark.parametrize("make", [EnergyRegressor, DistilledMDNRegressor])
def test_augmented_fit_is_seeded_and_differs_from_a_plain_fit(make):
    X, y = make_blob_images(48, image_size=12, random_state=0)
    model = make(augmentation="flip+crop", **TINY)
    first, second = model.fit(X, y).predict(X), clone(model).fit(X, y).predict(X)
    np.testing.assert_array_equal(first, second)
    plain = make(**TINY).fit(X, y).predict(X)
    assert not np.allclose(first, plain)


def test_augmentation_of_a_table_is_refused():
    X, y = np.random.default_rng(0).random((20, 3)), np.zeros(20)
    with pytest.raises(ValueError, match="augmentation='flip'.*table"):
        EnergyRegressor(augmentation="flip", max_epochs=1).fit(X, y)


def test_unknown_augmentation_is_refused_by_name():
    X, y = make_blob_images(12, image_size=8, random_state=0)
    with pytest.raises(ValueError, match="augmentation"):
        EnergyRegressor(augmentation="rotate", max_epochs=1).fit(X, y)
