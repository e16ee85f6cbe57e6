"""Filters that respect a mask: blurs that only average the pixels a weight map trusts."""
from __future__ import annotations

import cv2
import numpy as np


def masked_gaussian(image: np.ndarray, weight: np.ndarray, sigma: float, *, floor: float = 1e-4,
                    exact: bool = False) -> np.ndarray:
    """Gaussian blur that averages only where `weight` is high (normalised convolution, Knutsson 1993).

    ``G*(w·x) / G*w``: pixels of weight 0 take no part, so a blur inside a mask does not bleed what is
    outside it in, and holes (weight 0) are filled from their surroundings.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C), float32
        Any values (linear light, densities, Lab...).
    weight : ndarray, shape (H, W), float32
        Confidence per pixel, ≥ 0 (e.g. a mask in [0, 1]).
    sigma : float
        Gaussian standard deviation, pixels.
    floor : float
        Where the blurred weight is below this, the plain blur is returned (no trusted pixel nearby).
    exact : bool
        Blur exactly at every sigma (``cv2.GaussianBlur``) rather than wide blurs on a reduced copy
        (:func:`gaussian`, within a few per cent and many times faster).

    Returns
    -------
    ndarray
        float32, the shape of `image`.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.ones((9, 9), np.float32); x[4, 4] = 100.0
    >>> w = np.ones((9, 9), np.float32); w[4, 4] = 0.0
    >>> float(masked_gaussian(x, w, 1.5)[4, 4])
    1.0
    """
    image = np.asarray(image, np.float32)
    weight = np.asarray(weight, np.float32)
    if sigma <= 0:
        return image.copy()
    blur = (lambda x, s: cv2.GaussianBlur(x, (0, 0), s)) if exact else gaussian     # noqa: E731
    wb = blur(weight, sigma)
    low = wb <= floor
    np.maximum(wb, floor, out=wb)
    if image.ndim == 3 and image.shape[2] > 1:
        # the weights repeated per channel: numpy's broadcasting over a short last axis is slow
        k = image.shape[2]
        out = blur(image * cv2.merge([weight] * k), sigma)
        np.divide(out, cv2.merge([wb] * k), out=out)
    else:
        extra = (1,) * (image.ndim - 2)
        out = blur(image * weight.reshape(weight.shape + extra), sigma).reshape(image.shape)
        np.divide(out, wb.reshape(wb.shape + extra), out=out)
    if low.any():                       # no trusted pixel nearby: the plain blur
        cv2.copyTo(blur(image, sigma).reshape(image.shape), low.view(np.uint8), out)
    return out


def gaussian(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of standard deviation `sigma` pixels, float32, any channel count.

    Wide blurs (sigma above 6 px) run on a copy reduced so that sigma is 3 px there and are enlarged back
    bilinearly: many times faster, and within a few per cent of the exact blur away from the borders.
    """
    image = np.asarray(image, np.float32)
    if sigma <= 0:
        return image.copy()
    if sigma <= 6.0:
        return cv2.GaussianBlur(image, (0, 0), sigma)
    h, w = image.shape[:2]
    f = sigma / 3.0
    size = (max(1, round(w / f)), max(1, round(h / f)))
    # area reduction already blurs by about f/2 px; the rest of the blur is done at the reduced size
    rest = np.sqrt(max(sigma ** 2 - (0.5 * f) ** 2, 0.25 * f ** 2)) / f
    small = cv2.GaussianBlur(cv2.resize(image, size, interpolation=cv2.INTER_AREA), (0, 0), rest)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def push_pull_fill(colour: np.ndarray, weight: np.ndarray, *, min_size: int = 4) -> np.ndarray:
    """Fill where `weight` is low from the weighted surroundings at ever coarser scales (push-pull; Gortler et
    al. 1996): each hole takes the values of the nearest trusted pixels, averaged at the scale the hole needs.

    Parameters
    ----------
    colour : ndarray, (H, W) or (H, W, C), float32
    weight : ndarray, (H, W), float32 in [0, 1]
        Trust per pixel; where it is 1 the value is kept.

    Examples
    --------
    >>> x = np.zeros((8, 8), np.float32); x[:, 4:] = 1.0
    >>> w = np.ones((8, 8), np.float32); w[:, 3:5] = 0.0
    >>> f = push_pull_fill(x, w)
    >>> bool(f[0, 0] == 0 and f[0, 7] == 1 and 0 < f[0, 3] < f[0, 4] < 1)
    True
    """
    if colour.ndim == 2:
        return push_pull_fill(colour[..., None], weight, min_size=min_size)[..., 0]
    h, w = weight.shape
    if min(h, w) <= min_size or float(weight.min()) >= 0.999:
        wb = cv2.mean(weight)[0]
        mean = (colour * weight[..., None]).reshape(-1, colour.shape[-1]).mean(0) / max(wb, 1e-6)
        return colour * weight[..., None] + mean * (1.0 - weight[..., None]) if wb > 0 else colour.copy()
    size = (max(1, (w + 1) // 2), max(1, (h + 1) // 2))
    cw = cv2.resize(colour * weight[..., None], size, interpolation=cv2.INTER_AREA).reshape(
        size[1], size[0], colour.shape[-1])
    ws = cv2.resize(weight, size, interpolation=cv2.INTER_AREA)
    small = cw / np.maximum(ws, 1e-6)[..., None]
    coarse = push_pull_fill(small, np.clip(ws * 2.0, 0.0, 1.0), min_size=min_size)
    up = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR).reshape(colour.shape)
    return colour * weight[..., None] + up * (1.0 - weight[..., None])
