"""Where make-up goes: the lips, the upper lids, the brows and the cheekbones, each worked in a full-resolution
crop around it (so the cost does not grow with the photo's megapixels).

The mesh only guides: its outlines are snapped to the photo's own edges with the colour guided filter
(:func:`refine`), never spreading further than the snap's reach beyond the mesh; the mouth's opening and
what looks like teeth near it are left out of the lips.
"""
from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from ...analysis import region_masks
from ...core import LUMA_709, linear_to_srgb
from ...core.guided import guided_filter
from ...core.masked import gaussian

# upper lids, outer corner to inner, and the brows' lower edges, outer to inner (MediaPipe mesh points)
UPPER_LIDS = ([33, 246, 161, 160, 159, 158, 157, 173, 133], [263, 466, 388, 387, 386, 385, 384, 398, 362])
BROW_LOWER = ([46, 53, 52, 65, 55], [276, 283, 282, 295, 285])
# cheek: the apple of the cheek and the cheekbone's outer end
CHEEKS = ((50, 116), (280, 345))


class Crop:
    """A box of the image around some mesh points, grown by `margin` face heights, seen at `scale` (1 = full
    resolution, the default; a reduced copy for measuring)."""

    def __init__(self, face, points: np.ndarray, margin: float, shape: tuple[int, int], scale: float = 1.0):
        lo = points.min(0) - margin * face.size
        hi = points.max(0) + margin * face.size
        self.x0, self.y0 = max(0, int(lo[0])), max(0, int(lo[1]))
        self.x1, self.y1 = min(shape[1], int(np.ceil(hi[0]))), min(shape[0], int(np.ceil(hi[1])))
        self.face, self.scale = face, scale
        self.unit = face.size * scale            # the face's height in this crop's pixels
        self.empty = self.x1 - self.x0 < 4 or self.y1 - self.y0 < 4

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    @property
    def shape(self) -> tuple[int, int]:
        return max(1, round((self.y1 - self.y0) * self.scale)), max(1, round((self.x1 - self.x0) * self.scale))

    def take(self, image: np.ndarray) -> np.ndarray:
        """The crop of a full-resolution image (a view at full scale, an area-reduced copy otherwise)."""
        c = image[self.slices]
        return c if self.scale == 1.0 else cv2.resize(c, self.shape[::-1], interpolation=cv2.INTER_AREA)

    def points(self, idx) -> np.ndarray:
        """Mesh points (N, 2) in the crop's pixels."""
        return (self.face.landmarks[idx, :2] - (self.x0, self.y0)) * self.scale

    def regions(self, names) -> dict[str, np.ndarray]:
        """The face's region masks (:func:`~portrait_studio.analysis.region_masks`) on this crop."""
        k = self.scale
        pts = self.face.landmarks.copy()
        pts[:, 0] = (pts[:, 0] - self.x0) * k
        pts[:, 1] = (pts[:, 1] - self.y0) * k
        pts[:, 2] *= k
        x, y, w, h = self.face.box
        moved = replace(self.face, landmarks=pts, box=((x - self.x0) * k, (y - self.y0) * k, w * k, h * k))
        return region_masks(moved, self.shape, names)


def guide_of(crop_rgb: np.ndarray) -> np.ndarray:
    """The guide the snapping follows: the crop in sRGB encoding (dark edges separate better there)."""
    return linear_to_srgb(np.clip(crop_rgb, 0, 1)).astype(np.float32)


def refine(mask: np.ndarray, guide: np.ndarray, unit: float, *, reach: float = 0.01) -> np.ndarray:
    """`mask` (H, W) snapped to the photo's edges in `guide` (colour guided filter, window `reach` face
    heights) along its edge, full inside it, never beyond half `reach` outside its outline (its 0.5 level)."""
    r = max(1, int(round(reach * unit)))
    snapped = guided_filter(guide, mask.astype(np.float32), r, 2e-3)
    snapped = np.clip(snapped / 0.75, 0.0, 1.0)             # full inside a thin band too
    k = 2 * r + 1
    # inside, the mesh is sure: only the band along its edge follows the photo (else the paint's thickness
    # would follow the texture inside, and show it up)
    core = cv2.erode((mask > 0.5).astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    snapped = np.maximum(snapped, cv2.GaussianBlur(core.astype(np.float32), (0, 0), max(0.5, r / 2)))
    kl = 2 * max(1, r // 2) + 1                                # the photo's edge may lie this far beyond the mesh's
    limit = cv2.dilate((mask > 0.5).astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (kl, kl)))
    limit = cv2.GaussianBlur(limit.astype(np.float32), (0, 0), max(0.5, r / 2))
    return np.minimum(snapped, limit).astype(np.float32)


def lips_area(crop: Crop, rgb: np.ndarray) -> np.ndarray:
    """The lips' mask (H, W) on the crop: the mesh's lips snapped to their real edges, without the mouth's
    opening and without teeth (bright, grey pixels near the opening)."""
    unit = crop.unit
    reg = crop.regions(("lips", "mouth"))
    lips = refine(reg["lips"], guide_of(rgb), unit, reach=0.008)
    k = 2 * int(round(0.004 * unit)) + 1                  # (no growth at all on a small face)
    opening = cv2.dilate(reg["mouth"], np.ones((k, k), np.uint8))
    lips *= 1.0 - np.clip(opening * 1.5, 0, 1)
    # teeth: far less saturated than the lips and not dark, in pieces that reach into the opening (a highlight
    # on the lips is as pale, but lies apart from it)
    sel = reg["lips"] > 0.5
    if sel.sum() > 20 and (reg["mouth"] > 0.5).any():
        chroma = rgb / np.maximum(rgb.sum(-1, keepdims=True), 1e-6) - 1 / 3
        sat = np.hypot(chroma[..., 0], chroma[..., 1])
        y = rgb @ LUMA_709
        green = chroma[..., 1]                # lips lack green (pink, red, brown); teeth hardly (white, yellow)
        pale = (sat < 0.5 * float(np.median(sat[sel]))) & (y > 0.5 * float(np.median(y[sel]))) \
            & (green > 0.4 * min(float(np.median(green[sel])), 0.0))
        n, labels = cv2.connectedComponents(pale.astype(np.uint8), connectivity=8)
        touching = np.unique(labels[pale & (reg["mouth"] > 0.5)])
        teeth = np.isin(labels, touching[touching > 0]).astype(np.float32)
        kn = 2 * max(1, int(round(0.015 * unit))) + 1                     # no further than this from the opening
        teeth *= cv2.dilate((reg["mouth"] > 0.2).astype(np.uint8), np.ones((kn, kn), np.uint8))
        lips *= 1.0 - np.clip(gaussian(teeth, 1.0) * 2, 0, 1)
    return lips.astype(np.float32)


def _resample(line: np.ndarray, n: int) -> np.ndarray:
    """A polyline (N, 2) resampled to `n` points evenly along its length."""
    seg = np.r_[0, np.cumsum(np.linalg.norm(np.diff(line, axis=0), axis=1))]
    t = np.linspace(0, seg[-1], n)
    return np.column_stack([np.interp(t, seg, line[:, 0]), np.interp(t, seg, line[:, 1])])


def lid_area(crop: Crop, rgb: np.ndarray, *, height: float = 0.55) -> np.ndarray:
    """The upper lids' mask (H, W): from the lash line up `height` of the way to the brows, soft toward the
    brow, without the eye's opening (snapped to the real lid edge)."""
    unit = crop.unit
    m = np.zeros(crop.shape, np.float32)
    for lid, brow in zip(UPPER_LIDS, BROW_LOWER):
        p = _resample(crop.points(lid), 12)
        b = _resample(crop.points(brow), 12)
        top = p + height * (b - p)
        cv2.fillPoly(m, [np.round(np.vstack([p, top[::-1]]) * 16).astype(np.int32)], 1.0, cv2.LINE_AA, shift=4)
    m = gaussian(m, 0.012 * unit)
    eyes = refine(crop.regions(("eyes",))["eyes"], guide_of(rgb), unit, reach=0.006)
    k = 2 * max(1, int(round(0.003 * unit))) + 1
    eyes = cv2.dilate(eyes, np.ones((k, k), np.uint8))
    return (m * (1.0 - np.clip(eyes * 1.5, 0, 1))).astype(np.float32)


def brow_area(crop: Crop, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The brows' mask (H, W) (the mesh's brows grown a little, snapped and soft) and how much each pixel is
    a gap between hairs (H, W) in [0, 1]: 0 on the darkest hairs, 1 on skin-light pixels."""
    unit = crop.unit
    reg = crop.regions(("brows", "skin"))
    k = 2 * max(1, int(round(0.006 * unit))) + 1
    brows = cv2.dilate(reg["brows"], cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    brows = gaussian(brows, 0.006 * unit)
    y = rgb @ LUMA_709
    sel = brows > 0.5
    if sel.sum() < 10:
        return brows, np.ones_like(brows)
    hair = float(np.percentile(y[sel], 15))
    skin_sel = reg["skin"] > 0.5
    light = float(np.median(y[skin_sel])) if skin_sel.sum() > 10 else float(np.percentile(y[sel], 90))
    gap = np.clip((y - hair) / max(light - hair, 1e-4), 0, 1)
    return brows.astype(np.float32), gaussian(gap.astype(np.float32), 0.002 * unit)


def cheek_area(crop: Crop, side: int) -> np.ndarray:
    """A soft ellipse (H, W) on one cheekbone (`side` 0 = the subject's right), from the apple of the cheek
    toward the cheekbone's outer end, on skin only."""
    unit = crop.unit
    apple, bone = crop.points(list(CHEEKS[side]))
    centre = apple + 0.45 * (bone - apple)
    angle = float(np.degrees(np.arctan2(*(bone - apple)[::-1])))
    m = np.zeros(crop.shape, np.float32)
    axes = (int(0.11 * unit), int(0.06 * unit))
    cv2.ellipse(m, (int(round(centre[0])), int(round(centre[1]))), axes, angle, 0, 360, 1.0, -1, cv2.LINE_AA)
    m = gaussian(m, 0.035 * unit)
    m /= max(float(m.max()), 1e-6)
    return (m * crop.regions(("skin",))["skin"]).astype(np.float32)
