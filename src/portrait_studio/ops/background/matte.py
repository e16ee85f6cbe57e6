"""The soft alpha matte and the decontaminated foreground, refined from the coarse person matte.

The coarse matte (MediaPipe's selfie segmentation, a few hundred pixels across) knows where the person is but
not where a hair strand ends, and it counts as person what touches it and looks like it in shape (leaves of
a wall on the shoulders). It is refined in four steps, each at the size that fits the time budget:

0. a colour model of this very photo (:func:`background_like`) takes back from the coarse matte the blobs,
   joined to the background, whose colour is far likelier in the photo's background than in the person;
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

#: Long side of the reduced copy the matting runs on, pixels.
WORK_SIZE = 448
#: Half-width of the unknown band around the coarse matte's edge, fraction of the image diagonal.
BAND = 0.018
#: The outer band above the shoulders (hair), in multiples of BAND.
HAIR_BAND = 2
#: The guided filter's window radius at work size (pixels) and regularisation (squared sqrt-light units).
_GUIDE_RADIUS, _GUIDE_EPS = 1, 2e-4
#: Alpha below this (and above 1 minus it) is taken as clear (solid) after upsampling.
_FLOOR = 0.06
#: Outside the coarse matte's 0.5 contour, alpha is faded where the coarse matte falls below this: the
#: segmentation's faint halo covers real hair, while texture of the old background beyond it (a wall's
#: grain) would otherwise come along as ghost strands.
_PRIOR = 0.05
#: How much of the nearby solid subject's chromaticity a partly transparent pixel takes: (1 - alpha) to this
#: power (0.1: 80% at alpha 0.9, 93% at alpha 0.5).
_BORROW = 0.1
#: A pixel the coarse matte calls person is demoted to background where its colour is this many times more
#: frequent in the photo's sure background than in the person's sure interior (natural log), and it is
#: joined to the background by such pixels (leaves of a wall touching the shoulders).
_BACKGROUND_ODDS = float(np.log(6.0))
#: How far inside the coarse matte's edge that may happen, in multiples of BAND.
_REACH = 4
#: Around each face nothing is demoted (ears, hair against a wall of their colour): an ellipse this many
#: times the face box's size.
_FACE_GUARD = 1.6
#: And only where the coarse matte was fairly sure of the person: where it hesitates (sparse hair over a
#: wall of its colour), the matting decides.
_CLAIMED = 0.75
#: Colour histogram bins per channel of that model.
_BINS = 16


def trimap(coarse: np.ndarray, band_px: int) -> np.ndarray:
    """Trimap float (H, W): 1 sure foreground, 0 sure background, 0.5 unknown, from a coarse matte.

    The unknown band reaches `band_px` pixels to either side of the coarse matte's 0.5 contour, and a
    further band outward above the subject's shoulders' top third, where hair is, so flyaway strands fall
    inside it.
    """
    fg = (coarse > 0.5).astype(np.uint8)
    k = 2 * max(1, band_px) + 1
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    sure_fg = cv2.erode(fg, disk)
    grown = cv2.dilate(fg, disk)
    rows = np.nonzero(fg.any(axis=1))[0]
    if rows.size:                                    # hair: a wider outer band on the upper third of the person
        top = rows[0] + (rows[-1] - rows[0]) // 3
        k2 = 2 * (HAIR_BAND * band_px) + 1
        wide = cv2.dilate(fg, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k2, k2)))
        grown[:top] = wide[:top]
    unsure = ((coarse > 0.05) & (coarse < 0.95)).astype(np.uint8)   # where the segmentation itself hesitates
    unsure = cv2.dilate(unsure, disk) > 0
    t = np.full(coarse.shape, 0.5, np.float64)
    t[(sure_fg > 0) & ~unsure] = 1.0
    t[(grown == 0) & ~unsure] = 0.0
    return t


def background_like(guide: np.ndarray, coarse: np.ndarray, band_px: int, face_boxes=(),
                    odds: float = _BACKGROUND_ODDS) -> np.ndarray:
    """Where the coarse matte claims for the person what looks like the background behind it, bool (H, W).

    A colour model of this very photo: a joint RGB histogram of the sure background (the coarse matte's
    outside, `band_px` clear of its edge) against one of the person's interior (eroded by twice that). A pixel
    within ``_REACH * band_px`` of the person's edge whose colour is ``exp(odds)`` times likelier under the
    background's is a candidate; candidates joined to the sure background through other candidates, where the
    coarse matte was above :data:`_CLAIMED`, in blobs at least ``band_px`` squared in area and away from the
    faces, are returned (so a leaf touching the shoulder goes, while a background-coloured patch inside the
    shirt, sparse hair over the wall and the ears stay).

    Parameters
    ----------
    guide : ndarray, (H, W, 3) float in [0, 1]
        The photo in any fixed encoding (the matting's square-root light).
    coarse : ndarray, (H, W) float in [0, 1]
        The coarse person matte at the same size.
    band_px : int
        Half-width of the matte's uncertain band, pixels.
    face_boxes : sequence of (x, y, w, h)
        Faces in pixels of `guide`; an ellipse :data:`_FACE_GUARD` times each box's size is never demoted.
    """
    from scipy import ndimage

    q = _BINS
    cells = np.minimum((guide * q).astype(np.int32), q - 1)
    idx = (cells[..., 0] * q + cells[..., 1]) * q + cells[..., 2]
    person = (coarse > 0.5).astype(np.uint8)
    disk = lambda r: cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))  # noqa: E731
    sure_bg = (cv2.dilate(person, disk(band_px)) == 0) & (coarse < 0.05)
    sure_fg = cv2.erode(person, disk(2 * band_px)) > 0
    if sure_bg.sum() < 50 or sure_fg.sum() < 50:
        return np.zeros(coarse.shape, bool)

    def density(mask):
        hist = np.bincount(idx[mask], minlength=q ** 3).astype(np.float64).reshape(q, q, q)
        hist = ndimage.gaussian_filter(hist, 0.7)
        return hist / hist.sum()
    ratio = np.log((density(sure_bg) + 1e-4) / (density(sure_fg) + 1e-4)).ravel()[idx].astype(np.float32)
    ratio = cv2.GaussianBlur(ratio, (0, 0), 1.0)
    zone = (coarse > 0.02) & (cv2.erode(person, disk(_REACH * band_px)) == 0)
    guard = np.zeros(coarse.shape, np.uint8)
    for x, y, w, h in face_boxes:
        cv2.ellipse(guard, (round(x + w / 2), round(y + h / 2)),
                    (round(_FACE_GUARD * w / 2), round(_FACE_GUARD * h / 2)), 0, 0, 360, 1, -1)
    zone &= guard == 0
    joined = (ratio > odds) & zone | sure_bg | (coarse <= 0.02)
    n, label = cv2.connectedComponents(joined.astype(np.uint8), connectivity=4)
    keep = np.zeros(n, bool)
    keep[np.unique(label[sure_bg])] = True
    keep[0] = False
    # only solid blobs (a leaf), not the thin rim where hair or the edge mixes with the background; then
    # close the shadows between a leaf's parts, which look like the person's dark clothes
    found = keep[label] & zone
    found = cv2.morphologyEx(found.astype(np.uint8), cv2.MORPH_OPEN, disk(max(1, band_px // 2)))
    found = cv2.morphologyEx(found, cv2.MORPH_CLOSE, disk(max(1, band_px // 2)))
    # where the segmentation itself hesitates (hair over a wall of its colour) the matting decides, not this;
    # and specks smaller than the band are the solve's business too
    found = ((found > 0) & zone & (coarse > _CLAIMED)).astype(np.uint8)
    n, label, stats, _ = cv2.connectedComponentsWithStats(found, connectivity=8)
    big = stats[:, cv2.CC_STAT_AREA] >= band_px * band_px
    big[0] = False
    return big[label]


def _borrow_colour(fg: np.ndarray, alpha: np.ndarray, band_px: int) -> np.ndarray:
    """Where alpha is small the foreground colour is ill-determined (little of it reaches the camera) and
    keeps a trace of the old background; give such pixels the chromaticity of the solid subject nearby
    (as a retoucher's "decontaminate colours" does), by the share ``(1 - alpha) ** _BORROW`` (nearly all of
    it where the pixel is at all transparent), keeping their own luminance."""
    solid = (alpha > 0.95).astype(np.float32)
    sigma = max(1.0, band_px)
    weight = cv2.GaussianBlur(solid, (0, 0), sigma)
    near = cv2.GaussianBlur(fg * solid[..., None], (0, 0), sigma) / np.maximum(weight, 1e-6)[..., None]
    t = np.where(weight > 0.02, (1.0 - alpha) ** _BORROW, 0.0)[..., None]
    mixed = fg * (1 - t) + near * t
    y, ym = luminance(fg), luminance(mixed)
    return (mixed * (y / np.maximum(ym, 1e-6))[..., None]).astype(np.float32)


def refine_matte(image: np.ndarray, coarse: np.ndarray, *, work_size: int = WORK_SIZE, face_boxes=()
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
    face_boxes : sequence of (x, y, w, h)
        The faces' boxes in pixels of `image`, guarded from :func:`background_like`.

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
    demoted = background_like(guide_small, c, band, [tuple(v * s for v in b) for b in face_boxes])
    c = np.where(demoted, 0.0, c).astype(np.float32)
    tri = trimap(c, band)
    tri[cv2.erode(demoted.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0] = 0.0   # not given back by the solve
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
