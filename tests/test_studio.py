"""The studio server over HTTP (FastAPI's TestClient): every route and error, generated over the registry so
that a new operation is tested without a line here; the OpenAPI drawn from by Hypothesis, where no request
may give a 5xx; `portrait serve` end to end."""
from __future__ import annotations

import io
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
import warnings
import zipfile
import zlib

import cv2
import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("python_multipart")
pytest.importorskip("httpx")
with warnings.catch_warnings():                  # Starlette's note on httpx, at import
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient  # noqa: E402

from portrait_studio.ops import OPERATIONS  # noqa: E402
from portrait_studio.server import create_app  # noqa: E402
from portrait_studio.server import work  # noqa: E402
from portrait_studio.server.work import Limits  # noqa: E402

LIMITS = Limits(max_pixels=4_000_000, max_upload_bytes=3 * 2 ** 20, workers=1, queue=3, sessions=2, jobs=4,
                preview_pixels=200_000)
SINGLE = [n for n, op in OPERATIONS.items() if not op.frames]


def png_bomb(w=60000, h=60000) -> bytes:
    """A valid PNG header declaring w x h pixels, with almost no data."""
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def encoded(rgb8: np.ndarray, ext: str = ".jpg") -> bytes:
    return cv2.imencode(ext, np.ascontiguousarray(rgb8[:, :, ::-1]))[1].tobytes()


def decoded(body: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(LIMITS), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def face_jpeg(astronaut_rgb8) -> bytes:
    return encoded(astronaut_rgb8)


@pytest.fixture(scope="module")
def grey_png() -> bytes:
    return encoded(np.full((48, 64, 3), 128, np.uint8), ".png")


def post(client, op, photo, params=None, query="", fields=None, files=None):
    """POST to an operation, with the person's consent where the operation changes who a face looks like
    (so that what is tested is the rest of the request)."""
    parts = [("photo", ("photo.jpg", p)) for p in (photo if isinstance(photo, list) else [photo])]
    parts += list((files or {}).items())
    consent = {"consent": "true"} if OPERATIONS[op].identity_changing else {}
    data = {"params": json.dumps(params or {}), **consent, **(fields or {})}
    return client.post(f"/v1/operations/{op}{query}", files=parts, data=data)


def refused(r, *codes):
    assert r.status_code in codes, (r.status_code, r.text[:300])
    detail = r.json()["detail"]
    assert isinstance(detail, str) and detail and "Traceback" not in detail
    return detail


# -- the listing -----------------------------------------------------------------------------------

def test_every_operation_is_listed_with_its_schema(client):
    listing = {e["name"]: e for e in client.get("/v1/operations").json()}
    assert list(listing) == list(OPERATIONS)
    for name, op in OPERATIONS.items():
        e = listing[name]
        assert e["schema"] == json.loads(json.dumps(op.json_schema()))
        assert [i["name"] for i in e["inputs"]] == [n for n, k in op.inputs.items() if k == "image"]
        assert e["frames"] == op.frames and set(e["extras"]) == set(op.extras)
        assert client.get(f"/v1/operations/{name}").json() == e
    refused(client.get("/v1/operations/no-such-op"), 404)


def test_openapi_has_a_route_per_operation_with_its_parts(client):
    spec = client.get("/openapi.json").json()
    for name, op in OPERATIONS.items():
        route = spec["paths"][f"/v1/operations/{name}"]["post"]
        props = route["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
        assert {"photo", "params", *(n for n, k in op.inputs.items() if k == "image")} <= set(props)
        assert {p["name"] for p in route["parameters"]} == {"format", "extras"}


# -- errors, over every operation -------------------------------------------------------------------

def _out_of_range(op):
    """A parameter value past its schema's maximum (or of the wrong type), from the schema alone."""
    for name, prop in op.json_schema()["properties"].items():
        for p in prop.get("anyOf", [prop]):
            if "maximum" in p:
                return {name: p["maximum"] + 1}
    name = next(iter(op.params.model_fields))
    return {name: {"not": "a value"}}


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_bad_parameters_are_422_naming_them(client, grey_png, name):
    op = OPERATIONS[name]
    assert "nonsense" in refused(post(client, name, grey_png, {"nonsense": 1}), 422)
    bad = _out_of_range(op)
    assert next(iter(bad)) in refused(post(client, name, grey_png, bad), 422)
    refused(post(client, name, grey_png, query="?format=bmp"), 422)
    refused(post(client, name, grey_png, query="?extras=no-such-extra"), 422)
    refused(client.post(f"/v1/operations/{name}", files=[("photo", ("p.png", grey_png))], data={"params": "[1, 2]"}), 422)
    refused(client.post(f"/v1/operations/{name}", files=[("photo", ("p.png", grey_png))], data={"params": "{oops"}), 422)
    refused(client.post(f"/v1/operations/{name}", data={"params": "{}"}), 415, 422)          # no photo
    refused(client.post(f"/v1/operations/{name}", json={"params": {}}), 415)                 # not multipart
    refused(post(client, name, grey_png, fields={"surprise": "x"}), 422)                     # an unknown part


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_broken_uploads_are_refused(client, face_jpeg, name):
    refused(post(client, name, face_jpeg[: len(face_jpeg) // 3]), 400, 415, 422)
    refused(post(client, name, b"not an image, only text\n" * 20), 400, 415)
    refused(post(client, name, b""), 400, 415)
    assert "megapixels" in refused(post(client, name, png_bomb()), 413)


@pytest.mark.parametrize("name", [n for n, op in OPERATIONS.items() if op.inputs])
def test_no_parameter_reads_a_server_file(client, grey_png, face_jpeg, name):
    op = OPERATIONS[name]
    for param, kind in op.inputs.items():
        for path in ("/etc/passwd", os.path.abspath(__file__)):
            refused(post(client, name, face_jpeg, {param: path}), 422)
            if kind == "image":                         # a path where the upload belongs
                refused(post(client, name, face_jpeg, fields={param: path}), 422)


@pytest.mark.parametrize("name", [n for n, op in OPERATIONS.items() if op.face and not op.frames])
def test_no_face_is_422(client, grey_png, name):
    assert "face" in refused(post(client, name, grey_png), 422)


def test_a_request_too_large_is_413(client):
    refused(post(client, "exposure", b"\xff" * (LIMITS.max_upload_bytes + 1)), 413)

    def chunked():                                      # no Content-Length: counted as it arrives
        yield b'--x\r\nContent-Disposition: form-data; name="photo"; filename="a.jpg"\r\n\r\n'
        for _ in range(LIMITS.max_upload_bytes // 65536 + 2):
            yield b"\0" * 65536
        yield b"\r\n--x--\r\n"
    refused(client.post("/v1/operations/exposure", content=chunked(),
                        headers={"content-type": "multipart/form-data; boundary=x"}), 413)


def test_an_unexpected_failure_is_a_4xx_not_a_500(client, grey_png, monkeypatch):
    def broken(*a, **k):
        raise RuntimeError("a bug")
    monkeypatch.setattr(work, "encode", broken)
    assert "internal error" in refused(post(client, "exposure", grey_png), 422)


# -- runs -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt,ctype", [(f, m) for f, (_, m) in work.FORMATS.items()])
def test_formats(client, grey_png, fmt, ctype):
    r = post(client, "exposure", grey_png, {"ev": 1}, f"?format={fmt}")
    assert r.status_code == 200 and r.headers["content-type"] == ctype
    if fmt != "tiff":
        assert decoded(r.content).shape == (48, 64, 3)


def test_default_format_is_the_photos_own(client, face_jpeg, grey_png):
    assert post(client, "exposure", face_jpeg).headers["content-type"] == "image/jpeg"
    assert post(client, "exposure", grey_png).headers["content-type"] == "image/png"


def test_exposure_over_rest_equals_the_python_api(client, grey_png):
    r = post(client, "exposure", grey_png, {"ev": 1}, "?format=png")
    got = decoded(r.content).astype(int)
    want = np.clip(((128 / 255) ** 2.2 * 2) ** (1 / 2.2) * 255, 0, 255)      # sRGB 128 doubled in light
    assert abs(got.mean() - want) < 3


def test_retouch_with_its_mask_as_a_zip(client, face_jpeg, astronaut_rgb8):
    r = post(client, "retouch", face_jpeg, {}, "?format=png&extras=mask")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    z = zipfile.ZipFile(io.BytesIO(r.content))
    assert sorted(z.namelist()) == ["mask.png", "retouch.png"]
    assert decoded(z.read("retouch.png")).shape == astronaut_rgb8.shape
    assert cv2.imdecode(np.frombuffer(z.read("mask.png"), np.uint8), cv2.IMREAD_UNCHANGED).max() > 0


def test_background_takes_its_image_as_an_upload(client, face_jpeg):
    scene = encoded(np.dstack([np.full((90, 120), v, np.uint8) for v in (40, 120, 200)]))
    r = post(client, "background", face_jpeg, {"grain": False}, "?format=png", files={"image": ("scene.jpg", scene)})
    assert r.status_code == 200, r.text[:300]
    refused(post(client, "background", face_jpeg, {"cutout": True}, "?format=jpeg"), 422)   # no alpha in JPEG


def test_frames_operation_takes_several_photos(client, astronaut_rgb8):
    rng = np.random.default_rng(0)
    small = cv2.resize(astronaut_rgb8, (128, 128), interpolation=cv2.INTER_AREA)
    frames = [encoded(np.clip(small + rng.normal(0, 8, small.shape), 0, 255).astype(np.uint8), ".png") for _ in range(3)]
    name = next(n for n, op in OPERATIONS.items() if op.frames)
    r = post(client, name, frames, {}, "?format=png")
    assert r.status_code == 200, r.text[:300]
    assert decoded(r.content).shape == (128, 128, 3)
    refused(post(client, "exposure", frames[:2]), 422)                   # one photo for the others


# -- jobs and the bounded queue --------------------------------------------------------------------

def _wait(client, job_id, timeout=60):
    t = time.time()
    while time.time() - t < timeout:
        state = client.get(f"/v1/jobs/{job_id}").json()
        if state["state"] in ("done", "failed"):
            return state
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


def test_jobs_run_an_operation_or_a_recipe(client, grey_png):
    r = client.post("/v1/jobs?format=png", files=[("photo", ("p.png", grey_png))],
                    data={"operation": "exposure", "params": '{"ev": 1}'})
    assert r.status_code == 202
    assert _wait(client, r.json()["id"])["state"] == "done"
    res = client.get(f"/v1/jobs/{r.json()['id']}/result")
    assert res.status_code == 200 and decoded(res.content).shape == (48, 64, 3)

    recipe = "steps:\n  - exposure: {ev: 1}\n  - resize: {long_edge: 32}\n"
    r = client.post("/v1/jobs?format=png", files=[("photo", ("p.png", grey_png))], data={"recipe": recipe})
    state = _wait(client, r.json()["id"])
    assert state["state"] == "done" and state["progress"] == {"done": 2, "total": 2, "what": "resize"}
    assert decoded(client.get(f"/v1/jobs/{r.json()['id']}/result").content).shape == (24, 32, 3)

    r = client.post("/v1/jobs", files=[("photo", ("p.png", grey_png))], data={"operation": "retouch"})
    state = _wait(client, r.json()["id"])                                  # no face: the job fails with 422
    assert state["state"] == "failed" and state["error"]["status"] == 422
    refused(client.get(f"/v1/jobs/{r.json()['id']}/result"), 422)
    refused(client.get("/v1/jobs/nope"), 404)
    refused(client.post("/v1/jobs", files=[("photo", ("p.png", grey_png))], data={}), 422)
    refused(client.post("/v1/jobs", files=[("photo", ("p.png", grey_png))],
                        data={"recipe": "- background: {image: /etc/passwd}"}), 422)


def test_the_queue_is_bounded_and_a_job_not_done_is_409(client, grey_png):
    pool, gate = client.app.state.pool, threading.Event()
    blockers = [pool.submit(gate.wait) for _ in range(LIMITS.queue - 1)]
    try:
        r = client.post("/v1/jobs", files=[("photo", ("p.png", grey_png))], data={"operation": "exposure"})
        assert r.status_code == 202
        refused(client.get(f"/v1/jobs/{r.json()['id']}/result"), 409)
        assert "busy" in refused(post(client, "exposure", grey_png), 429)
    finally:
        gate.set()
        [b.result() for b in blockers]
    assert _wait(client, r.json()["id"])["state"] == "done"
    assert post(client, "exposure", grey_png).status_code == 200


# -- the studio's sessions ---------------------------------------------------------------------------

def test_session_preview_follows_the_parameters_and_exports_full_size(client, astronaut_rgb8):
    big = cv2.resize(astronaut_rgb8, (800, 600), interpolation=cv2.INTER_CUBIC)
    s = client.post("/v1/sessions", files=[("photo", ("big.jpg", encoded(big)))]).json()
    assert (s["width"], s["height"]) == (800, 600) and s["faces"] == 1
    assert s["preview"]["width"] * s["preview"]["height"] <= LIMITS.preview_pixels * 1.01
    sid = s["id"]
    photo = client.get(f"/v1/sessions/{sid}/photo")
    assert decoded(photo.content).shape[:2] == (s["preview"]["height"], s["preview"]["width"])

    def preview(**body):
        r = client.post(f"/v1/sessions/{sid}/preview", json=body)
        assert r.status_code == 200, r.text[:300]
        return decoded(r.content)

    dark = preview(steps=[{"op": "exposure", "params": {"ev": -1}}])
    light = preview(steps=[{"op": "exposure", "params": {"ev": 1}}])
    assert light.mean() > dark.mean() + 20
    steps = [{"op": "exposure", "params": {"ev": 0.5}}, {"op": "retouch", "params": {"strength": 1.5}}]
    mask = preview(steps=steps, show="mask")
    assert mask.shape[:2] == dark.shape[:2] and mask.max() > 0
    refused(client.post(f"/v1/sessions/{sid}/preview", json={"steps": steps, "show": "nothing"}), 422)
    assert "face 3" in refused(client.post(f"/v1/sessions/{sid}/preview", json={"steps": steps, "options": {"face": 3}}), 422)
    refused(client.post(f"/v1/sessions/{sid}/preview", json={"steps": [{"op": "exposure", "params": {"ev": 99}}]}), 422)
    refused(client.post(f"/v1/sessions/{sid}/preview",
                        json={"steps": [{"op": "background", "params": {"image": "/etc/passwd"}}]}), 422)
    refused(client.post(f"/v1/sessions/{sid}/preview",
                        json={"steps": [{"op": "background", "uploads": ["image"]}]}), 422)   # none uploaded yet

    scene = encoded(np.dstack([np.full((90, 120), v, np.uint8) for v in (40, 120, 200)]))
    r = client.post(f"/v1/sessions/{sid}/inputs/image", files=[("image", ("scene.jpg", scene))])
    assert r.status_code == 200 and r.json()["inputs"] == ["image"]
    preview(steps=[{"op": "background", "params": {"grain": False}, "uploads": ["image"]}])
    refused(client.post(f"/v1/sessions/{sid}/inputs/nonsense", files=[("image", ("s.jpg", scene))]), 422)

    r = client.post(f"/v1/sessions/{sid}/export", json={"steps": steps, "format": "png"})
    assert r.status_code == 202
    assert _wait(client, r.json()["id"])["state"] == "done"
    full = decoded(client.get(f"/v1/jobs/{r.json()['id']}/result").content)
    assert full.shape == big.shape
    refused(client.post("/v1/sessions/nope/preview", json={"steps": []}), 404)


def test_sessions_are_bounded(client, grey_png):
    ids = [client.post("/v1/sessions", files=[("photo", ("g.png", grey_png))]).json()["id"]
           for _ in range(LIMITS.sessions + 1)]
    refused(client.get(f"/v1/sessions/{ids[0]}"), 404)
    assert client.get(f"/v1/sessions/{ids[-1]}").status_code == 200


def test_recipes_round_trip_through_yaml(client):
    steps = [{"op": "exposure", "params": {"ev": 0.5}}, {"op": "retouch", "params": {"strength": 0.7}}]
    text = client.post("/v1/recipes/yaml", json={"steps": steps}).text
    assert "exposure" in text and "strength: 0.7" in text
    back = client.post("/v1/recipes/parse", content=text.encode()).json()["steps"]
    assert [(s["op"], s["params"]) for s in back] == [(s["op"], s["params"]) for s in steps]
    refused(client.post("/v1/recipes/yaml", json={"steps": [{"op": "exposure", "params": {"ev": 80}}]}), 422)
    refused(client.post("/v1/recipes/parse", content=b"steps: [ {"), 422)
    refused(client.post("/v1/recipes/parse", content=b"- relight: {match_light: /etc/passwd}"), 422)


def test_the_page_and_its_files_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for needed in ('type="file"', 'name="operation"', 'type="submit"', 'id="result"'):
        assert needed in page.text
    assert "http" not in page.text.replace("http-equiv", "")           # no CDN: every file from the package
    for f in ("studio.js", "studio.css"):
        assert client.get(f"/static/{f}").status_code == 200


def test_no_operation_is_named_by_the_server_or_the_page():
    """Every route and control comes from the contract: the server's code and the page name no operation."""
    import importlib.resources
    import re

    root = importlib.resources.files("portrait_studio.server")
    texts = [f.read_text() for f in (root / "app.py", root / "work.py", root / "static" / "studio.js",
                                     root / "static" / "index.html")]
    code = [re.sub(r'""".*?"""', "", t, flags=re.S) for t in texts]          # docstrings may give examples
    for name in OPERATIONS:
        assert not any(re.search(rf"[\"'`]{re.escape(name)}[\"'`]", c) for c in code), name


# -- the OpenAPI, drawn from ---------------------------------------------------------------------------

def test_no_request_drawn_from_the_openapi_gives_a_5xx(client, grey_png):
    """Requests made from the generated OpenAPI (every route, its parts and queries) with random values:
    none may be answered with a 5xx, and every refusal is JSON {"detail"}."""
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies
    spec = client.get("/openapi.json").json()
    routes = [(path, method, op) for path, methods in spec["paths"].items() for method, op in methods.items()]
    json_values = st.recursive(st.none() | st.booleans() | st.integers(-10 ** 6, 10 ** 6)
                               | st.floats(allow_nan=False, width=32) | st.text(max_size=12),
                               lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                               max_leaves=6)
    tiny = encoded(np.random.default_rng(1).integers(0, 255, (12, 16, 3)).astype(np.uint8), ".png")
    files = st.sampled_from([tiny, grey_png, tiny[:40], b"", b"GIF89a nonsense", png_bomb()]) | st.binary(max_size=64)

    def params_for(path):
        name = path.rsplit("/", 1)[-1]
        keys = list(OPERATIONS[name].params.model_fields) if name in OPERATIONS else []
        return st.dictionaries(st.sampled_from(keys + ["x"]) if keys else st.text(max_size=6), json_values, max_size=3)

    @st.composite
    def request(draw):
        path, method, op = draw(st.sampled_from(routes))
        url = path
        for p in op.get("parameters", []):
            if p["in"] == "path":
                url = url.replace("{" + p["name"] + "}", draw(st.sampled_from(["x", "0" * 32]) | st.text("abc-_", max_size=8)) or "x")
        query = {p["name"]: draw(st.sampled_from([*p["schema"].get("enum", []), *(p["schema"].get("anyOf", [{}])[0].get("enum", [])),
                                                  "png", "mask", "", "???"]))
                 for p in op.get("parameters", []) if p["in"] == "query" and draw(st.booleans())}
        body = (op.get("requestBody") or {}).get("content", {})
        kw = {}
        if "multipart/form-data" in body:
            props = body["multipart/form-data"]["schema"].get("properties", {})
            parts, data = [], {}
            for name, prop in props.items():
                if not draw(st.booleans()) and name != "photo":
                    continue
                if prop.get("format") == "binary" or prop.get("type") == "array":
                    parts += [(name, (f"{name}.png", draw(files))) for _ in range(draw(st.integers(1, 3 if prop.get("type") == "array" else 1)))]
                elif name == "params":
                    data[name] = json.dumps(draw(params_for(path)))
                elif name == "operation":
                    data[name] = draw(st.sampled_from(list(OPERATIONS) + ["nope"]))
                else:
                    data[name] = draw(st.sampled_from(["{}", "[]", "steps: [exposure]", "{bad", '{"face": 3}']))
            kw = {"files": parts, "data": data} if parts else {"data": data}
        elif "application/json" in body:
            kw = {"json": draw(st.dictionaries(st.sampled_from(["steps", "show", "format", "options", "x"]),
                                               json_values | st.just([{"op": "exposure", "params": {"ev": 1}}]), max_size=3))}
        elif body:
            kw = {"content": draw(st.sampled_from([b"steps: [exposure]", b"- resize: {long_edge: 9}", b"\xff\xfe", b"{"]))}
        return method, url, query, kw

    @hypothesis.settings(max_examples=60, deadline=None, derandomize=True, database=None,
                         suppress_health_check=list(hypothesis.HealthCheck))
    @hypothesis.given(request())
    def no_5xx(req):
        method, url, query, kw = req
        r = client.request(method.upper(), url, params=query, **kw)
        assert r.status_code < 500, (method, url, query, r.status_code, r.text[:200])
        if r.status_code >= 400:
            assert isinstance(r.json()["detail"], str)

    no_5xx()


# -- portrait serve ---------------------------------------------------------------------------------------

def test_portrait_serve_answers_on_its_port(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen([sys.executable, "-m", "portrait_studio", "serve", "--port", str(port), "--workers", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        first = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in first
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/operations", timeout=2) as r:
                    assert [e["name"] for e in json.load(r)] == list(OPERATIONS)
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise AssertionError("portrait serve did not answer")
    finally:
        proc.terminate()
        proc.wait(10)
