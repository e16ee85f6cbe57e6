"""The soft alpha matte and the decontaminated foreground, refined from the coarse person matte.

The coarse matte (MediaPipe's selfie segmentation, a few hundred pixels across) knows where the person is but
not where a hair strand ends. What it calls person is kept whatever its colour: a grey scarf in front of a
grey wall, a cap, leaves held in front of the subject are part of the picture of the person (a colour model
that took back from the matte whatever looked like the background cut half a scarf away and turned leaves
into ghosts). It is refined in three steps, each at the size that fits the time budget:

1. a trimap on a reduced copy (long side :data:`WORK_SIZE` px, whatever the photo's size, so a 1 MP preview
   and the 12 MP export agree): sure foreground and sure background are the coarse matte's two sides eroded
   by a band a fixed fraction of the diagonal wide; the band between is unknown;
2. closed-form alpha matting (Levin, Lischinski & Weiss 2008, pymatting) solves alpha in the band, and the
   multilevel foreground estimation (Germer et al. 2020, pymatting) finds the subject's true colour there;
3. the alpha and the foreground's correction are carried to full resolution by the colour guided filter
   (:func:`portrait_studio.core.guided.guided_upsample`), which puts them on the full-resolution edges.
"""
from __future__ import annotations

import contextlib
import io
import warnings

import cv2
import numpy as np

from ...core import luminance
from ...core.guided import guided_upsample_at, sample_bilinear
from ...core.masked import masked_gaussian

#: Long side of the reduced copy the matting runs on, pixels.
WORK_SIZE = 448
#: Half-width of the unknown band around the coarse matte's edge, fraction of the image diagonal.
BAND = 0.018
#: The outer band above the shoulders (hair), in multiples of BAND.
HAIR_BAND = 2
#: Where the coarse matte is this sure of the person, it is the person: only a margin of :data:`CORE_MARGIN`
#: times the band inside that contour (the segmentation's own edge, a pixel or two at its resolution) is left
#: to the matting, which by colour alone would make a grey scarf before a grey wall transparent.
SURE = 0.95
CORE_MARGIN = 1 / 3
#: The guided filter's window radius at work size (pixels) and regularisation (squared sqrt-light units).
_GUIDE_RADIUS, _GUIDE_EPS = 1, 2e-4
#: Alpha below this (and above 1 minus it) is taken as clear (solid) after upsampling.
_FLOOR = 0.06
#: Outside the coarse matte's 0.5 contour, alpha is faded where the coarse matte falls below this: the
#: segmentation's faint halo covers real hair, while texture of the old background beyond it (a wall's
#: grain) would otherwise come along as ghost strands.
_PRIOR = 0.05
#: How much of the nearby solid subject's chromaticity a partly transparent pixel takes: what the error of
#: its foreground colour grows as, an error in alpha times (1 - alpha) / alpha, times this (capped at all of it:
#: 11% at alpha 0.9, all of it below alpha 0.5), so an opaque necklace keeps its own colour beside a red dress.
_BORROW = 1.0


def trimap(coarse: np.ndarray, band_px: int) -> np.ndarray:
    """Trimap float (H, W): 1 sure foreground, 0 sure background, 0.5 unknown, from a coarse matte.

    The unknown band reaches `band_px` pixels to either side of the coarse matte's 0.5 contour, and a
    further band outward above the subject's shoulders' top third, where hair is, so flyaway strands fall
    inside it; it widens where the segmentation itself hesitates, but never reaches into what it is sure of
    (:data:`SURE`) by more than ``CORE_MARGIN * band_px``.
    """
    fg = (coarse > 0.5).astype(np.uint8)
    disk = lambda r: cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))  # noqa: E731
    band_px = max(1, band_px)
    sure_fg = cv2.erode(fg, disk(band_px))
    core = cv2.erode((coarse >= SURE).astype(np.uint8), disk(max(1, round(CORE_MARGIN * band_px))))
    grown = cv2.dilate(fg, disk(band_px))
    rows = np.nonzero(fg.any(axis=1))[0]
    if rows.size:                                    # hair: a wider outer band on the upper third of the person
        top = rows[0] + (rows[-1] - rows[0]) // 3
        grown[:top] = cv2.dilate(fg, disk(HAIR_BAND * band_px))[:top]
    unsure = ((coarse > 0.05) & (coarse < SURE)).astype(np.uint8)   # where the segmentation itself hesitates
    unsure = cv2.dilate(unsure, disk(band_px)) > 0
    t = np.full(coarse.shape, 0.5, np.float64)
    t[((sure_fg > 0) & ~unsure) | (core > 0)] = 1.0
    t[(grown == 0) & ~unsure] = 0.0
    return t


def _borrow_colour(fg: np.ndarray, alpha: np.ndarray, band_px: int) -> np.ndarray:
    """Where alpha is small the foreground colour is ill-determined (little of it reaches the camera) and
    keeps a trace of the old background; give such pixels the chromaticity of the solid subject nearby
    (as a retoucher's "decontaminate colours" does), by the share ``_BORROW * (1 - alpha) / alpha`` (up to
    all of it), keeping their own luminance: a nearly opaque pixel owes little to the background, and takes
    little from its neighbours."""
    solid = (alpha > 0.95).astype(np.float32)
    sigma = max(1.0, band_px)
    weight = cv2.GaussianBlur(solid, (0, 0), sigma)
    near = masked_gaussian(fg, solid, sigma, floor=1e-6, exact=True)     # (used where weight > 0.02 only)
    t = np.where(weight > 0.02, np.minimum(_BORROW * (1.0 - alpha) / np.maximum(alpha, 1e-3), 1.0), 0.0)[..., None]
    mixed = fg * (1 - t) + near * t
    y, ym = luminance(fg), luminance(mixed)
    return (mixed * (y / np.maximum(ym, 1e-6))[..., None]).astype(np.float32)


def refine_matte(image: np.ndarray, coarse: np.ndarray, *, work_size: int = WORK_SIZE
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Full-resolution alpha and decontaminated foreground of a person.

    Parameters
    ----------
    image : ndarray, (H, W, 3) float32
        Linear-light RGB, full resolution.
    coarse : ndarray, (h, w) float32
        The coarse person matte at any resolution (the analysis copy's is enough).
    work_size : int
        Long side of the copy the matting runs on, pixels.

    Returns
    -------
    alpha : ndarray, (H, W) float32 in [0, 1]
        Opacity of the person.
    foreground : ndarray, (H, W, 3) float32
        The person's colour in linear light with the old background removed from semi-transparent pixels
        (equal to `image` where alpha is 1; meaningless where alpha is 0).
    """
    import pymatting

    h, w = image.shape[:2]
    s = min(1.0, work_size / max(h, w))
    sw, sh = max(8, round(w * s)), max(8, round(h * s))
    small = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA) if s < 1 else image.copy()
    small = np.maximum(small, 0.0)
    guide_small = np.sqrt(np.minimum(small, 1.0))                   # a perceptual-ish encoding for the matting
    c = cv2.resize(np.asarray(coarse, np.float32), (sw, sh), interpolation=cv2.INTER_LINEAR)
    band = max(2, round(BAND * np.hypot(sw, sh)))
    tri = trimap(c, band)
    unknown = tri == 0.5
    if unknown.any() and (tri == 1).any() and (tri == 0).any():
        # pymatting warns, and prints when its preconditioner needs a retry: neither belongs on our output
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            a_small = pymatting.estimate_alpha_cf(guide_small.astype(np.float64), tri).astype(np.float32)
            f_small = pymatting.estimate_foreground_ml(np.minimum(small, 1.0).astype(np.float64),
                                                       a_small.astype(np.float64)).astype(np.float32)
    else:                                            # nothing to solve: the trimap is the matte
        a_small, f_small = tri.astype(np.float32), np.minimum(small, 1.0)
    a_small = np.clip(a_small, 0.0, 1.0)
    f_small = _borrow_colour(f_small, a_small, band)
    # the band, grown a little, at full size: only there does alpha differ from the sure values
    grown_band = cv2.dilate(unknown.astype(np.uint8), np.ones((5, 5), np.uint8))
    if s < 1:
        # full resolution: the sure values everywhere, the guided filter only on the band's pixels
        alpha = cv2.resize(tri.astype(np.float32), (w, h), interpolation=cv2.INTER_NEAREST)
        ys, xs = np.nonzero(cv2.resize(grown_band, (w, h), interpolation=cv2.INTER_NEAREST))
        px = image[ys, xs]
        a = guided_upsample_at(np.sqrt(np.clip(px, 0.0, 1.0)), guide_small, a_small, (h, w), ys, xs,
                               _GUIDE_RADIUS, _GUIDE_EPS)
        # faint values are the filter's leak onto background texture (ghosts of the old scene), not strands
        # and matte found far outside the person fades with the distance (stray texture, not flyaway hair)
        outside = cv2.distanceTransform((c <= 0.5).astype(np.uint8), cv2.DIST_L2, 3)
        fade = np.sqrt(np.clip(1.0 - outside / (2.5 * band), 0.0, 1.0))
        fade *= np.where(c <= 0.5, np.clip(c / _PRIOR, 0.0, 1.0), 1.0)
        alpha[ys, xs] = np.clip((a - _FLOOR) / (1.0 - 2 * _FLOOR), 0.0, 1.0) * sample_bilinear(fade, (h, w), ys, xs)
        # the foreground: the full-resolution pixel plus the (smooth) correction found at work size
        delta = sample_bilinear(f_small - np.minimum(small, 1.0), (h, w), ys, xs)
        foreground = image.copy()
        foreground[ys, xs] = np.maximum(px + delta, 0.0)
    else:
        alpha, foreground = a_small, np.where(unknown[..., None], f_small, image)
    return alpha.astype(np.float32, copy=False), np.ascontiguousarray(foreground, np.float32)
