"""Mattes that phones store beside the photo: the iPhone portrait-effects matte (a soft person matte).

iPhones (XS and later) keep it as an auxiliary image of a HEIC file
(``urn:com:apple:photo:2018:aux:portraiteffectsmatte``) or as an extra MPF frame of a JPEG whose XMP names
it ``PortraitEffectsMatte``; it is usually half the photo's size, upright like the primary image.
"""
from __future__ import annotations

import os
import pathlib

import numpy as np
from PIL import Image


def read_portrait_matte(path: str | os.PathLike) -> np.ndarray | None:
    """The portrait-effects matte stored in `path`, float32 (h, w) in [0, 1], or None when there is none."""
    path = pathlib.Path(path)
    if path.suffix.lower() in (".heic", ".heif"):
        import pillow_heif

        heif = pillow_heif.open_heif(path)
        img = heif[heif.primary_index]
        for kind, ids in (img.info.get("aux") or {}).items():
            if kind.endswith("portraiteffectsmatte") and ids:
                return np.asarray(img.get_aux_image(ids[0]), np.float32) / 255.0
        return None
    with Image.open(path) as im:
        for i in range(getattr(im, "n_frames", 1)):
            im.seek(i)
            xmp = im.info.get("xmp") or b""
            if b"PortraitEffectsMatte" in (xmp if isinstance(xmp, bytes) else xmp.encode()):
                return np.asarray(im.convert("L"), np.float32) / 255.0
    return None
