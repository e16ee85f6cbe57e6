"""Operations, their one schema, and recipes."""
from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
import pytest
from pydantic import BaseModel, Field

from portrait_studio import ParameterError, Portrait
from portrait_studio.inputs import ImageInput
from portrait_studio.pipeline import apply_recipe, load_recipe, parse_recipe
from portrait_studio.ops import get_operation, operations
from portrait_studio.schema import operation


def test_registered_operations_have_schemas():
    ops = operations()
    assert {"exposure", "resize"} <= set(ops)
    for name, op in ops.items():
        schema = op.json_schema()
        assert schema["title"] == name and schema["type"] == "object" and schema["description"]
        for field, spec in schema["properties"].items():
            assert spec.get("description"), f"{name}.{field} has no help text"


def test_exposure_in_linear_light():
    p = Portrait(np.full((4, 4, 3), 0.2, np.float32))
    out = get_operation("exposure")(p, ev=1)
    assert np.allclose(out.image, 0.4)
    assert out.history == ({"op": "exposure", "params": {"ev": 1.0}},)
    assert p.image[0, 0, 0] == pytest.approx(0.2)          # the input is not touched


def test_resize_keeps_aspect_and_light():
    p = Portrait(np.full((300, 400, 3), 0.5, np.float32))
    out = get_operation("resize")(p, long_edge=100)
    assert out.shape == (75, 100) and np.allclose(out.image, 0.5, atol=1e-6)
    assert get_operation("resize")(p, long_edge=800).shape == (300, 400)       # no upscale by default
    assert get_operation("resize")(p, long_edge=800, upscale=True).shape == (600, 800)


@pytest.mark.parametrize("values, message", [
    ({"ev": 12}, r"exposure: ev: input should be less than or equal to 8 \(got 12\)"),
    ({"ev": "bright"}, r"exposure: ev: input should be a valid number"),
    ({"stops": 1}, r"exposure: unknown parameter 'stops'"),
])
def test_bad_parameters_are_refused_by_the_schema(values, message):
    with pytest.raises(ParameterError, match=message):
        get_operation("exposure").validate(values)


def test_unknown_operation():
    with pytest.raises(ParameterError, match="unknown operation 'blur'; known: exposure"):
        get_operation("blur")


def test_operation_declaration_rules():
    with pytest.raises(TypeError, match="keyword-only"):
        @operation("bad")
        def bad(portrait, ev: float = 0.0):  # positional: not allowed
            return portrait.image

    @operation("look")
    def look(portrait, *, mood: Annotated[Literal["warm", "cool"], Field(description="Mood.")] = "warm"):
        """Pick a mood."""
        return portrait.image

    assert look.json_schema()["properties"]["mood"]["enum"] == ["warm", "cool"]
    with pytest.raises(ParameterError, match="look: mood: input should be 'warm' or 'cool'"):
        look.validate({"mood": "hot"})


class Mix(BaseModel):
    amount: Annotated[float, Field(ge=0, le=1, description="How much.")] = 0.5
    tint: Annotated[float | None, Field(ge=0, le=1, description="A tint.")] = None
    other: Annotated[ImageInput | None, Field(description="An image to mix in.")] = None


class Needs(BaseModel):
    amount: float


def test_parameters_declared_as_one_model():
    """An operation may declare its parameters once, as a model its helpers take whole: the same schema,
    rules and input resolution as a signature, the function given the validated model."""
    seen = []

    @operation("mix", exclusive=[("tint", "other")])
    def mix(portrait, settings: Mix):
        """Mix in another image."""
        seen.append(settings)
        return portrait.image if settings.other is None else (1 - settings.amount) * portrait.image \
            + settings.amount * settings.other.image

    assert mix.takes_model and mix.inputs == {"other": "image"}
    assert mix.json_schema()["exclusive"] == [["tint", "other"]]
    p = Portrait(np.zeros((4, 4, 3), np.float32))
    out = mix(p, other=np.ones((4, 4, 3), np.float32))
    assert isinstance(seen[-1], Mix) and isinstance(seen[-1].other, Portrait)     # resolved before the call
    assert np.allclose(out.image, 0.5) and out.history[-1]["params"]["amount"] == 0.5
    with pytest.raises(ParameterError, match="give either tint or other, not both"):
        mix(p, tint=0.2, other=np.ones((4, 4, 3), np.float32))
    with pytest.raises(ParameterError, match="unknown parameter 'amout'"):
        mix.validate({"amout": 1})

    with pytest.raises(TypeError, match="needs a default"):
        @operation("needs")
        def needs(portrait, settings: Needs):
            return portrait.image


def test_retouch_and_burst_declare_each_parameter_once():
    """The operation's schema is its settings model (one edit adds a control everywhere)."""
    from portrait_studio.ops.burst import BurstSettings
    from portrait_studio.ops.retouch import RetouchSettings

    for name, settings in (("retouch", RetouchSettings), ("burst", BurstSettings)):
        op = get_operation(name)
        assert op.takes_model and issubclass(op.params, settings)
        assert list(op.params.model_fields) == list(settings.model_fields)


def test_recipe_yaml_and_json(tmp_path):
    y = tmp_path / "r.yaml"
    y.write_text("steps:\n  - exposure: {ev: 1}\n  - resize: {long_edge: 16}\n")
    steps = load_recipe(y)
    assert [s.op.name for s in steps] == ["exposure", "resize"]
    out = apply_recipe(Portrait(np.full((64, 32, 3), 0.1, np.float32)), steps)
    assert out.shape == (16, 8) and np.allclose(out.image, 0.2)
    assert [h["op"] for h in out.history] == ["exposure", "resize"]
    j = tmp_path / "r.json"
    j.write_text('[{"exposure": {"ev": -1}}, "resize"]')
    assert [s.to_dict() for s in load_recipe(j)] == [{"exposure": {"ev": -1.0}},
                                                      {"resize": {"long_edge": 2048, "upscale": False}}]


@pytest.mark.parametrize("doc, message", [
    ([], "non-empty list of steps"),
    ({"steps": [{"exposure": {"ev": 99}}]}, r"step 1: exposure: ev: input should be less than or equal to 8"),
    ([{"exposure": {}}, {"sharpen": {}}], r"step 2: unknown operation 'sharpen'"),
    ([{"exposure": 1}], r"step 1 \(exposure\) needs its parameters as a mapping"),
    ([{"exposure": {}, "resize": {}}], "step 1 must name one operation"),
])
def test_bad_recipes(doc, message):
    with pytest.raises(ParameterError, match=message):
        parse_recipe(doc)


def test_recipe_file_errors(tmp_path):
    from portrait_studio import InputError

    bad = tmp_path / "bad.yaml"
    bad.write_text("steps: [exposure: {ev: 1}\n")
    with pytest.raises(InputError, match=r"bad\.yaml: is not valid YAML"):
        load_recipe(bad)
    with pytest.raises(InputError, match="no such recipe file"):
        load_recipe(tmp_path / "none.yaml")


def test_extras_are_declared_and_carried():
    @operation("with-mask", extras={"mask": ("mask", "what was touched")})
    def with_mask(portrait, *, gain: Annotated[float, Field(gt=0, le=4)] = 2.0):
        """Brighten and say where."""
        return portrait.image * gain, {"mask": np.ones(portrait.shape, np.float32)}

    p = Portrait(np.full((4, 5, 3), 0.25, np.float32))
    out = with_mask(p)
    assert out.extras["mask"].shape == (4, 5) and out.image[0, 0, 0] == 0.5
    assert p.extras == {}

    @operation("liar")
    def liar(portrait, *, gain: Annotated[float, Field(gt=0)] = 1.0):
        """Return an undeclared extra."""
        return portrait.image, {"mask": np.ones(portrait.shape, np.float32)}

    with pytest.raises(ValueError, match="undeclared"):
        liar(p)
