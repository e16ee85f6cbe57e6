"""Where the depth comes from, and how it is fitted to the photo's edges.

Sources, in order (:func:`scene_depth`): a depth file given with the photo (``--depth``: a float TIFF in
metres, or an 8/16-bit map of depth or disparity with its range); the depth or disparity map a phone stored
in the file (:mod:`portrait_studio.io.depth`: iPhone HEIC auxiliary images and JPEG MPF frames, Google
GDepth XMP); else an estimate laid out from what the analysis knows: the face mesh's relief at the distance
the face's size gives, the person matte at that distance, and the rest of the scene as a ground receding to
a backdrop some metres behind.

A depth map knows an outline to its own resolution only. At an outline a pixel sees two surfaces (hair
before a wall), so the depth is handed to the renderer as two maps and a share (:class:`Surfaces`): the
surface in front, the one behind and how much of the pixel the front one covers. The share comes from the
phone's own portrait matte where it stored one, else from the depth's step softened to the photo's own
edge width (measured against a guided filter of the step on the photo, :func:`edge_width`).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ...core.guided import guided_filter, guided_upsample
from ...core.image import linear_to_srgb
from ...errors import InputError

#: Relative step in disparity above which neighbouring pixels lie on two surfaces (an outline).
_STEP = 0.12
#: Window (pixels) in which an outline's two surfaces are looked for, as a fraction of the image diagonal
#: (at least 5 px).
_EDGE_WINDOW = 0.004
#: How far a low-resolution depth map smears an outline (a phone's 640 × 480 map on a 12 MP photo: a few of
#: its pixels), fraction of the image diagonal.
_SMEAR = 0.008
#: Edge widths (Gaussian sigma, pixels) tried when fitting the photo's own edge softness.
_SIGMAS = (0.35, 0.5, 0.6, 0.7, 0.8, 1.0, 1.3, 1.7)
#: Where no depth is known: the backdrop behind the subject (metres) and the nearest ground at the frame's
#: bottom (metres in front of the backdrop's distance).
ESTIMATE_BEHIND_M = 3.0


@dataclass
class Surfaces:
    """The depth of a photo as the renderer takes it (all float32 (H, W), metres).

    Attributes
    ----------
    front, back : ndarray
        The nearer and the farther surface each pixel sees (equal away from outlines).
    mix : ndarray
        The share of each pixel the front surface covers, in [0, 1] (1 away from outlines).
    source : str
        Where the depth came from ("file", "iPhone HEIC", "estimate", ...).
    person : ndarray or None
        The soft person matte the outlines were split by, when there was one.
    """

    front: np.ndarray
    back: np.ndarray
    mix: np.ndarray
    source: str
    person: np.ndarray | None = None

    def disparities(self) -> tuple[np.ndarray, np.ndarray]:
        """1 / metres of the surface in front and of the one behind (the same array where they never differ)."""
        front = (1.0 / self.front).astype(np.float32)
        if np.array_equal(self.front, self.back):
            return front, front
        return front, (1.0 / self.back).astype(np.float32)

    def disparity_map(self) -> np.ndarray:
        """The depth as a grey map of disparity, float32 (H, W) in [0, 1]: 1 = the nearest point, 0 = the
        farthest."""
        disp = 1.0 / self.depth()
        lo, hi = float(disp.min()), float(disp.max())
        return ((disp - lo) / max(hi - lo, 1e-9)).astype(np.float32)

    def depth(self) -> np.ndarray:
        """One depth per pixel (the shares of the two surfaces averaged in disparity), metres."""
        disp = self.mix / self.front + (1.0 - self.mix) / self.back
        return (1.0 / np.maximum(disp, 1e-6)).astype(np.float32)


def stored_values(picture) -> np.ndarray:
    """The numbers a depth file stores, float32 (H, W), undoing the sRGB decoding every picture is read with:
    a float TIFF's own values, an 8/16-bit map's code values in [0, 1]; an array given in memory (no file) is
    taken as it is (depth in metres, or disparity in 1/m)."""
    x = np.asarray(picture.image[..., 0], np.float32)
    meta = picture.metadata
    if meta is None:                                            # an array given in memory: the numbers themselves
        return x
    if meta.bit_depth >= 32:                                    # float samples: decoded unclipped, undo alike
        return np.where(x <= 0.0031308, 12.92 * x,
                        1.055 * np.power(np.maximum(x, 0.0031308), 1 / 2.4) - 0.055).astype(np.float32)
    return linear_to_srgb(x)


def from_file(picture, shape: tuple[int, int], *, kind: str, near: float | None, far: float | None
              ) -> tuple[np.ndarray, bool]:
    """Depth from a depth picture: metres and True when its scale is known, else a relative depth and False.

    A float file is depth in metres (or disparity in 1/m with ``kind="disparity"``); an 8/16-bit file maps
    its codes linearly from `near` (code 1 for disparity, 0 for depth) to `far`, else is relative.

    Raises
    ------
    InputError
        When its shape is not the photo's (within 2% in aspect), or it holds no usable depth.
    """
    h, w = shape
    dh, dw = picture.shape
    if abs(dw / dh - w / h) > 0.02 * (w / h):
        raise InputError(picture.path, f"is {dw}×{dh}, not the photo's shape ({w}×{h})",
                         "give a depth map of the same aspect ratio as the photo")
    v = stored_values(picture)
    is_float = picture.metadata is None or picture.metadata.bit_depth >= 32
    if is_float:
        d = 1.0 / np.maximum(v, 1e-6) if kind == "disparity" else v
        absolute = True
    elif near is not None and far is not None:
        if kind == "disparity":
            d = 1.0 / (1.0 / far + v * (1.0 / near - 1.0 / far))
        else:
            d = near + v * (far - near)
        absolute = True
    else:                                                       # relative: 1 = near for disparity
        d = 1.0 / (0.05 + v) if kind == "disparity" else 1.0 + 4.0 * v
        absolute = False
    d = np.asarray(d, np.float32)
    if not np.isfinite(d).all() or float(d.max()) <= 0:
        raise InputError(picture.path, "holds no usable depth (all zero, negative or not numbers)",
                         "give depth in metres (float TIFF) or an 8/16-bit map with --depth-kind")
    d = np.maximum(d, 1e-3)
    if (dh, dw) != (h, w):
        d = 1.0 / cv2.resize(1.0 / d, (w, h), interpolation=cv2.INTER_LINEAR if dw < w else cv2.INTER_AREA)
    return d.astype(np.float32), absolute


def _window(shape: tuple[int, int]) -> int:
    return max(5, int(round(_EDGE_WINDOW * np.hypot(*shape))) | 1)


def edge_width(guide: np.ndarray, step: np.ndarray, band: np.ndarray) -> float:
    """The photo's own edge softness (Gaussian sigma, pixels) at a depth step: the width whose softened step
    agrees best with the step fitted to the photo's colours by a small guided filter."""
    if not band.any():
        return 0.7
    fitted = np.clip(guided_filter(guide, step, 2, 1e-4), 0.0, 1.0)[band]
    errs = [float(np.abs(cv2.GaussianBlur(step, (0, 0), s)[band] - fitted).mean()) for s in _SIGMAS]
    return float(_SIGMAS[int(np.argmin(errs))])


def split_outlines(depth: np.ndarray, guide: np.ndarray, *, matte: np.ndarray | None = None,
                   source: str = "file") -> Surfaces:
    """Two surfaces and a share at the outlines of a depth map (see :class:`Surfaces`).

    Parameters
    ----------
    depth : ndarray, (H, W)
        Depth, metres (or relative), at the photo's size.
    guide : ndarray, (H, W, 3)
        The photo, sRGB-encoded values in [0, 1] (edges are found in perceptual units).
    matte : ndarray, (H, W), optional
        A soft matte of the person (1 = person) at the photo's size: where given, the share at the person's
        outline; elsewhere the depth's steps are softened to the photo's edge width.
    """
    depth = np.asarray(depth, np.float32)
    disp = 1.0 / np.maximum(depth, 1e-6)
    k = np.ones((_window(depth.shape),) * 2, np.uint8)
    hi, lo = cv2.dilate(disp, k), cv2.erode(disp, k)           # nearest and farthest within the window
    band = (hi - lo) > _STEP * hi
    if not band.any():
        return Surfaces(depth, depth, np.ones_like(depth), source)
    wide = np.ones((3 * k.shape[0],) * 2, np.uint8)          # far enough that both sides are seen by all
    mid = 0.5 * (cv2.dilate(disp, wide) + cv2.erode(disp, wide))  # the pixels the softening reaches
    step = (disp >= mid).astype(np.float32)                    # which side of the step each pixel is on
    if matte is not None:
        mix = np.clip(np.asarray(matte, np.float32), 0.0, 1.0)
    else:
        mix = cv2.GaussianBlur(step, (0, 0), edge_width(guide, step, band))
    front = np.where(band, 1.0 / hi, depth).astype(np.float32)
    back = np.where(band, 1.0 / lo, depth).astype(np.float32)
    mix = np.where(band, mix, 1.0).astype(np.float32)
    return Surfaces(front, back, mix, source)


def split_by_matte(depth: np.ndarray, matte: np.ndarray, source: str) -> Surfaces:
    """Two surfaces at a person's outline from a soft person matte: the person's distance (from the depth
    where the matte is sure of the person) in front, the surroundings' (where it is sure of the rest) behind,
    the matte as the share; within a margin of the outline, where a low-resolution depth map smears the two,
    each side takes its own surface's distance."""
    from ...core.masked import push_pull_fill

    depth = np.asarray(depth, np.float32)
    matte = np.clip(np.asarray(matte, np.float32), 0.0, 1.0)
    h, w = depth.shape
    margin = max(3.0, _SMEAR * np.hypot(h, w))
    disp = 1.0 / np.maximum(depth, 1e-6)
    person, rest = (matte > 0.95).astype(np.float32), (matte < 0.05).astype(np.float32)
    if person.sum() < 16 or rest.sum() < 16:
        return Surfaces(depth, depth, np.ones_like(depth), source, matte)
    # each side's distance carried across the outline from well inside it (the map's smear left out)
    k = np.ones((2 * int(margin) + 1,) * 2, np.uint8)
    inner = cv2.erode(person, k)
    outer = cv2.erode(rest, k)
    d_person = push_pull_fill(disp, inner if inner.sum() >= 16 else person)
    d_rest = push_pull_fill(disp, outer if outer.sum() >= 16 else rest)
    d_rest = np.minimum(d_rest, d_person)                  # the surroundings are not in front of the person
    near = cv2.dilate((matte > 0.02).astype(np.uint8), k).astype(bool) & ~cv2.erode(
        (matte > 0.98).astype(np.uint8), k).astype(bool)
    disp = np.where(near, np.where(matte >= 0.5, d_person, d_rest), disp)
    edge = (matte > 0.005) & (matte < 0.995)
    front = np.where(edge, 1.0 / d_person, 1.0 / disp).astype(np.float32)
    back = np.where(edge, 1.0 / d_rest, 1.0 / disp).astype(np.float32)
    mix = np.where(edge, matte, 1.0).astype(np.float32)
    return Surfaces(front, back, mix, source, matte)


def upsample_depth(depth_small: np.ndarray, guide: np.ndarray) -> np.ndarray:
    """A low-resolution depth map (metres) brought to the size of `guide` (sRGB values, (H, W, 3)) in
    disparity, its edges following the photo's (colour guided filter)."""
    h, w = guide.shape[:2]
    sh, sw = depth_small.shape
    disp = (1.0 / np.maximum(depth_small, 1e-4)).astype(np.float32)
    if (sh, sw) == (h, w):
        return np.asarray(depth_small, np.float32)
    g_small = cv2.resize(guide, (sw, sh), interpolation=cv2.INTER_AREA)
    up = guided_upsample(guide, g_small, disp, 2, 1e-3)
    lo, hi = float(disp.min()), float(disp.max())
    return (1.0 / np.clip(up, max(lo, 1e-4), hi)).astype(np.float32)


def estimate(shape: tuple[int, int], *, face, matte: np.ndarray, subject_m: float, focal_px: float) -> np.ndarray:
    """A plausible depth (metres) where none is stored: the face's relief from its mesh at `subject_m`, the rest
    of the person at that distance, and the surroundings as a ground rising from the frame's bottom towards
    the horizon at the eyes' height (a camera 1.5 m up) up to a backdrop :data:`ESTIMATE_BEHIND_M` behind."""
    from scipy.interpolate import griddata

    h, w = shape
    backdrop = subject_m + ESTIMATE_BEHIND_M
    rows = np.arange(h, dtype=np.float32)[:, None]
    horizon = float(face.pupils[:, 1].mean()) if face is not None else 0.5 * h
    ground = 1.5 * focal_px / np.maximum(rows - horizon, 1e-3)
    scene = np.where(rows > horizon, np.clip(ground, subject_m + 0.5, backdrop), backdrop)
    depth = np.broadcast_to(scene, (h, w)).astype(np.float32).copy()
    person = np.full((h, w), subject_m + 0.05, np.float32)
    if face is not None:
        lm = face.landmarks
        x0, y0 = np.floor(lm[:, :2].min(0)).astype(int)
        x1, y1 = np.ceil(lm[:, :2].max(0)).astype(int)
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w - 1), min(y1, h - 1)
        if x1 > x0 and y1 > y0:
            step = max(1, (x1 - x0) // 64)
            gy, gx = np.mgrid[y0:y1 + 1:step, x0:x1 + 1:step]
            m_per_px = 0.063 / max(face.interocular, 1e-3)
            z = griddata(lm[:, :2], (lm[:, 2] - np.median(lm[:, 2])) * m_per_px, (gx, gy), method="linear")
            rel = cv2.resize(np.nan_to_num(z, nan=0.05).astype(np.float32), (x1 - x0 + 1, y1 - y0 + 1),
                             interpolation=cv2.INTER_LINEAR)
            person[y0:y1 + 1, x0:x1 + 1] = subject_m + rel
    return np.where(matte >= 0.5, person, depth).astype(np.float32)
