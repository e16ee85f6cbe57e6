"""The photo's noise or grain: measured, and added back where a step smoothed it away (a blurred or replaced
background), so that smooth and sharp parts of one picture carry the same grain."""
from __future__ import annotations

import cv2
import numpy as np
from scipy.special import ndtri

from . import luminance

_GRAIN_TILE = 1024                 # side of the repeated noise tile, pixels


#: The standard normal's 256 quantiles at the centres of equal-probability bins, scaled to unit variance:
#: a byte drawn uniformly maps to a normal deviate through this table.
_QUANTILES = ndtri((np.arange(256) + 0.5) / 256)
_QUANTILES = (_QUANTILES / _QUANTILES.std()).astype(np.float32)


def normal_noise(shape: tuple[int, ...], *, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance Gaussian white noise (float32) of `shape` from the generator `rng`.

    Each value is a random byte through the normal's 256 quantiles: several times faster than drawing
    normal deviates; 256 levels (0.01 standard deviations apart at the centre, the tails ending at 2.9)
    are far finer than any grain shows.
    """
    n = int(np.prod(shape))
    # the generator's raw 64-bit words, eight bytes each (four times faster than asking it for bytes)
    bytes_ = rng.bit_generator.random_raw(-(-n // 8)).view(np.uint8)[:n]
    bytes_ = bytes_.reshape(-1, shape[-1] if len(shape) > 1 else n)
    return cv2.LUT(bytes_, _QUANTILES).reshape(shape)


def noise_level(image: np.ndarray, mask: np.ndarray, *, max_pixels: int = 1 << 18) -> float:
    """Noise standard deviation of the square-root-encoded luminance over `mask` (Immerkær 1996), at full
    resolution on at most `max_pixels` sampled in horizontal strips; textured pixels (the strongest 50% of
    responses) are left out."""
    h, w = mask.shape
    step = max(1, int(np.ceil(h * w / max_pixels)))
    rows = np.arange(1, h - 1, step)
    if rows.size == 0 or w < 3:
        return 0.0
    y = np.sqrt(np.clip(luminance(image[np.clip(np.stack([rows - 1, rows, rows + 1], 1), 0, h - 1).ravel()]),
                        0, 1)).reshape(rows.size, 3, w)
    # the 3×3 Laplacian-difference kernel [[1 -2 1] [-2 4 -2] [1 -2 1]] on each sampled row
    k = np.array([1, -2, 1], np.float32)
    r = sum(k[i] * (y[:, i, :-2] - 2 * y[:, i, 1:-1] + y[:, i, 2:]) for i in range(3))
    m = mask[rows][:, 1:-1] > 0.5
    v = np.abs(r[m])
    if v.size < 64:
        return 0.0
    v = v[v <= np.percentile(v, 50)]
    # half-normal: E|x| = sigma sqrt(2/pi); for the lower half of |x| the mean is 0.3244 sigma_r; sigma_r = 6 sigma
    return float(v.mean() / 0.3244 / 6.0)


def add_grain(image: np.ndarray, sigma: float, weight: np.ndarray, *, seed: int) -> np.ndarray:
    """Add luminance grain of standard deviation `sigma` (square-root-encoded units) where `weight` is 1,
    in place when `image` is float32 (the result is returned)."""
    image = np.asarray(image, np.float32)
    if sigma <= 1e-4:
        return image
    rng = np.random.default_rng(seed)
    h, w = weight.shape
    # a 1024-px tile of white noise repeated (drawing 12 M normals would cost more than the rest of the step)
    tile = normal_noise((min(h, _GRAIN_TILE), min(w, _GRAIN_TILE)), rng=rng)
    n = np.tile(tile, (-(-h // tile.shape[0]), -(-w // tile.shape[1])))[:h, :w]
    # d(y) = 2 sqrt(y) d(sqrt y): a relative gain 1 + 2 sigma n / sqrt(y), applied to all three channels
    root = np.asarray(luminance(image), np.float32)
    np.sqrt(np.maximum(root, 1e-4, out=root), out=root)
    n *= np.float32(2.0 * sigma)
    n *= weight
    n /= root
    n += 1.0
    image *= np.clip(n, 0.0, 3.0, out=n)[..., None]
    return image
