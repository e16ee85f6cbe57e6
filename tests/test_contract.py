"""The operation contract: what an operation declares once, and what every interface makes of it."""
from __future__ import annotations

import ast
import json
import pathlib
from typing import Annotated

import numpy as np
import pytest
from PIL import Image
from pydantic import Field

from portrait_studio import ParameterError, Portrait
from portrait_studio.cli import main
from portrait_studio.ops import OPERATIONS, get_operation
from portrait_studio.pipeline import parse_recipe
from portrait_studio.schema import operation

OPS = pathlib.Path(__file__).resolve().parents[1] / "src" / "portrait_studio" / "ops"

# (operation, parameters that break one of its exclusive rules, the rule's message)
CONFLICTS = [
    ("background", {"image": "scene.jpg", "colour": "white"},
     "background: give at most one of image, colour and backdrop (got image and colour)"),
    ("relight", {"match_light": "scene.jpg", "azimuth": 30.0},
     "relight: give either match_light or any of setup, azimuth, elevation and lights, not both "
     "(got match_light and azimuth)"),
]


# -- the registry --------------------------------------------------------------------------------------

def test_schema_knows_nothing_of_the_operations():
    tree = ast.parse((OPS.parent / "schema.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert "ops" not in (node.module or "").split("."), "schema.py imports ops"
            assert "ops" not in [a.name for a in node.names], "schema.py imports ops"


def _imported(path: pathlib.Path) -> set[str]:
    """Every module a file under ops/ imports (at the top or inside a function), as an absolute name."""
    package = ["portrait_studio", *path.relative_to(OPS.parent).with_suffix("").parts]
    if path.name != "__init__.py":
        package = package[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            out.add(module)
            out |= {f"{module}.{a.name}" for a in node.names}        # from .. import relight: a module too
    return out


#: The operation modules and packages under ops/.
OPERATION_MODULES = {p.stem for p in OPS.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()} - {"__init__"}


def _operation_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if parts[:2] == ["portrait_studio", "ops"] and len(parts) > 2 \
        and parts[2] in OPERATION_MODULES else None


@pytest.mark.parametrize("path", [pytest.param(p, id=str(p.relative_to(OPS))) for p in sorted(OPS.rglob("*.py"))
                                  if p != OPS / "__init__.py"])
def test_no_operation_imports_another(path):
    own = path.relative_to(OPS).parts[0].removesuffix(".py")
    others = sorted(m for m in _imported(path) if _operation_of(m) not in (None, own))
    assert not others, f"{path.relative_to(OPS)} imports another operation: {others}"


def test_the_import_reader_sees_relative_imports():
    assert "portrait_studio.models" in _imported(OPS / "background" / "harmonise.py")
    assert OPERATION_MODULES == {"adjust", "relight", "retouch", "refocus", "background", "burst", "film",
                                 "expression", "makeup", "reshape", "style"}


# -- rules between parameters --------------------------------------------------------------------------

def test_json_schema_shows_the_exclusive_groups():
    bg, rl = get_operation("background").json_schema(), get_operation("relight").json_schema()
    assert bg["exclusive"] == [["image", "colour", "backdrop"]]
    assert rl["exclusive"] == [["match_light", ["setup", "azimuth", "elevation", "lights"]]]
    # and as standard clauses: never two members given (present and not their default) together
    clause = {"not": {"required": ["image", "colour"], "properties": {"image": {"not": {"const": None}},
                                                                     "colour": {"not": {"const": None}}}}}
    assert clause in bg["allOf"] and len(bg["allOf"]) == 3
    assert len(rl["allOf"]) == 4 and all("match_light" in c["not"]["required"] for c in rl["allOf"])
    lights = next(c for c in rl["allOf"] if "lights" in c["not"]["required"])
    assert lights["not"]["properties"]["lights"] == {"not": {"const": ""}}       # its default is ""


def test_ops_json_shows_the_rules(capsys):
    assert main(["ops", "--json"]) == 0
    schemas = json.loads(capsys.readouterr().out)
    assert schemas["background"]["exclusive"] == [["image", "colour", "backdrop"]]
    assert "exclusive" not in schemas["exposure"]


@pytest.mark.parametrize("op, values, message", CONFLICTS, ids=[c[0] for c in CONFLICTS])
def test_the_same_refusal_from_python_recipes_and_the_cli(op, values, message, tmp_path, capsys):
    faceless = Portrait(np.full((64, 64, 3), 0.3, np.float32))      # any analysis would fail: none must run
    with pytest.raises(ParameterError) as python:
        get_operation(op)(faceless, **values)
    with pytest.raises(ParameterError) as recipe:
        parse_recipe([{op: values}])
    photo, out = tmp_path / "in.png", tmp_path / "out.png"
    Image.new("RGB", (64, 64), (90, 90, 90)).save(photo)
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in values.items()]
    assert main([op, str(photo), "-o", str(out), *flags]) == 2
    cli = capsys.readouterr().err.strip()
    assert str(python.value) == message
    assert str(recipe.value) == f"recipe: step 1: {message}"
    assert cli == f"portrait: error: {message}" and not out.exists()


def test_members_of_one_side_go_together():
    relight = get_operation("relight")
    assert relight.validate({"setup": "loop", "azimuth": 40, "lights": "-120,20"}).setup == "loop"
    assert relight.validate({"match_light": "scene.jpg", "strength": 0.5, "lights": ""}).match_light
    assert get_operation("background").validate({"image": None, "colour": "white"}).colour == "white"


def test_help_states_the_rules(capsys):
    with pytest.raises(SystemExit):
        main(["background", "--help"])
    assert "Give at most one of image, colour and backdrop" in " ".join(capsys.readouterr().out.split())


def test_exclusive_declaration_is_checked():
    with pytest.raises(TypeError, match="no parameter"):
        @operation("bad", exclusive=[("a", "nope")])
        def bad(portrait, *, a: Annotated[int, Field(description="A.")] = 0):
            return portrait.image


def test_every_operation_is_listed_once():
    assert list(OPERATIONS) == ["exposure", "resize", "relight", "retouch", "refocus", "background", "burst",
                               "film", "expression", "makeup", "reshape", "style"]
    with pytest.raises(TypeError):
        OPERATIONS["blur"] = OPERATIONS["exposure"]                           # read-only


# -- side results and their kinds ----------------------------------------------------------------------

def test_side_results_are_declared_with_their_kind(capsys):
    assert main(["ops", "--json"]) == 0
    schemas = json.loads(capsys.readouterr().out)
    assert schemas["background"]["extras"] == {
        "matte": {"kind": "mask", "description": "the refined soft matte of the person, 1 = person"},
        "alpha": {"kind": "alpha", "description": "the cut-out's opacity (with --cutout)"}}
    kinds = {n: e["kind"] for s in schemas.values() for n, e in s.get("extras", {}).items()}
    assert kinds == {"shading": "mask", "mask": "mask", "matte": "mask", "alpha": "alpha", "coverage": "mask",
                     "mesh": "image", "info": "json", "cube": "lut", "depth": "mask"}
    assert "extras" not in schemas["exposure"]


@pytest.mark.parametrize("extras, message", [({"mask": "what was touched"}, "as \\(kind, description\\)"),
                                             ({"mask": ("picture", "x")}, "the kind one of mask, alpha"),
                                             ({"opacity": ("alpha", "x")}, "called 'alpha'")])
def test_a_side_result_needs_a_kind(extras, message):
    with pytest.raises(TypeError, match=message):
        @operation("bad", extras=extras)
        def bad(portrait, *, a: Annotated[int, Field(description="A.")] = 0):
            return portrait.image


def test_a_side_result_must_be_what_its_kind_says():
    @operation("liar", extras={"mask": ("mask", "what was touched")})
    def liar(portrait, *, a: Annotated[int, Field(description="A.")] = 0):
        """Return a picture as a mask."""
        return portrait.image, {"mask": portrait.image}

    with pytest.raises(ValueError, match="returned its mask 'mask' as float32 \\(4, 4, 3\\)"):
        liar(Portrait(np.full((4, 4, 3), 0.2, np.float32)))


def test_each_kind_is_written_as_it_says(monkeypatch, tmp_path, capsys):
    import portrait_studio.ops as ops

    @operation("measure", extras={"report": ("json", "what was measured"), "glow": ("image", "the glow"),
                                  "where": ("mask", "where it was measured")})
    def measure(portrait, *, a: Annotated[int, Field(description="A.")] = 0):
        """Measure the light."""
        img = portrait.image
        return img, {"report": {"mean": float(img.mean())}, "glow": img * 0.5, "where": img[..., 0] * 0 + 1}

    monkeypatch.setattr(ops, "OPERATIONS", {**ops.OPERATIONS, "measure": measure})
    photo = tmp_path / "in.png"
    Image.new("RGB", (32, 24), (128, 128, 128)).save(photo)
    out = {k: tmp_path / f"{k}.{ext}" for k, ext in (("out", "png"), ("report", "json"), ("glow", "png"),
                                                    ("where", "png"))}
    assert main(["measure", str(photo), "-o", str(out["out"]), "--save-report", str(out["report"]),
                 "--save-glow", str(out["glow"]), "--save-where", str(out["where"])]) == 0, capsys.readouterr()
    assert json.loads(out["report"].read_text())["mean"] == pytest.approx(0.2158, abs=0.01)
    assert np.asarray(Image.open(out["glow"])).shape == (24, 32, 3)
    assert np.asarray(Image.open(out["where"])).ndim == 2
    bad = tmp_path / "report.png"
    assert main(["measure", str(photo), "-o", str(tmp_path / "o2.png"), "--save-report", str(bad)]) == 2
    assert "is not a .json file name" in capsys.readouterr().err and not (tmp_path / "o2.png").exists()


# -- run options ---------------------------------------------------------------------------------------

def test_common_flags_are_the_run_options():
    from portrait_studio.cli import build_parser
    from portrait_studio.schema import RunOptions

    def flags(command):
        sub = next(a for a in build_parser()._actions if a.dest == "command").choices[command]
        group = next(g for g in sub._action_groups if g.title == "common options")
        return {a.dest for a in group._group_actions} - {"debug"}

    assert flags("run") == set(RunOptions.model_fields) == {"face", "max_pixels", "seed"}
    assert flags("analyze") == flags("exposure") == {"face", "max_pixels"}
    assert flags("background") == {"face", "max_pixels"}          # its own --seed is among its parameters


def test_run_options_refused_alike_everywhere(tmp_path, capsys):
    from portrait_studio.schema import RunOptions

    with pytest.raises(ParameterError) as python:
        RunOptions.parse({"face": -1})
    assert str(python.value) == "face: input should be greater than or equal to 0 (got -1)"
    out = tmp_path / "out.png"
    assert main(["exposure", str(tmp_path / "missing.jpg"), "-o", str(out), "--face", "-1"]) == 2
    assert capsys.readouterr().err.strip() == f"portrait: error: {python.value}"


def test_the_run_seed_reaches_random_steps_without_one():
    from portrait_studio.schema import RunOptions

    options = RunOptions(seed=7)
    steps = parse_recipe([{"retouch": {}}, {"background": {"seed": 3}}, {"exposure": {"ev": 1}}], options=options)
    assert [dict(s.params).get("seed") for s in steps] == [7, 3, None]
    assert dict(parse_recipe(["retouch"])[0].params)["seed"] == 0                  # the operation's default
    p = Portrait(np.full((4, 4, 3), 0.25, np.float32))
    assert get_operation("exposure")(p, ev=1, options=options).history[-1]["params"] == {"ev": 1.0}
