"""Edge-preserving denoising filters shared by the operations."""
from __future__ import annotations

import cv2
import numpy as np


def local_wiener(channel: np.ndarray, noise_var: np.ndarray | float, *, radius: int = 2,
                 return_gain: bool = False):
    """Local linear minimum-mean-square-error (Wiener / Lee) filter of one channel, guided-filter style.

    In each (2r+1)² window the signal is modelled as its mean plus a part of variance
    ``max(var - noise, 0)``; each pixel keeps that fraction of its deviation from the mean. The gains
    and offsets of all windows covering a pixel are averaged, as in the guided filter, so edges stay
    sharp and flat areas are smoothed in proportion to their noise. O(1) per pixel (box filters).

    Parameters
    ----------
    channel : ndarray, float32 (H, W)
        Any units, with noise of variance `noise_var` in the same units squared.
    noise_var : float or ndarray (H, W)
        Noise variance, per pixel or constant.
    radius : int
        Window radius in pixels (noise is a per-pixel quantity, so this is in pixels by nature).
    return_gain : bool
        Also return the averaged gain (H, W) in [0, 1]: about 1 where there is signal (edges, texture),
        about 0 where there is only noise; useful to gate sharpening.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> flat = (0.5 + 0.1 * rng.standard_normal((64, 64))).astype(np.float32)
    >>> float(local_wiener(flat, 0.01).std()) < 0.03
    True
    """
    x = np.asarray(channel, np.float32)
    k = (2 * radius + 1, 2 * radius + 1)
    box = lambda a: cv2.boxFilter(a, -1, k, borderType=cv2.BORDER_REFLECT)  # noqa: E731
    mean = box(x)
    var = box(x * x) - mean * mean
    gain = np.maximum(var - noise_var, 0) / np.maximum(var, 1e-12)
    offset = mean - gain * mean
    gain = box(gain.astype(np.float32))
    out = gain * x + box(offset.astype(np.float32))
    return (out, gain) if return_gain else out
