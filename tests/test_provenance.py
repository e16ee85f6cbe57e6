"""Provenance: Content Credentials read back with c2pa, tampering, the watermark's robustness and false
positives, privacy by default, the signing key made once, consent, and the command line end to end."""
from __future__ import annotations

import dataclasses
import json
import os
import stat
import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image

from portrait_studio import Portrait
from portrait_studio.core import srgb_to_linear
from portrait_studio.errors import InputError, ParameterError
from portrait_studio.ops import OPERATIONS, apply
from portrait_studio.provenance import Provenance, credentials, signing, verify, watermark, write_output
from portrait_studio.provenance.consent import require_consent

c2pa = pytest.importorskip("c2pa")


def psnr(a, b):
    return 10 * np.log10(255.0 ** 2 / max(((a.astype(np.float64) - b) ** 2).mean(), 1e-12))


def launder(rgb, *, scale=0.5, quality=70):
    """Downscale (INTER_AREA) and/or re-encode as JPEG: what sharing a picture does to it."""
    x = np.ascontiguousarray(rgb[..., ::-1])
    if scale != 1:
        x = cv2.resize(x, (int(x.shape[1] * scale), int(x.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    if quality:
        x = cv2.imdecode(cv2.imencode(".jpg", x, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_COLOR)
    return x[..., ::-1]


@pytest.fixture(scope="module")
def synthetic():
    """A smooth gradient with a disc and fine noise (flat areas where a mark would show)."""
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:600, 0:800]
    img = np.dstack([x / 800 * 200 + 20, y / 600 * 180 + 30, np.full_like(x, 120.0)])
    img[(x - 400) ** 2 + (y - 300) ** 2 < 150 ** 2] = (230, 200, 180)
    return np.clip(img + rng.normal(0, 2, img.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("which", ["synthetic", "astronaut"])
def test_watermark_invisible_and_robust(which, synthetic, astronaut_rgb8):
    rgb = synthetic if which == "synthetic" else astronaut_rgb8
    marked = watermark.embed(rgb, "0123abcdef")
    assert psnr(marked, rgb) >= 42.0
    assert np.abs(marked.astype(int) - rgb).max() <= 12                # no spot where the mark is loud
    from skimage.color import deltaE_ciede2000, rgb2lab

    de = deltaE_ciede2000(rgb2lab(rgb), rgb2lab(marked))
    assert np.percentile(de, 99) <= (0.95 if which == "astronaut" else 1.0)   # not piled on a mouth or an eye
    for scale, quality in ((1, 70), (0.5, None), (0.5, 70)):
        found = watermark.detect(launder(marked, scale=scale, quality=quality))
        assert found["found"] and found["payload"] == "0123abcdef", (scale, quality, found)
    assert not watermark.detect(rgb)["found"]
    assert not watermark.detect(launder(rgb))["found"]


def test_watermark_makes_no_step_in_the_light_at_a_shadow_edge():
    """Stripes of near black (lashes, a nostril) beside mid-tone: the mark moves the light by about the same
    fraction on both sides (a change even in levels, or faded too far in the dark, steps at every edge)."""
    rng = np.random.default_rng(3)
    level = np.where((np.arange(512) // 6) % 2 == 0, 4.0, 40.0)[None, :, None].repeat(512, 0)
    rgb = np.clip(level + rng.normal(0, 1, (512, 512, 3)) * level / 10, 0, 255).round().astype(np.uint8)
    marked = watermark.embed(rgb, "0123abcdef")

    def light(u8):
        return srgb_to_linear(u8 / 255.0).mean(2) + 2e-3
    change = np.abs(np.log(light(marked) / light(rgb)))
    dark = level[..., 0] < 10
    assert 0.7 <= change[dark].mean() / change[~dark].mean() <= 1.4          # 0.33 with a change faded linearly
    assert watermark.detect(marked)["found"]


def test_watermark_no_false_positives(shared_data, astronaut_rgb8):
    rng = np.random.default_rng(0)
    pictures = [astronaut_rgb8, rng.integers(0, 256, (300, 400, 3), np.uint8), np.full((256, 256, 3), 128, np.uint8)]
    pictures += [cv2.imread(str(f))[..., ::-1] for f in sorted((shared_data / "portraits").glob("*.jpg"))]
    hits = [i for i, p in enumerate(pictures) if watermark.detect(p)["found"]]
    assert hits == []


def test_watermark_payload_from_input_and_recipe():
    a = watermark.payload_for("ab" * 32, [{"op": "exposure", "params": {"ev": 0.3}}])
    assert a == watermark.payload_for("ab" * 32, [{"op": "exposure", "params": {"ev": 0.3}}])
    assert a != watermark.payload_for("ab" * 32, [{"op": "exposure", "params": {"ev": 0.4}}])
    assert a != watermark.payload_for("cd" * 32, [{"op": "exposure", "params": {"ev": 0.3}}])
    assert len(a) == watermark.ID_BITS // 4


@pytest.fixture(scope="module")
def source(tmp_path_factory, astronaut_rgb8):
    """The astronaut as a JPEG with GPS, a body serial number, an owner and a host computer's name."""
    path = tmp_path_factory.mktemp("src") / "astronaut.jpg"
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x013C] = "NASA", "Hasselblad", "Ed's laptop"
    exif.get_ifd(0x8825).update({1: "N", 2: (28.0, 31.0, 0.0)})
    exif.get_ifd(0x8769).update({0xA431: "SN12345", 0xA430: "Ed White"})
    Image.fromarray(astronaut_rgb8).save(path, quality=95, exif=exif)
    return path


@pytest.fixture(scope="module")
def signed(source, tmp_path_factory):
    """The source through a two-step recipe, written with credentials and the watermark."""
    p = Portrait.read(source)
    out = apply(apply(p, "exposure", ev=0.3), "resize", long_edge=400)
    path = tmp_path_factory.mktemp("out") / "signed.jpg"
    notes = []
    write_output(path, out, provenance=Provenance(credentials=True), note=notes.append)
    return path, out, notes


def test_credentials_read_back_with_c2pa(signed, source):
    path, out, _ = signed
    with c2pa.Reader(str(path)) as r:
        doc = json.loads(r.json())
    m = doc["manifests"][doc["active_manifest"]]
    acts = [a for s in m["assertions"] if s["label"].startswith("c2pa.actions") for a in s["data"]["actions"]]
    assert [a["action"] for a in acts] == ["c2pa.opened", "c2pa.color_adjustments", "c2pa.resized"]
    assert [a.get("parameters", {}).get("operation") for a in acts[1:]] == ["exposure", "resize"]
    assert acts[1]["parameters"]["parameters"]["ev"] == pytest.approx(0.3)
    assert all(a["softwareAgent"]["name"] == "portrait-studio" for a in acts)
    parent = [i for i in m["ingredients"] if i["relationship"] == "parentOf"]
    assert len(parent) == 1 and parent[0]["title"] == "astronaut.jpg"
    assert not [c for c in credentials._failures(doc) if "mismatch" in c["code"]]
    report = verify(path)
    import hashlib

    sha = hashlib.sha256(source.read_bytes()).hexdigest()
    assert report["credentials"]["valid"] is True and report["credentials"]["present"] is True
    assert report["credentials"]["ingredients"][0]["hash"] == f"sha256:{sha}"
    assert report["watermark"]["found"] and report["watermark"]["matches_credentials"] is True
    assert report["watermark"]["payload"] == watermark.payload_for(sha, out.history)


def test_signing_makes_no_file_a_resumed_batch_cannot_recognise(source, tmp_path, monkeypatch):
    """A process killed while signing leaves only the writer's own temporary (which a resumed batch removes)."""
    from portrait_studio.io.write import is_temporary

    seen = []
    sign = c2pa.Builder.sign

    def spy(self, *args, **kwargs):
        seen.append(sorted(os.listdir(tmp_path)))
        out = sign(self, *args, **kwargs)
        seen.append(sorted(os.listdir(tmp_path)))
        return out

    monkeypatch.setattr(c2pa.Builder, "sign", spy)
    path = tmp_path / "out.jpg"
    write_output(path, Portrait.read(source), provenance=Provenance(credentials=True))
    assert seen and all(is_temporary(name) for names in seen for name in names)
    assert os.listdir(tmp_path) == ["out.jpg"]


def flip_scan(src, dst):
    """A copy of a JPEG with bytes changed in the middle of its first scan's entropy-coded data."""
    data = bytearray(src.read_bytes())
    i = 2
    while data[i + 1] != 0xDA:
        i += 2 + int.from_bytes(data[i + 2:i + 4], "big")
    start = i + 2 + int.from_bytes(data[i + 2:i + 4], "big")
    for p in range(start + 2000, start + 2040, 10):
        if data[p] != 0xFF and data[p - 1] != 0xFF and data[p] < 0xF0:
            data[p] ^= 0x0F
    dst.write_bytes(data)


def test_tampering_detected(signed, tmp_path):
    path, _, _ = signed
    bad = tmp_path / "tampered.jpg"
    flip_scan(path, bad)
    c = verify(bad)["credentials"]
    assert c["present"] is True and c["valid"] is False
    assert any("mismatch" in p for p in c["problems"])


def test_identity_changing_step_is_said(monkeypatch):
    ops = dict(OPERATIONS)
    ops["exposure"] = dataclasses.replace(ops["exposure"], identity_changing=True)
    acts = credentials.actions([{"op": "exposure", "params": {"ev": 1}}, {"op": "resize", "params": {}}], ops)
    assert acts[1]["digitalSourceType"] == credentials.TRAINED and acts[1]["parameters"]["identityChanging"]
    assert "digitalSourceType" not in acts[2]


def test_privacy_by_default(signed, source, tmp_path):
    from portrait_studio.provenance.privacy import private_fields

    assert {"GPS position", "BodySerialNumber", "CameraOwnerName", "HostComputer"} <= set(private_fields(source))
    path, out, _ = signed
    assert private_fields(path) == []
    exif = Image.open(path).getexif()
    assert exif[0x010F] == "NASA"                                      # the camera's make stays
    kept = tmp_path / "kept.jpg"
    write_output(kept, out, provenance=Provenance(credentials=False, watermark=False, keep_private=True))
    assert "GPS position" in private_fields(kept) and "BodySerialNumber" in private_fields(kept)


def test_signing_key_made_once(tmp_path):
    env = {"XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    first, again = signing.signing_key(env=env), signing.signing_key(env=env)
    assert first.made and first.local and not again.made and again.key == first.key
    key_file = tmp_path / "cfg" / "portrait-studio" / "signing" / "key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first.chain.count("BEGIN CERTIFICATE") == 2                 # signing certificate + its local root
    # the user's own key from the environment wins, and a key without its certificate is refused
    (tmp_path / "k.pem").write_text(first.key)
    (tmp_path / "c.pem").write_text(first.chain)
    env.update(PORTRAIT_SIGN_KEY=str(tmp_path / "k.pem"), PORTRAIT_SIGN_CERT=str(tmp_path / "c.pem"))
    mine = signing.signing_key(env=env)
    assert mine.source == "environment" and not mine.local
    with pytest.raises(InputError, match="without its certificate"):
        signing.signing_key(key=tmp_path / "k.pem", env={})
    # no key in the package
    import portrait_studio

    root = os.path.dirname(portrait_studio.__file__)
    assert not [f for d, _, fs in os.walk(root) for f in fs if f.endswith((".pem", ".key", ".p12"))]


def test_without_c2pa_a_note_and_no_manifest(monkeypatch, tmp_path, astronaut):
    monkeypatch.setattr(credentials, "available", lambda: False)
    notes = []
    path = write_output(tmp_path / "o.png", astronaut, note=notes.append)
    assert notes == [credentials.INSTALL and notes[0]] and "pip install" in notes[0] and len(notes[0].splitlines()) == 1
    monkeypatch.undo()
    assert verify(path)["credentials"]["present"] is False
    assert verify(path)["watermark"]["found"] is True


def test_consent_refused_without_it(monkeypatch):
    changing = dataclasses.replace(OPERATIONS["exposure"], identity_changing=True)
    with pytest.raises(ParameterError, match="consent: true"):
        require_consent([changing], False)
    require_consent([changing], True)
    require_consent([OPERATIONS["exposure"]], False)
    from portrait_studio.pipeline import recipe

    monkeypatch.setattr(recipe, "get_operation", lambda name: changing)
    with pytest.raises(ParameterError, match="changes who a face looks like"):
        recipe.parse_recipe({"steps": [{"exposure": {"ev": 1}}]})
    assert recipe.parse_recipe({"steps": [{"exposure": {"ev": 1}}], "consent": True})
    with pytest.raises(ParameterError, match="consent"):
        recipe.parse_recipe({"steps": [{"exposure": {"ev": 1}}], "consent": "maybe"})
    pytest.importorskip("fastapi")
    from portrait_studio.server import work

    with pytest.raises(ParameterError, match="consent"):
        work.prepare_operation(changing, [], {}, {}, work.RunOptions(), None, [], None)


def _cli(*args, env=None):
    p = subprocess.run([sys.executable, "-m", "portrait_studio", *map(str, args)], capture_output=True, text=True,
                       timeout=300, env=env)
    return p.returncode, p.stdout, p.stderr


def test_cli_end_to_end(source, tmp_path):
    out, plain = tmp_path / "o.jpg", tmp_path / "plain.jpg"
    code, _, err = _cli("exposure", source, "-o", out, "--ev", "0.5")
    assert code == 0, err
    code, stdout, err = _cli("verify", out, "--json")
    assert code == 0, err
    rep = json.loads(stdout)
    assert rep["credentials"]["valid"] is True
    assert [a["operation"] for a in rep["credentials"]["actions"]] == [None, "exposure"]
    assert rep["watermark"]["found"] is True
    code, _, err = _cli("exposure", source, "-o", plain, "--ev", "0.5", "--no-credentials", "--no-watermark")
    assert code == 0, err
    rep = json.loads(_cli("verify", plain, "--json")[1])
    assert rep["credentials"]["present"] is False and rep["watermark"]["found"] is False
    code, stdout, _ = _cli("verify", out)
    assert "credentials: valid" in stdout and "exposure ev=0.5" in stdout and "watermark: found" in stdout
    code, _, err = _cli("verify", tmp_path / "missing.jpg")
    assert code == 2 and "no such file" in err and "Traceback" not in err
    code, _, err = _cli("exposure", source, "-o", tmp_path / "x.jpg", "--sign-key", source)
    assert code == 2 and "without its certificate" in err and not (tmp_path / "x.jpg").exists()


def test_rest_output_carries_credentials_and_mark(source, tmp_path):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from portrait_studio.server import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as client:
        r = client.post("/v1/operations/exposure", files=[("photo", ("astronaut.jpg", source.read_bytes()))],
                        data={"params": json.dumps({"ev": 0.5})})
        assert r.status_code == 200, r.text
        out = tmp_path / "rest.jpg"
        out.write_bytes(r.content)
        rep = verify(out)
        assert rep["credentials"]["valid"] is True and rep["watermark"]["found"] is True
        assert [a["operation"] for a in rep["credentials"]["actions"]] == [None, "exposure"]
        assert rep["credentials"]["ingredients"][0]["title"] == "astronaut.jpg"
        # the same input and recipe make the same pixels through the CLI and the REST API
        cli = tmp_path / "cli.jpg"
        assert _cli("exposure", source, "-o", cli, "--ev", "0.5")[0] == 0
        assert verify(cli)["watermark"]["payload"] == rep["watermark"]["payload"]
        assert np.array_equal(np.asarray(Image.open(cli)), np.asarray(Image.open(out)))
        from PIL import ExifTags  # noqa: F401 - GPS gone from the REST answer too

        assert not Image.open(out).getexif().get_ifd(0x8825)
