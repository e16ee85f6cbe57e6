"""Tests of the optional model loader (portrait_studio.models) and of the harmoniser contract
(ops/background/harmonise), on tiny ONNX models the tests build themselves (no weights are downloaded)."""
from __future__ import annotations

import sys

import cv2
import numpy as np
import pytest

from portrait_studio import models
from portrait_studio.core import srgb_to_linear
from portrait_studio.errors import InputError, MissingDependencyError
from portrait_studio.ops.background import harmonise

GAINS = (1.15, 1.0, 0.85)                  # what the tiny harmoniser does to the subject (sRGB-encoded values)


def _write(path, nodes, inputs, outputs, initializers=()):
    """Save a one-graph ONNX model (opset 17) built from `nodes`; inputs/outputs are (name, shape) pairs."""
    import onnx
    from onnx import TensorProto, helper

    vi = lambda name, shape: helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)  # noqa: E731
    graph = helper.make_graph(nodes, "tiny", [vi(*i) for i in inputs], [vi(*o) for o in outputs],
                              [helper.make_tensor(n, TensorProto.FLOAT if v.dtype == np.float32 else TensorProto.INT64,
                                                  v.shape, v.ravel().tolist()) for n, v in initializers])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def gain_model(path, size=64, *, gains=GAINS, four_channels=False, dynamic=False):
    """A harmoniser that multiplies the masked subject's sRGB values by per-channel `gains`:
    ``out = composite · (1 + mask · (gains - 1))``, the background left as it is."""
    from onnx import helper

    s = ("H", "W") if dynamic else (size, size)
    g = np.asarray(gains, np.float32).reshape(1, 3, 1, 1) - 1.0
    init = [("g1", g), ("one", np.ones((1, 1, 1, 1), np.float32))]
    nodes = [helper.make_node("Mul", ["mask", "g1"], ["t"]), helper.make_node("Add", ["t", "one"], ["f"]),
             helper.make_node("Mul", ["composite", "f"], ["harmonised"])]
    if four_channels:
        init += [("c0", np.array([0], np.int64)), ("c3", np.array([3], np.int64)), ("c4", np.array([4], np.int64)),
                 ("axis", np.array([1], np.int64))]
        nodes = [helper.make_node("Slice", ["x", "c0", "c3", "axis"], ["composite"]),
                 helper.make_node("Slice", ["x", "c3", "c4", "axis"], ["mask"]), *nodes]
        inputs = [("x", [1, 4, *s])]
    else:
        inputs = [("composite", [1, 3, *s]), ("mask", [1, 1, *s])]
    return _write(path, nodes, inputs, [("harmonised", [1, 3, *s])], init)


@pytest.fixture()
def tiny(tmp_path):
    """The tiny gain harmoniser, as a file."""
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    return gain_model(tmp_path / "tiny.onnx")


def _subject(n=96, seed=0):
    """A textured subject whose sRGB values stay in [0.35, 0.65] (where a gain on sRGB values is close to one
    gain on linear light), a soft-edged disc matte, and a scene."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:n, 0:n] / n
    alpha = np.clip((0.35 - np.hypot(yy - 0.5, xx - 0.5)) * n / 3, 0, 1).astype(np.float32)
    enc = 0.5 + 0.15 * np.sin(np.stack([7 * xx, 5 * yy + 1, 3 * (xx + yy) + 2], -1)) \
        + rng.uniform(-0.01, 0.01, (n, n, 3))
    scene = srgb_to_linear(rng.uniform(0.1, 0.9, (n // 2, n, 3)))
    return srgb_to_linear(enc), alpha, scene


def _linear_gain(image, alpha, gains=GAINS):
    """What a gain on the sRGB values of the subject's interior amounts to in linear light, per channel."""
    from portrait_studio.core import linear_to_srgb
    inside = image[alpha > 0.99]
    return np.array([np.median(srgb_to_linear(linear_to_srgb(inside[:, c]) * g) / inside[:, c])
                     for c, g in enumerate(gains)])


# -- finding and checking model files ----------------------------------------------------------------------


def test_cache_folder_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("PORTRAIT_STUDIO_MODELS", str(tmp_path))
    assert models.cache_dir() == tmp_path
    monkeypatch.delenv("PORTRAIT_STUDIO_MODELS")
    assert models.cache_dir().parts[-3:] == (".cache", "portrait-studio", "models")


def test_a_path_is_used_as_it_is_and_a_missing_one_refused(tiny, tmp_path):
    assert models.model_path(tiny) == tiny and models.model_path(str(tiny)) == tiny
    with pytest.raises(InputError, match="no such model file"):
        models.model_path(tmp_path / "missing.onnx")


def _spec(path, **kw):
    return models.ModelSpec(name="tiny", url="https://models.example/tiny.onnx", sha256=models.sha256_of(path),
                            task="harmonise", **kw)


def test_registered_model_found_in_the_cache_and_checked(tiny, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("PORTRAIT_STUDIO_MODELS", str(cache))
    spec = _spec(tiny)
    with pytest.raises(InputError) as missing:
        models.model_path(spec)
    message = str(missing.value)
    assert "https://models.example/tiny.onnx" in message and str(cache / "tiny.onnx") in message
    assert "\n" not in message
    cache.mkdir()
    (cache / "tiny.onnx").write_bytes(tiny.read_bytes())
    assert models.model_path(spec) == cache / "tiny.onnx"
    monkeypatch.setattr(models, "MODELS", {"tiny": spec})              # a registered name
    assert models.model_path("tiny") == cache / "tiny.onnx"
    assert harmonise.load(models.load("tiny")).size == (64, 64)
    (cache / "tiny.onnx").write_bytes(tiny.read_bytes() + b"\0")       # another file under its name
    with pytest.raises(InputError, match="SHA-256.*download https://models.example/tiny.onnx again"):
        models.model_path("tiny")


def test_fetch_verifies_the_checksum(tiny, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("PORTRAIT_STUDIO_MODELS", str(cache))
    spec = models.ModelSpec(name="tiny", url=tiny.as_uri(), sha256=models.sha256_of(tiny), task="harmonise")
    path = models.fetch(spec)
    assert path == cache / "tiny.onnx" and path.read_bytes() == tiny.read_bytes()
    path.unlink()
    bad = models.ModelSpec(name="tiny", url=tiny.as_uri(), sha256="0" * 64, task="harmonise")
    with pytest.raises(InputError, match="SHA-256"):
        models.fetch(bad)
    assert list(cache.iterdir()) == []                                 # nothing left behind, not even a part
    gone = models.ModelSpec(name="tiny", url=(tmp_path / "gone.onnx").as_uri(), sha256="0" * 64, task="x")
    with pytest.raises(InputError, match="could not be downloaded"):
        models.fetch(gone)
    with pytest.raises(InputError, match="not a registered model"):
        models.fetch("no-such-model")


def test_without_onnxruntime_the_error_says_what_to_install(tiny, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)              # import onnxruntime now fails
    with pytest.raises(MissingDependencyError, match=r"pip install 'portrait-studio\[onnx\]'"):
        models.session(tiny)


def test_a_corrupt_model_is_refused(tmp_path):
    pytest.importorskip("onnxruntime")
    bad = tmp_path / "corrupt.onnx"
    bad.write_bytes(b"this is not a protobuf")
    with pytest.raises(InputError, match="not a model ONNX Runtime can load"):
        models.session(bad)


def test_normalisations_round_trip():
    x = np.random.default_rng(1).uniform(0, 1, (5, 7, 3)).astype(np.float32)
    for kind in ("unit", "symmetric", "imagenet"):
        t = models.to_input(x, kind)
        assert t.shape == (1, 3, 5, 7) and t.dtype == np.float32
        assert np.allclose(models.from_output(t, kind), x, atol=1e-6)
    assert models.to_input(x, "symmetric").min() < -0.9


# -- the harmoniser contract --------------------------------------------------------------------------------


def test_models_that_break_the_contract_are_refused(tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from onnx import helper

    s = [1, 1, 64, 64]
    wrong_out = _write(tmp_path / "out.onnx", [helper.make_node("Identity", ["mask"], ["y"])],
                       [("composite", [1, 3, 64, 64]), ("mask", s)], [("y", s)])
    with pytest.raises(InputError, match="not a harmoniser: its output has 1 channels"):
        harmonise.load(models.load(wrong_out))
    three = _write(tmp_path / "in.onnx", [helper.make_node("Identity", ["x"], ["y"])],
                   [("x", [1, 3, 64, 64])], [("y", [1, 3, 64, 64])])
    with pytest.raises(InputError, match="not 4"):
        harmonise.load(models.load(three))
    two_masks = _write(tmp_path / "masks.onnx", [helper.make_node("Concat", ["a", "b", "b"], ["y"], axis=1)],
                       [("a", s), ("b", s)], [("y", [1, 3, 64, 64])])
    with pytest.raises(InputError, match="not 3 .the composite. and 1"):
        harmonise.load(models.load(two_masks))
    # a dynamic model that answers in the wrong shape is refused when it runs
    dyn = ["N", 1, "H", "W"]
    shrinks = _write(tmp_path / "dyn.onnx", [helper.make_node("Concat", ["mask", "mask", "mask"], ["y"], axis=1),
                                             helper.make_node("MaxPool", ["y"], ["z"], kernel_shape=[2, 2],
                                                              strides=[2, 2])],
                     [("composite", ["N", 3, "H", "W"]), ("mask", dyn)], [("z", ["N", 3, "h", "w"])])
    h = harmonise.load(models.load(shrinks))
    assert h.size == (harmonise.DEFAULT_SIZE, harmonise.DEFAULT_SIZE)
    image, alpha, scene = _subject()
    with pytest.raises(InputError, match=r"output of shape \(1, 3, 128, 128\), not \(1, 3, 256, 256\)"):
        harmonise.transform(h, image, alpha, scene)


@pytest.mark.parametrize("variant", ["two inputs", "four channels", "dynamic"])
def test_the_fitted_transform_recovers_the_models_gains(tmp_path, variant):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    path = gain_model(tmp_path / "m.onnx", four_channels=variant == "four channels", dynamic=variant == "dynamic")
    h = harmonise.load(models.load(path))
    image, alpha, scene = _subject()
    m = harmonise.transform(h, image, alpha, scene)
    out = cv2.transform(image, m)
    inside = alpha > 0.99
    got = np.median(out[inside] / image[inside], axis=0)
    assert got == pytest.approx(_linear_gain(image, alpha), rel=0.015)
    assert np.abs(m - np.diag(np.diag(m))).max() < 0.03                # no channel mixing where there is none
    half = harmonise.transform(h, image, alpha, scene, strength=0.5)
    assert np.allclose(half, 0.5 * (m + np.eye(3)), atol=1e-6)
    assert np.array_equal(harmonise.transform(h, image, alpha, scene, strength=0.0), np.eye(3))


def test_the_transform_does_not_depend_on_the_resolution(tiny):
    h = harmonise.load(models.load(tiny))
    image, alpha, scene = _subject(96)
    big = lambda x: cv2.resize(x, (1024, 1024), interpolation=cv2.INTER_LINEAR)  # noqa: E731
    small, large = harmonise.transform(h, image, alpha, scene), harmonise.transform(h, big(image), big(alpha), scene)
    assert np.abs(small - large).max() < 0.01


def test_fit_colour_transform():
    rng = np.random.default_rng(3)
    x = rng.uniform(0.01, 1.0, (2000, 3))
    true = np.array([[1.2, 0.1, 0.0], [0.0, 0.9, 0.05], [0.02, 0.0, 0.7]])
    assert np.allclose(harmonise.fit_colour_transform(x, x @ true.T, ridge=0.0), true, atol=1e-5)
    # one colour says nothing of channel mixing: the fit stays at per-channel gains
    grey = np.linspace(0.1, 0.9, 50)[:, None] * np.array([[0.5, 0.4, 0.3]])
    m = harmonise.fit_colour_transform(grey, grey * [1.3, 1.0, 0.8])
    assert np.allclose(m, np.diag([1.3, 1.0, 0.8]), atol=1e-3)
    assert np.array_equal(harmonise.fit_colour_transform(x[:2], x[:2]), np.eye(3))
