"""A small reader of ICC profiles: matrix/TRC RGB and grey TRC profiles decoded in float.

Only what decoding needs is read: the header's colour space, the description, the colourants
(``rXYZ``/``gXYZ``/``bXYZ``, D50 PCS) and the tone curves (``rTRC``/``gTRC``/``bTRC`` or ``kTRC``,
``curv`` or ``para`` types 0-4). LUT-based, CMYK and Lab profiles are left to LittleCMS
(:mod:`PIL.ImageCms`) by the reader.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from ..core import srgb_to_linear

#: XYZ (D50, the ICC PCS) to linear sRGB (D65), through Bradford adaptation (Lindbloom).
XYZ_D50_TO_SRGB = np.array([[3.1338561, -1.6168667, -0.4906146],
                            [-0.9787684, 1.9161415, 0.0334540],
                            [0.0719453, -0.2289914, 1.4052427]])
_GRID = np.linspace(0, 1, 256, dtype=np.float32)


def _tags(data: bytes) -> dict[bytes, bytes]:
    if len(data) < 132 or data[36:40] != b"acsp":
        raise ValueError("not an ICC profile")
    (count,) = struct.unpack_from(">I", data, 128)
    if 132 + 12 * count > len(data):
        raise ValueError("truncated ICC tag table")
    table = (struct.unpack_from(">4sII", data, 132 + 12 * i) for i in range(count))
    return {sig: data[off:off + size] for sig, off, size in table}


def colour_space(data: bytes) -> str:
    """The profile's data colour space, stripped: ``"RGB"``, ``"GRAY"``, ``"CMYK"``, ``"Lab"``..."""
    _tags(data)
    return data[16:20].decode("latin-1").strip()


def description(data: bytes) -> str:
    """The profile's human-readable name (its ``desc`` tag, v2 ``desc`` or v4 ``mluc``)."""
    desc = _tags(data).get(b"desc", b"")
    if desc[:4] == b"desc":
        (n,) = struct.unpack_from(">I", desc, 8)
        return desc[12:12 + n].split(b"\0")[0].decode("latin-1").strip()
    if desc[:4] == b"mluc":
        n, off = struct.unpack_from(">I", desc, 20)[0], struct.unpack_from(">I", desc, 24)[0]
        return desc[off:off + n].decode("utf-16-be", "replace").strip("\0 ")
    return "embedded ICC profile"


def _curve(tag: bytes) -> Callable[[np.ndarray], np.ndarray]:
    """Encoded [0, 1] -> linear, from a ``curv`` or ``para`` tag."""
    if tag[:4] == b"curv":
        (n,) = struct.unpack_from(">I", tag, 8)
        if n == 0:
            return lambda x: x
        if n == 1:
            gamma = struct.unpack_from(">H", tag, 12)[0] / 256
            return lambda x: x ** gamma
        table = np.frombuffer(tag, ">u2", n, 12).astype(np.float32) / 65535
        grid = np.linspace(0, 1, n, dtype=np.float32)
        return lambda x: np.interp(x, grid, table).astype(np.float32)
    if tag[:4] == b"para":
        kind = struct.unpack_from(">H", tag, 8)[0]
        if kind > 4:
            raise ValueError(f"unknown parametric curve type {kind}")
        nparam = (1, 3, 4, 5, 7)[kind]
        g, a, b, c, d, e, f = (list(np.frombuffer(tag, ">i4", nparam, 12) / 65536) + [0.0] * 7)[:7]
        if kind == 0:
            a, d = 1.0, 0.0                 # Y = X^g
        elif kind == 1:
            d = -b / a                      # Y = (aX + b)^g, 0 below -b/a
        elif kind == 2:
            d, e, f = -b / a, c, c          # Y = (aX + b)^g + c, c below -b/a
            c = 0.0
        elif kind == 3:
            e = f = 0.0                     # Y = (aX + b)^g above d, cX below
        return lambda x: np.where(x >= d, np.maximum(a * x + b, 0) ** g + e, c * x + f).astype(np.float32)
    raise ValueError(f"unsupported tone curve type {tag[:4]!r}")


def _xyz(tag: bytes) -> np.ndarray:
    if tag[:4] != b"XYZ ":
        raise ValueError("colourant is not an XYZ tag")
    return np.frombuffer(tag, ">i4", 3, 8) / 65536


@dataclass(frozen=True)
class MatrixTRC:
    """A matrix/TRC profile's decoding: per-channel tone curves to linear, then a 3×3 matrix to linear sRGB.

    Attributes
    ----------
    curves : tuple of callable
        One (grey) or three (RGB) functions from encoded [0, 1] to linear light.
    matrix : ndarray (3, 3) or None
        Linear profile RGB to linear sRGB (D65); None when the primaries are sRGB's (or for grey).
    """

    curves: tuple[Callable[[np.ndarray], np.ndarray], ...]
    matrix: np.ndarray | None

    def __call__(self, encoded: np.ndarray) -> np.ndarray:
        """Float (H, W, C) encoded values in [0, 1] to float32 (H, W, 3) linear sRGB, unclipped."""
        x = np.clip(np.asarray(encoded, np.float32), 0, 1)
        lin = np.stack([f(x[..., i]) for i, f in enumerate(self.curves)], axis=-1).astype(np.float32)
        return self._finish(lin)

    def decode8(self, u8: np.ndarray) -> np.ndarray:
        """The same for 8-bit samples (H, W, C), exactly, by table look-up (12 MP in well under 0.1 s)."""
        ramp = np.linspace(0, 1, 256, dtype=np.float32)
        lut = np.stack([f(ramp) for f in self.curves], axis=-1).astype(np.float32)[None]   # (1, 256, C)
        if len(self.curves) == 1:
            return self._finish(cv2.LUT(np.ascontiguousarray(u8[..., 0]), lut[..., 0])[..., None])
        return self._finish(cv2.LUT(np.ascontiguousarray(u8), lut))

    def _finish(self, lin: np.ndarray) -> np.ndarray:
        if lin.shape[2] == 1:
            return np.repeat(lin, 3, axis=2)
        return lin if self.matrix is None else cv2.transform(lin, self.matrix)


SRGB = MatrixTRC((srgb_to_linear,) * 3, None)
"""Decoding of sRGB, and of every profile found equal to it (to 1e-4)."""


def decoder(data: bytes) -> MatrixTRC | None:
    """The float decoding of a matrix/TRC profile to linear sRGB, or None if the profile needs a CMM.

    Parameters
    ----------
    data : bytes
        An ICC profile.

    Returns
    -------
    MatrixTRC or None
        For matrix/TRC RGB profiles and grey TRC profiles with an XYZ PCS: a callable taking an
        encoded float array (H, W, 3) (RGB) or (H, W, 1) (grey) in [0, 1] and returning float32
        (H, W, 3) linear-light sRGB (D65), unclipped (out-of-gamut colours fall below 0 or above 1);
        its ``decode8`` does the same for uint8 samples. An sRGB profile decodes exactly as untagged
        sRGB. None for LUT-based, CMYK, Lab and other profiles.

    Raises
    ------
    ValueError
        If the bytes are not a well-formed ICC profile.
    """
    tags, space = _tags(data), colour_space(data)
    try:
        if data[20:24] != b"XYZ ":
            return None
        if space == "GRAY" and b"kTRC" in tags:
            return MatrixTRC((_curve(tags[b"kTRC"]),), None)
        if space == "RGB" and all(k in tags for k in (b"rXYZ", b"gXYZ", b"bXYZ", b"rTRC", b"gTRC", b"bTRC")):
            curves = tuple(_curve(tags[k]) for k in (b"rTRC", b"gTRC", b"bTRC"))
            m = (XYZ_D50_TO_SRGB @ np.stack([_xyz(tags[k]) for k in (b"rXYZ", b"gXYZ", b"bXYZ")], axis=1)
                 ).astype(np.float32)
            if np.abs(m - np.eye(3)).max() < 1e-3 and all(np.abs(f(_GRID) - srgb_to_linear(_GRID)).max() < 1e-4
                                                          for f in curves):
                return SRGB
            return MatrixTRC(curves, m)
    except (struct.error, IndexError) as e:
        raise ValueError(f"malformed ICC profile ({e})") from e
    return None
