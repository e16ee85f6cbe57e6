"""Optional learned models: where they are kept, how they are checked, and how they run (ONNX Runtime, CPU).

The default path of every operation needs none of this; a larger model is an option the user installs.
A model is given either as a path to an ``.onnx`` file (used as it is) or as the name of a registered
model (:data:`MODELS`, one :class:`ModelSpec` each: where it comes from, its SHA-256, what it expects), kept
in the cache folder (:func:`cache_dir`) and verified against its checksum whenever it is used. Nothing is
ever downloaded at run time: :func:`fetch` is the download, called only when asked for.

ONNX Runtime is the optional extra ``pip install 'portrait-studio[onnx]'``; without it :func:`session`
raises :class:`~portrait_studio.errors.MissingDependencyError` saying so.

Examples
--------
>>> from portrait_studio import models
>>> sess = models.session(models.model_path("my-harmoniser.onnx"))        # doctest: +SKIP
"""
from __future__ import annotations

import functools
import hashlib
import os
import pathlib
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, Mapping

import numpy as np

from .errors import InputError, MissingDependencyError

Normalisation = Literal["unit", "symmetric", "imagenet"]
#: The per-channel mean and standard deviation of the "imagenet" normalisation (of sRGB values in [0, 1]).
IMAGENET_MEAN_STD = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
#: The environment variable naming the cache folder.
CACHE_ENV = "PORTRAIT_STUDIO_MODELS"
_CHUNK = 1 << 20                      # bytes read at a time when hashing or downloading


@dataclass(frozen=True)
class ModelSpec:
    """A known model: where it comes from and what it expects.

    Attributes
    ----------
    name : str
        The name users give (``--harmoniser NAME``); the cached file is ``NAME.onnx``.
    url : str
        Where :func:`fetch` downloads it from.
    sha256 : str
        The file's SHA-256 (64 hex digits), from a public source; checked on download and on every use.
    task : str
        What it does (e.g. ``"harmonise"``).
    size : int or None
        The side, pixels, of the square input it expects when its ONNX input shape does not say.
    normalisation : {"unit", "symmetric", "imagenet"}
        How its sRGB-encoded image inputs and outputs are scaled: [0, 1], [-1, 1], or ImageNet mean/std.
    licence : str
        The weights' licence (SPDX identifier or a short phrase), for the user to judge.
    """

    name: str
    url: str
    sha256: str
    task: str
    size: int | None = None
    normalisation: Normalisation = "unit"
    licence: str = ""

    @property
    def filename(self) -> str:
        return f"{self.name}.onnx"


#: Registered models by name. None yet: no ONNX export of a learned harmoniser (or matting model) was found
#: with a stable public URL, a licence that allows use and a published checksum, so a model is given by path.
MODELS: Mapping[str, ModelSpec] = MappingProxyType({})


def cache_dir() -> pathlib.Path:
    """The folder registered models are kept in: ``$PORTRAIT_STUDIO_MODELS``, else
    ``~/.cache/portrait-studio/models`` (not created here)."""
    env = os.environ.get(CACHE_ENV)
    return pathlib.Path(env).expanduser() if env else pathlib.Path.home() / ".cache" / "portrait-studio" / "models"


def sha256_of(path: str | os.PathLike) -> str:
    """The SHA-256 of a file, as 64 lowercase hex digits."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def model_path(model: str | os.PathLike | ModelSpec) -> pathlib.Path:
    """The file of a model: a path to an existing file as it is, or a registered model (a name in
    :data:`MODELS`, or a :class:`ModelSpec`) in :func:`cache_dir`, its checksum verified.

    Raises
    ------
    InputError
        When the file is missing (the message names the URL to download and the path to put it at, or the
        registered names) or a registered model's checksum does not match.
    """
    spec = model if isinstance(model, ModelSpec) else MODELS.get(os.fspath(model))
    if spec is None:
        path = pathlib.Path(model).expanduser()
        if path.is_file():
            return path
        known = f"; or one of the registered models: {', '.join(sorted(MODELS))}" if MODELS else ""
        raise InputError(path, "no such model file", f"give the path to an .onnx model{known}")
    path = cache_dir() / spec.filename
    if not path.is_file():
        raise InputError(path, f"the model {spec.name!r} is not installed",
                         f"download {spec.url} to this path (or call portrait_studio.models.fetch({spec.name!r}))")
    digest = sha256_of(path)
    if digest != spec.sha256.lower():
        raise InputError(path, f"SHA-256 {digest[:12]}… is not the {spec.name!r} model's {spec.sha256[:12]}… "
                         "(damaged or another file)", f"delete it and download {spec.url} again")
    return path


def fetch(model: str | ModelSpec, *, timeout: float = 60.0) -> pathlib.Path:
    """Download a registered model into :func:`cache_dir` and return its path (never called implicitly).

    The download goes to a temporary file in the cache folder, is checked against the spec's SHA-256, and is
    only then renamed into place, so an interrupted or wrong download never leaves a model behind.

    Raises
    ------
    InputError
        For an unknown name, a download that fails, or a checksum that does not match.
    """
    import tempfile
    import urllib.error
    import urllib.request                     # (here: http and ssl would cost every command's start-up)

    spec = model if isinstance(model, ModelSpec) else MODELS.get(model)
    if spec is None:
        raise InputError(str(model), "is not a registered model",
                         f"choose one of: {', '.join(sorted(MODELS)) or '(none registered yet)'}")
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / spec.filename
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{spec.name}-", suffix=".part")
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(spec.url, timeout=timeout) as response:
            for block in iter(lambda: response.read(_CHUNK), b""):
                h.update(block)
                out.write(block)
        if h.hexdigest() != spec.sha256.lower():
            raise InputError(spec.url, f"downloaded file has SHA-256 {h.hexdigest()[:12]}…, not the expected "
                             f"{spec.sha256[:12]}…", "the file at that address changed; do not use it")
        os.replace(tmp, dest)
    except (urllib.error.URLError, OSError) as e:
        raise InputError(spec.url, f"could not be downloaded ({e})",
                         f"check the connection, or download it by hand to {dest}") from e
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


@dataclass(frozen=True)
class Model:
    """A model ready to run: its file, its registered spec (None for a model given by path) and its ONNX
    Runtime session. What an operation's model parameter receives (see :data:`portrait_studio.inputs.ModelInput`)."""

    path: pathlib.Path
    session: object
    spec: ModelSpec | None = None


def load(model: str | os.PathLike | ModelSpec | Model) -> Model:
    """The model a path, a registered name or a spec names, found (:func:`model_path`, checksum verified) and
    loaded (:func:`session`); a :class:`Model` as it is.

    Raises
    ------
    InputError
        As :func:`model_path` and :func:`session` do.
    MissingDependencyError
        Without onnxruntime.
    """
    if isinstance(model, Model):
        return model
    spec = model if isinstance(model, ModelSpec) else MODELS.get(os.fspath(model))
    path = model_path(spec or model)
    return Model(path, session(path), spec)


def _onnxruntime():
    try:
        import onnxruntime
    except ImportError as e:
        raise MissingDependencyError("this needs ONNX Runtime: pip install 'portrait-studio[onnx]'") from e
    return onnxruntime


def session(path: str | os.PathLike):
    """An ``onnxruntime.InferenceSession`` of the model file on the CPU.

    Sessions are kept (the last four, by resolved path, modification time and size), so that a batch or a
    preview that uses the same model again does not load it again; a changed file is loaded anew.

    Raises
    ------
    MissingDependencyError
        Without onnxruntime installed.
    InputError
        When the file is not a model ONNX Runtime can load.
    """
    _onnxruntime()
    p = pathlib.Path(path).resolve()
    st = p.stat()
    return _session(str(p), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=4)
def _session(path: str, mtime_ns: int, size: int):
    ort = _onnxruntime()
    options = ort.SessionOptions()
    options.log_severity_level = 3              # errors only: the CLI promises one line on stderr
    try:
        return ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - ONNX Runtime's own exception types (Fail, InvalidProtobuf, ...)
        reason = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise InputError(path, f"is not a model ONNX Runtime can load ({reason})",
                         "give a valid .onnx file (re-export or download it again)") from None


def to_input(srgb: np.ndarray, normalisation: Normalisation = "unit") -> np.ndarray:
    """An (H, W, C) sRGB-encoded image in [0, 1] as a model's (1, C, H, W) float32 input, normalised."""
    x = np.asarray(srgb, np.float32)
    if normalisation == "symmetric":
        x = x * 2.0 - 1.0
    elif normalisation == "imagenet":
        mean, std = (np.asarray(v, np.float32) for v in IMAGENET_MEAN_STD)
        x = (x - mean) / std
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None], dtype=np.float32)


def from_output(tensor: np.ndarray, normalisation: Normalisation = "unit") -> np.ndarray:
    """A model's (1, 3, H, W) image output back to (H, W, 3) sRGB-encoded values in [0, 1] (clipped)."""
    x = np.asarray(tensor, np.float32)[0].transpose(1, 2, 0)
    if normalisation == "symmetric":
        x = (x + 1.0) * 0.5
    elif normalisation == "imagenet":
        mean, std = (np.asarray(v, np.float32) for v in IMAGENET_MEAN_STD)
        x = x * std + mean
    return np.clip(x, 0.0, 1.0)
