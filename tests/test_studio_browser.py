"""The studio page in a real browser: Playwright driving Debian's chromium (skipped where either is absent).
Upload a photo, pick an operation, move a slider and see the preview change, export at full size."""
from __future__ import annotations

import shutil
import socket
import threading
import time

import cv2
import numpy as np
import pytest

pytest.importorskip("fastapi")
sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def server_url():
    import uvicorn

    from portrait_studio.server import create_app
    from portrait_studio.server.work import Limits

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(Limits(workers=1, preview_pixels=300_000)), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture()
def page(server_url):
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 800})
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server_url + "/")
        yield page
        browser.close()
        assert not errors, errors


def _result_src(page, before, timeout=60000):
    page.wait_for_function("b => { const i = document.querySelector('img#result'); return i.getAttribute('src') &&"
                           " i.getAttribute('src') !== b && i.complete && i.naturalWidth > 0; }", arg=before,
                           timeout=timeout)
    return page.evaluate("() => document.querySelector('img#result').getAttribute('src')")


_BRIGHTNESS = """() => { const i = document.querySelector('img#result');
        if (!i.complete || !i.naturalWidth) return -1; const c = document.createElement('canvas');
        c.width = i.naturalWidth; c.height = i.naturalHeight; const g = c.getContext('2d'); g.drawImage(i, 0, 0);
        const d = g.getImageData(0, 0, c.width, c.height).data; let s = 0; for (let k = 0; k < d.length; k += 4) s += d[k + 1];
        return s / (d.length / 4); }"""


def _brightness(page) -> float:
    return page.evaluate(_BRIGHTNESS)


def _brighter_than(page, level: float, timeout=60000) -> None:
    """Wait until the preview shown is brighter than `level` (mean green, 8-bit)."""
    page.wait_for_function(f"level => ({_BRIGHTNESS})() > level", arg=level, timeout=timeout)


def test_upload_slider_preview_and_export(page, astronaut_rgb8, tmp_path):
    big = cv2.resize(astronaut_rgb8, (900, 700), interpolation=cv2.INTER_CUBIC)
    photo = tmp_path / "photo.jpg"
    cv2.imwrite(str(photo), big[:, :, ::-1])

    page.locator("input[type=file]").first.set_input_files(str(photo))
    page.locator("select[name=operation]").select_option("exposure")
    page.locator("button[type=submit]").click()
    first = _result_src(page, None)
    before = _brightness(page)

    slider = page.locator("input[type=range][name=ev]")
    slider.fill("1.5")                                      # a slider move: the preview follows
    _brighter_than(page, before + 20)
    second = page.evaluate("() => document.querySelector('img#result').getAttribute('src')")
    assert second != first
    assert page.locator(".control[data-name=ev] .value").inner_text() == "1.5"

    page.locator("select[name=operation]").select_option("retouch")       # controls made from its schema
    assert page.locator("input[type=range][name=strength]").count() == 1
    _result_src(page, second)

    page.locator("select[name=operation]").select_option("exposure")
    page.locator("input[type=range][name=ev]").fill("1")
    with page.expect_download(timeout=60000) as download:
        page.locator("#export").click()
    path = download.value.path()
    out = cv2.imread(str(path))
    assert out.shape == big.shape                          # the export at full size, not the preview's
    assert out.mean() > big.mean() + 20
