"""Inputs besides the portrait (portrait_studio.inputs): declared as types, resolved by the runner, so that
operations open no file."""
from __future__ import annotations

import ast
import pathlib

import numpy as np
import pytest
from PIL import Image

from portrait_studio import ParameterError, Portrait
from portrait_studio.errors import InputError
from portrait_studio.inputs import UPLOAD, InputSource, resolve
from portrait_studio.io import read_image
from portrait_studio.ops import OPERATIONS, get_operation
from portrait_studio.schema import RunOptions

OPS = pathlib.Path(__file__).resolve().parents[1] / "src" / "portrait_studio" / "ops"


@pytest.fixture()
def scene(tmp_path) -> pathlib.Path:
    """A small picture without a face (a scene), as a PNG file."""
    rng = np.random.default_rng(5)
    y, x = np.mgrid[0:120, 0:160]
    rgb = np.stack([60 + x, 90 + 0.5 * y, 200 - y], -1) + rng.integers(0, 20, (120, 160, 3))
    path = tmp_path / "scene.png"
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(path)
    return path


@pytest.mark.parametrize("op, param, kw", [("background", "image", {"f_number": 2.0, "grain": False}),
                                           ("relight", "match_light", {})])
def test_an_image_input_as_path_bytes_or_array_gives_the_same_result(op, param, kw, scene, astronaut):
    operation = get_operation(op)
    given = {"path": str(scene), "bytes": scene.read_bytes(), "array": read_image(scene)[0]}
    out = {how: operation(astronaut, **{param: value}, **kw) for how, value in given.items()}
    assert np.array_equal(out["path"].image, out["bytes"].image)
    assert np.array_equal(out["path"].image, out["array"].image)
    assert not np.array_equal(out["path"].image, astronaut.image)
    # what was given is what the record shows: the path, or what the upload or the array was
    recorded = {how: o.history[-1]["params"][param] for how, o in out.items()}
    assert recorded["path"] == str(scene)
    assert recorded["bytes"].startswith(f"{UPLOAD} ({scene.stat().st_size} bytes, sha256 ")
    assert recorded["array"] == "<array 160×120>"


def test_the_json_schema_marks_the_inputs():
    bg, rl = get_operation("background").json_schema(), get_operation("relight").json_schema()
    assert bg["inputs"] == {"image": "image", "harmoniser": "model"} and rl["inputs"] == {"match_light": "image"}
    image = bg["properties"]["image"]["anyOf"][0]
    assert image["format"] == "binary" and image["input"] == "image"
    assert bg["properties"]["harmoniser"]["anyOf"][0]["input"] == "model"
    fm = get_operation("film").json_schema()
    assert fm["inputs"] == {"lut": "lut", "reference": "image", "reference_before": "image"}
    assert fm["properties"]["lut"]["anyOf"][0]["input"] == "lut"
    assert get_operation("refocus").json_schema()["inputs"] == {"depth": "image"}
    assert get_operation("makeup").json_schema()["inputs"] == {"reference": "image"}
    assert get_operation("style").json_schema()["inputs"] == {"reference": "image"}
    assert all("inputs" not in op.json_schema() for name, op in OPERATIONS.items()
               if name not in ("background", "relight", "film", "refocus", "makeup", "style"))


def test_inputs_of_the_wrong_type_are_refused_before_any_work():
    faceless = Portrait(np.full((64, 64, 3), 0.3, np.float32))        # any analysis would fail: none must run
    with pytest.raises(ParameterError, match=r"^background: image: expected a path, the bytes of an image file, "
                                             r"an array or a Portrait \(got 5\)$"):
        get_operation("background")(faceless, image=5)
    with pytest.raises(ParameterError, match=r"relight: match_light: expected a linear-light float \(H, W, 3\) "
                                             r"array, got uint8 \(4, 4, 3\)"):
        get_operation("relight")(faceless, match_light=np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ParameterError, match="harmoniser: expected a path to an .onnx file"):
        get_operation("background").validate({"harmoniser": b"bytes"})


def test_the_pixel_limit_holds_for_every_way_of_giving_an_image(scene):
    limit = 100 * 100                                               # the scene is 160×120
    for value in (str(scene), scene.read_bytes(), read_image(scene)[0]):
        with pytest.raises(InputError, match="exceeds the limit"):
            resolve(InputSource("image", value), max_pixels=limit)
    photo = Portrait(np.full((64, 64, 3), 0.3, np.float32), max_pixels=limit)
    with pytest.raises(InputError, match="exceeds the limit"):                 # the limit the photo was read with
        get_operation("relight")(photo, match_light=scene.read_bytes())
    with pytest.raises(InputError, match="exceeds the limit"):                 # or the run's
        get_operation("relight")(Portrait(photo.image), match_light=str(scene), options=RunOptions(max_pixels=limit))


def test_a_broken_upload_is_named_as_the_upload(scene):
    with pytest.raises(InputError) as e:
        resolve(InputSource("image", scene.read_bytes()[:300]), max_pixels=10 ** 8)
    assert str(e.value).startswith(f"{UPLOAD}: ") and "truncated or corrupt" in str(e.value)
    with pytest.raises(InputError, match=f"^{UPLOAD}: file is empty"):
        resolve(InputSource("image", b""), max_pixels=10 ** 8)


def test_the_photo_itself_resolves_to_the_photo_while_it_holds_the_files_pixels(scene):
    photo = Portrait.read(scene)
    assert resolve(InputSource("image", str(scene)), max_pixels=10 ** 8, photo=photo) is photo
    brighter = get_operation("exposure")(photo, ev=1)                # the file's pixels no longer: read anew
    again = resolve(InputSource("image", str(scene)), max_pixels=10 ** 8, photo=brighter)
    assert again is not brighter and np.array_equal(again.image, photo.image)


def test_a_model_input_is_loaded_by_the_runner(tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from test_models import gain_model

    from portrait_studio import models

    path = gain_model(tmp_path / "tiny.onnx")
    model = resolve(InputSource("model", str(path)), max_pixels=1)
    assert isinstance(model, models.Model) and model.path == path and model.spec is None
    with pytest.raises(InputError, match="missing.onnx: no such model file"):
        resolve(InputSource("model", str(tmp_path / "missing.onnx")), max_pixels=1)


# -- operations open no file ---------------------------------------------------------------------------

#: Calls that read or open files (by the called name): the runner's business, not an operation's.
FILE_CALLS = {"open", "read_image", "read", "read_bytes", "read_text", "imread", "load", "model_path", "session",
              "samefile", "exists", "is_file", "listdir", "scandir", "glob", "read_frame", "frame_sources"}


def _file_calls(path: pathlib.Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
            owner = f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else None
            if name in FILE_CALLS and (name, owner) != ("load", "harmonise"):   # harmonise.load takes a loaded model
                out.append(f"{owner + '.' if owner else ''}{name} (line {node.lineno})")
    return out


@pytest.mark.parametrize("path", [pytest.param(p, id=str(p.relative_to(OPS))) for p in sorted(OPS.rglob("*.py"))])
def test_no_operation_opens_a_file(path):
    assert not _file_calls(path), f"{path.relative_to(OPS)} reads files: {_file_calls(path)}"


def test_the_file_call_reader_sees_them(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nx = open('a')\ny = Portrait.read(p)\nz = harmonise.load(m)\n")
    assert _file_calls(sample) == ["open (line 2)", "Portrait.read (line 3)"]
