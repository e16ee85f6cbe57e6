"""A robustness sweep of the command line, over every operation: odd input is read, broken input is refused.

Odd but valid files (CMYK, 16-bit, alpha, grey, EXIF-rotated, ICC-tagged, tiny, elongated, HEIC) must give
exit 0 and a sane, upright output. Broken input (files, outputs, parameters, recipes, photos without a face)
must give exit 2 and one line on stderr naming the file and the fix: no traceback, no output left behind,
the input untouched. The commands run in this process (through ``cli.main``) to keep the sweep fast;
tests/test_cli.py runs the real ``portrait`` executable. Python warnings and log records a user would see on
stderr count as stderr here. Cases test_cli.py already covers are left out.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import warnings

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

from portrait_studio.cli import main
from portrait_studio.io import read_image
from portrait_studio.ops import operations
from test_cli import _png_bomb, assert_refused
from test_io import ADOBE_ICC, P3_ICC

ONE_IMAGE = [name for name, op in operations().items() if not op.frames]      # exposure ... background
COMMANDS = ["analyze", *ONE_IMAGE]
FACE_NEEDED = {"relight": "no face found", "retouch": "no face found", "background": "no person found",
               "expression": "no face found", "makeup": "no face found",
               "reshape": "no face found", "refocus": "no depth map stored and no face"}
SIZE = (256, 192)                                     # W×H of the upright odd files: not square, so a turn shows
RESIZE_TO = 128


@pytest.fixture()
def run(capsys, caplog):
    """``portrait ARGS`` in this process: (exit code, stdout, stderr with any warnings and log records)."""
    def call(*args):
        capsys.readouterr()
        caplog.clear()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for quiet in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
                warnings.simplefilter("ignore", quiet)           # what Python hides from a user by default
            try:
                code = main([str(a) for a in args])
            except SystemExit as e:                              # argparse: --help, usage errors
                code = e.code
        out, err = capsys.readouterr()
        noise = [f"{w.category.__name__}: {w.message}\n" for w in caught]
        noise += [f"{r.name}: {r.getMessage()}\n" for r in caplog.records if r.levelno >= logging.WARNING]
        return code, out, err + "".join(noise)
    return call


@pytest.fixture(scope="module")
def files(tmp_path_factory, astronaut_rgb8):
    """Odd and broken inputs, made once: name -> path."""
    d = tmp_path_factory.mktemp("robust")
    rgb = np.asarray(Image.fromarray(astronaut_rgb8).resize((256, 256), Image.LANCZOS))[:SIZE[1]]   # face kept
    im = Image.fromarray(rgb)
    paths = {}

    def save(name, image, **kw):
        paths[name] = d / name
        image.save(paths[name], **kw)

    save("photo.jpg", im, quality=95)
    save("cmyk.jpg", im.convert("CMYK"), quality=95)
    paths["rgb16.png"] = d / "rgb16.png"
    cv2.imwrite(str(paths["rgb16.png"]), rgb[..., ::-1].astype(np.uint16) * 257)
    paths["rgb16.tif"] = d / "rgb16.tif"
    tifffile.imwrite(paths["rgb16.tif"], rgb.astype(np.uint16) * 257, photometric="rgb")
    tifffile.imwrite(d / "float32.tif", rgb.astype(np.float32) / 255, photometric="rgb")   # Pillow cannot open it
    tifffile.imwrite(d / "extra-channels.tif", np.dstack([rgb, rgb[..., :2]]).astype(np.uint16) * 257,
                     photometric="rgb", extrasamples=[0, 0])
    nan = rgb.astype(np.float32) / 255
    nan[0, 0] = np.nan
    tifffile.imwrite(d / "nan.tif", nan, photometric="rgb")
    alpha = np.tile(np.linspace(0, 255, SIZE[0]).astype(np.uint8), (SIZE[1], 1))
    save("rgba.png", Image.fromarray(np.dstack([rgb, alpha])))
    save("grey.png", im.convert("L"))
    save("grey-alpha.png", im.convert("LA"))
    for orientation, turn in ((6, 90), (8, -90)):               # stored turned; the tag turns it back
        exif = Image.Exif()
        exif[0x0112] = orientation
        save(f"exif{orientation}.jpg", im.rotate(turn, expand=True), exif=exif, quality=95)
    save("adobe-rgb.jpg", im, icc_profile=ADOBE_ICC, quality=95)
    save("p3.png", im, icc_profile=P3_ICC)
    save("tiny.png", im.resize((32, 32), Image.LANCZOS))
    save("elongated.png", Image.fromarray(rgb[40:88]).resize((1024, 48), Image.LANCZOS))
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
        save("photo.heic", im, quality=90)
    except (ImportError, OSError, ValueError):
        pass                                                 # no HEIC encoder here: that case skips
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    save("corrupt-exif.jpg", im, exif=exif, quality=95)
    data = bytearray(paths["corrupt-exif.jpg"].read_bytes())
    start = data.find(b"Exif\0\0") + 14                        # the first IFD entry: garbage
    data[start:start + 24] = b"\xff" * 24
    paths["corrupt-exif.jpg"].write_bytes(bytes(data))
    tifffile.imwrite(d / "photo.tif", rgb, photometric="rgb")          # tags first: cut in them, Pillow warns
    (d / "truncated.tif").write_bytes((d / "photo.tif").read_bytes()[:100])
    data = paths["photo.jpg"].read_bytes()
    (d / "truncated.jpg").write_bytes(data[: len(data) // 3])
    data = paths["rgba.png"].read_bytes()
    (d / "truncated.png").write_bytes(data[: len(data) // 2])
    (d / "empty.jpg").write_bytes(b"")
    (d / "text.jpg").write_text("not an image\n")
    (d / "folder.jpg").mkdir()
    _png_bomb(d / "bomb.png")                                 # 60000×60000 claimed: Pillow refuses to open it
    _png_bomb(d / "bomb-warning.png", 10000, 10000)           # 100 MP: Pillow only warns; the data is bad
    save("flat.png", Image.new("RGB", (200, 160), (128, 128, 128)))
    from skimage import data as skdata

    save("coffee.png", Image.fromarray(skdata.coffee()))       # a cup: no face, no person
    for p in d.iterdir():
        paths.setdefault(p.name, p)
    paths["missing.jpg"] = d / "missing.jpg"
    return paths


def _refused(result, *outputs, names=None, inputs=()):
    """Exit 2, one line (naming `names`), no traceback, no `outputs` left; `inputs` as (path, bytes) untouched."""
    code, out, err = result
    assert_refused(code, out, err, *outputs)
    if names is not None:
        assert str(names) in err, err
    for path, before in inputs:
        assert path.read_bytes() == before, f"{path} was changed"
    return err


def _snapshot(*paths):
    return [(p, p.read_bytes()) for p in paths if p.is_file()]


def _command(op, path, out, *extra):
    """The command line running `op` on `path` (analyze draws its overlay to `out`)."""
    if op == "analyze":
        return ["analyze", path, "--overlay", out, *extra]
    if op == "resize":
        extra = ["--long-edge", RESIZE_TO, *extra]
    return [op, path, "-o", out, *extra]


# --------------------------------------------------------------------------------- odd but valid files

ODD = ["cmyk.jpg", "rgb16.png", "rgb16.tif", "float32.tif", "extra-channels.tif", "rgba.png", "grey.png",
       "grey-alpha.png", "exif6.jpg", "exif8.jpg", "adobe-rgb.jpg", "p3.png", "corrupt-exif.jpg", "tiny.png",
       "elongated.png", "photo.heic"]


@pytest.mark.parametrize("name", ODD)
@pytest.mark.parametrize("op", COMMANDS)
def test_odd_input_is_read(op, name, files, run, tmp_path):
    if name not in files:
        pytest.skip("pillow-heif cannot write HEIC here")
    path, out = files[name], tmp_path / "out.png"
    before = path.read_bytes()
    code, stdout, err = run(*_command(op, path, out))
    assert path.read_bytes() == before
    if code == 2 and op in FACE_NEEDED and name in ("tiny.png", "elongated.png"):
        _refused((code, stdout, err), out, names=path)          # too small or too thin for a face: said so
        assert FACE_NEEDED[op] in err
        return
    assert code == 0 and err == "", (code, err)
    w, h = Image.open(files["photo.jpg" if name not in ("tiny.png", "elongated.png") else name]).size
    if op == "resize":
        scale = min(1.0, RESIZE_TO / max(w, h))
        w, h = max(1, round(w * scale)), max(1, round(h * scale))
    image, _ = read_image(out)
    assert image.shape == (h, w, 3), "the output has the upright size"
    assert np.isfinite(image).all() and 0.02 < image.mean() < 0.9 and image.std() > 0.01


@pytest.mark.parametrize("op", ONE_IMAGE)
def test_transparency_is_carried_or_flattened(op, files, run, tmp_path):
    """A transparent PNG keeps its alpha through every operation that keeps the picture (resized with it by
    resize; a new background fills the frame, so background's composite is opaque), and in a JPEG the
    transparent parts are flattened over white with a one-line note, never showing the colour hidden there."""
    path = files["rgba.png"]
    alpha = np.asarray(Image.open(path))[..., 3] / 255.0
    code, _, err = run(*_command(op, path, tmp_path / "out.png"))
    assert code == 0 and err == "", err
    _, _, opacity = read_image(tmp_path / "out.png", alpha=True)
    if op == "background":
        assert opacity is None
    else:
        expected = cv2.resize(alpha, opacity.shape[::-1], interpolation=cv2.INTER_AREA)
        assert np.abs(opacity - expected).max() < 0.02
    code, _, err = run(*_command(op, path, tmp_path / "out.jpg"))
    assert code == 0, err
    if op != "background":
        assert err.count("\n") == 1 and err.startswith("portrait: note: ") and "flattened over white" in err
        image, _ = read_image(tmp_path / "out.jpg")
        assert image[:, :2].min() > 0.9, "the fully transparent edge is white"
    else:
        assert err == ""


def test_odd_input_keeps_the_face_upright(files, run, tmp_path):
    """A rotated or CMYK file gives the face where the plain JPEG has it (the analysis is of the upright photo)."""
    boxes = {}
    for name in ("photo.jpg", "exif6.jpg", "exif8.jpg", "cmyk.jpg", "rgb16.tif", "p3.png"):
        code, out, err = run("analyze", files[name], "--json")
        assert code == 0, err
        (face,) = json.loads(out)["faces"]
        boxes[name] = np.array(face["box"])
    for name, box in boxes.items():
        assert np.abs(box - boxes["photo.jpg"]).max() < 0.1 * boxes["photo.jpg"][2], name


@pytest.mark.parametrize("op", [name for name, op in operations().items() if op.extras and not op.frames])
def test_side_results_of_a_rotated_photo_are_upright(op, files, run, tmp_path):
    extras = {n: e for n, e in operations()[op].extras.items() if e.kind != "lut"}   # pictures (a LUT has no side)
    sides = {name: tmp_path / f"{name}.{'json' if extras[name].kind == 'json' else 'png'}" for name in extras}
    args = [op, files["exif8.jpg"], "-o", tmp_path / "out.png", *(["--cutout"] if "alpha" in extras else [])]
    for name, path in sides.items():
        args += [f"--save-{name.replace('_', '-')}", path]
    code, _, err = run(*args)
    assert code == 0 and err == "", err
    for path in [tmp_path / "out.png", *sides.values()]:
        assert path.suffix == ".json" or Image.open(path).size == SIZE, path.name


def test_tiffs_pillow_cannot_open_are_read_by_tifffile(files, tmp_path):
    """32-bit float and integer samples, extra channels: the same picture as the 16-bit TIFF."""
    ref, _ = read_image(files["rgb16.tif"])
    u32 = tmp_path / "uint32.tif"
    tifffile.imwrite(u32, tifffile.imread(files["rgb16.tif"]).astype(np.uint32) * 65537, photometric="rgb")
    for path in (files["float32.tif"], files["extra-channels.tif"], u32):
        image, meta = read_image(path)
        assert meta.format == "TIFF" and meta.bit_depth in (16, 32) and "read by tifffile" in meta.notes
        np.testing.assert_allclose(image, ref, atol=1e-5, err_msg=path.name)


def test_burst_of_odd_frames(files, run, tmp_path):
    out = tmp_path / "merged.tif"
    frames = [files[n] for n in ("exif6.jpg", "rgb16.png", "cmyk.jpg", "p3.png", "corrupt-exif.jpg")]
    code, _, err = run("burst", *frames, "-o", out)
    assert code == 0 and err == "", err
    image, _ = read_image(out)
    assert image.shape == (SIZE[1], SIZE[0], 3) and np.isfinite(image).all()


# --------------------------------------------------------------------------------- broken input files

BROKEN = ["missing.jpg", "empty.jpg", "truncated.jpg", "truncated.png", "truncated.tif", "text.jpg",
          "folder.jpg", "bomb.png", "bomb-warning.png", "nan.tif", "too-many-pixels"]
# (test_cli.py::test_bad_input_refused covers these files on analyze and exposure)
IN_TEST_CLI = {"analyze", "exposure"}, {"missing.jpg", "empty.jpg", "truncated.jpg", "text.jpg", "folder.jpg",
                                        "bomb.png", "too-many-pixels"}


@pytest.mark.parametrize("op,name", [(op, name) for op in COMMANDS for name in BROKEN
                                     if not (op in IN_TEST_CLI[0] and name in IN_TEST_CLI[1])])
def test_broken_input_is_refused(op, name, files, run, tmp_path):
    extra = ["--max-pixels", "1000"] if name == "too-many-pixels" else []
    path = files["photo.jpg" if name == "too-many-pixels" else name]
    out = tmp_path / "out.png"
    inputs = _snapshot(path)
    err = _refused(run(*_command(op, path, out, *extra)), out, names=path, inputs=inputs)
    assert err.count(";") >= 1, "the message says what to do"


BROKEN_SECOND = ["missing.jpg", "empty.jpg", "truncated.png", "text.jpg", "folder.jpg", "bomb.png", "bomb-warning.png"]


# a background needs 64 px a side; any picture's light can be matched, however small
@pytest.mark.parametrize("flag,name", [("background --image", n) for n in BROKEN_SECOND + ["tiny.png", "elongated.png"]]
                         + [("relight --match-light", n) for n in BROKEN_SECOND]
                         + [("style --reference", n) for n in BROKEN_SECOND])
def test_broken_second_image_is_refused(flag, name, files, run, tmp_path):
    op, option = flag.split()
    out, photo = tmp_path / "out.jpg", files["photo.jpg"]
    inputs = _snapshot(photo, files[name])
    err = _refused(run(op, photo, "-o", out, option, files[name]), out, names=files[name], inputs=inputs)
    if name in ("tiny.png", "elongated.png"):
        assert "64 px" in err


@pytest.mark.parametrize("flag", ["background --image", "relight --match-light", "style --reference"])
def test_max_pixels_holds_for_the_second_image(flag, files, run, tmp_path):
    op, option = flag.split()
    out, photo = tmp_path / "out.jpg", files["photo.jpg"]
    limit = str(SIZE[0] * SIZE[1])                                # the photo fits; coffee (600×400) does not
    err = _refused(run(op, photo, "-o", out, option, files["coffee.png"], "--max-pixels", limit), out,
                   names=files["coffee.png"])
    assert "exceeds the limit" in err


# background needs a person, and tells one by a face: the segmenter alone sees a quarter of the coffee cup as one
@pytest.mark.parametrize("op,name", [("relight", "flat.png"), ("relight", "coffee.png"), ("retouch", "flat.png"),
                                     ("retouch", "coffee.png"), ("background", "flat.png"),
                                     ("background", "coffee.png"), ("makeup", "flat.png")])
def test_no_face_where_one_is_needed(op, name, files, run, tmp_path):
    out = tmp_path / "out.jpg"
    inputs = _snapshot(files[name])
    err = _refused(run(op, files[name], "-o", out), out, names=files[name], inputs=inputs)
    assert FACE_NEEDED[op] in err


def test_analyze_refuses_a_face_that_is_not_there(files, run):
    err = _refused(run("analyze", files["photo.jpg"], "--json", "--face", "3"), names=files["photo.jpg"])
    assert "face 3 asked for but 1 found" in err
    err = _refused(run("analyze", files["flat.png"], "--face", "0"), names=files["flat.png"])
    assert "no face found" in err
    code, out, _ = run("analyze", files["coffee.png"], "--json")
    assert code == 0 and json.loads(out)["faces"] == []


# --------------------------------------------------------------------------------- bad outputs

def _outputs(tmp_path):
    (tmp_path / "existing.png").write_bytes(b"precious")
    (tmp_path / "folder.png").mkdir()
    return {"missing-folder": tmp_path / "nowhere" / "out.png", "unknown-extension": tmp_path / "out.bmp",
            "no-extension": tmp_path / "out", "existing": tmp_path / "existing.png", "folder": tmp_path / "folder.png"}


# (exposure over an existing file: test_cli.py::test_existing_output_is_not_overwritten)
@pytest.mark.parametrize("op,kind", [(op, kind) for op in COMMANDS
                                     for kind in ("missing-folder", "unknown-extension", "no-extension", "existing",
                                                  "folder") if (op, kind) != ("exposure", "existing")])
def test_bad_output_is_refused(op, kind, files, run, tmp_path):
    out = _outputs(tmp_path)[kind]
    inputs = _snapshot(files["photo.jpg"], tmp_path / "existing.png")
    before = sorted(os.listdir(tmp_path))
    err = _refused(run(*_command(op, files["photo.jpg"], out)), names=out, inputs=inputs)
    assert sorted(os.listdir(tmp_path)) == before, "nothing written"
    assert "Error" not in err                                   # a message, not an exception's name


@pytest.mark.parametrize("kind", ["missing-folder", "unknown-extension", "existing", "jpeg"])
@pytest.mark.parametrize("op", [name for name, op in operations().items() if op.extras])
def test_bad_side_output_is_refused_before_any_work(op, kind, files, run, tmp_path):
    """A side result that cannot be written is refused before the work, so the main output is not left."""
    oper = operations()[op]
    side = {**_outputs(tmp_path), "jpeg": tmp_path / "side.jpg"}[kind]
    flags = [f"--save-{name.replace('_', '-')}" for name in oper.extras]
    out = tmp_path / "result.png"
    inputs = [files["photo.jpg"]] * (2 if oper.frames else 1)
    extra = ["--cutout"] if "alpha" in oper.extras else []
    args = [op, *inputs, "-o", out, *extra]
    for flag in flags:
        args += [flag, side]
    _refused(run(*args), out, names=side)


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_one_file_for_two_outputs_is_refused(overwrite, files, run, tmp_path):
    out = tmp_path / "out.png"
    _refused(run("retouch", files["photo.jpg"], "-o", out, "--save-mask", tmp_path / "." / "out.png", *overwrite),
             out, names=tmp_path / "." / "out.png")


@pytest.mark.parametrize("ext,side", [(".webp", 16384), (".jpg", 65501)])
def test_too_large_for_the_format_is_refused(ext, side, tmp_path):
    from portrait_studio.errors import InputError
    from portrait_studio.io import write_image

    with pytest.raises(InputError, match="px a side.*write it as .png or .tif"):
        write_image(tmp_path / f"wide{ext}", np.zeros((2, side, 3), np.float32))
    assert os.listdir(tmp_path) == []
    write_image(tmp_path / "wide.png", np.zeros((2, side, 3), np.float32))        # PNG has no such limit


def test_a_side_result_the_parameters_do_not_make_is_refused(files, run, tmp_path):
    out, alpha = tmp_path / "out.png", tmp_path / "alpha.png"
    err = _refused(run("background", files["photo.jpg"], "-o", out, "--save-alpha", alpha), out, alpha)
    assert "with --cutout" in err


def test_cutout_as_tiff_writes_no_warning(files, run, tmp_path):
    out = tmp_path / "cut.tif"
    code, _, err = run("background", files["photo.jpg"], "-o", out, "--cutout")
    assert code == 0 and err == "", err
    with tifffile.TiffFile(out) as tif:
        assert tif.pages[0].shape[2] == 4 and tif.pages[0].extrasamples == (tifffile.EXTRASAMPLE.UNASSALPHA,)


# --------------------------------------------------------------------------------- bad parameters

def _bad_values():
    """(op, flag, value) for every parameter: beyond each bound, the wrong type, an unknown choice."""
    cases = []
    for name, op in operations().items():
        for field, schema in op.json_schema()["properties"].items():
            s = next((a for a in schema.get("anyOf", [schema]) if a.get("type") != "null"), schema)
            flag = "--" + field.replace("_", "-")
            if s.get("type") in ("number", "integer"):
                cases += [(name, flag, s["maximum"] + 1)] if "maximum" in s else []
                cases += [(name, flag, s["minimum"] - 1)] if "minimum" in s else []
                cases += [(name, flag, "lots")]
                cases += [(name, flag, "1.5")] if s["type"] == "integer" else []
            elif "enum" in s:
                cases += [(name, flag, "no-such-choice")]
    cases += [(name, flag, value) for name in ("exposure", "burst") for flag, value in
              [("--quality", "0"), ("--quality", "101"), ("--face", "-1"), ("--max-pixels", "0"), ("--bogus", "1")]]
    return cases


# (exposure --ev 9 and --ev lots: test_cli.py::test_bad_parameter_refused_before_anything_is_written)
@pytest.mark.parametrize("op,flag,value", [c for c in _bad_values() if c[:2] != ("exposure", "--ev")
                                           or c[2] not in (9, "lots")], ids=lambda v: str(v))
def test_bad_parameter_is_refused(op, flag, value, files, run, tmp_path):
    out = tmp_path / "out.png"
    inputs = [files["photo.jpg"]] * (2 if operations()[op].frames else 1)
    err = _refused(run(op, *inputs, "-o", out, f"{flag}={value}"), out)
    assert flag.lstrip("-").replace("-", "_") in err.replace("-", "_"), "the message names the parameter"
    assert str(value) in err or "less than" in err or "greater than" in err


def test_usage_errors_are_one_line(files, run, tmp_path):
    out = tmp_path / "out.png"
    for args in (["exposure", files["photo.jpg"]], ["exposure"], [], ["sharpen", files["photo.jpg"]],
                 ["analyze"], ["run", files["photo.jpg"]], ["burst", "-o", out]):
        err = _refused(run(*args), out)
        assert "--help" in err, err


@pytest.mark.parametrize("command", ["analyze", "ops", "run", "demo"])
def test_help_of_the_other_commands(command, run):
    code, out, err = run(command, "--help")
    assert code == 0 and out.startswith("usage: portrait") and err == ""


# --------------------------------------------------------------------------------- bursts

BROKEN_FRAMES = ["missing.jpg", "empty.jpg", "truncated.png", "truncated.tif", "text.jpg",
                 "bomb.png", "bomb-warning.png", "tiny.png"]


@pytest.mark.parametrize("name", BROKEN_FRAMES)
def test_burst_with_a_broken_frame_is_refused(name, files, run, tmp_path):
    out = tmp_path / "merged.png"
    frames = [files["photo.jpg"], files["photo.jpg"], files[name]]
    inputs = _snapshot(*frames)
    _refused(run("burst", *frames, "-o", out), out, names=files[name], inputs=inputs)


def test_burst_refusals(files, run, tmp_path):
    photo, out = files["photo.jpg"], tmp_path / "merged.png"
    empty = tmp_path / "no-frames"
    empty.mkdir()
    _refused(run("burst", empty, "-o", out), out, names=empty)
    _refused(run("burst", photo, photo, "-o", tmp_path / "merged.bmp"), names=tmp_path / "merged.bmp")
    _refused(run("burst", photo, photo, "-o", tmp_path / "f-%02d.png", "--window", "2",
                 "--save-coverage", tmp_path / "c.jpg"), tmp_path / "f-00.png", tmp_path / "f-01.png")
    err = _refused(run("burst", photo, photo, "-o", out, "--reference", "2"), out)
    assert "reference 2" in err


def test_burst_never_writes_over_a_frame_it_still_has_to_read(files, run, tmp_path):
    frames = [tmp_path / f"f-{i:02d}.png" for i in range(3)]
    for f in frames:
        shutil.copy(files["rgb16.png"], f)
    inputs = _snapshot(*frames)
    err = _refused(run("burst", *frames, "-o", tmp_path / "f-%02d.png", "--window", "3", "--overwrite"),
                   inputs=inputs)
    assert "input frames" in err and str(frames[0]) in err


# --------------------------------------------------------------------------------- recipes and the demo

RECIPES = {"bad-yaml.yaml": "steps: [exposure: {ev: 1}\n", "bad-json.json": '{"steps": [',
           "unknown-op.yaml": "steps:\n  - sharpen: {amount: 1}\n",
           "wrong-type.yaml": "steps:\n  - exposure: {ev: high}\n",
           "unknown-param.yaml": "steps:\n  - exposure: {evv: 1}\n",
           "unknown-choice.yaml": "steps:\n  - relight: {setup: moonlight}\n",
           "scalar-params.yaml": "steps:\n  - exposure: 5\n", "empty.yaml": "", "not-a-list.yaml": "steps: 3\n",
           "frames-op.yaml": "steps:\n  - burst: {}\n"}


@pytest.mark.parametrize("name", [*RECIPES, "binary.yaml", "missing.yaml", "folder.yaml"])
def test_broken_recipe_is_refused(name, files, run, tmp_path):
    recipe = tmp_path / name
    if name in RECIPES:
        recipe.write_text(RECIPES[name])
    elif name == "binary.yaml":
        recipe.write_bytes(b"\xff\xfe\x00\x81 binary")
    elif name == "folder.yaml":
        recipe.mkdir()
    out = tmp_path / "out.png"
    inputs = _snapshot(files["photo.jpg"], recipe)
    _refused(run("run", recipe, files["photo.jpg"], "-o", out), out, names=recipe, inputs=inputs)


@pytest.mark.parametrize("name", ["truncated.jpg", "background-missing.yaml", "existing"])
def test_recipe_on_broken_input_or_output(name, files, run, tmp_path):
    recipe, out = tmp_path / "r.yaml", tmp_path / "out.png"
    recipe.write_text("steps:\n  - exposure: {ev: 0.5}\n")
    photo, named = files["photo.jpg"], out
    if name == "truncated.jpg":
        photo = named = files[name]
    elif name == "background-missing.yaml":
        named = tmp_path / "nowhere.jpg"
        recipe.write_text(f"steps:\n  - exposure: {{ev: 0.5}}\n  - background: {{image: '{named}'}}\n")
    else:
        out.write_bytes(b"precious")
    inputs = _snapshot(photo, out)
    _refused(run("run", recipe, photo, "-o", out), *([] if name == "existing" else [out]), names=named,
             inputs=inputs)


@pytest.mark.parametrize("name", ["truncated.jpg", "text.jpg", "flat.png", "existing-file"])
def test_demo_refuses(name, files, run, tmp_path):
    folder = tmp_path / "results"
    photo = files.get(name, files["photo.jpg"])
    if name == "existing-file":
        folder.write_bytes(b"precious")
    inputs = _snapshot(photo, folder)
    _refused(run("demo", photo, "-o", folder), names=folder if name == "existing-file" else photo, inputs=inputs)
    assert folder.is_file() if name == "existing-file" else not folder.exists(), "no results folder left"


def test_input_is_never_the_victim(files, run, tmp_path):
    """Writing onto the input needs --overwrite like any existing file."""
    photo = tmp_path / "photo.jpg"
    shutil.copy(files["photo.jpg"], photo)
    inputs = _snapshot(photo)
    _refused(run("exposure", photo, "-o", photo, "--ev", "1"), names=photo, inputs=inputs)
