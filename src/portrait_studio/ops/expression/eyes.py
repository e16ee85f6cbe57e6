"""What a warp cannot supply inside the eye: an iris moved within the eye and the white it uncovers.

Inside each eye's opening the picture is composed again rather than stretched: the eye's white (the sclera
as the photo shows it, carried under the iris and the lids by inpainting from its visible part), and over it
the iris disk, completed where the lids hid it from its own visible part (mirrored across its centre, as an
iris is near radially alike), at its new place. The lids and lashes around the opening come from the warp,
moved with the lid, never stretched. A gaze beyond what the eye's corners and lids allow stops short.
"""
from __future__ import annotations

import cv2
import numpy as np

from ...analysis.regions import LEFT_EYE, RIGHT_EYE
from ...core.masked import masked_gaussian

GAZE_ACROSS = 0.9          # iris travel at --gaze-x 1, iris radii
GAZE_UPDOWN = 0.35         # iris travel at --gaze-y 1, iris radii
CORNER_TUCK = 0.6          # how far the iris may pass under an eye's corner, iris radii
MIN_SCLERA = 0.15          # the least share of the opening that must show white to compose an eye
EYES = ((RIGHT_EYE, 468), (LEFT_EYE, 473))


def _iris(pts: np.ndarray, centre: int) -> tuple[np.ndarray, float]:
    c = pts[centre, :2].astype(np.float64)
    return c, float(np.linalg.norm(pts[centre + 1:centre + 5, :2] - c, axis=1).mean())


def gaze_shift(pts: np.ndarray, *, gaze_x: float, gaze_y: float) -> tuple[np.ndarray, list[str]]:
    """The irises' move (2,) in pixels (both eyes alike, as eyes turn together) and what was held back."""
    notes = []
    travel_x, travel_y = [], []
    for outline, centre in EYES:
        c, r = _iris(pts, centre)
        xs = pts[outline, 0]
        room = (xs.max() - c[0]) if gaze_x > 0 else (c[0] - xs.min())
        travel_x.append(max(0.0, room - (1 - CORNER_TUCK) * r))
        travel_y.append(GAZE_UPDOWN * r)
    want_x = gaze_x * GAZE_ACROSS * np.mean([_iris(pts, c)[1] for _, c in EYES])
    room_x = min(travel_x)
    if abs(want_x) > room_x:
        notes.append(f"gaze_x held at {np.sign(gaze_x) * room_x / max(abs(want_x), 1e-9) * abs(gaze_x):.2f}: "
                     "the iris would leave the eye")
        want_x = np.sign(want_x) * room_x
    return np.array([want_x, -gaze_y * min(travel_y)], np.float32), notes


def _mask(poly: np.ndarray, shape, offset) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round((poly - offset) * 16).astype(np.int32)], 1, cv2.LINE_AA, shift=4)
    return m.astype(np.float32)


def _completed_iris(patch: np.ndarray, seen: np.ndarray, c: np.ndarray, r: float) -> np.ndarray:
    """The iris disk with its hidden part filled from its seen part: mirrored across the centre's row, else
    its column, else the mean colour at that radius."""
    h, w = seen.shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    out = patch.copy()
    have = seen > 0.5
    for mx, my in ((x, 2 * c[1] - y), (2 * c[0] - x, y), (2 * c[0] - x, 2 * c[1] - y)):
        src = cv2.remap(patch, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        ok = cv2.remap(have.astype(np.float32), mx, my, cv2.INTER_NEAREST, borderValue=0) > 0.5
        fill = ~have & ok
        out[fill] = src[fill]
        have = have | fill
    if not have.all() and (seen > 0.5).any():
        rad = np.hypot(x - c[0], y - c[1])
        bins = np.clip((rad / max(r, 1e-6) * 8).astype(int), 0, 12)
        seen_b = bins[seen > 0.5]
        for b in np.unique(bins[~have]):
            pick = seen > 0.5
            if (seen_b == b).any():
                pick = pick & (bins == b)
            out[~have & (bins == b)] = patch[pick].mean(0)
    return out


def compose_eyes(original: np.ndarray, warped: np.ndarray, pts: np.ndarray, after: np.ndarray,
                 shift: np.ndarray, *, face_size: float) -> tuple[np.ndarray, list[str]]:
    """Compose each eye's inside in `warped` (a new array): white, then the iris moved by `shift` (pixels),
    within the opening outlined by the moved mesh `after` (468, 2). `original` is the photo before the warp."""
    out = warped.copy()
    notes = []
    h, w = original.shape[:2]
    feather = max(0.5, 0.003 * face_size)
    for outline, centre in EYES:
        c, r = _iris(pts, centre)
        p0, p1 = pts[outline, :2].astype(np.float64), after[outline].astype(np.float64)
        lo = np.floor(np.minimum(np.minimum(p0.min(0), p1.min(0)), c - 2.5 * r) - 4).astype(int)
        hi = np.ceil(np.maximum(np.maximum(p0.max(0), p1.max(0)), c + 2.5 * r) + 4).astype(int)
        x0, y0 = max(lo[0], 0), max(lo[1], 0)
        x1, y1 = min(hi[0], w), min(hi[1], h)
        if x1 - x0 < 4 or y1 - y0 < 4:
            continue
        off = np.array([x0, y0], np.float64)
        shape = (y1 - y0, x1 - x0)
        src = np.ascontiguousarray(original[y0:y1, x0:x1])
        open0, open1 = _mask(p0, shape, off), _mask(p1, shape, off)
        disk = np.zeros(shape, np.float32)
        cv2.circle(disk, tuple(np.round((c - off) * 16).astype(int)), int(round(r * 16)), 1.0, -1, cv2.LINE_AA, 4)
        # the white: the opening, away from the lids' edge and the iris, is what the eye shows of it
        edge = max(1, int(round(0.12 * r)))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * edge + 1, 2 * edge + 1))
        white = (cv2.erode(open0, kernel) > 0.5) & (cv2.dilate(disk, kernel) < 0.5)
        if white.sum() < MIN_SCLERA * max(open0.sum() - disk.sum(), 1):
            notes.append(f"eye {'right' if centre == 468 else 'left'}: too little white shows to move the iris "
                         "or open the lids plausibly; left as warped")
            continue
        fill = masked_gaussian(src, white.astype(np.float32), 0.5 * r)
        sclera = np.where(white[..., None], src, fill)
        seen = disk * (cv2.erode(open0, kernel) > 0.5)
        iris = _completed_iris(src, seen, c - off, r)
        # the iris at its new place (one resampling of the iris alone)
        gy, gx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
        moved = cv2.remap(iris, gx - shift[0], gy - shift[1], cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        alpha = cv2.remap(disk, gx - shift[0], gy - shift[1], cv2.INTER_LINEAR, borderValue=0)[..., None]
        inside = sclera * (1 - alpha) + np.maximum(moved, 0) * alpha
        a = cv2.GaussianBlur(open1, (0, 0), feather) * open1 if feather > 0.6 else open1
        a = a[..., None]
        region = out[y0:y1, x0:x1]
        region[...] = region * (1 - a) + inside * a
    return out, notes
