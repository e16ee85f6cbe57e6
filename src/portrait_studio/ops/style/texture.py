"""Grounds: paper and canvas textures, seeded, sized in units of the face (see :mod:`.field`)."""
from __future__ import annotations

import cv2
import numpy as np

from ...core.masked import gaussian

from .field import Guide, noise

#: The colour of drawing paper, sRGB-encoded.
PAPER_WHITE = np.float32([0.97, 0.955, 0.92])
#: Spread of the paper's light and shade at texture 1 (a fraction of the light).
PAPER_TOOTH = 0.035
#: Canvas weave period, units (threads per face height about 1 / this), and the spread of its light and shade at
#: texture 1 (a fraction of the light).
CANVAS_PERIOD, CANVAS_RELIEF = 0.012, 0.045


def paper_height(g: Guide, *, seed: int) -> np.ndarray:
    """The relief of cold-pressed paper: a fine tooth and short fibres, zero mean and unit spread (h, w)."""
    fine = noise(g.shape, max(1.5, 0.005 * g.unit), seed=seed)
    coarse = noise(g.shape, max(2.0, 0.015 * g.unit), seed=seed + 1)
    h = 0.6 * fine + 0.6 * coarse
    return (h / max(float(h.std()), 1e-6)).astype(np.float32)


def paper(image: np.ndarray, g: Guide, *, amount: float) -> np.ndarray:
    """`image` on paper: the tooth shows as a faint light and shade (sRGB-encoded), little on the face (where it
    would read as blemishes)."""
    h = paper_height(g, seed=g.seed + 7)
    quiet = 1 - 0.85 * np.clip(g.detail / 0.75, 0, 1) ** 2
    return image * (1 + PAPER_TOOTH * amount * quiet * h)[..., None]


def canvas(image: np.ndarray, g: Guide, *, amount: float) -> np.ndarray:
    """`image` on a woven canvas: crossing threads of period :data:`CANVAS_PERIOD` units, a little irregular,
    as relief lit from the upper left (sRGB-encoded)."""
    hh, ww = g.shape
    p = max(2.5, CANVAS_PERIOD * g.unit)
    ys, xs = np.mgrid[0:hh, 0:ww].astype(np.float32)
    wobble = noise(g.shape, 4 * p, seed=g.seed + 11) * 0.15 * p
    u, v = 2 * np.pi * (xs + wobble) / p, 2 * np.pi * (ys - wobble) / p
    weave = np.sin(u) * (0.5 + 0.5 * np.sign(np.sin(v / 2))) + np.sin(v) * (0.5 - 0.5 * np.sign(np.sin(u / 2)))
    weave = gaussian(weave.astype(np.float32), 0.2 * p)
    weave = weave + 0.3 * noise(g.shape, p, seed=g.seed + 12)
    gx = cv2.Sobel(weave, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(weave, cv2.CV_32F, 0, 1, ksize=3)
    slope = (gx - gy) / max(float((gx - gy).std()), 1e-6)
    quiet = 1 - 0.6 * np.clip(g.detail / 0.75, 0, 1) ** 2           # thinner where the face is painted
    shade = 1 + amount * quiet * (CANVAS_RELIEF * slope + 0.015 * weave / max(float(weave.std()), 1e-6))
    return image * shade[..., None].astype(np.float32)


__all__ = ["PAPER_WHITE", "canvas", "paper", "paper_height"]
