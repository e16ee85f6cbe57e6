"""A small reader of ICC profiles: matrix/TRC RGB and grey TRC profiles decoded in float.

Only what decoding needs is read: the header's colour space, the description, the colourants
(``rXYZ``/``gXYZ``/``bXYZ``, D50 PCS) and the tone curves (``rTRC``/``gTRC``/``bTRC`` or ``kTRC``,
``curv`` or ``para`` types 0-4). LUT-based, CMYK and Lab profiles are left to LittleCMS
(:mod:`PIL.ImageCms`) by the reader.
"""
from __future__ import annotations

import struct
from typing import Callable

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


def decoder(data: bytes) -> Callable[[np.ndarray], np.ndarray] | None:
    """A float function from profile-encoded values to linear sRGB, or None if the profile needs a CMM.

    Parameters
    ----------
    data : bytes
        An ICC profile.

    Returns
    -------
    callable or None
        For matrix/TRC RGB profiles and grey TRC profiles with an XYZ PCS: a function taking an
        encoded float array (H, W, 3) (RGB) or (H, W, 1) (grey) in [0, 1] and returning float32
        (H, W, 3) linear-light sRGB (D65), unclipped (out-of-gamut colours fall below 0 or above 1).
        None for LUT-based, CMYK, Lab and other profiles.

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
            trc = _curve(tags[b"kTRC"])
            return lambda x: np.repeat(trc(np.clip(x[..., :1], 0, 1)), 3, axis=2).astype(np.float32)
        if space == "RGB" and all(k in tags for k in (b"rXYZ", b"gXYZ", b"bXYZ", b"rTRC", b"gTRC", b"bTRC")):
            curves = [_curve(tags[k]) for k in (b"rTRC", b"gTRC", b"bTRC")]
            m = (XYZ_D50_TO_SRGB @ np.stack([_xyz(tags[k]) for k in (b"rXYZ", b"gXYZ", b"bXYZ")], axis=1)
                 ).astype(np.float32)
            if np.abs(m - np.eye(3)).max() < 1e-3 and all(np.abs(f(_GRID) - srgb_to_linear(_GRID)).max() < 1e-4
                                                          for f in curves):
                return lambda x: srgb_to_linear(x)        # an sRGB profile: decode exactly as untagged
            return lambda x: (np.stack([f(np.clip(x[..., i], 0, 1)) for i, f in enumerate(curves)], axis=-1)
                              @ m.T).astype(np.float32)
    except (struct.error, IndexError) as e:
        raise ValueError(f"malformed ICC profile ({e})") from e
    return None
