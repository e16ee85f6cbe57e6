"""Inputs an operation takes besides the portrait (another picture, a model), declared as types.

An operation opens no file. A parameter declared as :data:`ImageInput` or :data:`ModelInput` is given in each
interface as that interface has it: a path (the CLI, recipes), the bytes of an upload (REST), an array or a
Portrait (Python); a model as a path to an .onnx file or a registered name. Validation keeps what was given
(an :class:`InputSource`; errors of type are refused with the other parameters' errors), and the runner
(:meth:`portrait_studio.schema.Operation.__call__`) resolves it before the operation runs, reading with the
run's pixel limit (:func:`resolve`): the operation receives a :class:`~portrait_studio.portrait.Portrait`, or
a loaded :class:`~portrait_studio.models.Model`, or a colour look-up table (:data:`LutInput`, a ``.cube`` or a
Hald CLUT, read by :func:`portrait_studio.io.lut.read_lut`). In the JSON Schema such a parameter is a string marked
``input`` (``"image"``, with ``format: binary``, ``"model"`` or ``"lut"``), and the operation's schema lists its
inputs under ``inputs``, so a REST layer knows which parameters are uploads.

Examples
--------
>>> import numpy as np
>>> from portrait_studio.schema import RunOptions
>>> src = InputSource("image", np.full((4, 6, 3), 0.5, np.float32))
>>> str(src), resolve(src, max_pixels=RunOptions().max_pixels).shape
('<array 6×4>', (4, 6))
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args, get_origin

import numpy as np
from pydantic_core import PydanticCustomError, core_schema

from .errors import InputError
from .io.lut import Lut3D, read_lut
from .models import Model, ModelSpec
from .portrait import Portrait

InputKind = Literal["image", "model", "lut"]
#: How messages and the record of a run call an uploaded picture.
UPLOAD = "<uploaded image>"


@dataclass(frozen=True, eq=False)
class InputSource:
    """An input as it was given, before the runner resolves it (see the module).

    Attributes
    ----------
    kind : {"image", "model", "lut"}
    value : str, bytes, ndarray, Portrait, Model or ModelSpec
        A path (or a registered model's name), the bytes of an image file, linear-light pixels (H, W, 3), a
        Portrait, or a model already loaded.
    """

    kind: InputKind
    value: Any

    def __str__(self) -> str:
        """How the record of a run (the history, a recipe) shows it: the path or name as given, else what it was."""
        v = self.value
        if isinstance(v, str):
            return v
        if isinstance(v, bytes):
            return f"{UPLOAD} ({len(v)} bytes, sha256 {hashlib.sha256(v).hexdigest()[:12]})"
        if isinstance(v, np.ndarray):
            return f"<array {v.shape[1]}×{v.shape[0]}>"
        if isinstance(v, Portrait):
            return v.path
        if isinstance(v, Lut3D):
            return f"<LUT {v.name} {v.size}³>"
        return os.fspath(v.path) if isinstance(v, Model) else v.name


def _accepts(kind: InputKind, value) -> InputSource:
    """Pydantic's validator of an input parameter: what each interface may give, kept as given."""
    if isinstance(value, InputSource) and value.kind == kind:
        return value
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, str) and value:
        return InputSource(kind, value)
    if kind == "image" and isinstance(value, (bytes, bytearray, memoryview)):
        return InputSource(kind, bytes(value))
    if kind == "image" and isinstance(value, np.ndarray):
        if value.ndim != 3 or value.shape[2] != 3 or not np.issubdtype(value.dtype, np.floating):
            raise PydanticCustomError("input", "expected a linear-light float (H, W, 3) array, got {got}",
                                      {"got": f"{value.dtype} {value.shape}"})
        return InputSource(kind, value)
    if kind == "image" and isinstance(value, Portrait) or kind == "model" and isinstance(value, (Model, ModelSpec)) \
            or kind == "lut" and isinstance(value, Lut3D):
        return InputSource(kind, value)
    raise PydanticCustomError("input", "expected {what}", {"what": _EXPECTED[kind]})


_EXPECTED = {"image": "a path, the bytes of an image file, an array or a Portrait",
             "model": "a path to an .onnx file or the name of a registered model",
             "lut": "a path to a .cube file or a Hald CLUT image, or a Lut3D"}


@dataclass(frozen=True)
class _Input:
    """The marker in an input type's annotation: its kind, its validation and its JSON Schema."""

    kind: InputKind

    def __get_pydantic_core_schema__(self, source, handler):
        return core_schema.no_info_plain_validator_function(
            lambda v: _accepts(self.kind, v),
            serialization=core_schema.plain_serializer_function_ser_schema(str, when_used="json"))

    def __get_pydantic_json_schema__(self, schema, handler):
        if self.kind == "image":
            return {"type": "string", "format": "binary", "contentMediaType": "image/*", "input": "image"}
        return {"type": "string", "input": self.kind}


#: A picture besides the portrait: the operation receives a Portrait (see the module).
ImageInput = Annotated[Portrait, _Input("image")]
#: A model file or registered model name: the operation receives a loaded Model (see the module).
ModelInput = Annotated[Model, _Input("model")]
#: A colour look-up table (a .cube file or a Hald CLUT image): the operation receives a
#: :class:`~portrait_studio.io.lut.Lut3D`.
LutInput = Annotated[Lut3D, _Input("lut")]


def input_kind(annotation) -> InputKind | None:
    """The kind of input a parameter's annotation declares (through ``X | None`` and ``Annotated``), or None."""
    for m in getattr(annotation, "__metadata__", ()):
        if isinstance(m, _Input):
            return m.kind
    if get_origin(annotation) is not None:
        for arg in get_args(annotation):
            kind = input_kind(arg)
            if kind:
                return kind
    return None


def resolve(source: InputSource, *, max_pixels: int, photo: Portrait | None = None) -> Portrait | Model:
    """What the operation receives for `source`: a Portrait read (or made) within `max_pixels`, analysed by
    `photo`'s backend, or a loaded model (:func:`portrait_studio.models.load`).

    A path to the very file `photo` was read from, while `photo` still holds that file's pixels (nothing
    applied yet), resolves to `photo` itself, so that its analysis is not done twice.

    Raises
    ------
    InputError
        A file (or upload) that cannot be read or is too large, an array too large, a model that is missing.
    """
    if source.kind == "model":
        from .models import load

        return load(source.value)
    if source.kind == "lut":
        return source.value if isinstance(source.value, Lut3D) else read_lut(source.value)
    v, backend = source.value, (photo.backend if photo is not None else None)
    if isinstance(v, str):
        if photo is not None and not photo.history and _same_file(v, photo.path):
            return photo
        return Portrait.read(v, max_pixels=max_pixels, backend=backend)
    if isinstance(v, bytes):
        return read_upload(v, max_pixels=max_pixels, backend=backend)
    from .io.read import _check_size

    p = v if isinstance(v, Portrait) else Portrait(v, path=str(source), backend=backend, max_pixels=max_pixels)
    _check_size(p.path, p.shape[1], p.shape[0], max_pixels)
    return p


def read_upload(data: bytes, *, max_pixels: int, backend=None, face_index: int | None = None) -> Portrait:
    """The Portrait in the bytes of an image file, read as a file of that content is (errors name the upload,
    and keep their type: a picture over `max_pixels` is a :class:`~portrait_studio.errors.TooLargeError`)."""
    fd, tmp = tempfile.mkstemp(prefix="portrait-upload-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            p = Portrait.read(tmp, max_pixels=max_pixels, backend=backend, face_index=face_index)
        except InputError as e:
            raise type(e)(UPLOAD, e.problem, e.fix) from None
    finally:
        os.unlink(tmp)
    p.path = UPLOAD
    return p


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
