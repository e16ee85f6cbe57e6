"""The new background: a photo placed to cover the frame with its horizon where the camera's eye level is,
a flat colour, a generated studio backdrop, or the photo's own background with the subject painted out.

All in linear light at the output size (or a reduced size when it will be defocused anyway).
"""
from __future__ import annotations

import re

import cv2
import numpy as np

from ...core import srgb_to_linear

#: Generated studio backdrops: (kind, base colour as 8-bit sRGB).
BACKDROPS = {
    "grey-paper": ("paper", (118, 120, 122)),
    "white-paper": ("paper", (236, 236, 234)),
    "black-paper": ("paper", (30, 30, 31)),
    "blue-paper": ("paper", (62, 88, 120)),
    "brown-canvas": ("canvas", (96, 78, 62)),
    "grey-canvas": ("canvas", (92, 94, 96)),
    "green-canvas": ("canvas", (66, 84, 70)),
}
_NAMED = {"white": (255, 255, 255), "black": (0, 0, 0), "grey": (128, 128, 128), "gray": (128, 128, 128)}


def parse_colour(text: str) -> np.ndarray | None:
    """Linear RGB (3,) of ``#rrggbb``, ``rrggbb``, ``r,g,b`` (8-bit sRGB) or white/black/grey; None if unreadable."""
    t = text.strip().lower()
    if t in _NAMED:
        rgb = _NAMED[t]
    elif re.fullmatch(r"#?[0-9a-f]{6}", t):
        h = t.lstrip("#")
        rgb = tuple(int(h[i:i + 2], 16) for i in (0, 2, 4))
    elif re.fullmatch(r"\s*\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3}\s*", t):
        rgb = tuple(int(v) for v in t.split(","))
        if max(rgb) > 255:
            return None
    else:
        return None
    return srgb_to_linear(np.asarray(rgb, np.float32) / 255.0)


def cover_rect(src_hw: tuple[int, int], dst_hw: tuple[int, int], *, zoom: float = 1.0,
               src_horizon: float = 0.5, dst_horizon: float = 0.5, max_zoom: float = 4.0
               ) -> tuple[float, float, float]:
    """Scale and offset that place a `src_hw` picture over a `dst_hw` frame without stretching.

    The picture is scaled uniformly to cover the frame (times `zoom`, and more if needed so that its horizon
    row, at fraction `src_horizon` of its height, can land on fraction `dst_horizon` of the frame's height, up
    to `max_zoom` times the covering scale) and cropped; the crop is centred horizontally.

    Returns
    -------
    scale : float
        Destination pixels per source pixel (the same both ways).
    x0, y0 : float
        Top-left of the frame in the scaled picture, pixels.
    """
    sh, sw = src_hw
    dh, dw = dst_hw
    cover = max(dw / sw, dh / sh)
    s = cover * max(zoom, 1.0)
    need = [s]
    if src_horizon > 0:
        need.append(dh * dst_horizon / (sh * src_horizon))
    if src_horizon < 1:
        need.append(dh * (1 - dst_horizon) / (sh * (1 - src_horizon)))
    s = min(max(need), cover * max(zoom, max_zoom))
    y0 = float(np.clip(src_horizon * sh * s - dst_horizon * dh, 0.0, sh * s - dh))
    x0 = (sw * s - dw) / 2.0
    return s, x0, y0


def place(picture: np.ndarray, dst_hw: tuple[int, int], **kw) -> np.ndarray:
    """`picture` scaled to cover a `dst_hw` frame and cropped (see :func:`cover_rect`), float32 linear.

    Examples
    --------
    >>> import numpy as np
    >>> wide = np.zeros((100, 400, 3), np.float32)
    >>> place(wide, (200, 200)).shape
    (200, 200, 3)
    """
    dh, dw = dst_hw
    s, x0, y0 = cover_rect(picture.shape[:2], dst_hw, **kw)
    # the source rectangle that becomes the frame, resampled in one step (area averaging when shrinking)
    sx0, sy0, sx1, sy1 = x0 / s, y0 / s, (x0 + dw) / s, (y0 + dh) / s
    ix0, iy0 = int(np.floor(sx0)), int(np.floor(sy0))
    ix1, iy1 = min(picture.shape[1], int(np.ceil(sx1))), min(picture.shape[0], int(np.ceil(sy1)))
    crop = picture[iy0:iy1, ix0:ix1]
    size = (max(1, round((ix1 - ix0) * s)), max(1, round((iy1 - iy0) * s)))
    big = cv2.resize(np.ascontiguousarray(crop, np.float32), size,
                     interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    ox, oy = round((sx0 - ix0) * s), round((sy0 - iy0) * s)
    out = big[oy:oy + dh, ox:ox + dw]
    if out.shape[:2] != (dh, dw):                     # a pixel short from rounding: repeat the edge
        out = cv2.copyMakeBorder(out, 0, dh - out.shape[0], 0, dw - out.shape[1], cv2.BORDER_REPLICATE)
    return np.maximum(out, 0.0)


def _smooth_noise(h: int, w: int, rng: np.random.Generator, octaves: int = 5) -> np.ndarray:
    """Fractal value noise in about [-1, 1], (h, w) float32: the sum of upsampled random grids."""
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        n = 3 * 2 ** o
        grid = rng.standard_normal((n, max(2, round(n * w / h)))).astype(np.float32)
        out += amp * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= 0.55
    return out / total


def backdrop(name: str, hw: tuple[int, int], *, centre: tuple[float, float] = (0.5, 0.4), seed: int = 0
             ) -> np.ndarray:
    """A generated studio backdrop (see :data:`BACKDROPS`), float32 linear (H, W, 3).

    ``paper``: seamless paper lit by a background light behind the subject: brightest at `centre` (x, y as
    fractions of the frame), falling off smoothly to the edges (about 1.3 stops) and a little more toward the
    bottom. ``canvas``: a hand-painted mottled canvas: the same fall-off times low-frequency mottling of
    brightness and hue. Made at a reduced size and enlarged (it holds no fine detail; grain is matched later).
    """
    kind, rgb8 = BACKDROPS[name]
    h, w = hw
    s = min(1.0, 512 / max(h, w))
    sh, sw = max(4, round(h * s)), max(4, round(w * s))
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    d = max(sh, sw)
    r2 = ((xx - centre[0] * sw) / d) ** 2 + ((yy - centre[1] * sh) / d) ** 2
    falloff = np.exp2(-1.3 * np.minimum(r2 / 0.45, 1.6)) * np.exp2(-0.35 * np.clip(yy / sh - 0.6, 0, 1))
    base = srgb_to_linear(np.asarray(rgb8, np.float32) / 255.0)
    img = falloff[..., None] * base
    if kind == "canvas":
        rng = np.random.default_rng(seed)
        lum = _smooth_noise(sh, sw, rng)
        hue = np.stack([_smooth_noise(sh, sw, rng, 3) for _ in range(3)], -1)
        img = img * np.exp2(0.55 * lum)[..., None] * np.exp2(0.12 * (hue - hue.mean(-1, keepdims=True)))
    return cv2.resize(img.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC).clip(0.0, None)


def fill_in(image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Fill the pixels where `known` is 0 from the known ones around them (push-pull: weighted averages on a
    pyramid, the coarsest level that sees known pixels filling each hole), float32, same shape."""
    w = known.astype(np.float32)
    levels = [(image * w[..., None], w)]
    while min(levels[-1][1].shape) > 2 and (levels[-1][1] < 1e-3).any():
        v, wt = levels[-1]
        levels.append((cv2.pyrDown(v), cv2.pyrDown(wt)))
    v, wt = levels[-1]
    out = v / np.maximum(wt, 1e-6)[..., None]
    for v, wt in reversed(levels[:-1]):
        up = cv2.pyrUp(out, dstsize=(wt.shape[1], wt.shape[0]))
        k = np.clip(wt * 4.0, 0.0, 1.0)[..., None]          # trust a level where it saw enough known pixels
        out = k * (v / np.maximum(wt, 1e-6)[..., None]) + (1 - k) * up
    return out.astype(np.float32)


def painted_out(image: np.ndarray, alpha: np.ndarray, *, grow: float = 0.02) -> np.ndarray:
    """The photo with the subject (alpha > 0.05, grown by `grow` of the diagonal) filled in from the
    surroundings (:func:`fill_in`), float32 linear (H, W, 3); the fill is made on a small copy (it is smooth
    and will be defocused)."""
    h, w = alpha.shape
    s = min(1.0, 256 / max(h, w))
    sw, sh = max(8, round(w * s)), max(8, round(h * s))
    small = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA)
    hole = (cv2.resize(alpha, (sw, sh), interpolation=cv2.INTER_AREA) > 0.05).astype(np.uint8)
    k = 2 * max(1, round(grow * np.hypot(sw, sh))) + 1
    hole = cv2.dilate(hole, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    filled = fill_in(small, hole == 0)
    mix = cv2.GaussianBlur(hole.astype(np.float32), (0, 0), 1.0)
    mix_full = cv2.resize(mix, (w, h), interpolation=cv2.INTER_LINEAR)[..., None]
    return (image * (1 - mix_full) + cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR) * mix_full
            ).astype(np.float32)
