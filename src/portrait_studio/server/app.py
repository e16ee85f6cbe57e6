"""The REST API (v1) and the web studio, generated from the operation registry.

Every operation of :data:`~portrait_studio.ops.OPERATIONS` gets its route, ``POST /v1/operations/NAME``,
documented in the OpenAPI from its JSON Schema (its parameters, its image inputs as upload parts, its side
results); the studio page builds its controls from the same schemas at ``GET /v1/operations``. Errors are
JSON ``{"detail": "..."}``: 400 a broken upload, 413 too large, 415 not an image, 422 a bad parameter or no
face, 404 an unknown name, 409 a job not finished, 429 a full queue; never a 5xx (a last handler turns any
other failure into a 422 that says so).

Examples
--------
>>> from fastapi.testclient import TestClient       # doctest: +SKIP
>>> client = TestClient(create_app())               # doctest: +SKIP
>>> client.get("/v1/operations").json()[0]["name"]  # doctest: +SKIP
'exposure'
"""
from __future__ import annotations

import json
from importlib import resources
from typing import Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile

from .. import __version__
from ..errors import InputError, PortraitError, TooLargeError
from ..ops import OPERATIONS, get_operation
from ..provenance.consent import parse_consent
from . import work
from .work import Busy, Limits, NotFound, NotReady, Upload

Format = Literal["jpeg", "png", "tiff", "webp"]
_FORMAT_HELP = "Output format (default: the photo's own where it can be written, else PNG)."
_EXTRAS_HELP = "Side results to send too, comma-separated (the answer is then a zip)."


class UploadTooLarge(PortraitError):
    """A request body over the server's upload limit (413)."""


def status_of(exc: BaseException) -> tuple[int, str]:
    """The HTTP status and the one-line detail for an error (never a 5xx)."""
    if isinstance(exc, (TooLargeError, UploadTooLarge)):
        return 413, str(exc)
    if isinstance(exc, MemoryError):
        return 413, "the picture is too large to work on in this server's memory; send a smaller one"
    if isinstance(exc, Busy):
        return 429, str(exc)
    if isinstance(exc, NotFound):
        return 404, str(exc)
    if isinstance(exc, NotReady):
        return 409, str(exc)
    if isinstance(exc, _UnsupportedMedia):
        return 415, str(exc)
    if isinstance(exc, InputError):
        return (415 if exc.problem.startswith("not a readable image") else 400), str(exc)
    if isinstance(exc, PortraitError):                 # ParameterError, NoFaceError, MissingDependencyError
        return 422, str(exc)
    if isinstance(exc, RequestValidationError):
        return 422, "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    return 422, (f"internal error while working on this request: {type(exc).__name__}: {exc} (please report it "
                 "with the photo and parameters)")


def _error(exc: BaseException) -> JSONResponse:
    status, detail = status_of(exc)
    return JSONResponse({"detail": detail}, status_code=status, headers={"Retry-After": "5"} if status == 429 else None)


class _Guard:
    """The outermost guard: a request body over the limit is refused (413) whether or not it says its length,
    and any failure that escapes a route becomes a JSON 4xx (the framework's own would be a 500)."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or ()).get(b"content-length")
        too_large = UploadTooLarge(f"the request is larger than this server accepts ({self.limit // 2 ** 20} MB); "
                                   "send a smaller file, or start the server with a larger --max-upload-mb")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await _error(too_large)(scope, receive, send)
        seen, started = 0, False

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise too_large
            return message

        async def watched(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except Exception as e:  # noqa: BLE001 - the last line of defence: an answer, never a 500
            if not started:
                await _error(e)(scope, receive, send)


async def _form(request: Request) -> list[tuple[str, Any]]:
    """The parts of a multipart request: (name, Upload) for files, (name, str) for text fields."""
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        raise _UnsupportedMedia(f"send multipart/form-data (got {ctype.split(';')[0] or 'no content type'}): a "
                                "'photo' file part and a 'params' JSON text part")
    form = await request.form(max_files=256, max_fields=64, max_part_size=2 ** 20)
    items = []
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            items.append((name, Upload(name, value.filename or "", await value.read())))
        else:
            items.append((name, value))
    return items


class _UnsupportedMedia(PortraitError):
    """A request body of a kind the route does not take (415)."""


class Step(BaseModel):
    """One step of the studio's recipe: an operation, its parameters and which image inputs are the
    session's uploads."""

    model_config = ConfigDict(extra="forbid")
    op: str = Field(description="The operation's name (see GET /v1/operations).")
    params: dict[str, Any] = Field(default_factory=dict, description="Its parameters, as its schema says.")
    uploads: list[str] = Field(default_factory=list, description="Image inputs taken from the session's uploads.")


class Preview(BaseModel):
    """A preview request: the steps to apply to the session's preview, and what to show."""

    model_config = ConfigDict(extra="forbid")
    steps: list[Step] = Field(default_factory=list, max_length=32)
    show: str | None = Field(None, description="'result' (default) or a side result of the last step.")
    options: dict[str, Any] = Field(default_factory=dict, description="Run options (face, seed).")
    consent: bool = Field(False, description="The person's consent to identity-changing steps (required for them).")


class Export(BaseModel):
    """An export: the steps applied to the session's photo at full size, as a job."""

    model_config = ConfigDict(extra="forbid")
    steps: list[Step] = Field(default_factory=list, max_length=32)
    format: Format | None = None
    options: dict[str, Any] = Field(default_factory=dict, description="Run options (face, seed).")
    consent: bool = Field(False, description="The person's consent to identity-changing steps (required for them).")


class Recipe(BaseModel):
    """A recipe as the studio holds it: its steps."""

    model_config = ConfigDict(extra="forbid")
    steps: list[Step] = Field(min_length=1, max_length=32)


def listing(op) -> dict:
    """An operation as GET /v1/operations lists it."""
    schema = op.json_schema()
    props = schema.get("properties", {})
    return {"name": op.name, "description": op.summary, "schema": schema,
            "inputs": [{"name": n, "kind": "image", "description": props.get(n, {}).get("description", "")}
                       for n in work.image_inputs(op)],
            "frames": op.frames, "face": op.face,
            "extras": {n: e._asdict() for n, e in op.extras.items()}}


def _request_body(op) -> dict:
    """The OpenAPI request body of an operation's route, from its schema."""
    binary = {"type": "string", "format": "binary"}
    props = {"photo": {"type": "array", "items": binary, "description": "The frames, in order."} if op.frames
             else dict(binary, description="The photo."),
             "params": {"type": "string", "description": f"A JSON object of {op.name}'s parameters: "
                        f"{', '.join(op.params.model_fields)} (see GET /v1/operations).",
                        "example": "{}"},
             "options": {"type": "string", "description": "A JSON object of run options: face, seed."}}
    if op.identity_changing:
        props["consent"] = {"type": "string", "enum": ["true", "false"],
                            "description": f"{op.name} changes who a face looks like: it runs only with 'true', the "
                                           "person's consent."}
    schema = op.json_schema().get("properties", {})
    for n in work.image_inputs(op):
        props[n] = dict(binary, description=schema.get(n, {}).get("description", ""))
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {
        "schema": {"type": "object", "required": ["photo"], "properties": props},
        "encoding": {"params": {"contentType": "application/json"}}}}}}


def create_app(limits: Limits | None = None) -> FastAPI:
    """The server: REST v1 and the studio page, with `limits` (see :class:`~.work.Limits`)."""
    limits = limits or Limits()
    app = FastAPI(title="portrait-studio", version=__version__,
                  description="Portrait operations over HTTP, and the web studio at /. Every route and its "
                              "validation come from the operations' schemas.")
    pool, backend = work.Pool(limits), work.LockedBackend()
    jobs, sessions = work.Jobs(pool, status_of), work.Sessions(limits)
    app.state.limits, app.state.pool, app.state.jobs, app.state.sessions = limits, pool, jobs, sessions
    static = resources.files("portrait_studio.server") / "static"

    app.add_middleware(_Guard, limit=limits.max_upload_bytes)
    app.add_exception_handler(PortraitError, lambda request, exc: _error(exc))
    app.add_exception_handler(RequestValidationError, lambda request, exc: _error(exc))
    app.add_exception_handler(MemoryError, lambda request, exc: _error(exc))

    @app.get("/", include_in_schema=False)
    def index():
        return FileResponse(str(static / "index.html"), media_type="text/html")

    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    @app.get("/v1/operations", summary="Every operation with its parameter schema, inputs and side results")
    def list_operations() -> list[dict]:
        return [listing(op) for op in OPERATIONS.values()]

    @app.get("/v1/operations/{name}", summary="One operation with its parameter schema")
    def one_operation(name: str) -> dict:
        return listing(_op(name))

    def _route(op):
        async def run(request: Request, format: Format | None = Query(None, description=_FORMAT_HELP),
                      extras: str | None = Query(None, description=_EXTRAS_HELP)) -> Response:
            job = await _prepared(request, op, format, extras)
            return _send(await pool.run(job))
        run.__name__ = f"run_{op.name.replace('-', '_')}"
        return run

    for op in OPERATIONS.values():
        app.add_api_route(f"/v1/operations/{op.name}", _route(op), methods=["POST"], summary=op.summary,
                          description=f"Apply {op.name}; the answer is the picture (or a zip with side results).",
                          response_class=Response, openapi_extra=_request_body(op), tags=["operations"],
                          responses={200: {"content": {m: {} for _, m in work.FORMATS.values()}}})

    @app.post("/v1/operations/{name}", include_in_schema=False)
    def unknown_operation(name: str):
        _op(name)

    async def _prepared(request: Request, op, fmt, extras, items=None):
        items = await _form(request) if items is None else items
        photos, uploads, texts = work.split_parts(op, items, fields=("params", "options", "consent"))
        options = work.options_for(limits, work.parse_json_object(texts.get("options"), "options"))
        params = work.parse_json_object(texts.get("params"), "params")
        return work.prepare_operation(op, photos, uploads, params, options, fmt, work.parse_extras(op, extras),
                                      backend, consent=parse_consent(texts.get("consent")))

    @app.post("/v1/jobs", status_code=202, tags=["jobs"], summary="Start long work (an operation or a recipe)",
              openapi_extra={"requestBody": {"content": {"multipart/form-data": {"schema": {
                  "type": "object", "required": ["photo"], "properties": {
                      "photo": {"type": "array", "items": {"type": "string", "format": "binary"}},
                      "operation": {"type": "string", "enum": list(OPERATIONS)},
                      "recipe": {"type": "string", "description": "A recipe, YAML or JSON (instead of operation)."},
                      "params": {"type": "string"}, "options": {"type": "string"}}}}}}})
    async def start_job(request: Request, format: Format | None = Query(None, description=_FORMAT_HELP),
                        extras: str | None = Query(None, description=_EXTRAS_HELP)) -> dict:
        items = await _form(request)
        names = [v for k, v in items if k == "operation" and isinstance(v, str)]
        recipes = [v for k, v in items if k == "recipe" and isinstance(v, str)]
        if len(names) + len(recipes) != 1:
            raise work.ParameterError("give one 'operation' (a name) or one 'recipe' (YAML or JSON) part")
        rest = [(k, v) for k, v in items if k not in ("operation", "recipe")]
        if names:
            op = _op(names[0])
            job = await _prepared(request, op, format, extras, rest)
            what = op.name
        else:
            photos = [v for k, v in rest if k == "photo" and isinstance(v, Upload)]
            texts = {k: v for k, v in rest if k == "options" and isinstance(v, str)}
            odd = [k for k, v in rest if not (k == "photo" and isinstance(v, Upload)) and k != "options"]
            if odd or extras:
                raise work.ParameterError(f"a recipe job takes the parts photo, recipe and options"
                                          f"{' (no extras)' if extras else ''}; got {', '.join(odd) or 'extras'}")
            options = work.options_for(limits, work.parse_json_object(texts.get("options"), "options"))
            job, what = work.prepare_recipe(recipes[0], photos, options, format, backend), "recipe"
        return jobs.submit(what, job).to_dict()

    @app.get("/v1/jobs/{job_id}", tags=["jobs"], summary="A job's state and progress")
    def job_state(job_id: str) -> dict:
        return jobs.get(job_id).to_dict()

    @app.get("/v1/jobs/{job_id}/result", tags=["jobs"], summary="A finished job's result",
             response_class=Response)
    def job_result(job_id: str) -> Response:
        job = jobs.get(job_id)
        if job.state == "failed":
            return JSONResponse({"detail": job.error[1]}, status_code=job.error[0])
        if job.state != "done":
            raise NotReady(f"job {job_id} is {job.state}; poll GET /v1/jobs/{job_id} until it is done")
        return _send(job.result)

    # -- the studio's sessions ------------------------------------------------------------------

    @app.post("/v1/sessions", tags=["studio"], summary="Open a photo in the studio (kept with its analysis)",
              openapi_extra={"requestBody": {"content": {"multipart/form-data": {"schema": {
                  "type": "object", "required": ["photo"],
                  "properties": {"photo": {"type": "string", "format": "binary"}}}}}}})
    async def open_session(request: Request) -> dict:
        items = await _form(request)
        photos = [v for k, v in items if k == "photo" and isinstance(v, Upload)]
        if len(photos) != 1 or len(items) != 1:
            raise work.ParameterError("send one 'photo' file part, and nothing else")
        options = work.options_for(limits)
        return (await pool.run(lambda: sessions.open(photos[0], options, backend))).to_dict()

    @app.get("/v1/sessions/{sid}", tags=["studio"], summary="A studio session")
    def session_state(sid: str) -> dict:
        return sessions.get(sid).to_dict()

    @app.get("/v1/sessions/{sid}/photo", tags=["studio"], summary="The session's photo at preview size",
             response_class=Response)
    async def session_photo(sid: str) -> Response:
        s = sessions.get(sid)
        body, media = await pool.run(lambda: work.preview_image(s.preview, None, {}))
        return Response(body, media_type=media)

    @app.post("/v1/sessions/{sid}/inputs/{name}", tags=["studio"], summary="Upload an image input for the session",
              openapi_extra={"requestBody": {"content": {"multipart/form-data": {"schema": {
                  "type": "object", "required": ["image"],
                  "properties": {"image": {"type": "string", "format": "binary"}}}}}}})
    async def session_input(sid: str, name: str, request: Request) -> dict:
        s = sessions.get(sid)
        if not any(name in work.image_inputs(op) for op in OPERATIONS.values()):
            raise work.ParameterError(f"{name!r} is no operation's image input")
        items = await _form(request)
        ups = [v for k, v in items if k == "image" and isinstance(v, Upload)]
        if len(ups) != 1 or len(items) != 1:
            raise work.ParameterError("send one 'image' file part, and nothing else")
        up = Upload(name, ups[0].filename, ups[0].data)
        options = work.options_for(limits)

        def read():
            small = work.shrink(work.read_photo(up, options, backend), limits.preview_pixels)
            with s.lock:
                s.inputs[name] = (up, small)
                s.memo.clear()
            return s.to_dict()
        return await pool.run(read)

    @app.post("/v1/sessions/{sid}/preview", tags=["studio"], response_class=Response,
              summary="The session's photo after the steps, at preview size (about 1 MP)")
    async def session_preview(sid: str, body: Preview) -> Response:
        import time

        s = sessions.get(sid)
        options = work.options_for(limits, body.options)
        steps = work.session_steps(s, [st.model_dump() for st in body.steps], full=False, options=options,
                                   backend=backend)
        work.require_consent([op for op, _, _ in steps], body.consent, "consent")
        kinds = {n: e.kind for n, e in steps[-1][0].extras.items()} if steps else {}

        def run():
            t = time.perf_counter()
            out = work.run_preview(s, steps, options)
            body_, media = work.preview_image(out, body.show, kinds)
            return body_, media, (time.perf_counter() - t) * 1000
        data, media, ms = await pool.run(run)
        return Response(data, media_type=media, headers={"X-Work-Ms": f"{ms:.0f}"})

    @app.post("/v1/sessions/{sid}/export", status_code=202, tags=["studio"],
              summary="Apply the steps to the session's photo at full size, as a job")
    def session_export(sid: str, body: Export) -> dict:
        s = sessions.get(sid)
        options = work.options_for(limits, body.options)
        raw = [st.model_dump() for st in body.steps]
        checked = work.session_steps(s, raw, full=False, options=options, backend=backend)   # refused now, not later
        work.require_consent([op for op, _, _ in checked], body.consent, "consent")

        def run(progress=None):
            portrait = work.read_photo(s.upload, options, backend)
            steps = work.session_steps(s, raw, full=True, options=options, backend=backend)
            for i, (op, values, _) in enumerate(steps, 1):
                if progress:
                    progress(i, len(steps), op.name)
                if op.face:
                    portrait.face(needed_by=op.name)
                portrait = op(portrait, options=options, **values)
            fmt = work.choose_format(body.format, portrait, portrait.alpha is not None)
            return work.Result(work.encode(portrait, fmt), work.FORMATS[fmt][1], f"portrait{work.FORMATS[fmt][0]}")
        return jobs.submit("export", run).to_dict()

    # -- recipes --------------------------------------------------------------------------------

    @app.post("/v1/recipes/parse", tags=["recipes"], summary="Validate a recipe (YAML or JSON text) into steps",
              openapi_extra={"requestBody": {"content": {"text/yaml": {"schema": {"type": "string"}}}}})
    async def parse_recipe(request: Request) -> dict:
        raw = await request.body()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise work.ParameterError("recipe: not UTF-8 text; send the recipe's YAML or JSON") from None
        steps = work.parse_steps_text(text)
        return {"steps": [{"op": st.op.name, "params": st.params.model_dump(mode="json", exclude_defaults=True),
                           "uploads": []} for st in steps]}

    @app.post("/v1/recipes/yaml", tags=["recipes"], summary="A recipe's steps as YAML (validated)",
              response_class=Response)
    def recipe_yaml(body: Recipe) -> Response:
        import yaml

        doc = [{st.op: st.params} for st in body.steps]
        steps = work.parse_steps_text(json.dumps(doc))
        out = {"steps": [{st.op.name: st.params.model_dump(mode="json", exclude_defaults=True)} for st in steps]}
        return Response(yaml.safe_dump(out, sort_keys=False), media_type="application/yaml",
                        headers={"Content-Disposition": 'attachment; filename="recipe.yaml"'})

    return app


def _op(name: str):
    if name not in OPERATIONS:
        raise NotFound(f"no operation {name!r}; known: {', '.join(OPERATIONS)}")
    return get_operation(name)


def _send(result: work.Result) -> Response:
    return Response(result.body, media_type=result.media_type,
                    headers={"Content-Disposition": f'inline; filename="{result.filename}"'})


def serve(*, host: str = "127.0.0.1", port: int = 8000, limits: Limits | None = None, announce=None) -> None:
    """Run the server until interrupted (uvicorn); `announce(url)` is called once it is about to listen."""
    import uvicorn

    app = create_app(limits)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    if announce:
        shown = f"[{host}]" if ":" in host else host
        announce(f"http://{shown}:{port}/")
    server.run()
