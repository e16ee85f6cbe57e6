"""Edge-aware upsampling with the colour guided filter (He, Sun & Tang 2013; "fast guided filter", He & Sun 2015).

A map computed on a reduced copy (a matte, a correction) is carried to full resolution by fitting, in each
window of the reduced copy, the map as a linear function of the guide's colour, ``q = A · I + b``; the
coefficients are smooth, so they are resized cheaply and applied to the full-resolution guide, which puts
the map's edges exactly on the full-resolution image's edges (hair strands included).
"""
from __future__ import annotations

import cv2
import numpy as np


def _box(x: np.ndarray, r: int) -> np.ndarray:
    return cv2.boxFilter(x, -1, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REFLECT)


def guided_coefficients(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Per-pixel linear model of `src` in the colour `guide`: float32 (H, W, 4) holding ``(A_r, A_g, A_b, b)``.

    Parameters
    ----------
    guide : ndarray, (H, W, 3)
        The guide image (any colour encoding; a perceptual one such as sRGB separates dark edges better).
    src : ndarray, (H, W)
        The map to model.
    radius : int
        Window radius, pixels.
    eps : float
        Regularisation in squared guide units: larger values smooth more and follow the guide less.
    """
    I = np.asarray(guide, np.float32)
    p = np.asarray(src, np.float32)
    mean_I = _box(I, radius)
    mean_p = _box(p, radius)
    cov_Ip = _box(I * p[..., None], radius) - mean_I * mean_p[..., None]
    # the symmetric 3×3 covariance of the guide in every window, inverted in closed form (vectorised)
    idx = [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]
    v = {ij: _box(I[..., ij[0]] * I[..., ij[1]], radius) - mean_I[..., ij[0]] * mean_I[..., ij[1]]
         + (eps if ij[0] == ij[1] else 0.0) for ij in idx}
    a, b, c, d, e, f = (v[ij] for ij in idx)            # [[a b c] [b d e] [c e f]]
    inv = np.stack([d * f - e * e, c * e - b * f, b * e - c * d,
                    a * f - c * c, b * c - a * e, a * d - b * b], axis=-1)
    det = a * inv[..., 0] + b * inv[..., 1] + c * inv[..., 2]
    inv /= det[..., None]
    i00, i01, i02, i11, i12, i22 = np.moveaxis(inv, -1, 0)
    cr, cg, cb = np.moveaxis(cov_Ip, -1, 0)
    A = np.stack([i00 * cr + i01 * cg + i02 * cb,
                  i01 * cr + i11 * cg + i12 * cb,
                  i02 * cr + i12 * cg + i22 * cb], axis=-1)
    b0 = mean_p - (A * mean_I).sum(-1)
    return _box(np.dstack([A, b0[..., None]]).astype(np.float32), radius)


def guided_upsample(guide_full: np.ndarray, guide_small: np.ndarray, src_small: np.ndarray, radius: int,
                    eps: float) -> np.ndarray:
    """Carry `src_small` (a map computed at the size of `guide_small`) to the size of `guide_full`, its edges
    following the full-resolution guide; float32 (H, W).

    Parameters
    ----------
    guide_full, guide_small : ndarray, (H, W, 3) and (h, w, 3)
        The same image at full and at reduced size, in the same encoding.
    src_small : ndarray, (h, w)
        The map at reduced size.
    radius : int
        Window radius at reduced size, pixels.
    eps : float
        Regularisation (see :func:`guided_coefficients`).

    Examples
    --------
    >>> import numpy as np
    >>> g = np.zeros((64, 64, 3), np.float32); g[:, 32:] = 1            # an edge at column 32
    >>> s = cv2.resize(g, (16, 16), interpolation=cv2.INTER_AREA)
    >>> q = guided_upsample(g, s, s[..., 0], 2, 1e-4)
    >>> bool((q[:, 31] < 0.2).all() and (q[:, 32] > 0.8).all())          # the edge stays one pixel sharp
    True
    """
    h, w = guide_full.shape[:2]
    coef = cv2.resize(guided_coefficients(guide_small, src_small, radius, eps), (w, h),
                      interpolation=cv2.INTER_LINEAR)
    return _linear(coef, guide_full)


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """The colour guided filter at one size: `src` smoothed over windows of `radius` pixels, its edges put
    on the edges of `guide`; float32 (H, W). (The same filter as ``cv2.ximgproc.guidedFilter``, to within
    float rounding.)

    Parameters
    ----------
    guide : ndarray, (H, W, 3)
        The guide image (e.g. 8-bit sRGB values).
    src : ndarray, (H, W)
        The map to filter.
    radius, eps
        As for :func:`guided_coefficients` (`eps` in squared guide units).
    """
    return _linear(guided_coefficients(guide, src, radius, eps), guide)


def _linear(coef: np.ndarray, guide: np.ndarray) -> np.ndarray:
    """The linear models `coef` (H, W, 4) applied to the colours of `guide`: ``A · I + b``."""
    return np.einsum("hwc,hwc->hw", coef[..., :3], np.asarray(guide, np.float32)) + coef[..., 3]


def sample_bilinear(small: np.ndarray, full_hw: tuple[int, int], ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Values of a reduced map (h, w[, C]) at full-resolution pixels ``(ys, xs)`` of a `full_hw` image,
    bilinearly interpolated (pixel centres aligned as :func:`cv2.resize` aligns them); float32 (N[, C]).

    Only the asked-for pixels are computed, so work confined to a thin band costs what the band costs.
    """
    h, w = full_hw
    sh, sw = small.shape[:2]
    n = len(ys)
    cols = 1024                                                   # remap wants 2-D maps of modest width
    pad = -n % cols
    mx = np.concatenate([(np.asarray(xs, np.float32) + 0.5) * np.float32(sw / w) - 0.5, np.zeros(pad, np.float32)])
    my = np.concatenate([(np.asarray(ys, np.float32) + 0.5) * np.float32(sh / h) - 0.5, np.zeros(pad, np.float32)])
    out = cv2.remap(np.asarray(small, np.float32), mx.reshape(-1, cols), my.reshape(-1, cols), cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE)
    return out.reshape((-1,) + small.shape[2:])[:n]


def guided_upsample_at(guide_values: np.ndarray, guide_small: np.ndarray, src_small: np.ndarray,
                       full_hw: tuple[int, int], ys: np.ndarray, xs: np.ndarray, radius: int, eps: float
                       ) -> np.ndarray:
    """:func:`guided_upsample` evaluated only at full-resolution pixels ``(ys, xs)``, whose guide colours are
    `guide_values` (N, 3); float32 (N,)."""
    coef = sample_bilinear(guided_coefficients(guide_small, src_small, radius, eps), full_hw, ys, xs)
    return (coef[:, :3] * guide_values).sum(1) + coef[:, 3]
