"""``portrait verify``: a file's credentials (history, signature, signer, whether its pixels still match) and
its watermark, read from the pixels alone."""
from __future__ import annotations

import os

import numpy as np
from PIL import Image

from ..io.read import _register_heif

from ..errors import InputError
from . import credentials, watermark


def verify(path: str | os.PathLike) -> dict:
    """What `path` says about itself::

        {"credentials": {"present", "valid", "signer", "actions": [{"action", "operation", "parameters"}],
                         "ingredients": [...], "problems": [...]},
         "watermark": {"found", "payload", "matches_credentials"}}

    ``valid`` is False when the signature or any hash (the pixels among them) no longer matches: a tampered
    file. Without c2pa-python the credentials part says so in ``problems``.

    Raises
    ------
    InputError
        When the file is missing or not a readable image.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError(path, "no such file", "check the path")
    _register_heif()
    try:
        with Image.open(path) as im:
            im.load()
            rgb = np.asarray(im.convert("RGB") if im.mode not in ("RGB", "I;16") else im)
    except Exception as e:                                # noqa: BLE001 - any decoder failure
        raise InputError(path, f"not a readable image ({type(e).__name__})", "give a JPEG, PNG, TIFF, WebP or HEIC") from None
    if credentials.available():
        cred = credentials.read(path)
    else:
        cred = {"present": None, "valid": None, "signer": None, "actions": [], "ingredients": [],
                "problems": [f"credentials not read: c2pa-python is not installed ({credentials.INSTALL})"]}
    mark = watermark.detect(rgb)
    recorded = cred.pop("watermark_payload", None)
    mark["matches_credentials"] = (mark["payload"] == recorded) if mark["found"] and recorded else None
    return {"credentials": cred, "watermark": mark}
