"""A dense, smooth, fold-free warp of the subject's own pixels, driven by the move of some points (a face mesh).

The backward map (for each output pixel, where in the photo it comes from) is piecewise affine over the
Delaunay triangulation of the moved points, held still on and beyond a closed outline the caller gives (for
a face, its oval pushed out a little, so hair and background stay where they are), lightly smoothed so that
no triangle's edge shows as a kink, and checked for fold-overs (the map's Jacobian stays positive). It is
built on a reduced grid over the outline's box (the face about 256 px high) and enlarged, and the photo is
resampled once, bicubic, at full resolution: the skin's texture is moved, not re-made. Pixels where the map
does not move stay the photo's own, bit for bit. Used by expression and reshape.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

GRID_FACE = 256.0          # face height on the reduced grid the map is built on, pixels
SMOOTH = 0.008             # smoothing of the map, Gaussian sigma as a fraction of the face height
MIN_JACOBIAN = 0.2         # the least local area ratio allowed (1 = unchanged, 0 = folded flat)
CORRECTIONS = 1            # passes that add back what smoothing took from the move at the mesh points
STILL = 0.02               # a move below this many full-resolution pixels is no move


@dataclass
class Field:
    """A backward map over a region of the image: ``source = (x + dx, y + dy)`` for output pixel (x, y).

    `dx`, `dy` are float32 on a reduced grid (`scale` grid pixels per image pixel) over the box `roi`
    ``(x0, y0, x1, y1)`` of the image, in image pixels; `scaled` is the share of the asked move that is
    kept (1 unless a fold-over was avoided by stopping short).
    """

    roi: tuple[int, int, int, int]
    scale: float
    dx: np.ndarray
    dy: np.ndarray
    scaled: float

    def at(self, points: np.ndarray) -> np.ndarray:
        """The backward move (N, 2) at image points (N, 2), pixels (bilinear on the grid)."""
        x0, y0 = self.roi[:2]
        gx = (points[:, 0] - x0 + 0.5) * self.scale - 0.5
        gy = (points[:, 1] - y0 + 0.5) * self.scale - 0.5
        out = np.zeros((len(points), 2), np.float32)
        for k, f in enumerate((self.dx, self.dy)):
            out[:, k] = cv2.remap(f, gx.astype(np.float32)[None], gy.astype(np.float32)[None],
                                  cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)[0]
        return out


def build_field(points: np.ndarray, move: np.ndarray, shape: tuple[int, ...], face_size: float, *,
                ring: np.ndarray, smooth: float = SMOOTH) -> Field:
    """The backward map that carries `points` (N, 2) by `move` (N, 2), image pixels.

    Parameters
    ----------
    points, move : ndarray, (N, 2)
        Where points are and how far they move, image pixels.
    shape : tuple
        The image's shape.
    face_size : float
        The face's height, pixels: the unit of the grid's size and of the smoothing.
    ring : ndarray, (K, 2)
        A closed outline around the points (image pixels): the map is zero on and beyond it.
    smooth : float
        Smoothing of the map, Gaussian sigma as a fraction of `face_size`.

    If the full move would fold the map, it is scaled down until it does not (the share kept is
    ``Field.scaled``).
    """
    from scipy.spatial import Delaunay  # here: importing SciPy costs every command 0.6 s

    h, w = shape[:2]
    x0, y0 = np.floor(np.maximum(ring.min(0) - 2, 0)).astype(int)
    x1, y1 = np.ceil(np.minimum(ring.max(0) + 2, (w, h))).astype(int)
    k = min(1.0, GRID_FACE / max(face_size, 1.0))
    gw, gh = max(2, int(round((x1 - x0) * k))), max(2, int(round((y1 - y0) * k)))
    k = gw / max(x1 - x0, 1)                               # exact: the grid spans the box
    ky = gh / max(y1 - y0, 1)
    dst = points + move
    corners = np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]], np.float64)
    nodes = np.vstack([dst, ring, corners])
    values = np.vstack([-move, np.zeros((len(ring) + 4, 2))])
    gx, gy = np.meshgrid((np.arange(gw) + 0.5) / k - 0.5 + x0, (np.arange(gh) + 0.5) / ky - 0.5 + y0)
    sigma = smooth * face_size * k
    still = np.zeros((gh, gw), np.uint8)
    cv2.fillPoly(still, [np.round((ring - (x0, y0)) * (k, ky)).astype(np.int32)], 1)
    still = cv2.GaussianBlur(still.astype(np.float32), (0, 0), max(sigma, 0.5))[..., None]
    # barycentric weights of every grid point in the moved mesh's triangulation, found once for every pass
    # (each triangle drawn into a label image: much faster than a point-location search over the grid)
    tri = Delaunay(nodes)
    labels = np.full((gh, gw), -1, np.int32)
    corners_grid = np.round(((nodes - (x0, y0) + 0.5) * (k, ky) - 0.5) * 16).astype(np.int32)
    for i, simplex in enumerate(tri.simplices):
        cv2.fillConvexPoly(labels, corners_grid[simplex], i, cv2.LINE_8, 4)
    flat = np.column_stack([gx.ravel(), gy.ravel()])
    simplex = labels.ravel()
    inside = simplex >= 0
    t = tri.transform[simplex[inside]]
    b = np.einsum("nij,nj->ni", t[:, :2], flat[inside] - t[:, 2])
    bary = np.clip(np.column_stack([b, 1 - b.sum(1)]), -0.5, 1.5).astype(np.float32)
    corner = tri.simplices[simplex[inside]]
    target = values[:len(dst)].copy()
    for _ in range(1 + CORRECTIONS):
        f = np.zeros((gh * gw, 2), np.float32)
        f[inside] = np.einsum("nk,nkc->nc", bary, values[corner].astype(np.float32))
        f = f.reshape(gh, gw, 2)
        if sigma > 0.3:
            f = cv2.GaussianBlur(f, (0, 0), sigma)
        f *= still                                          # the still ring stays still after smoothing too
        field = Field((int(x0), int(y0), int(x1), int(y1)), k, np.ascontiguousarray(f[..., 0]),
                      np.ascontiguousarray(f[..., 1]), 1.0)
        # smoothing takes the edge off the move at the points: ask for what is missing, so they land
        values[:len(dst)] += target - field.at(dst)
    f = np.dstack([field.dx, field.dy])
    scaled = 1.0
    if _min_jacobian(f, k, ky) < MIN_JACOBIAN:              # stop short: the largest share that does not fold
        lo, hi = 0.0, 1.0
        for _ in range(8):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if _min_jacobian(f * mid, k, ky) >= MIN_JACOBIAN else (lo, mid)
        scaled = lo
    f *= scaled
    return Field((int(x0), int(y0), int(x1), int(y1)), k, np.ascontiguousarray(f[..., 0]),
                 np.ascontiguousarray(f[..., 1]), scaled)


def _min_jacobian(f: np.ndarray, kx: float, ky: float) -> float:
    """The smallest determinant of the map x -> x + f(x) (f in image pixels on a grid of kx, ky per pixel)."""
    dxx = np.gradient(f[..., 0], axis=1) * kx
    dxy = np.gradient(f[..., 0], axis=0) * ky
    dyx = np.gradient(f[..., 1], axis=1) * kx
    dyy = np.gradient(f[..., 1], axis=0) * ky
    return float(((1 + dxx) * (1 + dyy) - dxy * dyx).min())


def apply_field(image: np.ndarray, field: Field) -> np.ndarray:
    """The image (H, W, C) or a map (H, W) resampled once through the map (bicubic), only where the map moves;
    a new array."""
    x0, y0, x1, y1 = field.roi
    dx = cv2.resize(field.dx, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    dy = cv2.resize(field.dy, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    moving = (np.abs(dx) > STILL) | (np.abs(dy) > STILL)
    out = image.copy()
    if not moving.any():
        return out
    rows, cols = np.flatnonzero(moving.any(1)), np.flatnonzero(moving.any(0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    reach = int(np.ceil(max(np.abs(dx).max(), np.abs(dy).max()))) + 3
    h, w = image.shape[:2]
    sx0, sy0 = max(0, x0 + c0 - reach), max(0, y0 + r0 - reach)
    sx1, sy1 = min(w, x0 + c1 + reach), min(h, y0 + r1 + reach)
    gx, gy = np.meshgrid(np.arange(x0 + c0, x0 + c1, dtype=np.float32) - sx0,
                         np.arange(y0 + r0, y0 + r1, dtype=np.float32) - sy0)
    mx, my = gx + dx[r0:r1, c0:c1], gy + dy[r0:r1, c0:c1]
    src = np.ascontiguousarray(image[sy0:sy1, sx0:sx1])
    warped = cv2.remap(src, mx, my, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    keep = ~moving[r0:r1, c0:c1]
    region = out[y0 + r0:y0 + r1, x0 + c0:x0 + c1]
    warped[keep] = region[keep]
    np.maximum(warped, 0.0, out=warped)                  # bicubic's small overshoot below black
    region[...] = warped
    return out
