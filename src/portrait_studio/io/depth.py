"""Depth that phones store beside the photo.

- iPhone HEIC: the depth image of the primary image (pillow-heif's ``depth_images``), whose metadata gives the
  representation (ISO/IEC 23008-12: 0 uniform inverse Z, 1 uniform disparity, 2 uniform Z, 3 non-uniform
  disparity) and the range of its 8-bit codes (``d_min``/``d_max``: disparity in 1/m for Apple);
- iPhone JPEG: an MPF frame whose XMP says ``apdi:AuxiliaryImageType`` disparity or depth, with
  ``apdi:FloatMinValue``/``FloatMaxValue`` (disparity in 1/m, depth in metres);
- Google Camera: the GDepth XMP (``GDepth:Data``, a base64 PNG or JPEG in the extended XMP, which a JPEG
  splits over several APP1 segments; ``Format`` RangeInverse or RangeLinear and ``Near``/``Far`` in metres);
- Android's Dynamic Depth (Camera and Container XMP): the depth map an item appended to the JPEG after the
  primary image, found through the container's directory of items and their lengths, with the camera's
  ``DepthMap:Format``, ``Near`` and ``Far``.

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
        What it was read from ("iPhone HEIC", "iPhone JPEG", "Google GDepth", "Dynamic Depth").
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
            return _read_gdepth(path, xmp0)
        if b"DepthMap:" in xmp0 and b"Container:Directory" in xmp0:
            return _read_dynamic_depth(path, xmp0)
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


#: The signature of an APP1 segment holding a part of a JPEG's extended XMP (Adobe XMP Specification Part 3).
_EXTENDED_XMP = b"http://ns.adobe.com/xmp/extension/\x00"


def _extended_xmp(raw: bytes, guid: bytes | None) -> bytes:
    """A JPEG's extended XMP, its parts (each after a 32-character GUID, the whole's length and the part's
    offset) put back together in order; the packet whose GUID the main XMP names (`guid`), else the first.
    b"" when the file has none."""
    packets: dict[bytes, dict[int, bytes]] = {}
    i = 2
    while i + 4 <= len(raw) and raw[i] == 0xFF:
        marker = raw[i + 1]
        if marker in (0xD9, 0xDA):                      # end of image, start of scan: no more metadata
            break
        if marker == 0xFF:                              # fill byte
            i += 1
            continue
        n = int.from_bytes(raw[i + 2:i + 4], "big")
        seg = raw[i + 4:i + 2 + n]
        if marker == 0xE1 and seg.startswith(_EXTENDED_XMP):
            body = seg[len(_EXTENDED_XMP):]
            packets.setdefault(body[:32], {})[int.from_bytes(body[36:40], "big")] = body[40:]
        i += 2 + n
    parts = packets.get(guid) if guid in packets else next(iter(packets.values()), {})
    return b"".join(parts[k] for k in sorted(parts))


def _image_codes(data: bytes) -> np.ndarray:
    """An encoded depth image (PNG or JPEG, 8 or 16 bits) as codes in [0, 1], float32."""
    with Image.open(io.BytesIO(data)) as d:
        if d.mode in ("I;16", "I;16B", "I"):
            return np.asarray(d, np.float32) / 65535.0
        return np.asarray(d.convert("L"), np.float32) / 255.0


def _metres(v: np.ndarray, near: float, far: float, inverse: bool) -> np.ndarray:
    """Metres from normalised codes `v`: RangeLinear spreads depth evenly from `near` to `far`, RangeInverse
    spreads its inverse (the GDepth and Dynamic Depth conventions)."""
    if inverse:
        return (far * near / np.maximum(far - v * (far - near), 1e-6)).astype(np.float32)
    return (near + v * (far - near)).astype(np.float32)


def _read_gdepth(path: pathlib.Path, xmp: bytes) -> StoredDepth | None:
    """Google's GDepth: the map as base64 in the extended XMP (Pillow reads only the main packet)."""
    raw = path.read_bytes()
    guid = re.search(rb"HasExtendedXMP\s*[>=]\s*\"?([0-9A-Fa-f]{32})", xmp)
    both = xmp + _extended_xmp(raw, guid.group(1) if guid else None)
    data = re.search(rb"GDepth:Data\s*=\s*\"([A-Za-z0-9+/=\s]+)\"", both) or \
        re.search(rb"<GDepth:Data>([A-Za-z0-9+/=\s]+)</GDepth:Data>", both)
    near, far = _xmp_float(both, "GDepth:Near"), _xmp_float(both, "GDepth:Far")
    if not data or near is None or far is None:
        return None
    v = _image_codes(base64.b64decode(b"".join(data.group(1).split())))
    fmt = re.search(rb"GDepth:Format\s*[>=]\s*\"?(\w+)", both)
    return StoredDepth(_metres(v, near, far, bool(fmt) and fmt.group(1) == b"RangeInverse"), None, "Google GDepth")


def _read_dynamic_depth(path: pathlib.Path, xmp: bytes) -> StoredDepth | None:
    """Android's Dynamic Depth: the items listed in the container's directory follow the primary image in
    the file, in that order, each ``Item:Length`` bytes after ``Item:Padding`` bytes; the depth map is the
    item the camera's ``DepthMap:DepthURI`` names (else the one whose semantic is Depth)."""
    raw = path.read_bytes()
    items = [dict(re.findall(rb"Item:(\w+)\s*=\s*\"([^\"]*)\"", m.group(1)))
             for m in re.finditer(rb"<Container:Item\b([^>]*)>", xmp)]
    near, far = _xmp_float(xmp, "DepthMap:Near"), _xmp_float(xmp, "DepthMap:Far")
    if len(items) < 2 or near is None or far is None:
        return None
    uri = re.search(rb"DepthMap:DepthURI\s*=\s*\"([^\"]+)\"", xmp)
    rest = items[1:]                                    # the first item is the primary image itself
    sizes = [(int(it.get(b"Padding", b"0")), int(it.get(b"Length", b"0"))) for it in rest]
    pos = len(raw) - sum(pad + n for pad, n in sizes)   # the items fill the file's end
    where = {}                                          # each item's bytes, by its URI and by its semantic
    for it, (pad, n) in zip(rest, sizes):
        pos += pad
        where.setdefault(it.get(b"DataURI"), (pos, pos + n))
        where.setdefault(it.get(b"Semantic"), (pos, pos + n))
        pos += n
    span = where.get(uri.group(1) if uri else None) or where.get(b"Depth")
    if span is None or span[0] < 0:
        return None
    found = raw[span[0]:span[1]]
    fmt = re.search(rb"DepthMap:Format\s*=\s*\"(\w+)\"", xmp)
    v = _image_codes(found)
    return StoredDepth(_metres(v, near, far, bool(fmt) and fmt.group(1) == b"RangeInverse"), None, "Dynamic Depth")
