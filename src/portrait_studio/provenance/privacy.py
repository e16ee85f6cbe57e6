"""Privacy by default: what an output's metadata may not carry unless the user asks (``--keep-private``).

Removed from every output: the GPS position (the whole GPS IFD), serial numbers (body, lens, camera),
owner and author names, the host computer's (device) name, the maker note and user comment (which can hold
either), the image's unique ID, and the whole XMP packet (which can hold location, names and history).
Kept: make, model, dates, exposure settings and copyright. The removal itself is done where files are
written (:func:`portrait_studio.io.write_image`, ``strip_private``); this module says what a file still holds.
Faces are never sent anywhere: every analysis runs on this machine.
"""
from __future__ import annotations

import os

from PIL import Image

from ..io.write import _PRIVATE

#: What the GPS IFD's presence is reported as.
GPS = "GPS position"


def private_fields(path: str | os.PathLike) -> list[str]:
    """The private metadata a file holds (names such as ``GPS position``, ``BodySerialNumber``, ``XMP``)."""
    with Image.open(path) as im:
        exif = im.getexif()
        found = [GPS] if exif.get_ifd(0x8825) else []
        sub = exif.get_ifd(0x8769)
        found += [name for tag, name in _PRIVATE.items() if tag in exif or tag in sub]
        if im.info.get("xmp") or im.info.get("XML:com.adobe.xmp"):
            found.append("XMP")
    return found
