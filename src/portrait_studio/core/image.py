"""The image convention shared by every layer.

In memory an image is a NumPy ``float32`` array of shape ``(H, W, 3)``, RGB with Rec. 709 / sRGB
primaries and D65 white, in **linear light**, scene-referred: 0 is black, 1 is the diffuse white of
the source encoding, and values may exceed 1 (or, for wide-gamut sources, fall slightly below 0)
until output. Conversion to and from encoded values happens at the io boundary only.

Masks and mattes are ``float32`` arrays of shape ``(H, W)`` in [0, 1].
"""
from __future__ import annotations

import cv2
import numpy as np

#: Rec. 709 luma weights for linear RGB (relative luminance Y).
LUMA_709 = np.array([0.2126, 0.7152, 0.0722], np.float32)


def as_image(image: np.ndarray, *, name: str = "image") -> np.ndarray:
    """Check that `image` follows the convention and return it as C-contiguous float32.

    Parameters
    ----------
    image : ndarray, shape (H, W, 3)
        Linear-light RGB.
    name : str
        How to call the array in an error message.

    Raises
    ------
    ValueError
        If the array is not (H, W, 3) or not real-valued.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 1:
        raise ValueError(f"{name} must have shape (H, W, 3), got {image.shape}; "
                         "convert greyscale with np.repeat(g[..., None], 3, axis=2) and drop alpha first")
    if not np.issubdtype(image.dtype, np.floating):
        raise ValueError(f"{name} must be floating point linear light, got {image.dtype}; "
                         "use portrait_studio.core.from_srgb8() for 8-bit sRGB arrays")
    return np.ascontiguousarray(image, dtype=np.float32)


def srgb_to_linear(encoded: np.ndarray) -> np.ndarray:
    """Decode sRGB-encoded values in [0, 1] to linear light (IEC 61966-2-1), as float32."""
    x = np.asarray(encoded, np.float32)
    return np.where(x <= 0.04045, x / 12.92, ((np.maximum(x, 0.04045) + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """Encode linear light to sRGB values, clipped to [0, 1], as float32."""
    x = np.clip(np.asarray(linear, np.float32), 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(np.maximum(x, 0.0031308), 1 / 2.4) - 0.055
                    ).astype(np.float32)


def _lut_srgb8_to_linear() -> np.ndarray:
    return srgb_to_linear(np.arange(256, dtype=np.float32) / 255.0)


_SRGB8_TO_LINEAR = _lut_srgb8_to_linear()          # a constant table, computed once
_LINEAR_TO_SRGB8_SIZE = 65536                       # table resolution for fast 8-bit encoding
_LINEAR_TO_SRGB8 = np.round(linear_to_srgb(np.linspace(0, 1, _LINEAR_TO_SRGB8_SIZE, dtype=np.float32)) * 255
                            ).astype(np.uint8)


def from_srgb8(rgb8: np.ndarray) -> np.ndarray:
    """8-bit sRGB (H, W, 3) uint8 to the linear float32 convention (a table look-up, exact)."""
    rgb8 = np.asarray(rgb8)
    if rgb8.dtype != np.uint8:
        raise ValueError(f"from_srgb8 expects uint8, got {rgb8.dtype}")
    if rgb8.ndim in (2, 3) and rgb8.size and (rgb8.ndim == 2 or rgb8.shape[2] <= 4):
        return cv2.LUT(np.ascontiguousarray(rgb8), _SRGB8_TO_LINEAR)     # ~8x faster than indexing
    return _SRGB8_TO_LINEAR[rgb8]


def to_srgb8(image: np.ndarray) -> np.ndarray:
    """Linear light to 8-bit sRGB, clipped, rounded to nearest.

    Uses a 64k-entry table on the linear value: the result is within 0.55 code value of exact rounding
    everywhere (the table's step costs at most 0.05 code value, on the steep part of the curve near black).
    """
    x = np.asarray(image, np.float32)
    idx = np.clip(x * (_LINEAR_TO_SRGB8_SIZE - 1) + 0.5, 0, _LINEAR_TO_SRGB8_SIZE - 1).astype(np.int32)
    return _LINEAR_TO_SRGB8[idx]


def luminance(image: np.ndarray) -> np.ndarray:
    """Relative luminance Y (H, W) float32 of a linear RGB image (Rec. 709 weights)."""
    return np.asarray(image, np.float32) @ LUMA_709
