"""Writing linear-light images as sRGB files, carrying the source's metadata, atomically."""
from __future__ import annotations

import contextlib
import functools
import os
import pathlib
import re
import secrets
import struct
import zlib

import cv2
import numpy as np
from PIL import Image, ImageCms

from ..core import as_image, linear_to_srgb, to_srgb8
from ..errors import InputError, ParameterError
from .read import Metadata, _register_heif

_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF",
            ".webp": "WEBP", ".heic": "HEIF", ".heif": "HEIF"}
SUPPORTED_WRITE = tuple(_FORMATS)
_DEPTHS = {"PNG": (8, 16), "TIFF": (8, 16)}                 # other formats: 8 only
_MAX_SIDE = {"JPEG": 65500, "WEBP": 16383}                  # the encoders' limits, pixels a side
_OPAQUE = ("JPEG",)                                         # formats without an alpha channel
#: What transparency is flattened over where the format has no alpha channel: white, as an image editor's
#: export and most viewers show a transparent area.
FLATTEN_OVER = 1.0

#: EXIF tags describing the source's pixel layout (stale once re-encoded), dropped always.
_LAYOUT = {254, 255, 256, 257, 258, 259, 262, 266, 273, 277, 278, 279, 284, 317, 320, 322, 323, 324, 325,
           330, 338, 339, 513, 514, 530, 700, 33421, 33422, 33723, 34377, 34675, 0xA002, 0xA003}
#: Personal EXIF tags dropped by ``strip_private`` (besides the whole GPS IFD).
_PRIVATE = {0x013B: "Artist", 0x013C: "HostComputer", 0x9C9D: "XPAuthor", 0xC62F: "CameraSerialNumber",
            0x927C: "MakerNote", 0x9286: "UserComment", 0xA420: "ImageUniqueID", 0xA430: "CameraOwnerName",
            0xA431: "BodySerialNumber", 0xA435: "LensSerialNumber"}
#: The baseline TIFF tags a TIFF output carries from EXIF: Make, Model, Software, DateTime, Artist, Copyright.
_TIFF_TAGS = (271, 272, 305, 306, 315, 33432)


def write_image(path: str | os.PathLike, image: np.ndarray, metadata: Metadata | None = None, *,
                overwrite: bool = False, quality: int = 95, bit_depth: int | None = None,
                strip_private: bool = False, alpha: np.ndarray | None = None,
                mark=None, finish=None) -> pathlib.Path:
    """Write a linear-light image as an sRGB file, with the source's EXIF and XMP and an sRGB ICC profile.

    The format follows the extension: .jpg/.jpeg, .png, .tif/.tiff, .webp, .heic/.heif. The pixels are
    encoded to sRGB (clipped to [0, 1]) and tagged with an sRGB ICC profile. EXIF is carried with its
    orientation reset to 1 and without the thumbnail and stale pixel-layout tags; XMP is carried with
    ``tiff:Orientation`` reset to 1. TIFF files carry the ICC profile, the XMP packet and the baseline
    tags Make, Model, Software, DateTime, Artist and Copyright, but not the full EXIF IFD. The file is
    written to a temporary file in the same folder, then renamed over the target.

    Parameters
    ----------
    path : str or os.PathLike
        The output file; its extension picks the format.
    image : ndarray, float32, shape (H, W, 3)
        Linear-light RGB (sRGB primaries, D65).
    metadata : Metadata, optional
        The source's metadata (from :func:`read_image`), whose EXIF and XMP are carried.
    overwrite : bool
        Replace an existing file.
    quality : int
        1-100, for JPEG, WebP and HEIC.
    bit_depth : int, optional
        8 or 16 for PNG (default 8) and TIFF (default 16); 8 for the other formats.
    strip_private : bool
        Remove the GPS IFD, the EXIF tags Artist, HostComputer, XPAuthor, CameraSerialNumber, MakerNote,
        UserComment, ImageUniqueID, CameraOwnerName, BodySerialNumber and LensSerialNumber, and the whole
        XMP packet (which can hold location and names). Make, Model, dates, exposure and Copyright stay.
    alpha : ndarray, float32, shape (H, W), optional
        Opacity in [0, 1] (not premultiplied into `image`), written as an alpha channel by PNG, TIFF, WebP
        and HEIC. JPEG has none: there the image is flattened over white (composited in linear light), so
        what was transparent shows white, never the colour hidden under it (see :func:`holds_alpha`).
    mark : callable, optional
        ``mark(pixels) -> pixels``: a change to the encoded sRGB pixels (uint8 or uint16, H×W×3 or ×4)
        just before they are written (the provenance layer's watermark).
    finish : callable, optional
        ``finish(tmp_path)``: work on the written file before it is renamed over `path` (the provenance
        layer's signing), so the file appears complete or not at all.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    InputError
        If the extension is unknown, the image is too large for the format (JPEG: 65500 px a side, WebP:
        16383), the file exists (and not `overwrite`), the folder is missing, or the file cannot be written.
    ParameterError
        If `bit_depth` or `quality` is out of range for the format.
    """
    path = pathlib.Path(path)
    fmt = _format(path)
    depth, allowed = bit_depth or (16 if fmt == "TIFF" else 8), _DEPTHS.get(fmt, (8,))
    if depth not in allowed:
        raise ParameterError(f"bit_depth={depth} is not available for {fmt}; use {' or '.join(map(str, allowed))}")
    if not 1 <= quality <= 100:
        raise ParameterError(f"quality={quality} is out of range; use 1 to 100")
    image = as_image(image)
    _check_size(path, fmt, image.shape[1], image.shape[0])
    if alpha is not None:
        alpha = np.asarray(alpha, np.float32)
        if alpha.shape != image.shape[:2]:
            raise ValueError(f"alpha must have shape {image.shape[:2]}, got {alpha.shape}")
        if fmt in _OPAQUE:
            image = flatten(image, alpha)
            alpha = None
    _check_target(path, overwrite)

    pixels = to_srgb8(image) if depth == 8 else np.round(linear_to_srgb(image) * 65535).astype(np.uint16)
    if alpha is not None:
        top = np.iinfo(pixels.dtype).max
        pixels = np.dstack([pixels, np.round(np.clip(alpha, 0.0, 1.0) * top).astype(pixels.dtype)])
    if mark is not None:
        pixels = mark(pixels)
    meta = {"icc_profile": _srgb_icc(), "exif": _exif_out(metadata and metadata.exif, strip_private),
            "xmp": None if strip_private or not metadata else _xmp_out(metadata.xmp)}
    with _replacing(path) as tmp:
        _WRITERS.get(fmt, _write_pillow)(tmp, pixels, meta, fmt=fmt, quality=quality)
        if finish is not None:
            finish(tmp)
    return path


def check_output(path: str | os.PathLike, *, overwrite: bool = False, mask: bool = False, alpha: bool = False,
                 size: tuple[int, int] | None = None) -> pathlib.Path:
    """Refuse an output before any work is done, as :func:`write_image` (or, with `mask`, :func:`write_mask`)
    would refuse it when writing: an unknown extension, a folder, an existing file unless `overwrite`, or
    a missing folder; with `size` (width, height), an image too large for the format; with `alpha`, a
    format that cannot hold the transparency the work will make (a cut-out, whose point it is).

    Raises
    ------
    InputError
        Naming the path, the problem and the fix.
    """
    path = pathlib.Path(path)
    fmt = _mask_format(path) if mask else _format(path)
    if alpha and fmt in _OPAQUE:
        raise InputError(path, f"{fmt} cannot hold the transparency this makes",
                         "write it as .png, .tif, .webp or .heic")
    if size is not None:
        _check_size(path, fmt, *size)
    _check_target(path, overwrite)
    return path


def holds_alpha(path: str | os.PathLike) -> bool:
    """Whether the output format of `path` (by its extension) keeps an alpha channel."""
    return _FORMATS.get(pathlib.Path(path).suffix.lower()) not in _OPAQUE


def flatten(image: np.ndarray, alpha: np.ndarray, *, over: float = FLATTEN_OVER) -> np.ndarray:
    """`image` composited over a flat grey level `over` (linear light; white by default) by its opacity."""
    return (image - over) * alpha[..., None] + over


def _check_size(path: pathlib.Path, fmt: str, width: int, height: int) -> None:
    if max(width, height) > _MAX_SIDE.get(fmt, np.inf):
        raise InputError(path, f"{width}×{height} px is more than {fmt} allows ({_MAX_SIDE[fmt]} px a side)",
                         "write it as .png or .tif, or make it smaller")


def _format(path: pathlib.Path) -> str:
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(path, f"unknown output format {path.suffix or '(no extension)'}",
                         f"use one of {', '.join(SUPPORTED_WRITE)}")
    return fmt


def _mask_format(path: pathlib.Path) -> str:
    if path.suffix.lower() not in (".png", ".tif", ".tiff"):
        raise InputError(path, "a mask is written as .png or .tif", "give the file a .png or .tif extension")
    return _FORMATS[path.suffix.lower()]


def _check_target(path: pathlib.Path, overwrite: bool) -> None:
    """Refuse an output path that is a folder, exists (unless `overwrite`) or lies in a missing folder."""
    if path.is_dir():
        raise InputError(path, "is a folder", "give a file name with an image extension")
    if path.exists() and not overwrite:
        raise InputError(path, "already exists", "pass --overwrite to replace it")
    if not path.parent.is_dir():
        raise InputError(path, f"folder {path.parent} does not exist", "create it first")


#: The name of a temporary file :func:`_replacing` writes beside its target (left behind only by a killed
#: process; :func:`is_temporary` tells them apart so a resumed batch can remove them).
_TEMPORARY = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp(\.[A-Za-z0-9]+)?$")


def is_temporary(name: str) -> bool:
    """Whether a file name is one of the temporary files the writers make beside their targets."""
    return bool(_TEMPORARY.match(os.path.basename(name)))


@contextlib.contextmanager
def _replacing(path: pathlib.Path):
    """Yield a temporary file beside `path` (created empty, so it honours the umask) to be written; on success
    it is renamed over `path`, on any failure it is removed and an OSError becomes an InputError."""
    tmp = path.with_name(f".{path.stem}.{secrets.token_hex(6)}.tmp{path.suffix}")
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        yield tmp
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise InputError(path, f"cannot be written ({e.strerror or e})",
                             "check that the folder is writable and has free space") from e
        raise


@functools.lru_cache(maxsize=1)
def _srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _exif_out(raw: bytes | None, strip_private: bool) -> bytes | None:
    """EXIF for the output: orientation 1, no thumbnail or pixel-layout tags, private tags on request."""
    if not raw:
        return None
    exif = Image.Exif()
    try:
        exif.load(raw)
        sub = exif.get_ifd(0x8769) if 0x8769 in exif else {}   # the Exif IFD, edited in place
        drop = _LAYOUT | (set(_PRIVATE) if strip_private else set())
        for ifd in (exif, sub):
            for tag in drop & set(ifd):
                del ifd[tag]
        if strip_private:
            exif.pop(0x8825, None)                        # GPS IFD
        exif[0x0112] = 1
        data = exif.tobytes()
        if len(data) > 65_000:                            # JPEG's APP1 limit: a big MakerNote goes first
            sub.pop(0x927C, None)
            data = exif.tobytes()
        return data if len(data) <= 65_000 else None
    except (ValueError, TypeError, KeyError, struct.error):
        return None                                       # unparseable EXIF is not carried


def _xmp_out(xmp: bytes | None) -> bytes | None:
    return re.sub(rb"(tiff:Orientation(?:=[\"']|>))\d", rb"\g<1>1", xmp) if xmp else None


def _write_pillow(tmp: pathlib.Path, pixels: np.ndarray, meta: dict, *, fmt: str, quality: int) -> None:
    if fmt == "HEIF":
        _register_heif()
    extra = {"subsampling": 0 if quality >= 90 else 2, "optimize": True} if fmt == "JPEG" else {}
    Image.fromarray(pixels).save(tmp, format=fmt, quality=quality, **extra,
                                 **{k: v for k, v in meta.items() if v is not None})


def write_mask(path: str | os.PathLike, mask: np.ndarray, *, overwrite: bool = False) -> pathlib.Path:
    """Write a mask or matte, float32 (H, W) in [0, 1], as a grey PNG (8 bit) or TIFF (16 bit), linearly
    (0 black, 1 white, no tone curve), atomically; see :func:`write_image` for the errors."""
    path = pathlib.Path(path)
    _mask_format(path)
    mask = np.asarray(mask, np.float32)
    if mask.ndim != 2:
        raise ValueError(f"mask must have shape (H, W), got {mask.shape}")
    _check_target(path, overwrite)
    tiff = path.suffix.lower() != ".png"
    pixels = np.round(np.clip(mask, 0.0, 1.0) * (65535 if tiff else 255)).astype(np.uint16 if tiff else np.uint8)
    with _replacing(path) as tmp:
        if tiff:
            import tifffile

            tifffile.imwrite(tmp, pixels, photometric="minisblack", compression="zlib", metadata=None)
        elif not cv2.imwrite(str(tmp), pixels):
            raise OSError("OpenCV could not encode the PNG")
    return path


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _write_png(tmp: pathlib.Path, pixels: np.ndarray, meta: dict, **_) -> None:
    """PNG through OpenCV (8 or 16 bits), with iCCP, eXIf and XMP iTXt chunks added after IHDR."""
    bgr = pixels[..., [2, 1, 0, 3]] if pixels.shape[2] == 4 else pixels[..., ::-1]
    # level 1: photographs compress little further (level 6 was 3% smaller and took three times as long)
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(bgr), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise OSError("OpenCV could not encode the PNG")
    chunks = _png_chunk(b"iCCP", b"sRGB\0\0" + zlib.compress(meta["icc_profile"]))
    if meta["exif"]:
        chunks += _png_chunk(b"eXIf", meta["exif"].removeprefix(b"Exif\0\0"))
    if meta["xmp"]:
        chunks += _png_chunk(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0" + meta["xmp"])
    png = buf.tobytes()
    tmp.write_bytes(png[:33] + chunks + png[33:])        # 33 = signature + IHDR


def _write_tiff(tmp: pathlib.Path, pixels: np.ndarray, meta: dict, **_) -> None:
    import tifffile

    tags = {}
    if meta["exif"]:
        exif = Image.Exif()
        exif.load(meta["exif"])
        tags = {t: str(exif[t]).strip("\0") for t in _TIFF_TAGS if t in exif}
    extratags = [(t, "s", 0, tags[t], True) for t in (271, 272, 315, 33432) if t in tags]
    if meta["xmp"]:
        extratags.append((700, "B", len(meta["xmp"]), meta["xmp"], True))
    alpha = ["unassalpha"] if pixels.shape[2] == 4 else None  # ExtraSamples (not an extratag: tifffile warns)
    tifffile.imwrite(tmp, pixels, photometric="rgb", extrasamples=alpha, compression="zlib", predictor=True,
                     metadata=None, iccprofile=meta["icc_profile"], software=tags.get(305, False),
                     datetime=tags.get(306, False), extratags=extratags)


_WRITERS = {"PNG": _write_png, "TIFF": _write_tiff}
