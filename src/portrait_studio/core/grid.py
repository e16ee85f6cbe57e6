"""Work small, apply at full size: a box of the image seen at a reduced scale.

Smooth things (a change of light, a skin map, a matte, a defocused background) are found on a reduced copy
and brought back to full resolution once, to act on the original pixels there, so the photo's own finest
detail is never resampled. :class:`Grid` is the one scheme for it: a box of the full image (the whole
frame, or the face's neighbourhood) and the size it is worked at, with the resampling both ways and the
mapping of points between them.

Examples
--------
>>> import numpy as np
>>> g = Grid.whole((400, 600), 0.25)
>>> g.size, g.take(np.ones((400, 600), np.float32)).shape
((150, 100), (100, 150))
>>> g.enlarge(np.zeros((100, 150), np.float32)).shape
(400, 600)
"""
from __future__ import annotations

import cv2
import numpy as np


class Grid:
    """A box ``(x0, y0, x1, y1)`` of an image (full-resolution pixels, integers) seen at `scale` (≤ 1).

    Attributes
    ----------
    size : (int, int)
        The working size, (width, height) as OpenCV takes sizes: the box's size times `scale`, rounded, at
        least `min_size`.
    kx, ky : float
        Working pixels per full-resolution pixel, across and down (the rounding makes them differ slightly).
    full : bool
        The grid is at full resolution (nothing is resampled).
    """

    def __init__(self, box, scale: float, *, min_size: int = 1):
        self.x0, self.y0, self.x1, self.y1 = (int(v) for v in box)
        self.w, self.h = self.x1 - self.x0, self.y1 - self.y0
        if self.w < 1 or self.h < 1 or not 0 < scale <= 1:
            raise ValueError(f"a grid needs a non-empty box and a scale in (0, 1] (got {box!r}, {scale})")
        self.size = (max(min_size, round(self.w * scale)), max(min_size, round(self.h * scale)))
        self.kx, self.ky = self.size[0] / self.w, self.size[1] / self.h
        self.full = self.size == (self.w, self.h)

    @classmethod
    def whole(cls, shape: tuple[int, ...], scale: float, *, min_size: int = 1) -> "Grid":
        """The whole frame of an image of `shape` (h, w, ...) at `scale`."""
        return cls((0, 0, shape[1], shape[0]), scale, min_size=min_size)

    def take(self, full: np.ndarray) -> np.ndarray:
        """This grid's reduced copy of a full-resolution array (area averaging; the box itself, not a copy,
        when the grid is at full resolution)."""
        c = full[self.y0:self.y1, self.x0:self.x1]
        return c if self.full else cv2.resize(c, self.size, interpolation=cv2.INTER_AREA)

    def enlarge(self, a: np.ndarray) -> np.ndarray:
        """An array of this grid brought to full resolution, the box's size (bilinear; `a` itself when the
        grid is at full resolution)."""
        return a if self.full else cv2.resize(a, (self.w, self.h), interpolation=cv2.INTER_LINEAR)

    def sub(self, a: np.ndarray, other: "Grid") -> np.ndarray:
        """An array of this grid resampled onto `other` (whose box lies inside this one)."""
        if other.full:                     # onto full resolution: the enlarged box, cut (a resize is many
            big = self.enlarge(a)          # times faster than the equivalent affine warp)
            return big[other.y0 - self.y0:other.y1 - self.y0, other.x0 - self.x0:other.x1 - self.x0]
        m = np.float32([[self.kx / other.kx, 0, (other.x0 - self.x0) * self.kx + 0.5 * self.kx / other.kx - 0.5],
                        [0, self.ky / other.ky, (other.y0 - self.y0) * self.ky + 0.5 * self.ky / other.ky - 0.5]])
        return cv2.warpAffine(a, m, other.size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)

    def to_full(self, pts: np.ndarray) -> np.ndarray:
        """Blobs ``(x, y, sigma)`` of this grid (N, 3) in full-resolution pixels (pixel centres kept)."""
        pts = np.asarray(pts, np.float32).reshape(-1, 3)
        return np.stack([self.x0 + (pts[:, 0] + 0.5) / self.kx - 0.5, self.y0 + (pts[:, 1] + 0.5) / self.ky - 0.5,
                         pts[:, 2] / self.ky], 1).astype(np.float32)

    def from_full(self, pts: np.ndarray) -> np.ndarray:
        """Blobs ``(x, y, sigma)`` in full-resolution pixels (N, 3) moved onto this grid."""
        pts = np.asarray(pts, np.float32).reshape(-1, 3)
        return np.stack([(pts[:, 0] - self.x0 + 0.5) * self.kx - 0.5, (pts[:, 1] - self.y0 + 0.5) * self.ky - 0.5,
                         pts[:, 2] * self.ky], 1).astype(np.float32)


def shrink(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A whole image reduced to `size` (w, h) by area averaging, by a whole factor first (OpenCV's fast
    path; the last rows and columns short of it left out): several times faster, for a coarse look."""
    f = int(min(a.shape[1] / size[0], a.shape[0] / size[1]))
    if f >= 2:
        h, w = a.shape[0] // f, a.shape[1] // f
        a = cv2.resize(a[:h * f, :w * f], (w, h), interpolation=cv2.INTER_AREA)
    return cv2.resize(a, size, interpolation=cv2.INTER_AREA)
