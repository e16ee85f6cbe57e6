"""Depth that phones store beside the photo.

- iPhone HEIC: the depth image of the primary image (pillow-heif's ``depth_images``), whose metadata gives the
  representation (ISO/IEC 23008-12: 0 uniform inverse Z, 1 uniform disparity, 2 uniform Z, 3 non-uniform
  disparity) and the range of its 8-bit codes (``d_min``/``d_max``: disparity in 1/m for Apple);
- iPhone JPEG: an MPF frame whose XMP says ``apdi:AuxiliaryImageType`` disparity or depth, with
  ``apdi:FloatMinValue``/``FloatMaxValue`` (disparity in 1/m, depth in metres);
- Google Camera: the GDepth XMP (``GDepth:Data``, a base64 PNG or JPEG in the extended XMP, with ``Format``
  RangeInverse or RangeLinear and ``Near``/``Far`` in metres).

Each comes with the portrait-effects matte when the file has one (:mod:`.mattes`). Maps are low resolution
and upright like the primary image; :func:`read_depth` returns them as stored, in metres.
"""
from __future__ import annotations

import base64
import io
import os
import pathlib
import re
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .mattes import read_portrait_matte


@dataclass(frozen=True)
class StoredDepth:
    """A depth map a phone stored (low resolution, upright).

    Attributes
    ----------
    depth : ndarray, float32 (h, w)
        Metres from the camera.
    matte : ndarray, float32 (h', w'), or None
        The portrait-effects matte (1 = person), when stored.
    source : str
        What it was read from ("iPhone HEIC", "iPhone JPEG", "Google GDepth").
    """

    depth: np.ndarray
    matte: np.ndarray | None
    source: str


def _from_codes(codes: np.ndarray, lo: float, hi: float, disparity: bool, inverse_z: bool = False) -> np.ndarray:
    """Metres from 8/16-bit codes spread uniformly between `lo` and `hi` (code 0 = lo)."""
    v = codes.astype(np.float32) / float(np.iinfo(codes.dtype).max if codes.dtype.kind == "u" else 1.0)
    x = lo + v * (hi - lo)
    if disparity or inverse_z:
        return (1.0 / np.maximum(x, 1e-4)).astype(np.float32)
    return np.maximum(x, 1e-3).astype(np.float32)


def _xmp_float(xmp: bytes, name: str) -> float | None:
    m = re.search(rb"%s\s*[>=]\s*\"?([-+0-9.eE]+)" % re.escape(name.encode()), xmp)
    return float(m.group(1)) if m else None


def read_depth(path: str | os.PathLike) -> StoredDepth | None:
    """The depth stored in `path`, or None when it holds none (or it cannot be read as such)."""
    path = pathlib.Path(path)
    try:
        with warnings.catch_warnings():             # the photo itself was read already: its complaints said
            warnings.simplefilter("ignore")
            if path.suffix.lower() in (".heic", ".heif"):
                return _read_heic(path)
            return _read_jpeg(path)
    except (OSError, ValueError, KeyError, SyntaxError, EOFError):
        return None


def _read_heic(path: pathlib.Path) -> StoredDepth | None:
    import pillow_heif

    heif = pillow_heif.open_heif(path)
    img = heif[heif.primary_index]
    for d in img.info.get("depth_images") or []:
        meta = d.info.get("metadata") or {}
        kind = int(meta.get("representation_type", 1))
        lo, hi = float(meta.get("d_min", 0.0)), float(meta.get("d_max", 1.0))
        codes = np.asarray(d)
        if kind == 2:                                   # uniform Z
            depth = _from_codes(codes, lo, hi, False)
        else:                                           # disparity (1, 3) or inverse Z (0)
            depth = _from_codes(codes, lo, hi, True)
        return StoredDepth(depth, read_portrait_matte(path), "iPhone HEIC")
    return None


def _read_jpeg(path: pathlib.Path) -> StoredDepth | None:
    with Image.open(path) as im:
        xmp0 = im.info.get("xmp") or b""
        xmp0 = xmp0 if isinstance(xmp0, bytes) else xmp0.encode()
        if b"GDepth:Data" in xmp0 or b"GDepth:Format" in xmp0:
            return _read_gdepth(path, im, xmp0)
        for i in range(1, getattr(im, "n_frames", 1)):
            im.seek(i)
            xmp = im.info.get("xmp") or b""
            xmp = xmp if isinstance(xmp, bytes) else xmp.encode()
            kind = re.search(rb"AuxiliaryImageType\s*[>=]\s*\"?(\w+)", xmp)
            if not kind or kind.group(1) not in (b"disparity", b"depth") or b"PortraitEffectsMatte" in xmp:
                continue
            lo, hi = _xmp_float(xmp, "apdi:FloatMinValue"), _xmp_float(xmp, "apdi:FloatMaxValue")
            if lo is None or hi is None:
                continue
            codes = np.asarray(im.convert("L"))
            depth = _from_codes(codes, lo, hi, kind.group(1) == b"disparity")
            return StoredDepth(depth, read_portrait_matte(path), "iPhone JPEG")
    return None


def _read_gdepth(path: pathlib.Path, im: Image.Image, xmp: bytes) -> StoredDepth | None:
    """Google's GDepth: the map as base64 in the (extended) XMP; Pillow joins only the main packet, so the
    APP1 segments are searched directly."""
    raw = path.read_bytes()
    data = b"".join(re.findall(rb"GDepth:Data\s*=\s*\"([A-Za-z0-9+/=\s]+)", raw))
    if not data:
        parts = re.findall(rb"<GDepth:Data>([A-Za-z0-9+/=\s]+)</GDepth:Data>", raw)
        data = b"".join(parts)
    if not data:
        return None
    with Image.open(io.BytesIO(base64.b64decode(b"".join(data.split())))) as d:
        codes = np.asarray(d.convert("L"))
    near, far = _xmp_float(raw, "GDepth:Near"), _xmp_float(raw, "GDepth:Far")
    if near is None or far is None:
        return None
    fmt = re.search(rb"GDepth:Format\s*[>=]\s*\"?(\w+)", raw)
    v = codes.astype(np.float32) / 255.0
    if fmt and fmt.group(1) == b"RangeInverse":
        depth = far * near / (far - v * (far - near))
    else:
        depth = v * (far - near) + near
    return StoredDepth(np.asarray(depth, np.float32), None, "Google GDepth")
