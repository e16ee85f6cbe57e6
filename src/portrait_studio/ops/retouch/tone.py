"""Skin colour as optical density, split into shading, melanin and haemoglobin; shine as added white light.

Skin's colour is mostly light absorbed by two pigments under a shading factor. In optical density
``D = -ln(RGB)`` (linear light) each of these adds: shading shifts all three channels equally, melanin
absorbs increasingly toward blue (brown), haemoglobin absorbs green and blue and spares red (red). Redness,
inflamed spots and blotches are haemoglobin; freckles and moles are melanin; under-eye darkness is shading
plus both pigments. The pigment directions follow the image-based skin analysis of Tsumura et al.
(ACM TOG 22(3), 2003), rounded: they tell red from brown, they are not exact spectra. The coordinates used
are orthonormal: shading, redness (haemoglobin's chroma) and the remaining chroma axis (pigment).
"""
from __future__ import annotations

import cv2
import numpy as np

from ...core import LUMA_709
from ...core.masked import gaussian, masked_gaussian
from ...core.stats import robust_sigma

#: Density directions (R, G, B) of melanin and haemoglobin (unit vectors).
MELANIN = np.array([0.41, 0.56, 0.72], np.float32) / np.linalg.norm([0.41, 0.56, 0.72])
HAEMOGLOBIN = np.array([0.05, 0.72, 0.68], np.float32) / np.linalg.norm([0.05, 0.72, 0.68])


def _basis() -> np.ndarray:
    """Orthonormal rows: shading (equal in R, G, B), redness (haemoglobin's colour without its shading),
    and the remaining chroma axis, signed so melanin (brown, yellowish) is positive on it. Orthonormal, so
    noise is not amplified (the pigment directions themselves are too close to grey to invert stably)."""
    s = np.ones(3) / np.sqrt(3.0)
    h = HAEMOGLOBIN - (HAEMOGLOBIN @ s) * s
    h /= np.linalg.norm(h)
    e = np.cross(s, h)
    if e @ MELANIN < 0:
        e = -e
    return np.stack([s, h, e]).astype(np.float32)


#: Rows: the shading, redness and pigment axes. ``C = D @ BASIS.T``, ``D = C @ BASIS``.
BASIS = _basis()
_FLOOR = 1e-4                                      # darkest linear value taken into density (−ln = 9.2)
MID_COARSE = 0.07                                  # the middle band's coarse end, fraction of the face height
TINT = 0.6                                         # share of the skin's colour around a mild removed highlight takes
FULL_TINT = 0.35                                   # share of a pixel's light from which its shine's colour is all replaced


def density(rgb: np.ndarray) -> np.ndarray:
    """Optical density ``-ln(max(rgb, 1e-4))`` of linear RGB, float32, same shape."""
    d = np.log(np.maximum(rgb, _FLOOR)).astype(np.float32, copy=False)
    return np.negative(d, out=d)


def components(d: np.ndarray) -> np.ndarray:
    """(shading, redness, pigment) coordinates of a density image (..., 3), see :data:`BASIS`."""
    return (d @ BASIS.T).astype(np.float32, copy=False)


def from_components(c: np.ndarray) -> np.ndarray:
    """Density (..., 3) from (shading, redness, pigment) coordinates."""
    return (c @ BASIS).astype(np.float32, copy=False)


def shine_light(rgb: np.ndarray, skin: np.ndarray, unit: float, *, threshold: float = 0.12
                ) -> tuple[np.ndarray, np.ndarray]:
    """The white light that specular hot spots add to the skin, linear, float32 (H, W), ≥ 0, and the skin
    colour around each pixel (H, W, 3) it was measured against.

    Each pixel is fitted as ``rgb = (1 + a)·base + w·(1, 1, 1)``, with `base` the skin colour around it (a
    skin-weighted blur of 4% of the face height that leaves bright pixels out): `a` is brighter or darker
    diffuse skin of the same colour, `w` the colourless light a shiny surface reflects. `w` is smoothed at
    0.6% of the face height (so pores and their glints stay) and taken relative to its own surround (3% of
    the face height: hot spots, not a broad sheen); a hot spot counts when its peak exceeds `threshold` ×
    the local skin luminance, fully from twice that (a soft knee: a natural sheen stays); subtracting it
    returns the skin's own colour rather than greying it (see :func:`without_shine`).
    """
    sigma = 0.04 * unit
    y = rgb @ LUMA_709
    yb = masked_gaussian(y, skin, sigma)
    hot = np.clip((y / np.maximum(yb, 1e-4) - 1.05) / 0.1, 0, 1)
    base = masked_gaussian(rgb, skin * (1 - hot), sigma)
    r = rgb - base
    bb, b1, rb, r1 = (_sum3(x) for x in (base * base, base, r * base, r))
    det = bb * 3.0 - b1 * b1
    solvable = np.abs(det) > 1e-8
    w = np.where(solvable, (bb * r1 - b1 * rb) / np.where(solvable, det, 1e-8), 0.0)
    lowest = np.minimum(np.minimum(rgb[..., 0], rgb[..., 1]), rgb[..., 2])
    w = np.clip(w, 0.0, 0.9 * lowest)                                  # no more than is there
    w = gaussian(w, 0.006 * unit)
    w = np.maximum(w - masked_gaussian(w, skin, 0.03 * unit), 0.0)     # hot spots, not a broad sheen
    ybase = base @ LUMA_709
    # never take away more than the spot is brighter than the skin around it (no dark patches)
    w = np.minimum(w, np.maximum(gaussian(y, 0.006 * unit) - ybase, 0.0))
    # a soft knee: sheen below `threshold` of the skin's light is the skin's own, above twice that is shine
    # (judged on each hot spot's peak, so a shine that counts goes whole, tails included)
    ratio = w / np.maximum(ybase, 1e-4)
    k = max(3, int(round(0.04 * unit)) | 1)
    peak = gaussian(cv2.dilate(ratio, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))), 0.01 * unit)
    knee = np.clip(peak / threshold - 1.0, 0.0, 1.0)
    return (w * knee * skin).astype(np.float32), base


def _sum3(x: np.ndarray) -> np.ndarray:
    """The sum of the three channels (H, W, 3), float32 (H, W) (as ``x.sum(-1)``, many times faster)."""
    return cv2.transform(x, np.ones((1, 3), np.float32))


def without_shine(rgb: np.ndarray, light: np.ndarray, base: np.ndarray) -> np.ndarray:
    """`rgb` (linear) with the shine's white `light` taken off, float32 (H, W, 3).

    The luminance drops by the light; the colour moves toward the surrounding skin's (`base`) as far as
    the shine dominated the pixel: part of the way (:data:`TINT`) where the shine is mild, the whole way
    where it is most of the pixel's light (from :data:`FULL_TINT` of it), since such a pixel's own colour is
    mostly the light's and dimming it leaves a grey patch. Not the whole way everywhere: the skin around a
    broad sheen (a nose bridge) is often more saturated than the skin under it. The skin's colour is taken
    at the new lightness with its hue and chroma (:func:`_at_luminance`), not its chromaticity, which at a
    higher lightness turns orange.
    """
    y = np.maximum(rgb @ LUMA_709, 1e-4)
    w = np.minimum(light, 0.9 * y)
    dimmed = rgb * (1.0 - w / y)[..., None]
    tinted = _at_luminance(base, dimmed @ LUMA_709)
    share = w / y
    f = np.clip(share / 0.15, 0.0, 1.0) * (TINT + (1.0 - TINT) * np.clip((share - 0.15) / (FULL_TINT - 0.15), 0, 1))
    return np.maximum((1.0 - f[..., None]) * dimmed + f[..., None] * tinted, 1e-4).astype(np.float32)


def _at_luminance(rgb: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Linear colours (..., 3) brought to luminance `y` (...) with about the same CIE L*a*b* hue and chroma:
    shifted equally in the three channels' cube roots (a* and b* are differences of cube roots, so they
    stay), then scaled to `y` exactly."""
    shift = np.cbrt(y) - np.cbrt(np.maximum(rgb @ LUMA_709, 1e-4))
    out = np.maximum(np.cbrt(np.maximum(rgb, 0.0)) + shift[..., None], 0.0) ** 3
    return out * (y / np.maximum(out @ LUMA_709, 1e-4))[..., None]


def blotch_excess(c: np.ndarray, skin: np.ndarray, unit: float, axis: int, floor: float, *,
                  face: np.ndarray | None = None, spreads: float = 1.0) -> np.ndarray:
    """How much a coordinate (redness or pigment) stands above the skin around it in blotches, beyond the
    skin's own variation, float32 (H, W), ≥ 0.

    The coordinate, smoothed by 0.6% of the face height (pores and texture are not in it), less its
    background, a skin-weighted blur of 5% of the face height (blotches up to about 8% of the face height
    across stand out of it; the face's broad colouring, its contouring, is in it and stays). This skin's own
    variation in that band sets the threshold: excess up to `spreads` robust spreads of it (never less than
    `floor`, density units) is natural and stays, what lies beyond goes (a soft threshold: the excess less
    the threshold; the spread is measured on `face`, the face's own skin, when given). Only well inside the
    skin (about 2% of the face height from its edge, where the colour of what borders it, hair or lips,
    leaks in)."""
    x = c[..., axis]
    centre = masked_gaussian(x, skin, 0.006 * unit)
    e = centre - masked_gaussian(x, skin, 0.05 * unit)
    inside = np.clip((gaussian(skin, 0.015 * unit) - 0.6) / 0.3, 0.0, 1.0)
    sel = (skin > 0.5) & (inside > 0.5) & (True if face is None else face > 0.5)
    if sel.sum() > 16:
        floor = max(floor, spreads * float(robust_sigma(e[sel])))
    return (np.maximum(e - floor, 0.0) * skin * inside).astype(np.float32)


def mid_band(c: np.ndarray, skin: np.ndarray, unit: float, *, fine: float = 0.012, coarse: float = MID_COARSE
             ) -> np.ndarray:
    """The middle-frequency band of component images (H, W, 3) over the skin: blotches, redness, under-eye
    darkness; the finest band (texture, below `fine` × face height) and the coarsest (face shape, above
    `coarse`) are not in it. Skin-weighted, so lips, eyes and hair do not leak in."""
    return masked_gaussian(c, skin, fine * unit) - masked_gaussian(c, skin, coarse * unit)
