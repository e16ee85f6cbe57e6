"""End-to-end tests of the ``portrait`` command, run as a user runs it (a separate process)."""
from __future__ import annotations

import json
import os
import pathlib
import shutil
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
import yaml
from PIL import Image

_SCRIPT = pathlib.Path(sys.executable).with_name("portrait")
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "portrait_studio"]


def portrait(*args, cwd=None):
    p = subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300)
    return p.returncode, p.stdout, p.stderr


@pytest.fixture(scope="module")
def photo(tmp_path_factory, astronaut_rgb8):
    """The astronaut as a JPEG carrying EXIF (camera, date, GPS) and XMP."""
    path = tmp_path_factory.mktemp("in") / "astronaut.jpg"
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0132] = "NASA", "Hasselblad", "1998:01:01 10:00:00"
    exif.get_ifd(0x8825)[2] = (28.0, 31.0, 0.0)                      # GPS latitude
    Image.fromarray(astronaut_rgb8).save(path, quality=95, exif=exif)
    return path


def assert_refused(code, out, err, *outputs):
    assert code == 2, (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("portrait: error: "), err
    assert "Traceback" not in err
    for o in outputs:
        assert not os.path.exists(o), f"{o} was left behind"


def test_ops_and_generated_help():
    code, out, _ = portrait("ops")
    assert code == 0 and "exposure" in out and "--long-edge" in out
    code, out, _ = portrait("exposure", "--help")
    assert code == 0 and "--ev X" in out and "stops" in out and "≤ 8" in out and "default 0.0" in out
    code, out, _ = portrait("ops", "--json")
    assert json.loads(out)["resize"]["properties"]["long_edge"]["maximum"] == 65535
    for name in json.loads(out):                    # every operation's help prints (a % in a description once broke it)
        code, out_, err = portrait(name, "--help")
        assert code == 0 and "usage:" in out_, (name, err)
    code, out, _ = portrait("retouch", "--help")
    assert "10% less light" in out
    assert portrait("--help")[0] == 0


def test_operation_writes_output_and_keeps_metadata(photo, tmp_path):
    out = tmp_path / "bright.jpg"
    code, stdout, err = portrait("exposure", photo, "-o", out, "--ev", "1")
    assert code == 0, err
    assert f"wrote {out}" in stdout
    a = np.asarray(Image.open(photo), np.float32).mean()
    b = np.asarray(Image.open(out), np.float32).mean()
    assert b > a * 1.2
    exif = Image.open(out).getexif()
    assert exif[0x010F] == "NASA" and exif.get(0x0112, 1) == 1
    assert not exif.get_ifd(0x8825)                                   # GPS removed unless asked to keep it
    kept = tmp_path / "kept.jpg"
    assert portrait("exposure", photo, "-o", kept, "--keep-private")[0] == 0
    exif = Image.open(kept).getexif()
    assert exif[0x010F] == "NASA" and 2 in exif.get_ifd(0x8825)
    private = tmp_path / "private.jpg"                                 # the old flag still works (the default)
    assert portrait("exposure", photo, "-o", private, "--strip-private")[0] == 0
    assert not Image.open(private).getexif().get_ifd(0x8825)


def test_existing_output_is_not_overwritten(photo, tmp_path):
    out = tmp_path / "o.png"
    out.write_bytes(b"precious")
    code, o, e = portrait("exposure", photo, "-o", out)
    assert code == 2 and "already exists" in e and "--overwrite" in e and out.read_bytes() == b"precious"
    assert portrait("exposure", photo, "-o", out, "--overwrite")[0] == 0
    assert Image.open(out).size == (512, 512)


def test_bad_parameter_refused_before_anything_is_written(photo, tmp_path):
    out = tmp_path / "o.png"
    code, o, e = portrait("exposure", photo, "-o", out, "--ev", "12")
    assert_refused(code, o, e, out)
    assert "ev" in e and "less than or equal to 8" in e
    code, o, e = portrait("exposure", photo, "-o", out, "--ev", "lots")
    assert code == 2 and "invalid float value" in e and not out.exists()


def test_recipe(photo, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("steps:\n  - exposure: {ev: 0.5}\n  - resize: {long_edge: 256}\n")
    out = tmp_path / "r.tif"
    code, o, e = portrait("run", recipe, photo, "-o", out)
    assert code == 0, e
    im = Image.open(out)
    assert im.size == (256, 256)
    bad = tmp_path / "bad.yaml"
    bad.write_text("- exposure: {ev: 99}\n")
    code, o, e = portrait("run", bad, photo, "-o", tmp_path / "x.png")
    assert_refused(code, o, e, tmp_path / "x.png")
    assert "bad.yaml: step 1: exposure: ev" in e


def test_analyze_json_and_overlay(photo, tmp_path):
    overlay = tmp_path / "overlay.png"
    code, out, err = portrait("analyze", photo, "--json", "--overlay", overlay)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["image"]["width"] == 512 and doc["image"]["height"] == 512 and doc["image"]["profile"]
    (face,) = doc["faces"]
    assert set(face) >= {"box", "score", "landmarks", "pose"} and len(face["landmarks"]) == 478
    assert set(face["pose"]) == {"yaw", "pitch", "roll"}
    x, y, w, h = face["box"]
    assert all(x - 1 <= p[0] <= x + w + 1 and y - 1 <= p[1] <= y + h + 1 for p in face["landmarks"])
    assert Image.open(overlay).size == (512, 512)
    code, out, err = portrait("analyze", photo)
    assert code == 0 and "face 0:" in out and "yaw" in out
    assert err == "", "the models' start-up notes must not reach the user"


def test_analyze_face_index_out_of_range(photo, tmp_path):
    code, o, e = portrait("analyze", photo, "--face", "2", "--overlay", tmp_path / "o.png")
    assert_refused(code, o, e, tmp_path / "o.png")
    assert "face 2 asked for but 1 found" in e


def _png_bomb(path, w=60000, h=60000):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("kind", ["empty", "truncated", "text", "bomb", "missing", "folder", "too-many-pixels"])
def test_bad_input_refused(kind, photo, tmp_path):
    path = tmp_path / f"{kind}.jpg"
    extra = []
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        data = photo.read_bytes()
        path.write_bytes(data[: len(data) // 3])
    elif kind == "text":
        path = tmp_path / "text.png"
        path.write_text("not an image")
    elif kind == "bomb":
        path = tmp_path / "bomb.png"
        _png_bomb(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "too-many-pixels":
        shutil.copy(photo, path)
        extra = ["--max-pixels", "1000"]
    before = path.read_bytes() if path.is_file() else None
    overlay, out = tmp_path / "overlay.png", tmp_path / "out.jpg"
    code, o, e = portrait("analyze", path, "--overlay", overlay, *extra)
    assert_refused(code, o, e, overlay)
    assert str(path) in e
    code, o, e = portrait("exposure", path, "-o", out, *extra)
    assert_refused(code, o, e, out)
    if before is not None:
        assert path.read_bytes() == before                          # the input is untouched


def test_odd_but_valid_inputs_give_the_same_face(photo, tmp_path, astronaut_rgb8):
    im = Image.fromarray(astronaut_rgb8)
    im.convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    im.convert("RGBA").save(tmp_path / "rgba.png")
    Image.fromarray(np.asarray(im.convert("L")).astype(np.uint16) * 257).save(tmp_path / "grey16.png")
    exif = Image.Exif()
    exif[0x0112] = 6                                                 # stored turned; the tag turns it back
    im.rotate(90, expand=True).save(tmp_path / "rot.jpg", exif=exif, quality=95)
    _, out, _ = portrait("analyze", photo, "--json")
    upright = np.array(json.loads(out)["faces"][0]["landmarks"])[:, :2]
    iod = np.linalg.norm(upright[468] - upright[473])
    for name in ("cmyk.jpg", "rgba.png", "grey16.png", "rot.jpg"):
        code, out, err = portrait("analyze", tmp_path / name, "--json")
        assert code == 0, (name, err)
        pts = np.array(json.loads(out)["faces"][0]["landmarks"])[:, :2]
        assert np.linalg.norm(pts - upright, axis=1).mean() < 0.05 * iod, name


def test_no_face_where_one_is_needed(tmp_path):
    noise = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (120, 160, 3), np.uint8)).save(noise)
    code, out, _ = portrait("analyze", noise, "--json")
    assert code == 0 and json.loads(out)["faces"] == []
    code, o, e = portrait("demo", noise, "-o", tmp_path / "demo")
    assert_refused(code, o, e)
    assert "no face found" in e


def test_demo_on_the_astronaut(tmp_path, astronaut_rgb8):
    code, out, err = portrait("demo", "-o", tmp_path / "results")
    assert code == 0, err
    assert (tmp_path / "results" / "astronaut-overlay.png").exists()
    doc = json.loads((tmp_path / "results" / "astronaut-analysis.json").read_text())
    assert len(doc["faces"]) == 1
    assert "results are in" in out
    recipe = yaml.safe_load((tmp_path / "results" / "studio.yaml").read_text())
    names = [next(iter(s)) if isinstance(s, dict) else s for s in recipe["steps"]]
    assert names, "the studio recipe runs at least one technique"
    for i, name in enumerate(names, 1):                     # every step's result is written, and it is a photo
        assert (tmp_path / "results" / f"astronaut-{i}-{name}.jpg").exists()
    before = np.asarray(Image.open(tmp_path / "results" / "astronaut-overlay.png"))
    final = np.asarray(Image.open(tmp_path / "results" / "astronaut-studio.jpg"))
    assert final.shape[:2] == before.shape[:2]
    assert np.abs(final.astype(float) - astronaut_rgb8.astype(float)).mean() > 2  # the studio did change it


def test_debug_shows_the_traceback(tmp_path):
    code, _, err = portrait("analyze", tmp_path / "missing.jpg", "--debug")
    assert code != 0 and "Traceback" in err and "InputError" in err
    code, _, err = portrait("analyze", tmp_path / "missing.jpg")
    assert code == 2 and err.strip() == f"portrait: error: {tmp_path / 'missing.jpg'}: no such file; check the path"


# ---------------------------------------------------------------------------------------------- first contact

def test_ops_shows_every_description_whole():
    """`portrait ops` and `portrait --help` give each operation's summary whole (it once stopped mid-sentence)."""
    from portrait_studio.ops import operations

    code, out, _ = portrait("ops")
    assert code == 0
    code, top, _ = portrait("--help")
    assert code == 0
    for name, op in operations().items():
        assert op.summary.endswith("."), name
        assert op.summary in " ".join(out.split()), name
        assert op.summary in " ".join(top.split()), name
    code, out, _ = portrait("background", "--help")
    assert "light and colour matched." in " ".join(out.split())
    assert "portrait background in.jpg -o cut.png --cutout" in out     # its example command lines, as written


@pytest.fixture(scope="module")
def transparent(tmp_path_factory, astronaut_rgb8):
    """The astronaut (256 px) as an RGBA PNG: opaque in the middle, transparent at the sides, where the hidden
    colour is pure green."""
    rgb = np.asarray(Image.fromarray(astronaut_rgb8).resize((256, 256), Image.LANCZOS)).copy()
    alpha = np.full((256, 256), 255, np.uint8)
    alpha[:, :24] = alpha[:, -24:] = 0
    alpha[:, 24:40] = 128
    rgb[alpha == 0] = (0, 255, 0)
    path = tmp_path_factory.mktemp("alpha") / "cut.png"
    Image.fromarray(np.dstack([rgb, alpha])).save(path)
    return path, alpha


def test_transparency_is_kept_or_flattened_over_white(transparent, tmp_path):
    path, alpha = transparent
    code, out, err = portrait("exposure", path, "-o", tmp_path / "o.png", "--ev", "0.3")
    assert code == 0 and err == "", err
    rgba = np.asarray(Image.open(tmp_path / "o.png"))
    assert rgba.shape[2] == 4 and np.abs(rgba[..., 3].astype(int) - alpha).max() <= 1   # the input's alpha
    code, out, err = portrait("exposure", path, "-o", tmp_path / "o.jpg", "--ev", "0.3")
    assert code == 0 and f"wrote {tmp_path / 'o.jpg'}" in out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("portrait: note: ") and "flattened over white" in lines[0]
    rgb = np.asarray(Image.open(tmp_path / "o.jpg"), np.float32)
    assert (rgb[8:-8, 4:18] > 245).all(), "the transparent side is white, not the hidden green"
    code, _, err = portrait("resize", path, "-o", tmp_path / "small.png", "--long-edge", "128")
    assert code == 0 and err == ""
    small = np.asarray(Image.open(tmp_path / "small.png"))
    assert small.shape == (128, 128, 4) and small[:, :10, 3].max() == 0 and small[:, 24:100, 3].min() == 255


def test_output_that_cannot_hold_the_result_is_refused_before_work(tmp_path):
    """A cut-out to JPEG is refused before anything is read (a photo with no person would otherwise be the
    error); so is --save-alpha without --cutout."""
    from skimage import data

    cup = tmp_path / "cup.png"
    Image.fromarray(data.coffee()).save(cup)
    out = tmp_path / "cut.jpg"
    code, o, e = portrait("background", cup, "-o", out, "--cutout")
    assert_refused(code, o, e, out)
    assert "JPEG cannot hold the transparency" in e and ".png" in e
    code, o, e = portrait("background", cup, "-o", tmp_path / "x.png", "--save-alpha", tmp_path / "a.png")
    assert_refused(code, o, e, tmp_path / "x.png", tmp_path / "a.png")
    assert "makes no alpha" in e and "person" not in e
    recipe = tmp_path / "r.yaml"
    recipe.write_text("steps:\n  - background: {cutout: true}\n  - exposure: {ev: 0.2}\n")
    code, o, e = portrait("run", recipe, cup, "-o", out)
    assert_refused(code, o, e, out)
    assert "JPEG cannot hold the transparency" in e


def test_face_too_small_for_the_work_is_refused(tmp_path, astronaut_rgb8):
    """A 128-px astronaut (a face about 26 px high) is not relit into blotches: refused, naming the file, the face's
    size and the fix; work that needs no face detail still runs."""
    tiny = tmp_path / "tiny.png"
    Image.fromarray(astronaut_rgb8).resize((128, 128), Image.LANCZOS).save(tiny)
    for op in ("relight", "retouch"):
        out = tmp_path / f"{op}.png"
        code, o, e = portrait(op, tiny, "-o", out)
        assert_refused(code, o, e, out)
        assert str(tiny) in e and "px high" in e and "needs a face at least 32 px high" in e and "larger photo" in e
    assert portrait("exposure", tiny, "-o", tmp_path / "e.png")[0] == 0


class _Terminal:
    """A stand-in for a terminal's stderr: it collects what is written and says it is a terminal."""

    def __init__(self):
        self.text = ""

    def write(self, s):
        self.text += s

    def flush(self):
        pass

    def isatty(self):
        return True


def test_progress_line_on_a_terminal_only(photo, tmp_path, monkeypatch, capsys):
    """On a terminal the CLI shows the stage of long work on one line of stderr (here shown at once) and
    clears it; elsewhere nothing (every refusal and result test above sees an empty stderr)."""
    import functools

    from portrait_studio import cli

    monkeypatch.setattr(cli, "_Status", functools.partial(cli._Status, after=0.0))
    term = _Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    assert cli.main(["relight", str(photo), "-o", str(tmp_path / "r.png"), "--setup", "loop"]) == 0
    stages = [s.split(" (")[0] for s in term.text.split("\r") if s.startswith("portrait: ")]
    assert stages[0] == f"portrait: reading {photo}" and "portrait: relight" in stages
    assert stages[-1] == f"portrait: writing {tmp_path / 'r.png'}" and term.text.endswith("\r\033[K")
    assert "wrote" in capsys.readouterr().out
    recipe = tmp_path / "r.yaml"
    recipe.write_text("steps: [exposure, {resize: {long_edge: 100}}]\n")
    term.text = ""
    assert cli.main(["run", str(recipe), str(photo), "-o", str(tmp_path / "r.jpg")]) == 0
    assert f"portrait: {recipe}: 2/2 resize" in term.text
    monkeypatch.setattr(sys, "stderr", _Plain := type("Plain", (_Terminal,), {"isatty": lambda self: False})())
    assert cli.main(["exposure", str(photo), "-o", str(tmp_path / "e.png")]) == 0
    assert _Plain.text == ""
