"""Blemishes: found at several scales as small spots redder or darker than the skin around them (and stray
hairs as thin dark lines), removed by rebuilding the skin there: its tone filled in from the skin around,
its texture band taken from nearby skin, so the place keeps pores and grain instead of a smooth patch.

Everything works on optical-density coordinates (see :mod:`.tone`): shading, redness, pigment.
"""
from __future__ import annotations

import cv2
import numpy as np

from ...core.masked import gaussian, masked_gaussian

#: Detection scales: Gaussian sigma of a spot as fractions of the face height (spots of about 0.5% to 3%
#: of the face height across).
SCALES = (0.0022, 0.0035, 0.0055, 0.0085)
RED_THRESHOLD = 0.05         # haemoglobin excess over the surrounding skin (density units) that counts
DARK_THRESHOLD = 0.1         # shading excess (darker, density units) that counts
CROWD = 0.08                 # spots covering more than this share of their neighbourhood are texture
                             # (hair, stubble, brows), not blemishes
HAIR_THRESHOLD = 0.05        # line strength of a dark thread (density units)


def _grow(mask: np.ndarray, radius: float) -> np.ndarray:
    r = max(1, int(round(radius)))
    return cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))


def find_blemishes(c: np.ndarray, skin: np.ndarray, unit: float, *, max_size: float = 0.016,
                   keep_moles: bool = True, mole_contrast: float = 0.12, mole_size: float = 0.004,
                   hairs: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Where the blemishes are, and the moles kept.

    Parameters
    ----------
    c : ndarray, shape (H, W, 3)
        Shading, redness and pigment coordinates of the density (:func:`.tone.components`).
    skin : ndarray, shape (H, W)
        The skin map.
    unit : float
        Face height, pixels of this grid.
    max_size : float
        Largest spot treated, diameter as a fraction of the face height.
    keep_moles : bool
        Keep brown, well-defined spots (moles, freckles, beauty marks).
    mole_contrast : float
        Melanin excess over the surrounding skin (density units; 0.1 ≈ 10% less light) from which a brown
        spot counts as a mole or freckle.
    mole_size : float
        Smallest diameter, as a fraction of the face height, of a brown spot kept as a mole or freckle.
    hairs : bool
        Also find stray hairs (thin dark lines) on the skin.

    Returns
    -------
    mask : ndarray, shape (H, W)
        Soft mask in [0, 1] of what to rebuild, grown to cover each spot's soft edge.
    moles : ndarray, shape (H, W)
        Soft mask of the moles and freckles found and kept.
    """
    mask = np.zeros(c.shape[:2], np.float32)
    moles = np.zeros_like(mask)
    core_skin = (skin > 0.5).astype(np.float32)
    for s in SCALES:
        if 2.8 * s > max_size * 1.0001:
            break
        sigma = s * unit
        if sigma < 0.5:
            continue
        centre = gaussian(c, sigma)
        around = masked_gaussian(c, core_skin, 4.0 * sigma)
        dog = centre - around
        red = dog[..., 1] / RED_THRESHOLD
        dark = dog[..., 0] / DARK_THRESHOLD
        # a mole or freckle: darker by the contrast asked, and brown (its chroma leans to pigment, where a
        # red spot's lies on the redness axis)
        is_mole = ((dog[..., 0] / np.sqrt(3.0) >= mole_contrast)
                   & (dog[..., 2] >= 0.35 * np.maximum(dog[..., 1], 0.0) + 0.005) & (2.8 * s >= mole_size))
        score = np.maximum(red, dark)
        m = np.clip(score * _roundness(centre[..., 0] + 2.0 * centre[..., 1]) - 1.0, 0.0, 1.0)
        # isolated spots only: where candidates crowd (hair, stubble, the edge of brows) nothing is a blemish
        crowd = gaussian((score > 1.0).astype(np.float32), 8.0 * sigma)
        m = m * np.clip(2.0 - crowd / CROWD, 0.0, 1.0)
        if keep_moles:
            mole = _grow(is_mole.astype(np.float32), 1.5 * sigma)
            moles = np.maximum(moles, mole)
        mask = np.maximum(mask, _grow(m, 3.0 * sigma))
    if hairs:
        mask = np.maximum(mask, _hairs(c[..., 0], unit))
    if keep_moles:
        mask = mask * (1.0 - moles)
    mask = gaussian(mask, max(0.5, SCALES[0] * unit)) * core_skin
    return np.clip(mask * 1.3, 0.0, 1.0), moles * core_skin


def _curvatures(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The principal curvatures (lo ≤ hi) of an image, per pixel (Hessian eigenvalues, per pixel²)."""
    dxx = cv2.Sobel(x, cv2.CV_32F, 2, 0, ksize=3) / 4.0
    dyy = cv2.Sobel(x, cv2.CV_32F, 0, 2, ksize=3) / 4.0
    dxy = cv2.Sobel(x, cv2.CV_32F, 1, 1, ksize=3) / 4.0
    half = np.sqrt(((dxx - dyy) / 2) ** 2 + dxy ** 2)
    return (dxx + dyy) / 2 - half, (dxx + dyy) / 2 + half


def _roundness(x: np.ndarray) -> np.ndarray:
    """1 on round bumps (both principal curvatures clearly negative), 0 on edges and ridges, float32."""
    lo, hi = _curvatures(x)
    return np.clip((-hi / np.maximum(-lo, 1e-6) - 0.1) / 0.2, 0.0, 1.0) * (lo < 0)


def _hairs(shading: np.ndarray, unit: float) -> np.ndarray:
    """Thin dark lines (stray hairs) in the shading density: a strong ridge across, flat along."""
    sigma = max(0.7, 0.0018 * unit)
    lo, hi = _curvatures(gaussian(shading, sigma))      # lo: across a density ridge, most negative
    line = (-lo - 2.0 * np.abs(hi)) * sigma ** 2
    m = np.clip(line / HAIR_THRESHOLD - 1.0, 0.0, 1.0)
    crowd = gaussian((m > 0).astype(np.float32), 10.0 * sigma)
    m = m * np.clip(2.0 - crowd / CROWD, 0.0, 1.0)
    return _grow(m, 1.5 * sigma)


def rebuild(d: np.ndarray, mask: np.ndarray, skin: np.ndarray, unit: float) -> np.ndarray:
    """Density with the masked places rebuilt: tone from the skin around, texture from nearby skin.

    The density splits into a base (blur of 1.2% of the face height) and the texture band above it. Under
    the mask, the base is filled by normalised convolution from unmasked skin, and the texture band is
    copied from skin 3.5% of the face height away (of four directions, the one that lands on unmasked skin),
    so the rebuilt place has the same pores and grain as its neighbours.

    Returns
    -------
    ndarray
        The new density (H, W, 3), equal to `d` where the mask is 0.
    """
    if not mask.any():
        return d
    sigma = 0.012 * unit
    trusted = skin * (1.0 - np.clip(_grow(mask, 0.004 * unit) * 4.0, 0, 1))
    base = masked_gaussian(d, trusted, sigma)
    texture = d - gaussian(d, sigma)
    off = 0.035 * unit
    h, w = mask.shape
    best_cost = np.full((h, w), np.inf, np.float32)
    best = np.zeros_like(texture)
    for dx, dy in ((off, 0), (-off, 0), (0, off), (0, -off)):
        m = np.float32([[1, 0, dx], [0, 1, dy]])      # output(x, y) = input(x - dx, y - dy)
        t = cv2.warpAffine(texture, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        cost = cv2.warpAffine(mask * 2.0 + (1.0 - skin), m, (w, h), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REFLECT)
        better = cost < best_cost
        best_cost = np.where(better, cost, best_cost)
        best = np.where(better[..., None], t, best)
    filled = base + best
    return (d + mask[..., None] * (filled - d)).astype(np.float32)
