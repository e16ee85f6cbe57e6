"""Several frames as one input: a list of files, a folder, or the images of one multi-image HEIC.

:func:`frame_sources` lists the frames and checks, from the file headers only, that every frame can be
opened and that all have one size, so a bad burst is refused before any decoding work. Frames are then
decoded one at a time with :func:`read_frame` (a burst of 12 MP frames never has to sit in memory whole).
"""
from __future__ import annotations

import os
import pathlib
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import InputError
from .read import (_DECODE_ERRORS, _FIX_CORRUPT, DEFAULT_MAX_PIXELS, RAW_EXTENSIONS, SUPPORTED_READ, Metadata,
                   _check_size, _heif_pixels, _register_heif, _to_linear, read_image)

_HEIF = (".heic", ".heif")


@dataclass(frozen=True)
class FrameSource:
    """One frame of a burst: a file, and for a multi-image HEIC the position of the image in it."""

    path: pathlib.Path
    index: int | None = None

    @property
    def name(self) -> str:
        """How messages call the frame: the path, with ``[i]`` for an image inside a HEIC."""
        return str(self.path) if self.index is None else f"{self.path}[{self.index}]"


def frame_sources(inputs, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> list[FrameSource]:
    """The frames named by `inputs`, in order, checked for readability and a common size.

    Parameters
    ----------
    inputs : str, os.PathLike or sequence of them
        Image files (JPEG, PNG, TIFF, WebP, HEIC, RAW/DNG), folders (their supported images, sorted by
        name) or multi-image HEIC files (each image is a frame).
    max_pixels : int
        Largest frame accepted.

    Raises
    ------
    InputError
        Naming the first frame that is missing, unreadable or of another size than the first frame, or
        the input when it holds no image at all.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    sources: list[FrameSource] = []
    for item in inputs:
        path = pathlib.Path(item)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SUPPORTED_READ
                           and not p.name.startswith("."))
            if not files:
                raise InputError(path, "folder holds no supported image", "put the burst's frames in it "
                                 f"({', '.join(sorted({e.lstrip('.') for e in SUPPORTED_READ}))})")
            for p in files:
                sources += _expand(p)
        else:
            sources += _expand(path)
    first = None
    for src in sources:
        size = _probe_size(src, max_pixels)
        if first is None:
            first = (src, size)
        elif size != first[1]:
            raise InputError(src.name, f"frame is {size[0]}×{size[1]} px but the first frame ({first[0].name}) "
                             f"is {first[1][0]}×{first[1][1]} px", "give frames of one size (the same camera "
                             "setting), or leave this one out")
    return sources


def read_frame(source: FrameSource, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[np.ndarray, Metadata]:
    """Decode one frame to float32 (H, W, 3) linear light with its metadata (see :func:`read_image`)."""
    if source.index is None:
        return read_image(source.path, max_pixels=max_pixels)
    try:
        pixels, mode, depth, count = _heif_pixels(source.path, source.index)
    except _DECODE_ERRORS as e:
        raise InputError(source.name, "image data is truncated or corrupt", _FIX_CORRUPT) from e
    image, meta = read_image(source.path, max_pixels=max_pixels)           # metadata and the primary's colour
    notes = [n for n in meta.notes if not n.startswith("primary image")] + [f"image {source.index} of {count}"]
    if pixels.shape[2] in (2, 4):
        pixels = pixels[..., :-1]
    linear, _ = _to_linear(pixels, {1: "L", 3: "RGB"}[pixels.shape[2]], meta.icc, notes)
    return np.ascontiguousarray(linear, np.float32), Metadata(meta.format, depth, meta.profile, exif=meta.exif,
                                                              xmp=meta.xmp, icc=meta.icc, notes=tuple(notes))


def _expand(path: pathlib.Path) -> list[FrameSource]:
    """A file as its frames: each image of a multi-image HEIC, else the file itself."""
    if path.suffix.lower() in _HEIF and path.is_file():
        try:
            import pillow_heif

            count = len(pillow_heif.open_heif(path))
        except (*_DECODE_ERRORS, RuntimeError):
            count = 1                                       # read_image will name the problem
        if count > 1:
            return [FrameSource(path, i) for i in range(count)]
    return [FrameSource(path)]


def _probe_size(src: FrameSource, max_pixels: int) -> tuple[int, int]:
    """(width, height) of the upright frame, from its header; errors as :func:`read_image` words them."""
    path = src.path
    if not path.is_file() or path.stat().st_size == 0:
        return read_image(path, max_pixels=max_pixels)[0].shape[1::-1]   # raises the reader's own error
    if path.suffix.lower() in RAW_EXTENSIONS:
        import rawpy

        try:
            with rawpy.imread(os.fspath(path)) as raw:
                w, h, flip = raw.sizes.width, raw.sizes.height, raw.sizes.flip
        except (rawpy.LibRawError, OSError, ValueError):
            return read_image(path, max_pixels=max_pixels)[0].shape[1::-1]
        _check_size(path, w, h, max_pixels)
        return (h, w) if flip in (5, 6) else (w, h)
    if src.index is not None:
        import pillow_heif

        im = pillow_heif.open_heif(path)[src.index]
        return im.size
    _register_heif()
    try:
        with warnings.catch_warnings():                 # the size is checked below; read_image notes the rest
            warnings.simplefilter("ignore")
            with Image.open(path) as im:
                w, h = im.size
                _check_size(path, w, h, max_pixels)
                orientation = im.getexif().get(0x0112, 1)
    except (UnidentifiedImageError, Image.DecompressionBombError, *_DECODE_ERRORS):
        return read_image(path, max_pixels=max_pixels)[0].shape[1::-1]   # RAW under another name, or its error
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)
