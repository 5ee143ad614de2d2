"""Toy data sets with known conditional densities, in scikit-learn style.

Each generator follows ``sklearn.datasets.make_*``: it takes ``n_samples`` and a
``random_state`` and returns ``X`` of shape ``(n_samples, 1)`` and ``y`` of shape
``(n_samples,)``, both float64 -- except :func:`make_blob_images`, whose ``X``
is a batch of ``uint8`` images.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from scipy import stats
from sklearn.utils import check_random_state

__all__ = [
    "gustafsson2020_log_density",
    "make_blob_images",
    "make_brando2019",
    "make_gustafsson2020",
]

# Gustafsson et al. (2020): the mixture branch (x < 0) and the log-normal branch.
_GUSTAFSSON_WEIGHT = 0.8  # weight of the N(sin x, .) component
_GUSTAFSSON_SCALE = 0.075  # std of both mixture components
_GUSTAFSSON_LOG_SCALE = 0.25  # std of log(y + 1) for x >= 0

# Brando et al. (2019), reconstructed from the published splits: the original
# design has 3800 evenly spaced x in [0, 1]; the four regimes hold the first
# 800, the next 1000, the next 500 and the last 1500 of them.
_BRANDO_BOUNDARIES = (800 / 3800, 1800 / 3800, 2300 / 3800)
_BRANDO_BETA = (0.5, 1.0)  # y = 0.5 + 5 * Beta(0.5, 1)
_BRANDO_BETA_LOC, _BRANDO_BETA_SCALE = 0.5, 5.0
_BRANDO_WAVE = (-2.0, 3.03, 6.0 * np.pi, 0.3763)  # mu(x) = a - b cos(w (x - x0))
_BRANDO_RELATIVE_STD = 0.245  # std = 0.245 |mu(x)|
_BRANDO_BAND_START = (-2.0, -0.5)  # uniform band (lower, upper) at the band's left end
_BRANDO_BAND_END = (-4.5, 9.05)  # ... and at its right end, linear in between
_BRANDO_MODES = ((-4.5, -3.0), (1.0, 4.0), (8.0, 8.5))  # equally likely uniform modes


def make_gustafsson2020(
    n_samples: int = 2000, *, random_state=None
) -> tuple[np.ndarray, np.ndarray]:
    """Generate the 1-D toy regression problem of Gustafsson et al. (2020).

    ``x ~ U(-3, 3)``. For ``x < 0`` the target is bimodal,
    ``y ~ 0.8 N(sin x, 0.075^2) + 0.2 N(-sin x, 0.075^2)``; for ``x >= 0`` it is
    skewed, ``log(y + 1) ~ N(0, 0.25^2)``. The exact conditional density is
    :func:`gustafsson2020_log_density`.

    Parameters
    ----------
    n_samples : int, default=2000
        Number of samples.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for reproducible output.

    Returns
    -------
    X : ndarray of shape (n_samples, 1)
        Inputs.
    y : ndarray of shape (n_samples,)
        Targets.

    Examples
    --------
    >>> from skebm.datasets import make_gustafsson2020
    >>> X, y = make_gustafsson2020(n_samples=5, random_state=0)
    >>> X.shape, y.shape
    ((5, 1), (5,))
    >>> bool(X.min() >= -3 and X.max() <= 3)
    True
    """
    n_samples = _check_n_samples(n_samples)
    rng = check_random_state(random_state)
    x = rng.uniform(-3.0, 3.0, size=n_samples)
    # Draw every variate for every row so the stream does not depend on the branch.
    first_component = rng.uniform(size=n_samples) < _GUSTAFSSON_WEIGHT
    noise = rng.standard_normal(size=n_samples)
    sign = np.where(first_component, 1.0, -1.0)
    mixture = sign * np.sin(x) + _GUSTAFSSON_SCALE * noise
    log_normal = np.exp(_GUSTAFSSON_LOG_SCALE * noise) - 1.0
    y = np.where(x < 0.0, mixture, log_normal)
    return x.reshape(-1, 1), y


def gustafsson2020_log_density(x, y) -> np.ndarray:
    """Exact conditional log density log p(y | x) of :func:`make_gustafsson2020`.

    Parameters
    ----------
    x, y : array-like
        Inputs and targets; they broadcast against each other, so
        ``x[:, None]`` and ``y[None, :]`` give a grid.

    Returns
    -------
    ndarray
        Log densities (float64) of the broadcast shape; ``-inf`` where the density
        is zero (``y <= -1`` for ``x >= 0``).

    Examples
    --------
    >>> import numpy as np
    >>> from skebm.datasets import gustafsson2020_log_density
    >>> y_grid = np.linspace(-3, 3, 6001)
    >>> density = np.exp(gustafsson2020_log_density(np.array([[-1.0], [1.0]]), y_grid))
    >>> np.round(density.sum(axis=1) * (y_grid[1] - y_grid[0]), 6)
    array([1., 1.])
    >>> float(gustafsson2020_log_density(2.0, -1.5))
    -inf
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if np.isnan(x).any() or np.isnan(y).any():
        raise ValueError("x and y must not contain NaN.")
    x, y = np.broadcast_arrays(x, y)
    mean = np.sin(x)
    mixture = np.logaddexp(
        np.log(_GUSTAFSSON_WEIGHT) + stats.norm.logpdf(y, mean, _GUSTAFSSON_SCALE),
        np.log1p(-_GUSTAFSSON_WEIGHT) + stats.norm.logpdf(y, -mean, _GUSTAFSSON_SCALE),
    )
    shifted = y + 1.0
    positive = shifted > 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        log_shifted = np.log(np.where(positive, shifted, 1.0))
    log_normal = stats.norm.logpdf(log_shifted, 0.0, _GUSTAFSSON_LOG_SCALE) - log_shifted
    log_normal = np.where(positive, log_normal, -np.inf)
    return np.where(x < 0.0, mixture, log_normal)


def make_brando2019(n_samples: int = 3800, *, random_state=None) -> tuple[np.ndarray, np.ndarray]:
    """Generate a reconstruction of the 1-D toy problem of Brando et al. (2019).

    Only a verbal description of this data set is published (four regimes along
    ``x in [0, 1]``: asymmetric, symmetric heteroscedastic, uniform, multimodal),
    together with data splits. The generator below is a reconstruction from that
    description and from the splits; its regimes, shapes and parameters were
    fitted to the published data (two-sample Kolmogorov-Smirnov tests per regime
    do not tell them apart). ``x ~ U(0, 1)`` (the original uses 3800 evenly
    spaced points, split at random), and

    * ``x < 4/19`` (asymmetric): ``y = 0.5 + 5 B`` with ``B ~ Beta(0.5, 1)``;
    * ``4/19 <= x < 9/19`` (symmetric, heteroscedastic):
      ``y ~ N(mu(x), (0.245 mu(x))^2)`` with
      ``mu(x) = -2 - 3.03 cos(6 pi (x - 0.3763))``;
    * ``9/19 <= x < 23/38`` (uniform band): ``y ~ U(l(x), u(x))`` where the
      bounds move linearly from ``(-2, -0.5)`` to ``(-4.5, 9.05)`` across the regime;
    * ``x >= 23/38`` (multimodal): ``y`` is uniform on ``[-4.5, -3]``, ``[1, 4]``
      or ``[8, 8.5]``, each with probability 1/3.

    Parameters
    ----------
    n_samples : int, default=3800
        Number of samples (the original design has 3800).
    random_state : int, RandomState instance or None, default=None
        Seed or generator for reproducible output.

    Returns
    -------
    X : ndarray of shape (n_samples, 1)
        Inputs in [0, 1].
    y : ndarray of shape (n_samples,)
        Targets.

    Examples
    --------
    >>> from skebm.datasets import make_brando2019
    >>> X, y = make_brando2019(n_samples=100, random_state=0)
    >>> X.shape, y.shape
    ((100, 1), (100,))
    >>> bool(((y >= -4.5) | (X[:, 0] < 0.6)).all())
    True
    """
    n_samples = _check_n_samples(n_samples)
    rng = check_random_state(random_state)
    x = rng.uniform(0.0, 1.0, size=n_samples)
    # Draw every variate for every row so the stream does not depend on the regime.
    beta = rng.beta(*_BRANDO_BETA, size=n_samples)
    noise = rng.standard_normal(size=n_samples)
    unit = rng.uniform(size=n_samples)
    mode = rng.randint(len(_BRANDO_MODES), size=n_samples)

    asymmetric = _BRANDO_BETA_LOC + _BRANDO_BETA_SCALE * beta
    wave = _brando_wave(x)
    symmetric = wave + _BRANDO_RELATIVE_STD * np.abs(wave) * noise
    lower, upper = _brando_band(x)
    band = lower + (upper - lower) * unit
    mode_bounds = np.asarray(_BRANDO_MODES)[mode]
    multimodal = mode_bounds[:, 0] + (mode_bounds[:, 1] - mode_bounds[:, 0]) * unit

    regime = np.searchsorted(_BRANDO_BOUNDARIES, x, side="right")
    y = np.choose(regime, [asymmetric, symmetric, band, multimodal])
    return x.reshape(-1, 1), y


def _brando2019_log_density(x, y) -> np.ndarray:
    """Log density log p(y | x) of :func:`make_brando2019`'s generator (broadcasting).

    ``+inf`` at ``y = 0.5`` in the asymmetric regime (the Beta(0.5, 1) pole).
    """
    x, y = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        asymmetric = stats.beta.logpdf(y, *_BRANDO_BETA, _BRANDO_BETA_LOC, _BRANDO_BETA_SCALE)
        wave = _brando_wave(x)
        symmetric = stats.norm.logpdf(y, wave, _BRANDO_RELATIVE_STD * np.abs(wave))
        lower, upper = _brando_band(x)
        inside = (y >= lower) & (y <= upper)
        band = np.where(inside, -np.log(upper - lower), -np.inf)
        multimodal = np.full(y.shape, -np.inf)
        for low, high in _BRANDO_MODES:
            inside = (y >= low) & (y <= high)
            multimodal = np.where(inside, -np.log(len(_BRANDO_MODES) * (high - low)), multimodal)
    regime = np.searchsorted(_BRANDO_BOUNDARIES, x, side="right")
    return np.choose(regime, [asymmetric, symmetric, band, multimodal])


def _brando_wave(x: np.ndarray) -> np.ndarray:
    """Mean of the symmetric regime, mu(x) = a - b cos(w (x - x0))."""
    offset, amplitude, frequency, centre = _BRANDO_WAVE
    return offset - amplitude * np.cos(frequency * (x - centre))


def _brando_band(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of the uniform band, linear in x across its regime."""
    start, end = _BRANDO_BOUNDARIES[1], _BRANDO_BOUNDARIES[2]
    fraction = (x - start) / (end - start)
    lower = _BRANDO_BAND_START[0] + (_BRANDO_BAND_END[0] - _BRANDO_BAND_START[0]) * fraction
    upper = _BRANDO_BAND_START[1] + (_BRANDO_BAND_END[1] - _BRANDO_BAND_START[1]) * fraction
    return lower, upper


# make_blob_images: blob brightness, per-channel colour, background level.
_BLOB_AMPLITUDE = (0.6, 1.0)
_BLOB_COLOUR = (0.4, 1.0)
_BLOB_BACKGROUND = (0.02, 0.1)
_IMAGES_PER_CHUNK = 512


def make_blob_images(
    n_samples: int = 1000,
    *,
    image_size: int = 32,
    n_channels: int | None = None,
    max_blobs: int = 20,
    blob_sigma: tuple[float, float] = (1.0, 1.5),
    noise: float = 0.04,
    jitter: float = 0.5,
    random_state=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Generate fluorescence-like images of Gaussian blobs; the target is their count.

    A synthetic stand-in for the paper's cell-count task. Each image holds
    ``count ~ U{0, ..., max_blobs}`` blobs ("cells"): Gaussian spots of standard
    deviation ``U(blob_sigma)`` pixels and peak brightness ``U(0.6, 1)``,
    centred at least one standard deviation inside the image, on a dark
    background of level ``U(0.02, 0.1)`` with Gaussian pixel noise of standard
    deviation ``noise``. Intensities add up where blobs overlap and saturate at
    1; they are stored as ``uint8`` (0-255). With several channels every blob
    has a random colour (a brightness factor ``U(0.4, 1)`` per channel).

    The target is ``y = count + U(-jitter, jitter)``: with the default
    ``jitter=0.5`` (dequantisation) ``y`` has a proper continuous density whose
    log-likelihood is that of the count, and no conditional density of ``y``
    given the image exceeds 1, so a model's mean log-likelihood is at most 0.
    Overlapping blobs make the count genuinely uncertain, more so for crowded
    images.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of images.
    image_size : int, default=32
        Height and width of the images, in pixels (at least 4).
    n_channels : int or None, default=None
        ``None`` gives single-channel images ``(n, H, W)``; an int gives
        ``(n, H, W, n_channels)``, channels last.
    max_blobs : int, default=20
        Largest number of blobs in an image.
    blob_sigma : tuple of float, default=(1.0, 1.5)
        Range of the blobs' standard deviations, in pixels.
    noise : float, default=0.04
        Standard deviation of the pixel noise, on the 0-1 intensity scale.
    jitter : float, default=0.5
        Half-width of the uniform noise added to the count; 0 gives integer
        targets.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for reproducible output.

    Returns
    -------
    X : ndarray of shape (n_samples, image_size, image_size[, n_channels]), uint8
        Images.
    y : ndarray of shape (n_samples,)
        Blob counts plus jitter, float64.

    Examples
    --------
    >>> from skebm.datasets import make_blob_images
    >>> X, y = make_blob_images(n_samples=4, image_size=16, max_blobs=5, random_state=0)
    >>> X.shape, X.dtype, y.shape
    ((4, 16, 16), dtype('uint8'), (4,))
    >>> make_blob_images(n_samples=2, n_channels=3, random_state=0)[0].shape
    (2, 32, 32, 3)
    """
    n_samples = _check_n_samples(n_samples)
    image_size = _check_integer(image_size, "image_size", 4)
    max_blobs = _check_integer(max_blobs, "max_blobs", 0)
    channels = 1 if n_channels is None else _check_integer(n_channels, "n_channels", 1)
    low, high = _check_range(blob_sigma, "blob_sigma")
    for value, name in ((noise, "noise"), (jitter, "jitter")):
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a non-negative number, got {value!r}.")
    rng = check_random_state(random_state)
    # Draw every variate for every possible blob, so the stream does not depend on counts.
    counts = rng.randint(max_blobs + 1, size=n_samples)
    sigma = rng.uniform(low, high, size=(n_samples, max_blobs))
    centre_units = rng.uniform(size=(n_samples, max_blobs, 2))
    amplitude = rng.uniform(*_BLOB_AMPLITUDE, size=(n_samples, max_blobs))
    colour = rng.uniform(*_BLOB_COLOUR, size=(n_samples, max_blobs, channels))
    if n_channels is None:
        colour[:] = 1.0
    background = rng.uniform(*_BLOB_BACKGROUND, size=n_samples)
    offsets = rng.uniform(-jitter, jitter, size=n_samples)

    span = np.maximum(image_size - 1 - 2 * sigma, 0.0)[..., None]
    centres = np.minimum(sigma, (image_size - 1) / 2)[..., None] + centre_units * span
    present = np.arange(max_blobs) < counts[:, None]
    weights = (amplitude * present)[..., None] * colour  # (n, blobs, channels)
    pixels = np.arange(image_size, dtype=np.float64)
    images = np.empty((n_samples, image_size, image_size, channels), dtype=np.uint8)
    for start in range(0, n_samples, _IMAGES_PER_CHUNK):
        part = slice(start, start + _IMAGES_PER_CHUNK)
        width = 2.0 * sigma[part, :, None] ** 2
        rows = np.exp(-((pixels - centres[part, :, 0:1]) ** 2) / width)  # (b, blobs, H)
        cols = np.exp(-((pixels - centres[part, :, 1:2]) ** 2) / width)  # (b, blobs, W)
        light = np.einsum("bkh,bkw,bkc->bhwc", rows, cols, weights[part])
        light += background[part, None, None, None]
        light += noise * rng.standard_normal(size=light.shape)
        images[part] = np.round(np.clip(light, 0.0, 1.0) * 255.0).astype(np.uint8)
    X = images[..., 0] if n_channels is None else images
    return X, counts + offsets


def _check_integer(value, name: str, minimum: int) -> int:
    """Return ``value`` as an int, or raise if it is not an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def _check_range(bounds, name: str) -> tuple[float, float]:
    """Return ``(low, high)`` with ``0 < low <= high``, or raise."""
    try:
        low, high = (float(bound) for bound in bounds)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be a pair (low, high), got {bounds!r}.") from error
    if not (0 < low <= high < np.inf):
        raise ValueError(f"{name} must satisfy 0 < low <= high, got {bounds!r}.")
    return low, high


def _check_n_samples(n_samples) -> int:
    """Return ``n_samples`` as an int, or raise if it is not a positive integer."""
    if isinstance(n_samples, bool) or not isinstance(n_samples, Integral) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
    return int(n_samples)
