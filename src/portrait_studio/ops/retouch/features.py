"""Eyes and teeth: sclera whitening, iris clarity and teeth whitening, gentle by design.

Changes are optical-density changes (see :mod:`.tone`) on the reduced grid, applied as a smooth gain, so
texture and the gaps between teeth keep their contrast: the whites of the eyes lose part of their
haemoglobin (redness) and melanin (yellowing) excess over their cleanest part and gain a little light; the
iris gains local contrast. Teeth (:func:`teeth_change`) are told from gums, tongue and lips by being light
and little red; they lose most of their yellow and a little of their red, and gain a little light, never
pushed past :data:`TEETH_CEILING` (no paper-white, nothing newly clipped).
"""
from __future__ import annotations

import cv2
import numpy as np

from ...core import LUMA_709

from ...core.masked import gaussian
from .tone import components, from_components


def _whiten(c: np.ndarray, where: np.ndarray, amount: float, *, pigment: float, lift: float) -> np.ndarray:
    """Component change that removes `pigment` of the excess over the region's cleanest tenth and adds
    `lift` of density (less density = lighter) where `where` is high."""
    sel = where > 0.5
    if amount <= 0 or sel.sum() < 10:
        return np.zeros_like(c)
    shade = c[..., 0]
    bright = (shade <= np.median(shade[sel])).astype(np.float32) * where
    clean = np.percentile(c[sel], 10, axis=0)
    change = -pigment * np.maximum(c - clean, 0.0)
    change[..., 0] = -lift
    return change * (amount * bright)[..., None]


def eye_and_teeth_change(d: np.ndarray, regions: dict[str, np.ndarray], unit: float, *, eyes: float,
                         teeth: float) -> np.ndarray:
    """Density change (H, W, 3) whitening the sclera, clearing the irises and whitening the teeth.

    Parameters
    ----------
    d : ndarray, shape (H, W, 3)
        Optical density of the reduced copy.
    regions : dict
        ``eyes``, ``irises`` and ``mouth`` masks on the same grid.
    unit : float
        Face height, pixels of this grid.
    eyes, teeth : float
        Amounts in [0, 1].
    """
    c = components(d)
    change = np.zeros_like(c)
    if eyes > 0:
        sclera = regions["eyes"] * (1.0 - np.clip(regions["irises"] * 1.5, 0, 1))
        change += _whiten(c, sclera, eyes, pigment=0.5, lift=0.12)
    delta = from_components(change)
    if teeth > 0:
        delta += teeth_change(d, c, regions["mouth"], teeth)
    if eyes > 0:
        detail = d - gaussian(d, max(0.7, 0.006 * unit))
        delta -= 0.5 * eyes * regions["irises"][..., None] * detail
    return delta.astype(np.float32)


TEETH_YELLOW = 0.8           # share of the teeth's yellow (pigment-axis density) removed at full amount
TEETH_RED = 0.3              # share of their redness over the mouth's least red tenth removed
TEETH_LIFT = 0.08            # density taken off (lighter: about +3 L*) at full amount
TEETH_CEILING = -np.log(0.82)  # no channel of a whitened tooth is lifted above 0.82 linear (sRGB 232) on the grid


def teeth_weight(c: np.ndarray, mouth: np.ndarray) -> np.ndarray:
    """How much each pixel of the mouth's opening is tooth (H, W) in [0, 1]: light (brighter than most of the
    opening) and little red (less than gums, tongue and lips), soft."""
    sel = mouth > 0.5
    if sel.sum() < 10:
        return np.zeros(mouth.shape, np.float32)
    shade, red = c[..., 0], c[..., 1]
    dark, light = np.percentile(shade[sel], [70, 25])
    bright = np.clip((dark - shade) / max(dark - light, 1e-3), 0, 1)
    r_lo, r_hi = np.percentile(red[sel], [15, 75])
    pale = np.clip((r_hi - red) / max(r_hi - r_lo, 1e-3), 0, 1)
    return (mouth * bright * pale).astype(np.float32)


def teeth_change(d: np.ndarray, c: np.ndarray, mouth: np.ndarray, amount: float) -> np.ndarray:
    """Density change (H, W, 3) whitening the teeth in the mouth's opening `mouth`: most of their yellow and
    some of their red removed, a little light added, no channel lifted past :data:`TEETH_CEILING`."""
    w = teeth_weight(c, mouth)
    if w.max() <= 0:
        return np.zeros_like(d)
    sel = w > 0.3
    red_floor = np.percentile(c[..., 1][sel], 10) if sel.sum() >= 10 else 0.0
    change = np.zeros_like(c)
    change[..., 2] = -TEETH_YELLOW * np.maximum(c[..., 2], 0.0)
    change[..., 1] = -TEETH_RED * np.maximum(c[..., 1] - red_floor, 0.0)
    delta = from_components(change * (amount * w)[..., None])
    # then as much light as keeps the luminance, and a little more (the colour change alone would darken
    # them: taking yellow out takes red light as it gives blue)
    y0 = np.exp(-d) @ LUMA_709
    y1 = np.exp(-(d + delta)) @ LUMA_709
    delta -= (amount * w * TEETH_LIFT + np.log(np.maximum(y0, 1e-6) / np.maximum(y1, 1e-6)))[..., None]
    # never lighter than the ceiling, measured on the brightest pixel around (a glint finer than this grid
    # would clip first); where a channel already is above it, it is not darkened either
    brightest = cv2.erode(d, np.ones((3, 3), np.uint8))
    return np.maximum(delta, np.minimum(TEETH_CEILING - brightest, 0.0)).astype(np.float32)
