"""What the server does between a request and its answer, with no web framework in sight: the limits, the
bounded pool that runs the work, jobs, the studio's sessions (a photo's preview and its analysis, kept), and
turning a request's parts into a run of an operation or a recipe, all read from the operation contract
(:class:`~portrait_studio.schema.Operation`): which parts are uploads, which parameters exist, what a side
result is and how it is sent.

Images come only as uploads: an input parameter (:data:`~portrait_studio.inputs.ImageInput`) given as text
is refused, so no parameter can make the server read a file of its own; a model input is accepted only by
the name of a registered model.
"""
from __future__ import annotations

import asyncio
import io
import json
import os
import tempfile
import threading
import time
import uuid
import zipfile
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

import cv2
import numpy as np

from ..errors import InputError, ParameterError, PortraitError
from ..provenance.consent import require_consent
from ..inputs import UPLOAD, read_upload
from ..io import write_image, write_mask
from ..schema import Operation, RunOptions

#: Output formats over HTTP: name -> (file extension, content type).
FORMATS = {"jpeg": (".jpg", "image/jpeg"), "png": (".png", "image/png"), "tiff": (".tif", "image/tiff"),
           "webp": (".webp", "image/webp")}
#: The source formats (``Metadata.format``) written back in their own format by default.
_OWN_FORMAT = {"JPEG": "jpeg", "PNG": "png", "TIFF": "tiff", "WEBP": "webp"}


@dataclass(frozen=True)
class Limits:
    """What one server accepts and holds at once.

    Attributes
    ----------
    max_pixels : int
        Largest picture read (width × height, checked from the header before decoding) or made.
    max_upload_bytes : int
        Largest request body, bytes.
    workers : int
        Operations run at once (each holds its images in memory: this bounds memory).
    queue : int
        Work waiting or running at once (requests and jobs); beyond it a request is refused with 429.
    sessions : int
        Studio sessions kept (the least recently used one is dropped first).
    jobs : int
        Jobs remembered with their results (finished ones are forgotten oldest first).
    preview_pixels : int
        Size of the studio's preview, pixels.
    """

    max_pixels: int = 50_000_000
    max_upload_bytes: int = 100 * 2 ** 20
    workers: int = 2
    queue: int = 32
    sessions: int = 8
    jobs: int = 64
    preview_pixels: int = 1_000_000


class Busy(PortraitError):
    """More work is waiting than the server's queue holds (answered 429: try again later)."""


class NotFound(PortraitError):
    """A job, session or operation that does not exist (answered 404)."""


class NotReady(PortraitError):
    """A job's result asked for before it is done (answered 409)."""


class LockedBackend:
    """One analysis backend shared by the worker threads, one call at a time (MediaPipe's graphs are not
    for concurrent use; each call takes milliseconds on the analysis copy)."""

    def __init__(self):
        self._inner, self._lock = None, threading.Lock()

    @property
    def name(self) -> str:
        return "mediapipe"

    def _call(self, method: str, *args, **kwargs):
        with self._lock:
            if self._inner is None:
                from ..analysis import get_backend

                self._inner = get_backend()
            return getattr(self._inner, method)(*args, **kwargs)

    def detect_faces(self, rgb8, *, long_range):
        return self._call("detect_faces", rgb8, long_range=long_range)

    def face_mesh(self, rgb8):
        return self._call("face_mesh", rgb8)

    def person_matte(self, rgb8):
        return self._call("person_matte", rgb8)


class Pool:
    """The bounded pool: `workers` threads run the work, at most `queue` pieces wait or run at once."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.executor = ThreadPoolExecutor(limits.workers, thread_name_prefix="portrait-work")
        self._lock, self.pending = threading.Lock(), 0

    def admit(self) -> None:
        with self._lock:
            if self.pending >= self.limits.queue:
                raise Busy(f"the server is busy ({self.pending} pieces of work waiting or running, the most it "
                           "queues); try again in a few seconds")
            self.pending += 1

    def release(self) -> None:
        with self._lock:
            self.pending -= 1

    def submit(self, fn: Callable[[], Any]):
        """Run `fn` on a worker (a concurrent Future), counted against the queue until it ends."""
        self.admit()
        future = self.executor.submit(fn)
        future.add_done_callback(lambda _: self.release())
        return future

    async def run(self, fn: Callable[[], Any]):
        """Await `fn` run on a worker."""
        return await asyncio.wrap_future(self.submit(fn))


# -- parts of a request -------------------------------------------------------------------------------

@dataclass
class Upload:
    """A file part of a request: its field name, file name and bytes."""

    name: str
    filename: str
    data: bytes


@dataclass
class Result:
    """An answer's body: bytes, content type and a file name."""

    body: bytes
    media_type: str
    filename: str


def parse_json_object(text: str | None, what: str) -> dict:
    """A JSON object from a text part (empty: {}); ParameterError saying what to send otherwise."""
    if text is None or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as e:
        raise ParameterError(f"{what}: not valid JSON ({e}); send a JSON object such as {{\"strength\": 0.5}}") from None
    if not isinstance(value, dict):
        raise ParameterError(f"{what}: a JSON object of parameters is expected, got {type(value).__name__}")
    return value


def image_inputs(op: Operation) -> list[str]:
    """The parameters of `op` that are uploaded pictures (its image inputs)."""
    return [n for n, kind in op.inputs.items() if kind == "image"]


def refuse_paths(op: Operation, params: dict, where: str | None = None) -> None:
    """Refuse input parameters given in the parameters themselves: a picture only as an upload part, a model
    only by a registered name. Nothing given here can make the server open a file."""
    from ..models import MODELS

    where = where or op.name
    for name, kind in op.inputs.items():
        value = params.get(name)
        if value is None:
            continue
        if kind == "image":
            raise ParameterError(f"{where}: {name}: pictures come only as uploads: send the image as a file part "
                                 f"named {name!r}, not in the parameters (the server reads no path)")
        if not isinstance(value, str) or value not in MODELS:
            known = ", ".join(MODELS) or "none registered"
            raise ParameterError(f"{where}: {name}: over HTTP a model is named, never a path: give a registered "
                                 f"model's name (known: {known})")


def split_parts(op: Operation, items: list[tuple[str, Any]], *, fields=("params",)) -> tuple[list[Upload], dict, dict]:
    """The photos, the uploaded inputs by name and the text fields of a multipart form, checked against
    `op`: ``photo`` file parts (one, or several for a frames operation), one file part per image input,
    the text `fields`. Anything else, or a text where a file belongs, is refused with ParameterError."""
    inputs, photos, texts = image_inputs(op), [], {}
    uploads: dict[str, Upload] = {}
    for name, value in items:
        is_file = isinstance(value, Upload)
        if name == "photo" or name in inputs:
            if not is_file:
                raise ParameterError(f"{name}: must be an uploaded image file (a file part); the server reads no "
                                     "path or URL")
            if name == "photo":
                photos.append(value)
            elif name in uploads:
                raise ParameterError(f"{name}: uploaded twice; send one image for it")
            else:
                uploads[name] = value
        elif name in fields and not is_file:
            if name in texts:
                raise ParameterError(f"{name}: given twice; send it once")
            texts[name] = value
        else:
            expected = ", ".join(["photo", *fields, *inputs])
            raise ParameterError(f"unknown part {name!r} for {op.name}; the parts are {expected}")
    if not photos:
        raise ParameterError("photo: missing; upload the image as a file part named 'photo'")
    if len(photos) > 1 and not op.frames:
        raise ParameterError(f"photo: {op.name} takes one photo, got {len(photos)}")
    return photos, uploads, texts


def options_for(limits: Limits, values: dict | None = None) -> RunOptions:
    """The run options of a request (face, seed) with the server's pixel limit (not settable over HTTP)."""
    values = dict(values or {})
    if "max_pixels" in values:
        raise ParameterError("max_pixels: set by the server (portrait serve --max-pixels), not by a request")
    return RunOptions.parse({**values, "max_pixels": limits.max_pixels})


def read_photo(upload: Upload, options: RunOptions, backend):
    """The Portrait in an uploaded file (errors name the upload's field and file name)."""
    if not upload.data:
        raise InputError(f"{upload.name} ({upload.filename or UPLOAD})", "the upload is empty (0 bytes)",
                         "send the image file's contents")
    try:
        p = read_upload(upload.data, max_pixels=options.max_pixels, backend=backend, face_index=options.face)
    except InputError as e:
        raise type(e)(f"{upload.name} ({upload.filename or 'upload'})", e.problem, e.fix) from None
    p.path = upload.filename or UPLOAD
    return p


def choose_format(asked: str | None, portrait, transparent: bool) -> str:
    """The answer's format: as asked, else the photo's own where it can be written (PNG when the result is
    transparent and the photo was a JPEG), else PNG."""
    if asked is not None:
        if asked not in FORMATS:
            raise ParameterError(f"format: {asked!r} is not an output format; use one of {', '.join(FORMATS)}")
        if transparent and asked == "jpeg":
            raise ParameterError("format: JPEG cannot hold the transparency this makes; ask for png, tiff or webp")
        return asked
    own = _OWN_FORMAT.get(getattr(getattr(portrait, "metadata", None), "format", None), "png")
    return "png" if transparent and own == "jpeg" else own


def parse_extras(op: Operation, text: str | None) -> list[str]:
    """The side results asked for (``?extras=a,b``), each one `op` declares."""
    names = [n.strip() for n in (text or "").split(",") if n.strip()]
    unknown = [n for n in names if n not in op.extras]
    if unknown:
        known = ", ".join(op.extras) or "none"
        raise ParameterError(f"extras: {op.name} has no side result {', '.join(map(repr, unknown))} (it has: {known})")
    return list(dict.fromkeys(names))


def encode(portrait, fmt: str, *, quality: int = 95) -> bytes:
    """A Portrait as the bytes of an image file in `fmt` (with its transparency and the provenance every output
    carries: Content Credentials where c2pa-python is installed, the watermark, no private metadata)."""
    from ..provenance import write_output

    ext = FORMATS[fmt][0]
    with tempfile.TemporaryDirectory(prefix="portrait-serve-") as d:
        try:
            path = write_output(os.path.join(d, "result" + ext), portrait, quality=quality)
        except InputError as e:
            raise type(e)(f"the result as {fmt}", e.problem, e.fix) from None
        return path.read_bytes()


def encode_extra(kind: str, value) -> tuple[bytes, str]:
    """A side result as the bytes of a file (a grey PNG for a mask, a PNG for a picture, JSON) and its extension."""
    if kind == "json":
        return json.dumps(value, indent=2).encode(), ".json"
    with tempfile.TemporaryDirectory(prefix="portrait-serve-") as d:
        path = os.path.join(d, "extra.png")
        if kind == "image":
            write_image(path, value)
        else:
            write_mask(path, value)
        with open(path, "rb") as f:
            return f.read(), ".png"


def answer(op_name: str, result, fmt: str, extras: list[str], kinds: dict[str, str]) -> Result:
    """The answer to a run: the picture alone, or a zip of the pictures (one per frame) and the asked-for
    side results."""
    ext, media = FORMATS[fmt]
    frames = [result] if hasattr(result, "image") else list(result)
    if len(frames) == 1 and not extras:
        return Result(encode(frames[0], fmt), media, f"{op_name}{ext}")
    missing = [n for n in extras if n not in frames[0].extras]
    if missing:
        raise ParameterError(f"extras: {op_name} makes no {', '.join(missing)} with these parameters")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for i, frame in enumerate(frames):
            z.writestr(f"{op_name}{ext}" if len(frames) == 1 else f"{op_name}-{i:04d}{ext}", encode(frame, fmt))
        for name in extras:
            data, extra_ext = encode_extra(kinds[name], frames[0].extras[name])
            z.writestr(name + extra_ext, data)
    return Result(buf.getvalue(), "application/zip", f"{op_name}.zip")


# -- runs ---------------------------------------------------------------------------------------------

def prepare_operation(op: Operation, photos: list[Upload], uploads: dict[str, Upload], params: dict,
                      options: RunOptions, fmt: str | None, extras: list[str], backend, *, consent: bool = False
                      ) -> Callable[[Callable | None], Result]:
    """Validate a run of `op` before any work (ParameterError for any fault) and return the work itself,
    ``work(progress) -> Result``, which reads the uploads, runs the operation and encodes the answer."""
    refuse_paths(op, params)
    require_consent([op], consent, "consent")
    values = dict(params, **{n: u.data for n, u in uploads.items()})
    settings = op.validate(values, options=options)
    transparent = bool(op.transparent and op.transparent(settings))
    if fmt is not None:
        choose_format(fmt, None, transparent)          # refused now, before the work
    kinds = {n: op.extras[n].kind for n in op.extras}

    def work(progress=None) -> Result:
        if op.frames:
            source = [read_photo(u, options, backend) for u in photos]
        else:
            source = read_photo(photos[0], options, backend)
            if op.face:
                source.face(needed_by=op.name)
        values = dict(settings, **{n: read_photo(u, options, backend) for n, u in uploads.items()})
        result = op(source, progress=progress if op.progress else None, options=options, **values)
        first = source[0] if op.frames else source
        return answer(op.name, result, choose_format(fmt, first, transparent), extras, kinds)

    return work


def prepare_recipe(text: str, photos: list[Upload], options: RunOptions, fmt: str | None, backend
                   ) -> Callable[[Callable | None], Result]:
    """A recipe (YAML or JSON text) validated now, to run on one uploaded photo (see :func:`prepare_operation`)."""
    steps = parse_steps_text(text, options)
    if len(photos) != 1:
        raise ParameterError(f"photo: a recipe runs on one photo, got {len(photos)}")
    made = [s.op.transparent(s.params) for s in steps if "alpha" in s.op.extras and s.op.transparent]
    transparent = bool(made and made[-1])
    if fmt is not None:
        choose_format(fmt, None, transparent)

    def work(progress=None) -> Result:
        from ..pipeline import apply_recipe

        portrait = read_photo(photos[0], options, backend)
        result = apply_recipe(portrait, steps, progress=progress)
        return answer("recipe", result, choose_format(fmt, portrait, transparent), [], {})

    return work


def parse_steps_text(text: str, options: RunOptions | None = None):
    """The validated steps of a recipe's YAML or JSON text, none of which may name a file."""
    import yaml

    from ..pipeline import parse_recipe

    try:
        doc = yaml.safe_load(text or "")                  # JSON is YAML too
    except yaml.YAMLError as e:
        raise ParameterError(f"recipe: not valid YAML or JSON ({str(e).splitlines()[0]})") from None
    steps = parse_recipe(doc, source="recipe", options=options)
    for i, step in enumerate(steps, 1):
        refuse_paths(step.op, {n: getattr(step.params, n) for n in step.op.inputs},
                     f"recipe: step {i} ({step.op.name})")
    return steps


# -- jobs ---------------------------------------------------------------------------------------------

@dataclass
class Job:
    """Work run in the background: its state, how far it has come, and its result or error."""

    id: str
    what: str
    state: str = "queued"                       # queued, running, done, failed
    progress: dict = field(default_factory=dict)
    result: Result | None = None
    error: tuple[int, str] | None = None
    created: float = field(default_factory=time.time)
    seconds: float | None = None

    def to_dict(self) -> dict:
        d = {"id": self.id, "what": self.what, "state": self.state, "progress": self.progress}
        if self.error:
            d["error"] = {"status": self.error[0], "detail": self.error[1]}
        if self.seconds is not None:
            d["seconds"] = round(self.seconds, 3)
        if self.state == "done":
            d["result"] = f"/v1/jobs/{self.id}/result"
        return d


class Jobs:
    """The jobs of one server: at most ``limits.jobs`` remembered (finished ones forgotten oldest first)."""

    def __init__(self, pool: Pool, status_of: Callable[[BaseException], tuple[int, str]]):
        self.pool, self.status_of = pool, status_of
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()

    def submit(self, what: str, work: Callable[[Callable | None], Result]) -> Job:
        job = Job(uuid.uuid4().hex, what)
        with self._lock:
            done = [k for k, j in self._jobs.items() if j.state in ("done", "failed")]
            while len(self._jobs) >= self.pool.limits.jobs and done:
                del self._jobs[done.pop(0)]
            if len(self._jobs) >= self.pool.limits.jobs:
                raise Busy(f"{len(self._jobs)} jobs are waiting or running, the most this server keeps; try again later")
            self._jobs[job.id] = job

        def progress(done: int, total: int, what: str) -> None:
            job.progress = {"done": done, "total": total, "what": what}

        def run() -> None:
            job.state, t = "running", time.perf_counter()
            try:
                job.result = work(progress)
                job.state = "done"
            except BaseException as e:  # noqa: BLE001 - a job's failure is its answer, kept for the client
                job.error, job.state = self.status_of(e), "failed"
            job.seconds = time.perf_counter() - t

        try:
            self.pool.submit(run)
        except Busy:
            with self._lock:
                self._jobs.pop(job.id, None)
            raise
        return job

    def get(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(f"no job {job_id!r} (jobs are kept until {self.pool.limits.jobs} newer ones finish)")
        return job


# -- studio sessions ----------------------------------------------------------------------------------

def shrink(portrait, pixels: int):
    """`portrait` reduced to about `pixels` (area resampling in linear light), or itself when smaller; its
    metadata, face choice and backend kept, its analysis made anew on the small copy."""
    from ..portrait import Portrait

    h, w = portrait.shape
    s = min(1.0, (pixels / (h * w)) ** 0.5)
    if s >= 1.0:
        return portrait
    size = (max(1, round(w * s)), max(1, round(h * s)))
    alpha = None if portrait.alpha is None else cv2.resize(portrait.alpha, size, interpolation=cv2.INTER_AREA)
    return Portrait(cv2.resize(portrait.image, size, interpolation=cv2.INTER_AREA), portrait.metadata,
                    path=portrait.path, backend=portrait._backend, face_index=portrait.face_index,
                    max_pixels=portrait.max_pixels, alpha=alpha)


@dataclass
class Session:
    """A photo opened in the studio: its upload (for the export at full size), its preview Portrait whose
    analysis is kept between slider moves, the uploaded inputs, and the last few results of recipe prefixes."""

    id: str
    upload: Upload
    full_size: tuple[int, int]
    preview: Any
    inputs: dict = field(default_factory=dict)          # name -> (Upload, preview Portrait)
    memo: OrderedDict = field(default_factory=OrderedDict)
    faces: dict = field(default_factory=dict)          # face index -> the preview working on that face
    lock: threading.Lock = field(default_factory=threading.Lock)

    def to_dict(self) -> dict:
        h, w = self.preview.shape
        return {"id": self.id, "width": self.full_size[1], "height": self.full_size[0],
                "preview": {"width": w, "height": h}, "faces": len(self.preview.faces),
                "inputs": sorted(self.inputs)}


class Sessions:
    """The studio's sessions, the least recently used dropped beyond ``limits.sessions``."""

    MEMO = 6                                  # results of recipe prefixes kept per session

    def __init__(self, limits: Limits):
        self.limits = limits
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def open(self, upload: Upload, options: RunOptions, backend) -> Session:
        full = read_photo(upload, options, backend)
        preview = shrink(full, self.limits.preview_pixels)
        preview.faces                                     # the analysis, once, now
        s = Session(uuid.uuid4().hex, upload, full.shape, preview)
        with self._lock:
            self._sessions[s.id] = s
            while len(self._sessions) > self.limits.sessions:
                self._sessions.popitem(last=False)
        return s

    def get(self, sid: str) -> Session:
        with self._lock:
            s = self._sessions.get(sid)
            if s is None:
                raise NotFound(f"no studio session {sid!r} (it may have been dropped for newer ones); upload the "
                               "photo again")
            self._sessions.move_to_end(sid)
            return s


def session_steps(session: Session, steps: list[dict], *, full: bool, options: RunOptions, backend) -> list[tuple]:
    """Studio steps ``{"op", "params", "uploads": [input names]}`` validated against each operation, the
    uploads taken from the session (at preview size, or the uploaded file for the full-size export):
    ``[(op, values, key)]`` with `key` the step as JSON (what the memo knows it by)."""
    from ..ops import get_operation

    out = []
    for i, step in enumerate(steps, 1):
        op = get_operation(step["op"])
        where = f"step {i} ({op.name})"
        if op.frames:
            raise ParameterError(f"{where}: {op.name} takes several frames, not a studio photo; use "
                                 f"POST /v1/operations/{op.name}")
        params = dict(step.get("params") or {})
        refuse_paths(op, params, where)
        values = dict(params)
        for name in step.get("uploads") or []:
            if name not in image_inputs(op):
                raise ParameterError(f"{where}: {name!r} is not an image input of {op.name} "
                                     f"(it has: {', '.join(image_inputs(op)) or 'none'})")
            if name not in session.inputs:
                raise ParameterError(f"{where}: no {name!r} uploaded in this session; upload it first")
            up, small = session.inputs[name]
            values[name] = read_photo(up, options, backend) if full else small
        op.validate(values, options=options)
        key = json.dumps([op.name, params, sorted(step.get("uploads") or [])], sort_keys=True)
        out.append((op, values, key))
    return out


def run_preview(session: Session, steps: list[tuple], options: RunOptions):
    """The preview Portrait after `steps` (from :func:`session_steps`) on the face `options` choose, reusing
    the memo of earlier runs: a slider move on the last step redoes only that step, on the kept analysis."""
    with session.lock:
        portrait, start = session.preview, 0
        face = json.dumps({"face": options.face})
        if options.face != portrait.face_index:          # another face: the same photo, its analysis shared
            if options.face not in session.faces:
                portrait.face(options.face)                  # refused (NoFaceError) unless the photo has it
                session.faces[options.face] = portrait.replace(portrait.image)
                session.faces[options.face].face_index = options.face
            portrait = session.faces[options.face]
        keys = [face + json.dumps([s[2] for s in steps[:k]]) for k in range(len(steps) + 1)]
        for k in range(len(steps), 0, -1):
            hit = session.memo.get(keys[k])
            if hit is not None:
                portrait, start = hit, k
                session.memo.move_to_end(keys[k])
                break
        for k in range(start, len(steps)):
            op, values, _ = steps[k]
            if op.face:
                portrait.face(needed_by=op.name)
            portrait = op(portrait, options=options, **values)
            session.memo[keys[k + 1]] = portrait
            while len(session.memo) > Sessions.MEMO:
                session.memo.popitem(last=False)
        return portrait


def _quick(rgb: np.ndarray, alpha: np.ndarray | None = None) -> tuple[bytes, str]:
    """A preview's bytes, fast: 8-bit sRGB through OpenCV's encoder with no metadata (a JPEG, or a PNG when
    there is transparency to show); the exported file goes through :func:`encode` instead."""
    from ..core import to_srgb8

    bgr = np.ascontiguousarray(to_srgb8(rgb)[:, :, ::-1])
    if alpha is not None:
        a = np.round(np.clip(alpha, 0, 1) * 255).astype(np.uint8)
        return cv2.imencode(".png", np.dstack([bgr, a]), [cv2.IMWRITE_PNG_COMPRESSION, 1])[1].tobytes(), "image/png"
    return cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 88])[1].tobytes(), "image/jpeg"


def preview_image(portrait, show: str | None, kinds: dict[str, str]) -> tuple[bytes, str]:
    """The preview to send: the picture (JPEG, or PNG when transparent) or one side result of the last step
    (a mask shown as grey levels, a picture as it is, JSON as JSON)."""
    if show in (None, "", "result"):
        return _quick(portrait.image, portrait.alpha)
    if show not in portrait.extras:
        made = ", ".join(portrait.extras) or "none"
        raise ParameterError(f"show: the last step made no {show!r} (it made: {made})")
    kind, value = kinds.get(show, "mask"), portrait.extras[show]
    if kind == "json":
        return json.dumps(value).encode(), "application/json"
    if kind in ("mask", "alpha"):                  # grey levels as the mask's values (sRGB-encoded: 0.5 = mid-grey)
        from ..core import srgb_to_linear

        value = np.repeat(srgb_to_linear(np.clip(value, 0, 1))[..., None], 3, axis=2)
    return _quick(value)
