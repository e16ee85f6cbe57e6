"""Reading photos into the linear-light convention, with their metadata."""
from __future__ import annotations

import dataclasses
import io
import os
import pathlib
import re
import struct
import warnings
import zlib
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageCms, UnidentifiedImageError

from ..core import from_srgb8, srgb_to_linear
from ..errors import InputError, TooLargeError
from . import icc as icc_

#: Default largest image accepted, in pixels: just under the size at which Pillow itself refuses a
#: file as a possible decompression bomb (twice ``PIL.Image.MAX_IMAGE_PIXELS``, about 179 megapixels).
DEFAULT_MAX_PIXELS = 178_000_000

RAW_EXTENSIONS = (".dng", ".cr2", ".cr3", ".nef", ".arw", ".raf", ".orf", ".rw2", ".pef", ".srw")
#: Extensions read_image is meant for (the content decides, not the name, except for camera RAW).
SUPPORTED_READ = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".heic", ".heif", ".gif") + RAW_EXTENSIONS

_UNTAGGED = "sRGB (untagged, assumed)"
_FIX_CORRUPT = "re-export or re-copy the file"
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, struct.error, zlib.error, cv2.error)


@dataclass(frozen=True)
class Metadata:
    """What a photo carried besides its pixels, and how it was read.

    Attributes
    ----------
    format : str
        Source format: "JPEG", "PNG", "TIFF", "WEBP", "HEIF", "GIF", "RAW", ...
    bit_depth : int
        Bits per sample of the source (8, 16; 10/12 for HEIF, 12/14 for RAW).
    profile : str
        The source colour space, e.g. "sRGB IEC61966-2.1", "Display P3", "sRGB (untagged, assumed)",
        "camera RAW (linear sRGB)".
    exif : bytes or None
        The EXIF block as ``PIL.Image.Exif.tobytes()`` gives it (``Exif\\0\\0`` header, sub-IFDs included).
    xmp : bytes or None
        The XMP packet.
    icc : bytes or None
        The source's embedded ICC profile (already applied to the pixels).
    notes : tuple of str
        What reading did to the file: orientation applied, alpha ignored (when not asked for), frame used,
        colour conversion.
    """

    format: str
    bit_depth: int
    profile: str
    exif: bytes | None = None
    xmp: bytes | None = None
    icc: bytes | None = None
    notes: tuple[str, ...] = ()


def read_image(path: str | os.PathLike, *, max_pixels: int = DEFAULT_MAX_PIXELS, alpha: bool = False
               ) -> tuple[np.ndarray, Metadata] | tuple[np.ndarray, Metadata, np.ndarray | None]:
    """Read a photo as float32 (H, W, 3) linear-light RGB (sRGB primaries, D65), upright.

    JPEG, PNG, TIFF (8/16-bit), WebP, GIF, HEIC/HEIF (8/10-bit) and camera RAW/DNG are read. EXIF
    orientation is applied; an embedded ICC profile is converted to linear sRGB (in float for
    matrix/TRC profiles, through LittleCMS at 8 bits otherwise); the first frame (the primary image for
    HEIF) of a multi-frame file is used. RAW files are demosaicked by LibRaw with the camera white
    balance, linear, without auto-brightening or denoising. An alpha channel is returned when asked for
    (`alpha`), else dropped with a note; the colour under it is returned as stored (not premultiplied:
    a TIFF's associated alpha is divided out), including where it is fully transparent.

    Parameters
    ----------
    path : str or os.PathLike
        The image file.
    max_pixels : int
        Largest width × height accepted, checked from the header before decoding.
    alpha : bool
        Also return the file's opacity.

    Returns
    -------
    image : ndarray, float32, shape (H, W, 3)
        Linear light; 1.0 is the source's white. Wide-gamut colours may fall outside [0, 1].
    metadata : Metadata
    opacity : ndarray, float32, shape (H, W), or None
        Only with `alpha`: the alpha channel in [0, 1] (upright like the image), None when the file has none.

    Raises
    ------
    InputError
        If the file is missing, a folder, empty, unreadable, not an image, corrupt or too large.
    """
    with warnings.catch_warnings(record=True) as caught:     # a decoder's complaints become notes, not noise
        warnings.simplefilter("always")
        image, opacity, metadata = _read_image(pathlib.Path(path), max_pixels)
    said = dict.fromkeys(f"decoder warning: {str(w.message).strip()}" for w in caught
                         if not issubclass(w.category, Image.DecompressionBombWarning))
    if opacity is not None and not alpha:
        said = {"alpha channel ignored": None, **said}
    if said:
        metadata = dataclasses.replace(metadata, notes=metadata.notes + tuple(said))
    return (image, metadata, opacity) if alpha else (image, metadata)


def _read_image(path: pathlib.Path, max_pixels: int) -> tuple[np.ndarray, np.ndarray | None, Metadata]:
    if not path.exists():
        raise InputError(path, "no such file", "check the path")
    if path.is_dir():
        raise InputError(path, "is a folder, not an image", "give an image file")
    if path.stat().st_size == 0:
        raise InputError(path, "file is empty (0 bytes)", _FIX_CORRUPT)
    if not os.access(path, os.R_OK):
        raise InputError(path, "cannot be read (permission denied)", "check the file's permissions")
    import rawpy

    raw_errors = (rawpy.LibRawError, OSError, ValueError)
    try:
        if path.suffix.lower() in RAW_EXTENSIONS:
            try:
                return _read_raw(path, max_pixels)
            except rawpy.LibRawFileUnsupportedError as e:
                raise InputError(path, "not a readable camera RAW file", "check the file, or convert it to DNG "
                                 "or TIFF") from e
        _register_heif()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                im = Image.open(path)
        except UnidentifiedImageError as e:
            try:
                return _read_raw(path, max_pixels)
            except raw_errors:
                if _is_tiff(path):                      # float, 32-bit or many-channel TIFF: not for Pillow
                    return _read_tifffile(path, max_pixels)
                raise InputError(path, "not a readable image (JPEG, PNG, TIFF, WebP, HEIC or camera RAW "
                                 "expected)", "check the file, or convert it to one of these") from e
        with im:
            return _read_pillow(path, im, max_pixels)
    except Image.DecompressionBombError as e:
        n = re.search(r"\((\d+) pixels\)", str(e))
        pillow_limit = 2 * Image.MAX_IMAGE_PIXELS
        _check_size(path, int(n.group(1)) if n else max_pixels + 1, None, min(max_pixels, pillow_limit),
                    fix=None if max_pixels < pillow_limit else "downscale it (Pillow refuses larger images)")
        raise                                           # not reached
    except PermissionError as e:
        raise InputError(path, "cannot be read (permission denied)", "check the file's permissions") from e
    except (*_DECODE_ERRORS, rawpy.LibRawError) as e:
        raise InputError(path, "image data is truncated or corrupt", _FIX_CORRUPT) from e


def _register_heif() -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()                  # idempotent


def _check_size(path, w: int, h: int | None, max_pixels: int, *, fix: str | None = None) -> None:
    n = w * (h or 1)
    if n > max_pixels:
        size = f"{w}×{h} = " if h else ""
        raise TooLargeError(path, f"{size}{_mp(n)} megapixels exceeds the limit of {_mp(max_pixels)} megapixels",
                         fix or "downscale it or raise --max-pixels")


def _mp(n: int) -> str:
    return f"{n / 1e6:.0f}" if n >= 1e7 else f"{n / 1e6:.3g}"


def _read_raw(path: pathlib.Path, max_pixels: int) -> tuple[np.ndarray, None, Metadata]:
    import rawpy

    notes = ["demosaicked by LibRaw (camera white balance)"]
    with rawpy.imread(os.fspath(path)) as raw:
        _check_size(path, raw.sizes.width, raw.sizes.height, max_pixels)
        rgb = raw.postprocess(output_bps=16, gamma=(1, 1), no_auto_bright=True, use_camera_wb=True,
                              output_color=rawpy.ColorSpace.sRGB)
        depth = max(8, int(raw.white_level).bit_length())
        if raw.sizes.flip:
            notes.append("camera orientation applied")
    return rgb.astype(np.float32) / 65535, None, Metadata("RAW", depth, "camera RAW (linear sRGB)",
                                                          exif=_raw_exif(path), notes=tuple(notes))


def _raw_exif(path: pathlib.Path) -> bytes | None:
    """EXIF of a TIFF-based RAW (DNG, CR2, NEF, ARW, PEF...): IFD0 without DNG tags, with its sub-IFDs."""
    data = path.read_bytes()
    if data[:4] not in (b"II*\0", b"MM\0*"):
        return None
    exif = Image.Exif()
    try:
        exif.load(data)
        for tag in [t for t in exif if t >= 0xC000]:
            del exif[tag]
        return exif.tobytes()
    except (ValueError, TypeError, KeyError, SyntaxError, struct.error):
        return None


def _read_pillow(path: pathlib.Path, im: Image.Image, max_pixels: int
                 ) -> tuple[np.ndarray, np.ndarray | None, Metadata]:
    _check_size(path, *im.size, max_pixels)
    fmt = {"MPO": "JPEG"}.get(im.format, im.format)
    exif = im.getexif()
    xmp = im.info.get("xmp")
    xmp = xmp.encode() if isinstance(xmp, str) else xmp
    icc = im.info.get("icc_profile") or None
    notes, frames = [], getattr(im, "n_frames", 1)
    if fmt == "HEIF":
        pixels, mode, depth, frames = _heif_pixels(path)
        if frames > 1:
            notes.append(f"primary image of {frames} used")
    else:
        if frames > 1:
            notes.append(f"frame 1 of {frames} used")
        if fmt == "TIFF" and max(_as_tuple(im.tag_v2.get(258, 8))) > 8:
            pixels, mode, depth = _tiff_pixels(path)
        elif fmt == "PNG" and _png_bit_depth(path) == 16:
            pixels, mode, depth = _cv2_pixels(path)
        else:
            im.load()
            pixels, mode, depth = _pil_pixels(im)
    pixels, mode, opacity = _split_alpha(pixels, mode)
    image, profile = _to_linear(pixels, mode, icc, notes)
    image, opacity = _upright(image, opacity, exif.get(0x0112) or _xmp_orientation(xmp), notes)
    exif_bytes = _exif_bytes(exif, notes)
    return image, opacity, Metadata(fmt, depth, profile, exif=exif_bytes, xmp=xmp or None, icc=icc, notes=tuple(notes))


def _split_alpha(pixels: np.ndarray, mode: str) -> tuple[np.ndarray, str, np.ndarray | None]:
    """Colour samples, their mode, and the alpha channel as float32 (H, W) in [0, 1] (None without one)."""
    if not mode.endswith("A"):
        return pixels, mode, None
    return pixels[..., :-1], mode[:-1], _normalise(pixels[..., -1])[..., 0]


def _upright(image: np.ndarray, opacity: np.ndarray | None, orientation, notes: list[str]
             ) -> tuple[np.ndarray, np.ndarray | None]:
    """The image (and its opacity) turned upright by an EXIF orientation (2-8), contiguous float32."""
    if orientation in range(2, 9):
        image = _orient(image, orientation)
        opacity = None if opacity is None else _orient(opacity[..., None], orientation)[..., 0]
        notes.append(f"EXIF orientation {orientation} applied")
    return (np.ascontiguousarray(image, np.float32),
            None if opacity is None else np.ascontiguousarray(opacity, np.float32))


def _exif_bytes(exif: Image.Exif, notes: list[str]) -> bytes | None:
    try:
        return exif.tobytes() if exif else None
    except (ValueError, TypeError, KeyError, struct.error) as e:
        notes.append(f"EXIF could not be re-encoded ({e}); not carried")
        return None


def _as_tuple(x) -> tuple:
    return x if isinstance(x, tuple) else (x,)


def _png_bit_depth(path: pathlib.Path) -> int:
    with open(path, "rb") as f:
        return f.read(25)[24]


def _normalise(a: np.ndarray) -> np.ndarray:
    """Integer samples to [0, 1] float32 by their dtype's range; float kept; always (H, W, C)."""
    a = a[..., None] if a.ndim == 2 else a
    if np.issubdtype(a.dtype, np.integer):
        return a.astype(np.float32) / np.iinfo(a.dtype).max
    return a.astype(np.float32)


_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def _pil_pixels(im: Image.Image) -> tuple[np.ndarray, str, int]:
    if im.mode.startswith("I;16"):
        return _normalise(np.asarray(im).astype(np.uint16)), "L", 16
    if im.mode in ("I", "F"):                             # 32-bit grey: 16-bit data in "I", [0, 1] in "F"
        a = np.asarray(im, np.float32)
        return (np.clip(a / 65535, 0, 1) if im.mode == "I" else a)[..., None], "L", 32 if im.mode == "F" else 16
    if im.mode in ("L", "RGB") and "transparency" in im.info:   # one colour marked transparent (tRNS)
        im = im.convert(im.mode + "A")
    if im.mode not in ("L", "LA", "RGB", "RGBA", "CMYK"):
        alpha = "A" in im.getbands() or "transparency" in im.info
        im = im.convert(("LA" if alpha else "L") if im.mode == "1" else ("RGBA" if alpha else "RGB"))
    a = np.asarray(im)
    return (a[..., None] if a.ndim == 2 else a), im.mode, 8      # uint8 kept: decoded by table


def _tiff_pixels(path: pathlib.Path) -> tuple[np.ndarray, str, int]:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        a = page.asarray()
        if page.axes.startswith("S"):                      # planar (separate) samples
            a = np.moveaxis(a, 0, -1)
        a = a[..., None] if a.ndim == 2 else a
        if page.photometric == tifffile.PHOTOMETRIC.MINISWHITE:
            a = (np.iinfo(a.dtype).max if np.issubdtype(a.dtype, np.integer) else 1.0) - a
        a = _normalise(a)
        if page.photometric == tifffile.PHOTOMETRIC.SEPARATED:
            mode = "CMYK"
        else:                                               # colour (and alpha) first; other extra samples go
            extra = page.extrasamples
            alpha = bool(extra) and extra[0] in (tifffile.EXTRASAMPLE.ASSOCALPHA, tifffile.EXTRASAMPLE.UNASSALPHA)
            colour = "RGB" if page.photometric == tifffile.PHOTOMETRIC.RGB and a.shape[2] >= 3 else "L"
            mode = colour + ("A" if alpha else "")
            if alpha and extra[0] == tifffile.EXTRASAMPLE.ASSOCALPHA:      # premultiplied: the colour itself
                n = len(colour)
                a[..., :n] = np.where(a[..., n:n + 1] > 0, a[..., :n] / np.maximum(a[..., n:n + 1], 1e-12), 0.0)
        return a[..., :len(mode)], mode, page.bitspersample


def _is_tiff(path: pathlib.Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")


def _read_tifffile(path: pathlib.Path, max_pixels: int) -> tuple[np.ndarray, np.ndarray | None, Metadata]:
    """A TIFF Pillow cannot open (32-bit integer or float samples, extra channels) through tifffile: colour
    and alpha channels kept, float samples taken as encoded like 8/16-bit ones (their ICC profile, else sRGB)."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        _check_size(path, page.imagewidth, page.imagelength, max_pixels)
        icc, orientation = page.iccprofile, page.tags.valueof(274, 1)
    pixels, mode, depth = _tiff_pixels(path)
    if not np.isfinite(pixels).all():
        raise InputError(path, "holds samples that are not numbers (NaN or infinite)", "re-export it without them")
    notes = ["read by tifffile"]
    pixels, mode, opacity = _split_alpha(pixels, mode)
    image, profile = _to_linear(pixels, mode, icc, notes)
    image, opacity = _upright(image, opacity, orientation, notes)
    return image, opacity, Metadata("TIFF", depth, profile, icc=icc, notes=tuple(notes))


def _cv2_pixels(path: pathlib.Path) -> tuple[np.ndarray, str, int]:
    a = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
    if a is None:
        raise OSError("OpenCV could not decode the image")
    if a.ndim == 3:
        a = a[..., [2, 1, 0, 3][:a.shape[2]]]              # BGR(A) -> RGB(A)
    a = _normalise(a)
    return a, _MODES[a.shape[2]], 16


def _heif_pixels(path: pathlib.Path, index: int | None = None) -> tuple[np.ndarray, str, int, int]:
    import pillow_heif

    heif = pillow_heif.open_heif(path, convert_hdr_to_8bit=False)
    img = heif[heif.primary_index if index is None else index]
    depth = img.info.get("bit_depth", 8)
    a = np.asarray(img)
    if a.dtype == np.uint16:                                # high bits: v << (16 - depth)
        a = a.astype(np.float32) / ((2 ** depth - 1) << (16 - depth))
    a = _normalise(a)
    return a, _MODES[a.shape[2]], depth, len(heif)


def _to_linear(pixels: np.ndarray, mode: str, icc: bytes | None, notes: list[str]) -> tuple[np.ndarray, str]:
    """Encoded pixels (H, W, C) of `mode` ("L", "RGB", "CMYK") to linear sRGB and a profile name.

    `pixels` are uint8 (8-bit sources, decoded by table) or float in [0, 1] (deeper sources).
    """
    if icc:
        try:
            space, name, decode = icc_.colour_space(icc), icc_.description(icc), icc_.decoder(icc)
            if space != {"L": "GRAY"}.get(mode, mode):
                raise ValueError(f"a {space} profile on {mode} pixels")
            if decode is not None:
                return (decode.decode8(pixels) if pixels.dtype == np.uint8 else decode(pixels)), name
            u8 = pixels if pixels.dtype == np.uint8 else np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)
            src = Image.frombytes(mode, pixels.shape[1::-1], u8.tobytes())
            srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
            out = ImageCms.profileToProfile(src, ImageCms.ImageCmsProfile(io.BytesIO(icc)), srgb, outputMode="RGB")
            notes.append(f"{mode} converted to sRGB with its ICC profile (LittleCMS, 8-bit)")
            return from_srgb8(np.asarray(out)), name
        except (ValueError, struct.error, ImageCms.PyCMSError, OSError) as e:
            notes.append(f"embedded ICC profile not usable ({e}); sRGB assumed")
    if mode == "CMYK":
        pixels = _normalise(pixels)
        pixels = (1 - pixels[..., :3]) * (1 - pixels[..., 3:])
        notes.append("CMYK without an ICC profile converted naively (no colour management)")
    pixels = np.broadcast_to(pixels, (*pixels.shape[:2], 3))
    return (from_srgb8(pixels) if pixels.dtype == np.uint8 else srgb_to_linear(pixels)), _UNTAGGED


def _xmp_orientation(xmp: bytes | None) -> int | None:
    m = re.search(rb"tiff:Orientation(?:=[\"']|>)(\d)", xmp or b"")
    return int(m.group(1)) if m else None


def _orient(a: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (2-8) so the image is upright, as ``ImageOps.exif_transpose`` does."""
    t = a.transpose(1, 0, 2)
    return {2: a[:, ::-1], 3: a[::-1, ::-1], 4: a[::-1], 5: t, 6: t[:, ::-1], 7: t[::-1, ::-1], 8: t[::-1]}[orientation]
