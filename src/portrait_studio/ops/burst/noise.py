"""The Poisson-Gaussian noise model of a burst, estimated from the burst itself.

A linear-light sample x carries noise of variance ``a * x + b`` (shot noise grows with the light, read
noise does not). Two aligned frames of the same scene differ by noise alone where nothing moved, so the
difference of a frame and the reference, binned by brightness, gives the variance at each brightness;
a robust straight-line fit gives (a, b).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...core.stats import robust_sigma

_SAMPLES = 40_000                  # samples used for a fit


@dataclass(frozen=True)
class NoiseModel:
    """Per-sample noise variance ``gain * x + floor`` of one frame in linear light.

    Attributes
    ----------
    gain : float
        Shot-noise coefficient a (variance per unit of linear signal), ≥ 0.
    floor : float
        Signal-independent (read-noise and quantisation) variance b, > 0.
    """

    gain: float
    floor: float

    def variance(self, x: np.ndarray) -> np.ndarray:
        """Noise variance at linear value(s) `x` (float32, same shape)."""
        return (np.float32(self.gain) * np.maximum(x, 0) + np.float32(self.floor)).astype(np.float32)

    def stabilise(self, x: np.ndarray) -> np.ndarray:
        """Variance-stabilising transform ``2 (sqrt(a x + b) - sqrt(b)) / a``: noise of unit standard
        deviation everywhere (float32); negative values continue the line through zero with slope 1/sqrt(b)."""
        a, b = np.float32(self.gain), np.float32(self.floor)
        sb = np.sqrt(b)
        if a < 1e-6 * b:
            return (x / sb).astype(np.float32)
        f = np.maximum(x, 0, dtype=np.float32)
        f *= a
        f += b
        np.sqrt(f, out=f)
        f -= sb
        f *= 2 / a
        f += np.minimum(x, 0) / sb
        return f

    def unstabilise(self, f: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`stabilise` (float32 linear light)."""
        a, b = np.float32(self.gain), np.float32(self.floor)
        sb = np.sqrt(b)
        if a < 1e-6 * b:
            return (f * sb).astype(np.float32)
        x = np.maximum(f, 0, dtype=np.float32)
        x *= a / 2
        x += sb
        np.square(x, out=x)
        x -= b
        x /= a
        x += np.minimum(f, 0) * sb
        return x


def fit_noise(level: np.ndarray, diff: np.ndarray, *, pair: bool = True, bins: int = 32) -> NoiseModel:
    """Fit ``variance = a * level + b`` to differences of aligned frames, robustly.

    Parameters
    ----------
    level : ndarray
        The (smoothed) linear signal at each sample.
    diff : ndarray, same shape
        The difference of two frames at each sample.
    pair : bool
        The differences are of two equally noisy frames (their variance is twice one frame's).
    bins : int
        Brightness bins with equal sample counts.

    Returns
    -------
    NoiseModel
        Of one frame. Moving or misaligned samples are outliers that the median absolute deviation in each
        bin ignores, as long as they are a minority.
    """
    level = np.asarray(level, np.float32).ravel()
    diff = np.asarray(diff, np.float32).ravel()
    if level.size > _SAMPLES:
        step = level.size // _SAMPLES
        level, diff = level[::step], diff[::step]
    order = np.argsort(level, kind="stable")
    xs, vs = [], []
    for idx in np.array_split(order, bins):
        if idx.size < 32:
            continue
        d = diff[idx]
        xs.append(float(np.median(level[idx])))
        vs.append(float(robust_sigma(d)) ** 2)
    x, v = np.array(xs), np.array(vs) / (2.0 if pair else 1.0)
    if x.size >= 2 and np.ptp(x) > 1e-6:
        a, b = np.polyfit(x, v, 1)
        if a < 0:                                            # no visible shot noise: a flat floor
            a, b = 0.0, float(np.median(v))
    else:
        a, b = 0.0, float(np.median(v)) if v.size else 1e-6
    b = max(b, 1e-4 * max(a, 0) + 1e-8, 1e-8)
    return NoiseModel(float(max(a, 0.0)), float(b))
