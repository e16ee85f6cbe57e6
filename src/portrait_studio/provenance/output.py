"""The one place outputs are written: the picture, watermarked, with private metadata removed, signed.

Every interface (the CLI, the REST API and web studio, recipes and batch) writes a result through
:func:`write_output`, so every output carries the same provenance whatever wrote it.
"""
from __future__ import annotations

import os
import pathlib
from dataclasses import dataclass
from typing import Callable

from ..errors import InputError, first_line
from ..io import write_image
from . import credentials, signing, watermark


@dataclass(frozen=True)
class Provenance:
    """What an output carries.

    Attributes
    ----------
    credentials : bool or None
        Signed C2PA Content Credentials. None (the default): on where c2pa-python is installed (the
        ``provenance`` extra), else off with a note saying how to get them; True: required (an error
        without c2pa-python).
    watermark : bool
        The invisible watermark (:mod:`.watermark`), on by default.
    keep_private : bool
        Keep GPS position, serial numbers, owner and device names, XMP (removed by default; see :mod:`.privacy`).
    sign_key, sign_cert : str, optional
        The user's PEM key and certificate chain (see :func:`.signing.signing_key` for the other places looked in).
    """

    credentials: bool | None = None
    watermark: bool = True
    keep_private: bool = False
    sign_key: str | None = None
    sign_cert: str | None = None


#: The note where credentials cannot be made because c2pa-python is missing.
NO_C2PA = f"outputs carry no Content Credentials because c2pa-python is not installed: {credentials.INSTALL}"


def write_output(path: str | os.PathLike, portrait, *, provenance: Provenance = Provenance(), overwrite: bool = False,
                 quality: int = 95, bit_depth: int | None = None, note: Callable[[str], None] | None = None
                 ) -> pathlib.Path:
    """Write `portrait` (its image, opacity and metadata) to `path` as :func:`~portrait_studio.io.write_image`
    does, with the provenance `provenance` asks for; one-line notes (no c2pa, a signing key made) go to `note`.

    The watermark's payload comes from the input file's hash and the history (:func:`.watermark.payload_for`),
    so the same input and recipe give the same pixels through every interface; the credentials record it.

    Raises
    ------
    InputError, ParameterError
        As :func:`~portrait_studio.io.write_image`; MissingDependencyError when credentials are required and
        c2pa-python is missing; InputError for an unreadable signing key.
    """
    path = pathlib.Path(path)
    note = note or (lambda _: None)
    origin = getattr(portrait, "origin", None)
    payload = watermark.payload_for(origin.sha256 if origin else None, portrait.history)
    mark = (lambda px: watermark.embed(px, payload)) if provenance.watermark else None
    sign = provenance.credentials
    if sign is None:
        sign = credentials.available()
        if not sign:
            note(NO_C2PA)
    finish = None
    if sign:
        key = signing.signing_key(key=provenance.sign_key, cert=provenance.sign_cert)
        if key.made:
            note(signing.LOCAL_NOTE.format(where=key.source, config=signing.config_dir() / "config.toml"))

        def finish(tmp: pathlib.Path) -> None:
            mark_id = payload if provenance.watermark else None
            try:
                try:
                    credentials.sign_file(tmp, portrait, key=key, title=path.name, watermark=mark_id)
                except Exception as e:            # a format c2pa cannot embed into: a .c2pa sidecar beside it
                    if "NotSupported" not in type(e).__name__:
                        raise
                    credentials.sign_file(tmp, portrait, key=key, title=path.name, watermark=mark_id,
                                          sidecar=path.with_suffix(".c2pa"))
            except Exception as e:                    # noqa: BLE001 - c2pa's errors, said in one line
                if isinstance(e, InputError):
                    raise
                raise InputError(path, f"Content Credentials could not be signed ({first_line(e)})",
                                 "check the signing key and certificate, or pass --no-credentials") from None
    return write_image(path, portrait.image, portrait.metadata, overwrite=overwrite, quality=quality,
                       bit_depth=bit_depth, strip_private=not provenance.keep_private, alpha=portrait.alpha,
                       mark=mark, finish=finish)


