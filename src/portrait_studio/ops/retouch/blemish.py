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
RED_THRESHOLD = 0.045        # least haemoglobin excess over the surrounding skin (density units) that counts
DARK_THRESHOLD = 0.1         # least shading excess (darker, density units) that counts
NOISE_K = 2.0                # an excess counts from this many robust spreads of the skin's own variation
CROWD = 0.08                 # spots covering more than this share of their neighbourhood are texture
                             # (hair, stubble, brows), not blemishes
FINE = 0.002                 # the texture band copied into a rebuilt spot: finer than this (face height),
                             # pores and grain; the coarser bands of a spot are its colour, filled smooth
HAIR_THRESHOLD = 0.05        # line strength of a dark thread (density units)


def _grow(mask: np.ndarray, radius: float) -> np.ndarray:
    r = max(1, int(round(radius)))
    return cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))


def find_blemishes(c: np.ndarray, skin: np.ndarray, unit: float, *, max_size: float = 0.016,
                   keep_moles: bool = True, mole_contrast: float = 0.12, mole_size: float = 0.004,
                   hairs: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Where the blemishes are, and the moles kept.

    At each scale, a spot is the excess of the smoothed density over the skin around it (a
    difference of Gaussians, 1 to 4 sigma). Red spots count on redness alone, from a threshold that is the
    larger of a fixed floor and twice the robust spread of this skin's own excess at that scale (so a
    noisy or textured skin does not light up); spots only darker than the skin must also be round. A red
    excess that the wider surround shares (a blotch) counts for half.

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
    sample = core_skin[::2, ::2] > 0
    for s in SCALES:
        if 2.8 * s > max_size * 1.0001:
            break
        sigma = s * unit
        if sigma < 0.5:
            continue
        centre = gaussian(c, sigma)
        around = masked_gaussian(c, core_skin, 4.0 * sigma)
        dog = centre - around
        # thresholds from this skin's own variation in this band (a robust spread), never below a floor:
        # a spot is an outlier of the skin's texture, whatever its shape
        red_t = max(RED_THRESHOLD, NOISE_K * _spread(dog[::2, ::2, 1][sample]))
        dark_t = max(DARK_THRESHOLD, NOISE_K * _spread(dog[::2, ::2, 0][sample]))
        # a spot stands out of its surround more than the surround stands out of the wider skin (on a
        # blotch, the wider excess is as large: blotches are evened, not rebuilt)
        wide = around[..., 1] - masked_gaussian(c[..., 1], core_skin, 12.0 * sigma)
        red = (dog[..., 1] - 0.5 * np.maximum(wide, 0.0)) / red_t
        dark = dog[..., 0] / dark_t
        # a mole or freckle: darker by the contrast asked, and brown (its chroma leans to pigment, where a
        # red spot's lies on the redness axis)
        is_mole = ((dog[..., 0] / np.sqrt(3.0) >= mole_contrast)
                   & (dog[..., 2] >= 0.35 * np.maximum(dog[..., 1], 0.0) + 0.005) & (2.8 * s >= mole_size))
        # red spots count on redness alone; a spot only darker (no redness) must also be round, so pores,
        # creases and hair edges are left
        score = np.maximum(red, np.minimum(dark, 1.0 + red) * _roundness(centre[..., 0]))
        m = np.clip(3.0 * (score - 1.0), 0.0, 1.0)
        # isolated spots only: where dark candidates crowd (hair, stubble, the edge of brows) they are texture
        crowd = gaussian((dark > 1.0).astype(np.float32), 8.0 * sigma)
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


def _spread(x: np.ndarray) -> float:
    """Robust standard deviation (1.4826 × median absolute deviation) of a sample, 0 if empty."""
    if x.size < 16:
        return 0.0
    return float(1.4826 * np.median(np.abs(x - np.median(x))))


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

    Under the mask, the tone is filled by normalised convolution (a blur of 1% of the face height) from
    unmasked skin, so the spot's colour at every scale it has is replaced by the skin's around it; the
    finest band (below :data:`FINE` of the face height: pores, grain) is copied from skin 3.5% of the face
    height away (of four directions, the one that lands on unmasked skin), so the rebuilt place keeps the
    grain of its neighbours. (Copying the middle band too brought other skin's contrast into the spot.)

    Returns
    -------
    ndarray
        The new density (H, W, 3), equal to `d` where the mask is 0.
    """
    if not mask.any():
        return d
    sigma = 0.01 * unit
    trusted = skin * (1.0 - np.clip(_grow(mask, 0.004 * unit) * 4.0, 0, 1))
    base = masked_gaussian(d, trusted, sigma)
    texture = d - gaussian(d, max(0.5, FINE * unit))
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
