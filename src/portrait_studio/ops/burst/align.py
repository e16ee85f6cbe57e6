"""Burst alignment: a global Euclidean motion, then a dense local refinement, found on a reduced copy.

Each frame is matched to the reference on a small grey copy (square-root luminance, which evens out
shot noise and contrast), coarse to fine: phase correlation for the translation, ECC (enhanced
correlation coefficient) for translation and rotation on a two-level pyramid, then DIS optical flow for
what the global motion leaves (a moving subject, lens distortion, rolling shutter). The result is one
full-resolution sampling map per frame for :func:`cv2.remap`.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from ...core import luminance
from ...core.stats import robust_sigma

#: Long side of the grey copy that motion is found on, pixels (about 0.4 MP for a 4:3 frame).
ALIGN_SIZE = 768
#: Long side of the coarse copy for phase correlation and the first ECC pass, pixels.
COARSE_SIZE = 256
DIS_PRESET = cv2.DISOPTICAL_FLOW_PRESET_FAST
_ECC_COARSE = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 40, 1e-4)
_ECC_FINE = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 15, 1e-3)


@dataclass(frozen=True)
class Motion:
    """Where each reference pixel is found in a frame.

    Attributes
    ----------
    matrix : ndarray, float64 (2, 3)
        Global Euclidean motion in full-resolution pixels: reference (x, y, 1) to frame (x', y').
    flow : ndarray, float32 (h, w, 2) or None
        Local correction at the alignment scale, in full-resolution pixels, added to the reference
        position before the global motion; None when only the global motion is used.
    """

    matrix: np.ndarray
    flow: np.ndarray | None = None

    @property
    def rotation_deg(self) -> float:
        """The global rotation, degrees (counter-clockwise positive in image coordinates)."""
        return float(np.degrees(np.arctan2(self.matrix[1, 0], self.matrix[0, 0])))

    def displacement(self, shape: tuple[int, int]) -> np.ndarray:
        """Full-resolution displacement (H, W, 2): frame position minus reference position, pixels."""
        grid = identity_map(shape)
        return self.map(shape, grid) - grid

    def map(self, shape: tuple[int, int], grid: np.ndarray | None = None, out: np.ndarray | None = None
            ) -> np.ndarray:
        """The float32 (H, W, 2) sampling map for :func:`cv2.remap` at full resolution `shape`.

        The displacement (smooth by construction) is found on the flow's grid and upsampled
        bilinearly, then added to `grid` (:func:`identity_map` of `shape`, passed in to reuse it);
        `out` is an optional (H, W, 2) float32 buffer to write into.
        """
        h, w = shape
        hs, ws = self.flow.shape[:2] if self.flow is not None else (max(2, h // 16), max(2, w // 16))
        x = (np.arange(ws, dtype=np.float64) + 0.5) * (w / ws) - 0.5     # small-grid pixel centres, full-res units
        y = (np.arange(hs, dtype=np.float64) + 0.5) * (h / hs) - 0.5
        px, py = np.meshgrid(x, y)
        qx, qy = px, py
        if self.flow is not None:
            qx, qy = px + self.flow[..., 0], py + self.flow[..., 1]
        m = self.matrix
        disp = np.dstack([m[0, 0] * qx + m[0, 1] * qy + m[0, 2] - px,
                          m[1, 0] * qx + m[1, 1] * qy + m[1, 2] - py]).astype(np.float32)
        out = cv2.resize(disp, (w, h), dst=out, interpolation=cv2.INTER_LINEAR)
        return cv2.add(out, identity_map(shape) if grid is None else grid, dst=out)


def identity_map(shape: tuple[int, int]) -> np.ndarray:
    """The float32 (H, W, 2) map of every pixel to itself (x, y)."""
    h, w = shape
    grid = np.empty((h, w, 2), np.float32)
    grid[..., 0] = np.arange(w, dtype=np.float32)[None, :]
    grid[..., 1] = np.arange(h, dtype=np.float32)[:, None]
    return grid


def align_copy(image: np.ndarray, size: int = ALIGN_SIZE, *, full_width: int | None = None
               ) -> tuple[np.ndarray, float]:
    """The grey copy motion is found on: sqrt of luminance, area-reduced so its long side is ≤ `size`.

    `image` may itself be a reduced copy of a frame `full_width` pixels wide. Returns the float32 (h, w)
    copy and its scale (copy pixels per full-resolution pixel, ≤ 1).
    """
    h, w = image.shape[:2]
    full_width = full_width or w
    if max(h, w) > size:
        s = size / max(h, w)
        image = cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return np.sqrt(np.maximum(luminance(image), 0.0)), image.shape[1] / full_width


def estimate_motion(reference: np.ndarray, frame: np.ndarray, scale: float, *, local: bool = True) -> Motion:
    """The motion of `frame` relative to `reference`, both grey copies from :func:`align_copy`.

    Parameters
    ----------
    reference, frame : ndarray, float32 (h, w)
        Grey copies of the same size.
    scale : float
        Copy pixels per full-resolution pixel.
    local : bool
        Also find a dense local correction (DIS optical flow) after the global motion.

    Returns
    -------
    Motion
        In full-resolution pixels. On frames with too little texture for a reliable estimate the global
        motion falls back to the phase-correlation translation (or none), never to a runaway warp.
    """
    m = _global_motion(reference, frame)                       # in copy pixels
    flow = None
    if local:
        h, w = reference.shape
        warped = cv2.warpAffine(frame, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                borderMode=cv2.BORDER_REFLECT)
        flow = _local_flow(reference, warped) / np.float32(scale)
    full = m.copy()
    full[:, 2] /= scale
    # copy pixel centres c are at full-resolution (c + 0.5) / s - 0.5: fold that offset into the translation
    off = 0.5 / scale - 0.5
    full[:, 2] += off * (1.0 - m[:, 0] - m[:, 1])
    return Motion(full, flow)


def _global_motion(ref: np.ndarray, img: np.ndarray) -> np.ndarray:
    """Euclidean 2×3 matrix (ref → img coordinates) on the copies, coarse to fine, guarded against failure."""
    h, w = ref.shape
    k = min(1.0, COARSE_SIZE / max(h, w))
    small = (max(8, round(w * k)), max(8, round(h * k)))
    r0 = cv2.resize(ref, small, interpolation=cv2.INTER_AREA)
    i0 = cv2.resize(img, small, interpolation=cv2.INTER_AREA)
    kx, ky = small[0] / w, small[1] / h
    win = cv2.createHanningWindow(small, cv2.CV_32F)
    (dx, dy), response = cv2.phaseCorrelate(r0, i0, win)
    start = np.array([[1, 0, dx], [0, 1, dy]], np.float32) if response > 0.05 else np.eye(2, 3, dtype=np.float32)
    m = _ecc(r0, i0, start, _ECC_COARSE)
    m[0, 2] /= kx
    m[1, 2] /= ky
    m = _ecc(ref, img, m, _ECC_FINE)
    limit = 0.15 * max(h, w)
    if not np.isfinite(m).all() or abs(m[0, 2]) > limit or abs(m[1, 2]) > limit or abs(m[1, 0]) > 0.1:
        m = np.eye(2, 3, dtype=np.float32)                    # nothing sane found: assume no motion
    return m.astype(np.float64)


def _ecc(ref: np.ndarray, img: np.ndarray, start: np.ndarray, criteria) -> np.ndarray:
    try:
        _, m = cv2.findTransformECC(ref, img, start.astype(np.float32).copy(), cv2.MOTION_EUCLIDEAN,
                                    criteria, None, 3)
        return m
    except cv2.error:                                         # no convergence (flat or unrelated frames)
        return start.astype(np.float32)


def _local_flow(ref: np.ndarray, img: np.ndarray) -> np.ndarray:
    """DIS flow (h, w, 2) in copy pixels such that ref(x) ≈ img(x + flow), kept only where it is needed
    and trusted: where it at least halves the local mismatch left by the global motion (a moving
    subject) and the reference has texture standing out of the noise. Elsewhere it fades to zero (the
    global motion alone), so flat or static areas do not drift on their noise."""
    ref_s = cv2.GaussianBlur(ref, (0, 0), 1.0)
    img_s = cv2.GaussianBlur(img, (0, 0), 1.0)
    scale = 255.0 / max(float(ref_s.max()), 1e-6)
    to8 = lambda a: cv2.convertScaleAbs(a, alpha=scale)       # noqa: E731  (DIS works on 8-bit grey)
    dis = cv2.DISOpticalFlow_create(DIS_PRESET)
    flow = dis.calc(to8(ref_s), to8(img_s), None)
    sigma = float(robust_sigma(ref - img, centre=False)) / np.sqrt(2)   # noise of one copy (moving parts are outliers)
    energy = _gradient_energy(ref_s)
    texture = np.clip((energy / (max(sigma, 1e-6) ** 2 * _noise_energy()) - 3.0) / 6.0, 0.0, 1.0)
    h, w = ref.shape
    grid = np.dstack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)))
    moved = cv2.remap(img_s, grid + flow, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    before = cv2.GaussianBlur((ref_s - img_s) ** 2, (0, 0), 4.0)
    after = cv2.GaussianBlur((ref_s - moved) ** 2, (0, 0), 4.0)
    helps = np.clip((before / np.maximum(after, 1e-12) - 2.0), 0.0, 1.0)    # 0 below a halving, 1 from a third
    return flow * (texture * helps)[..., None]


def _gradient_energy(grey: np.ndarray) -> np.ndarray:
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    return cv2.boxFilter(gx * gx + gy * gy, -1, (9, 9))


@functools.lru_cache(maxsize=1)
def _noise_energy() -> float:
    """Mean gradient energy of unit white noise after the flow's pre-smoothing (a constant, measured)."""
    noise = np.random.default_rng(0).standard_normal((256, 256)).astype(np.float32)
    return float(_gradient_energy(cv2.GaussianBlur(noise, (0, 0), 1.0))[16:-16, 16:-16].mean())
