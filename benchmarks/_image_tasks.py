"""Image regression tasks for ``benchmarks/images.py``, in the spirit of the paper's.

Each ``make_<task>(n_train, n_test, image_size, random_state)`` returns an
:class:`ImageTask`: ``uint8`` training and test images, their targets, the
support of the training targets (for the uniform reference density) and, for
the test rows whose conditional density has a known second mode, that mode.
Test images come from a shifted source (other photographs or another
rendering), so a model that is overconfident away from its training pixels
shows it.

- ``cells``: blob counting (``skebm.datasets.make_blob_images``); test blobs
  are wider and the pixel noise stronger.
- ``angle``: direction in [0, 2 pi) of a tapered bar textured with a patch of a
  photograph from ``skimage.data``; half of the bars are half-turn symmetric
  (no taper, texture averaged with its half turn), so p(angle | image) has two
  equal modes pi apart. Test textures come from other photographs.
- ``age``: an "age" in [0, 80] seen through a rendered face whose size, wrinkles
  and hair tone follow an apparent age ``age + (1 + 0.12 age) N(0, 1)``
  (heteroscedastic); test faces on a brighter, noisier background.
- ``pose``: yaw in [-180, 180), pitch and roll in [-40, 40] (degrees) of a
  depth-shaded wire-frame box with a nose; 30 % are drawn without the nose,
  which makes the pose (yaw, pitch, roll) look like (yaw + 180, pitch, roll).
  Test wires are blurred and the pixel noise stronger.
- ``box``: the box (centre x, centre y, width, height, in image fractions) of a
  rectangle among 0-2 distractors, given the image and a noisy box as a second
  channel (a filled mask); test objects are ellipses inscribed in their boxes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import gaussian_filter, map_coordinates

from skebm.datasets import make_blob_images

__all__ = ["TASKS", "ImageTask", "make_age", "make_angle", "make_box", "make_cells",
           "make_pose"]

TRAIN_PHOTOGRAPHS = ("camera", "astronaut", "coffee", "chelsea", "rocket")
TEST_PHOTOGRAPHS = ("brick", "grass", "gravel", "coins", "moon", "page")
SYMMETRIC_SHARE = 0.5
NOSELESS_SHARE = 0.3
POSE_RANGES = np.array([[-180.0, 180.0], [-40.0, 40.0], [-40.0, 40.0]])
BOX_SIZES = (0.2, 0.45)


@dataclass
class ImageTask:
    """Training and shifted test images of one task, and what is known of the truth."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    low: np.ndarray
    """Lower ends of the training targets' support, one per target column."""
    high: np.ndarray
    second_mode_test: np.ndarray | None = None
    """Where a test row's density has a second mode (NaN where it has none)."""
    second_mode_train: np.ndarray | None = None
    model_params: dict = field(default_factory=dict)

    def uniform_nll(self) -> float:
        """Test NLL of the uniform density over the training targets' support."""
        targets = self.y_test.reshape(len(self.y_test), -1)
        if np.any((targets < self.low) | (targets > self.high)):
            return float("inf")
        return float(np.sum(np.log(self.high - self.low)))

    def ambiguous_test(self) -> np.ndarray:
        """Mask of the test rows whose density has a known second mode."""
        if self.second_mode_test is None:
            return np.zeros(len(self.y_test), dtype=bool)
        return ~np.isnan(self.second_mode_test.reshape(len(self.y_test), -1)[:, 0])


def _to_uint8(light: np.ndarray) -> np.ndarray:
    return np.round(np.clip(light, 0.0, 1.0) * 255.0).astype(np.uint8)


def _half_turn(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """``values`` turned by half the period ``high - low``, wrapped into [low, high)."""
    period = high - low
    return (values - low + period / 2) % period + low


# ------------------------------------------------------------------------------ cells
def make_cells(n_train: int, n_test: int, image_size: int, random_state: int) -> ImageTask:
    """Blob counts; test blobs wider (sigma 1.3-2.0 pixels) and noisier (0.06)."""
    X_train, y_train = make_blob_images(n_train, image_size=image_size,
                                        random_state=random_state)
    X_test, y_test = make_blob_images(n_test, image_size=image_size, blob_sigma=(1.3, 2.0),
                                      noise=0.06, random_state=random_state + 7919)
    return ImageTask(X_train, y_train, X_test, y_test, np.array([-0.5]), np.array([20.5]))


# ------------------------------------------------------------------------------ angle
def _photograph(name: str) -> np.ndarray:
    """A grey photograph from ``skimage.data``, standardised to mean 0, std 1."""
    from skimage import data
    from skimage.color import rgb2gray

    image = np.asarray(getattr(data, name)(), dtype=np.float64)
    if image.ndim == 3:
        image = rgb2gray(image[..., :3] / 255.0)
    elif image.max() > 1.0:
        image = image / 255.0
    return (image - image.mean()) / image.std()


def _render_bars(photographs: tuple[str, ...], angles: np.ndarray, tapers: np.ndarray,
                 symmetric: np.ndarray, image_size: int, rng) -> np.ndarray:
    """Bars pointing at ``angles`` (the wide end), textured by photograph patches."""
    centre = (image_size - 1) / 2
    rows, cols = np.mgrid[0:image_size, 0:image_size] - centre
    half_length, head_width = 0.44 * image_size, 0.34 * image_size
    sources = [_photograph(name) for name in photographs]
    images = np.empty((len(angles), image_size, image_size))
    for i, angle in enumerate(angles):
        along = cols * np.cos(angle) - rows * np.sin(angle)  # image y axis points down
        across = cols * np.sin(angle) + rows * np.cos(angle)
        width = head_width * (tapers[i] + (1 - tapers[i]) * (along / half_length + 1) / 2)
        inside = np.clip(0.5 + np.minimum(half_length - np.abs(along),
                                          width / 2 - np.abs(across)), 0.0, 1.0)
        source = sources[rng.integers(len(sources))]
        scale = rng.uniform(0.7, 1.4)
        margin = scale * image_size
        top = rng.uniform(margin, source.shape[0] - margin)
        left = rng.uniform(margin, source.shape[1] - margin)
        texture = map_coordinates(source, [top + scale * across, left + scale * along], order=1)
        if symmetric[i]:
            texture = 0.5 * (texture + map_coordinates(
                source, [top - scale * across, left - scale * along], order=1))
        images[i] = 0.1 + inside * (0.55 + 0.18 * texture)
    return images + 0.02 * rng.standard_normal(images.shape)


def _bar_images(n: int, photographs: tuple[str, ...], image_size: int, rng):
    angles = rng.uniform(0.0, 2 * np.pi, size=n)
    symmetric = rng.uniform(size=n) < SYMMETRIC_SHARE
    tapers = np.where(symmetric, 1.0, rng.uniform(0.25, 0.6, size=n))
    images = _render_bars(photographs, angles, tapers, symmetric, image_size, rng)
    second = np.where(symmetric, _half_turn(angles, 0.0, 2 * np.pi), np.nan)
    return _to_uint8(images), angles, second


def make_angle(n_train: int, n_test: int, image_size: int, random_state: int) -> ImageTask:
    """Bar directions with a half-turn ambiguity; test textures from other photographs."""
    rng = np.random.default_rng(random_state)
    X_train, y_train, second_train = _bar_images(n_train, TRAIN_PHOTOGRAPHS, image_size, rng)
    X_test, y_test, second = _bar_images(n_test, TEST_PHOTOGRAPHS, image_size, rng)
    return ImageTask(X_train, y_train, X_test, y_test, np.array([0.0]), np.array([2 * np.pi]),
                     second_mode_test=second, second_mode_train=second_train)


# -------------------------------------------------------------------------------- age
def _face_images(ages: np.ndarray, image_size: int, background: float, noise: float, rng):
    apparent = ages + (1.0 + 0.12 * ages) * rng.standard_normal(len(ages))
    stage = np.clip(apparent / 80.0, -0.1, 1.2)
    centre = (image_size - 1) / 2 + rng.uniform(-0.08, 0.08, size=(len(ages), 2)) * image_size
    pixels = np.arange(image_size, dtype=np.float64)
    rows = (pixels[None, :, None] - centre[:, 0, None, None]) / image_size
    cols = (pixels[None, None, :] - centre[:, 1, None, None]) / image_size
    radius = (0.2 + 0.1 * stage)[:, None, None]
    ellipse = (cols / radius) ** 2 + (rows / (1.25 * radius)) ** 2
    face = np.clip((1.0 - ellipse) * 6.0, 0.0, 1.0)
    wrinkles = np.clip(stage, 0.0, None)[:, None, None] * 0.25 * np.sin(2 * np.pi * 5 * rows)
    hair = np.clip((ellipse - 0.55) * 8.0, 0.0, 1.0) * (rows < -0.2 * radius)
    tone = (0.35 + 0.5 * np.clip(stage, 0.0, 1.0))[:, None, None]  # greys with age
    light = background + face * (0.55 + wrinkles - hair * (0.55 - tone))
    return _to_uint8(light + noise * rng.standard_normal(light.shape))


def make_age(n_train: int, n_test: int, image_size: int, random_state: int) -> ImageTask:
    """A heteroscedastic "age" from rendered faces; test faces on another background."""
    rng = np.random.default_rng(random_state)
    y_train, y_test = rng.uniform(0.0, 80.0, size=n_train), rng.uniform(0.0, 80.0, size=n_test)
    X_train = _face_images(y_train, image_size, background=0.1, noise=0.03, rng=rng)
    X_test = _face_images(y_test, image_size, background=0.2, noise=0.06, rng=rng)
    return ImageTask(X_train, y_train, X_test, y_test, np.array([0.0]), np.array([80.0]))


# ------------------------------------------------------------------------------- pose
def _wire_frame(nose: bool) -> np.ndarray:
    """Segments ``(n, 2, 3)`` of a 1 x 0.6 x 0.4 box and, optionally, a bent nose."""
    half = np.array([0.5, 0.3, 0.2])
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]) * half
    edges = [(a, b) for a in range(8) for b in range(a + 1, 8)
             if np.count_nonzero(corners[a] != corners[b]) == 1]
    segments = [corners[[a, b]] for a, b in edges]
    if nose:
        segments += [np.array([[0.0, 0.0, 0.2], [0.0, 0.0, 0.55]]),
                     np.array([[0.0, 0.0, 0.55], [0.18, 0.12, 0.55]])]
    return np.stack(segments)


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """``Rz(roll) Rx(pitch) Ry(yaw)``, angles in degrees; camera x right, y up, z out."""
    a, b, c = np.radians([yaw, pitch, roll])
    ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rz @ rx @ ry


def _render_wire(poses: np.ndarray, noses: np.ndarray, image_size: int, blur: float,
                 noise: float, rng) -> np.ndarray:
    steps = np.linspace(0.0, 1.0, 3 * image_size)[:, None]
    frames = {flag: _wire_frame(flag) for flag in (False, True)}
    points_of = {flag: (seg[:, None, 0] * (1 - steps) + seg[:, None, 1] * steps).reshape(-1, 3)
                 for flag, seg in frames.items()}
    images = np.zeros((len(poses), image_size, image_size))
    centre, scale = (image_size - 1) / 2, 0.55 * image_size
    for i, (pose, nose) in enumerate(zip(poses, noses)):
        points = points_of[bool(nose)] @ _rotation(*pose).T
        col, row = centre + scale * points[:, 0], centre - scale * points[:, 1]
        shade = 0.45 + 0.55 * (points[:, 2] + 0.6) / 1.2  # nearer is brighter
        r0, c0 = np.floor(row).astype(int), np.floor(col).astype(int)
        for dr in (0, 1):
            for dc in (0, 1):
                weight = (1 - np.abs(row - r0 - dr)) * (1 - np.abs(col - c0 - dc)) * shade
                rr, cc = r0 + dr, c0 + dc
                ok = (rr >= 0) & (rr < image_size) & (cc >= 0) & (cc < image_size)
                np.add.at(images[i], (rr[ok], cc[ok]), 0.2 * weight[ok])
        if blur:
            images[i] = gaussian_filter(images[i], blur) * (1 + blur)
    return _to_uint8(images + 0.05 + noise * rng.standard_normal(images.shape))


def _poses(n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    poses = rng.uniform(POSE_RANGES[:, 0], POSE_RANGES[:, 1], size=(n, 3))
    return poses, rng.uniform(size=n) >= NOSELESS_SHARE


def make_pose(n_train: int, n_test: int, image_size: int, random_state: int) -> ImageTask:
    """Yaw, pitch, roll of a wire-frame box; noseless boxes look alike at yaw + 180."""
    rng = np.random.default_rng(random_state)
    poses_train, noses_train = _poses(n_train, rng)
    poses_test, noses_test = _poses(n_test, rng)
    X_train = _render_wire(poses_train, noses_train, image_size, 0.0, 0.03, rng)
    X_test = _render_wire(poses_test, noses_test, image_size, 0.5, 0.06, rng)
    second = poses_test.copy()
    second[:, 0] = _half_turn(poses_test[:, 0], -180.0, 180.0)
    second[noses_test] = np.nan
    return ImageTask(X_train, poses_train, X_test, poses_test, POSE_RANGES[:, 0],
                     POSE_RANGES[:, 1], second_mode_test=second)


# -------------------------------------------------------------------------------- box
def _boxes(n: int, rng) -> np.ndarray:
    sizes = rng.uniform(*BOX_SIZES, size=(n, 2))
    centres = rng.uniform(sizes / 2, 1 - sizes / 2)
    return np.concatenate([centres, sizes], axis=1)  # (n, 4): x, y, w, h


def _paint(images: np.ndarray, boxes: np.ndarray, level: np.ndarray, ellipse: bool) -> None:
    size = images.shape[1]
    pixels = (np.arange(size) + 0.5) / size
    dx = (pixels[None, None, :] - boxes[:, 0, None, None]) / (boxes[:, 2, None, None] / 2)
    dy = (pixels[None, :, None] - boxes[:, 1, None, None]) / (boxes[:, 3, None, None] / 2)
    inside = (dx**2 + dy**2 <= 1) if ellipse else (np.abs(dx) <= 1) & (np.abs(dy) <= 1)
    np.copyto(images, level[:, None, None], where=inside)


def _box_images(n: int, image_size: int, ellipse: bool, rng):
    targets = _boxes(n, rng)
    images = 0.1 + 0.04 * rng.standard_normal((n, image_size, image_size))
    for slot in range(2):  # distractors first, so the target object is on top
        present = rng.uniform(size=n) < 0.6 - 0.2 * slot
        painted = images[present]
        _paint(painted, _boxes(int(present.sum()), rng),
               rng.uniform(0.4, 0.9, size=int(present.sum())), ellipse)
        images[present] = painted
    _paint(images, targets, rng.uniform(0.4, 0.9, size=n), ellipse)
    images += 0.03 * rng.standard_normal(images.shape)
    noisy = targets.copy()
    noisy[:, :2] += 0.15 * targets[:, 2:] * rng.standard_normal((n, 2))
    noisy[:, 2:] *= np.exp(0.15 * rng.standard_normal((n, 2)))
    mask = np.zeros_like(images)
    _paint(mask, noisy, np.ones(n), ellipse=False)
    return _to_uint8(np.stack([images, mask], axis=-1)), targets


def make_box(n_train: int, n_test: int, image_size: int, random_state: int) -> ImageTask:
    """Box refinement: image and noisy-box mask in, true box out; test objects are ellipses."""
    rng = np.random.default_rng(random_state)
    X_train, y_train = _box_images(n_train, image_size, False, rng)
    X_test, y_test = _box_images(n_test, image_size, True, rng)
    low = np.array([BOX_SIZES[0] / 2] * 2 + [BOX_SIZES[0]] * 2)
    high = np.array([1 - BOX_SIZES[0] / 2] * 2 + [BOX_SIZES[1]] * 2)
    return ImageTask(X_train, y_train, X_test, y_test, low, high,
                     model_params={"channel_axis": -1})


TASKS = {"cells": make_cells, "angle": make_angle, "age": make_age, "pose": make_pose,
         "box": make_box}
