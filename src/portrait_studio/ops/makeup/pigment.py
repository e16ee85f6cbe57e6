"""Make-up as pigment in linear light: what a layer absorbs and what the surface still reflects.

A cosmetic layer changes the colour the skin or lip reflects diffusely; the light falling on it (shading,
creases, pores) and the white light its surface reflects (shine) stay the photo's. So the diffuse part of
each pixel is multiplied by a smooth per-channel gain that takes the area's own local colour to the
pigment's (:func:`pigment_gain`): every pixel keeps its ratio to its neighbours, which is its texture. Lips
are first split into diffuse colour and white shine (:func:`split_shine`) so that a lipstick recolours the
lip, not its highlights, and a finish scales the shine (matte, satin) or adds a highlight where the light
falls (gloss, :func:`gloss_highlight`).
"""
from __future__ import annotations

import numpy as np

from ...core import LUMA_709
from ...core.masked import gaussian

_TINY = 1e-5


def pigment_gain(local: np.ndarray, colour: np.ndarray, level: float, *, depth: float) -> np.ndarray:
    """Per-pixel linear gain (H, W, 3) taking the local colour `local` to the pigment `colour`.

    The result has the pigment's chromaticity; its luminance is the local one scaled by
    ``(Y(colour) / level) ** depth``: `level` is the area's mean luminance, so ``depth`` = 0 keeps the photo's
    lightness (a tint), 1 gives the pigment's own lightness relative to that mean (an opaque paint), with
    the light's variation across the area (``Y(local) / level``) kept either way. A pigment lighter than the
    area lightens it half as much (``depth / 2``): a layer lets some of what lies under it show through, and
    the area's darkness is as much its light as its colour.

    Parameters
    ----------
    local : ndarray, (H, W, 3)
        Smooth local colour of the area, linear RGB.
    colour : ndarray, (3,)
        The pigment, linear RGB.
    level : float
        The area's mean luminance, linear.
    depth : float
        0..1, how much of the pigment's own lightness is taken.
    """
    y_c = max(float(colour @ LUMA_709), _TINY)
    ratio = y_c / max(level, _TINY)
    scale = ratio ** (depth if ratio <= 1 else depth / 2)
    target = (colour / y_c)[None, None, :] * (local @ LUMA_709)[..., None] * scale
    return (target / np.maximum(local, _TINY)).astype(np.float32)


def apply_gain(image: np.ndarray, gain: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``image · gain ** weight`` (weight (H, W) in [0, 1], 0 = unchanged): a layer of partial coverage is the
    same filter, thinner."""
    g = np.exp(np.log(np.maximum(gain, _TINY)) * weight[..., None])
    return (image * g).astype(np.float32)


def split_shine(image: np.ndarray, local: np.ndarray) -> np.ndarray:
    """White shine (H, W) ≥ 0 of each pixel fitted as ``image = s · local + w · (1, 1, 1)`` (least squares,
    s and w ≥ 0): the colourless light a moist surface reflects on top of its diffuse colour `local`."""
    aa = np.einsum("hwc,hwc->hw", local, local)
    a1 = local.sum(-1)
    ai = np.einsum("hwc,hwc->hw", local, image)
    i1 = image.sum(-1)
    det = np.maximum(3 * aa - a1 * a1, _TINY * _TINY)
    w = (aa * i1 - a1 * ai) / det
    w = np.clip(w, 0.0, image.min(-1))               # the diffuse part stays non-negative
    return w.astype(np.float32)


def gloss_highlight(shading: np.ndarray, mask: np.ndarray, level: float, sigma: float) -> np.ndarray:
    """White light (H, W) a glossy layer adds where the lips catch most light: the brightest part of their
    smooth shading (the top 30%, rising to the top 3%), up to a quarter of the lips' mean luminance."""
    s = gaussian(shading.astype(np.float32), sigma)
    sel = mask > 0.5
    if sel.sum() < 20:
        return np.zeros_like(s)
    lo, hi = np.percentile(s[sel], [70, 97])
    return (0.25 * level * np.clip((s - lo) / max(hi - lo, 1e-6), 0, 1) ** 2 * mask).astype(np.float32)
