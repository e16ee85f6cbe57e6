"""Painted styles: oil (flow-aligned strokes with impasto relief on canvas) and watercolour (washes with pigment
pooled at their edges, granulation and white paper).

Each takes the :class:`~.field.Guide` and returns the painting, sRGB-encoded (h, w, 3) float32 in [0, 1], at
the working size. Sizes are in units of the face height (see :mod:`.field`): (background, face, features).
"""
from __future__ import annotations

import cv2
import numpy as np

from ...core.masked import gaussian

from . import texture
from .field import DETAIL_FACE, DETAIL_PERSON, Guide, noise, smear

#: Oil: stroke width and half-length, units (background, face, features).
OIL_WIDTH = (0.035, 0.012, 0.006)
OIL_LENGTH = (0.09, 0.035, 0.014)
#: Oil: the tint of the shadows and of the lights (multipliers of sRGB-encoded values).
OIL_COOL, OIL_WARM = np.float32([0.86, 0.95, 1.16]), np.float32([1.1, 1.0, 0.8])
#: Oil: brush-stroke layers, coarse to fine: (spacing, units; the least detail-map value it paints on).
OIL_STROKES = ((0.07, 0.0), (0.04, 0.0), (0.022, 0.3), (0.013, 0.6))
#: Watercolour: how many tones the washes are stepped into.
WASH_LEVELS = 6


def saturate(srgb: np.ndarray, amount: float, grey: np.ndarray | None = None) -> np.ndarray:
    """Colour pushed away from (amount > 1) or toward (< 1) its own grey, sRGB-encoded."""
    g = (srgb @ np.float32([0.2126, 0.7152, 0.0722]))[..., None] if grey is None else grey[..., None]
    return g + np.float32(amount) * (srgb - g)


def abstract(g: Guide, image: np.ndarray, coarse: float, fine: float, *, colour: float = 0.12) -> np.ndarray:
    """Edge-preserving flattening (domain-transform filter, guided by the photo): `coarse` and `fine`
    spatial sigmas in units, blended by the detail map."""
    guide = g.srgb
    a = cv2.ximgproc.dtFilter(guide, image, coarse * g.unit, colour, mode=cv2.ximgproc.DTF_RF, numIters=3)
    b = cv2.ximgproc.dtFilter(guide, image, fine * g.unit, colour * 0.6, mode=cv2.ximgproc.DTF_RF, numIters=3)
    w = np.clip(g.detail / 0.75, 0, 1)
    if image.ndim == 3:
        w = w[..., None]
    return (a + (b - a) * w).astype(np.float32)


def relief(height: np.ndarray, amount: float | np.ndarray, *, azimuth: float = 135.0) -> np.ndarray:
    """Shading of a relief `height` lit from the upper left: 1 + amount × (slope toward the light, in units of
    the slope's own spread), so `amount` is the shading's spread whatever the relief's scale."""
    gx = cv2.Sobel(height, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(height, cv2.CV_32F, 0, 1, ksize=3)
    a = np.deg2rad(azimuth)
    slope = np.cos(a) * gx - np.sin(a) * gy
    return (1.0 + amount * slope / max(float(slope.std()), 1e-6)).astype(np.float32)


def strokes(g: Guide, image: np.ndarray, layers, *, aspect: float, jitter: float, seed: int
            ) -> tuple[np.ndarray, np.ndarray]:
    """`image` repainted in brush strokes, layer over layer: each layer a jittered grid of strokes `cell` units
    apart, each a filled ellipse `aspect` times as long as wide, laid along the flow at its centre in its
    colour there (varied a little by `jitter`), in random order. A layer paints only where the detail map is
    at least its `min_detail`, so the background keeps the broad strokes and the face gets the fine ones.

    Parameters
    ----------
    layers : sequence of (cell, min_detail)
        Coarse to fine.

    Returns
    -------
    canvas : ndarray (h, w, 3) float32
        The painting, sRGB-encoded.
    height : ndarray (h, w) float32
        Each stroke's thickness of paint (random per stroke, 0..1), for the impasto relief.
    """
    h, w = g.shape
    rng = np.random.default_rng(seed)
    canvas = np.clip(image * 255 + 0.5, 0, 255).astype(np.uint8)
    height = np.full((h, w), 128, np.uint8)
    for cell, min_detail in layers:
        c = max(2.0, cell * g.unit)
        ys, xs = np.mgrid[c / 2:h:c, c / 2:w:c].reshape(2, -1)
        xs = xs + (rng.random(xs.shape) - 0.5) * c
        ys = ys + (rng.random(ys.shape) - 0.5) * c
        xi, yi = np.clip(xs.astype(int), 0, w - 1), np.clip(ys.astype(int), 0, h - 1)
        keep = g.detail[yi, xi] >= min_detail
        xs, ys, xi, yi = xs[keep], ys[keep], xi[keep], yi[keep]
        order = rng.permutation(len(xs))
        angle = np.degrees(np.arctan2(g.tangent[yi, xi, 1], g.tangent[yi, xi, 0]))
        colour = image[yi, xi] * (1 + jitter * rng.standard_normal((len(xs), 1)))
        colour = np.clip(colour * 255, 0, 255)
        thick = rng.integers(40, 216, len(xs))
        long_ = np.maximum(1, np.round(c * aspect * 0.5 * (0.8 + 0.4 * rng.random(len(xs))) * 16)).astype(int)
        wide = max(16, round(c * 0.5 * 1.15 * 16))
        cx, cy = np.round(xs * 16).astype(int), np.round(ys * 16).astype(int)
        for i in order:
            centre, axes = (int(cx[i]), int(cy[i])), (int(long_[i]), wide)
            cv2.ellipse(canvas, centre, axes, float(angle[i]), 0, 360, colour[i].tolist(), -1, cv2.LINE_AA, 4)
            cv2.ellipse(height, centre, axes, float(angle[i]), 0, 360, int(thick[i]), -1, cv2.LINE_8, 4)
    return canvas.astype(np.float32) / 255, height.astype(np.float32) / 255


def oil(g: Guide, *, texture_amount: float, width=OIL_WIDTH, length=OIL_LENGTH, relief_amount: float = 0.07,
        jitter: float = 0.05) -> np.ndarray:
    """Oil paint: the photo flattened and laid in brush dabs elongated along the flow (broad in the background,
    finer on the person and the face, smeared finely along the flow on the features), each dab's colour
    jittered a little, bristle streaks and dab rims lit as impasto, on canvas."""
    flat = abstract(g, g.srgb, 0.05, 0.012)
    streak = noise(g.shape, g.size(*width), seed=g.seed)               # bristles: as fine as a stroke
    both = smear(np.dstack([flat, streak]), g.tangent, g.size(*length), steps=4, falloff=0.5)
    smooth, streak = both[..., :3], both[..., 3]
    streak = streak / max(float(streak.std()), 1e-6)
    painted, thick = strokes(g, smooth, OIL_STROKES, aspect=3.0, jitter=jitter, seed=g.seed + 2)
    # the face's strokes are thinned with the smooth paint so they model it; the features are painted smoothly
    face = np.clip((g.detail - DETAIL_PERSON) / (DETAIL_FACE - DETAIL_PERSON), 0, 1)
    feat = np.clip((g.detail - DETAIL_FACE) / (1 - DETAIL_FACE), 0, 1)
    keep = np.clip(0.35 * face + 0.65 * feat, 0, 1)[..., None]
    paint = painted + (smooth - painted) * keep
    paint = saturate(paint, 1.3)
    # impasto: bristle streaks and the edges between strokes of different thickness, thinner on the face
    height = 0.8 * streak + 2.5 * gaussian(thick, 0.8)
    amount = relief_amount * (1 - 0.5 * np.clip(g.detail / DETAIL_FACE, 0, 1))
    shade = relief(height, amount) * (1 + 0.04 * streak)
    paint = paint * shade[..., None]
    # a painter's light: warm lights, cool shadows (the convention, and the warmth of oil and varnish)
    luma = np.clip(paint @ np.float32([0.2126, 0.7152, 0.0722]), 0, 1)[..., None]
    paint = paint * (OIL_COOL + (OIL_WARM - OIL_COOL) * luma)
    if texture_amount > 0:
        paint = texture.canvas(paint, g, amount=texture_amount)
    return np.clip(paint, 0, 1).astype(np.float32)


def watercolour(g: Guide, *, texture_amount: float) -> np.ndarray:
    """Watercolour (after Bousseau et al.'s recipe): the photo flattened into washes of a few tones, their edges
    wandering as wet paint does (less on the face, not on the features), the pigment pooled where each wash
    ends, uneven where the water carried it and granulating in the paper's hollows; paler than the photo, the
    white paper showing through."""
    flat = abstract(g, g.srgb, 0.1, 0.025, colour=0.2)
    flat = saturate(flat, 1.25)
    # washes: the tone stepped softly into a few levels, the colour kept
    luma = flat @ np.float32([0.2126, 0.7152, 0.0722])
    steps = np.float32(WASH_LEVELS)
    stepped = np.floor(luma * steps) / steps + 0.5 / steps
    edge = np.clip((luma * steps - np.floor(luma * steps) - 0.5) / 0.15, -0.5, 0.5) / steps
    wash = flat * ((stepped + edge) / np.maximum(luma, 1e-3))[..., None]
    feat = np.clip((g.detail - DETAIL_PERSON) / (1 - DETAIL_PERSON), 0, 1)
    wash = wash + (flat - wash) * (0.8 * feat ** 2)[..., None]
    # wet edges wander: the washes displaced by smooth noise, less where the detail is finer
    h, w = g.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    amp = g.size(0.02, 0.006, 0.0)
    dx = noise(g.shape, g.size(0.08, 0.04, 0.03), seed=g.seed + 5) * amp
    dy = noise(g.shape, g.size(0.08, 0.04, 0.03), seed=g.seed + 6) * amp
    wash = cv2.remap(wash, xs + dx, ys + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    density = -np.log(np.clip(wash, 0.02, 1)) * 0.75                   # optical density, paler than the photo
    turb = noise(g.shape, g.size(0.15, 0.08, 0.05), seed=g.seed + 3)    # the water left the pigment uneven
    density = density * (1 + 0.15 * turb)[..., None]
    soft = gaussian(density, max(1.0, 0.008 * g.unit))                  # pigment pools where a wash ends
    density = density + 2.5 * np.maximum(density - soft, 0)
    if texture_amount > 0:                                             # granulation in the paper's hollows
        paper = texture.paper_height(g, seed=g.seed + 4)
        density = density * (1 + 0.15 * texture_amount * paper)[..., None]
    out = np.exp(-np.maximum(density, 0)) * texture.PAPER_WHITE
    return np.clip(out, 0, 1).astype(np.float32)
