"""Generation: the prompt builder, finding models, sizes and memory plans (no torch needed), and the real loading,
prompting, seeding and writing on tiny randomly initialised pipelines built here (torch, diffusers and transformers:
the generate extra; those tests skip without it)."""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from portrait_studio.errors import InputError, ParameterError
from portrait_studio.generate import Choices, build_prompt, find_model, list_models, parse_size, plan_memory
from portrait_studio.generate.prompt import LIGHTING, SETUP_NAMES
from portrait_studio.ops.relight import SETUPS

ROOT = pathlib.Path(__file__).resolve().parents[1]


# -- without torch ------------------------------------------------------------------------------------------

def test_prompt_builder_composes_choices_user_words_first():
    c = Choices(style="editorial", background="a brick wall", mood="pensive", lighting="rembrandt", lens_mm=85,
                aperture=1.8, framing="headshot")
    prompt, negative = build_prompt("  an old  sailor ", c)
    assert prompt.startswith("an old sailor, editorial portrait")
    for words in ("background: a brick wall", "pensive", "Rembrandt lighting", "85mm lens", "f/1.8",
                  "shallow depth of field", "tight headshot"):
        assert words in prompt
    assert negative.startswith("snapshot") and "deformed" in negative
    assert c.record() == {"style": "editorial", "background": "a brick wall", "mood": "pensive",
                          "lighting": "rembrandt", "lens_mm": 85, "aperture": 1.8, "framing": "headshot"}
    assert build_prompt("x")[0] == "x, photograph of a person, realistic skin texture"
    assert "deep focus" in build_prompt("x", Choices(aperture=8))[0]


def test_lighting_names_are_relights_setups():
    assert set(SETUP_NAMES) == set(SETUPS) and set(LIGHTING) == set(SETUPS)
    for name in SETUP_NAMES:
        assert build_prompt("x", Choices(lighting=name))[0] != build_prompt("x")[0]


@pytest.mark.parametrize("kw", [{"style": "anime"}, {"lighting": "moonlight"}, {"framing": "macro"},
                                {"lens_mm": 5}, {"aperture": 0.5}, {"mood": "  "}])
def test_bad_choices_are_refused(kw):
    with pytest.raises(ParameterError):
        Choices(**kw)
    with pytest.raises(ParameterError, match="empty"):
        build_prompt(" ")


def test_sizes():
    assert parse_size("64") == (64, 64) and parse_size(1024) == (1024, 1024) and parse_size("832x1216") == (832, 1216)
    for bad in ("63", "0", "abc", "64x", "8192", "64x64x64", "-64"):
        with pytest.raises(ParameterError, match="multiple of 8"):
            parse_size(bad)


def test_memory_plan_at_1024():
    gb = 2 ** 30
    roomy = plan_memory(width=1024, height=1024, device="cpu", weights_bytes=4 * gb, free_bytes=21 * gb)
    assert not roomy.attention_slicing and not roomy.vae_tiling and roomy.offload == "none"
    tight = plan_memory(width=1024, height=1024, device="cpu", weights_bytes=4 * gb, free_bytes=8 * gb)
    assert tight.attention_slicing and tight.vae_tiling and tight.offload == "none"
    small = plan_memory(width=512, height=512, device="cpu", weights_bytes=4 * gb, free_bytes=8 * gb)
    assert not small.attention_slicing and not small.vae_tiling
    assert plan_memory(width=1024, height=1024, device="cuda", weights_bytes=2 * gb, free_bytes=8 * gb).offload == "none"
    sdxl = {n: plan_memory(width=1024, height=1024, device="cuda", weights_bytes=int(6.9 * gb), free_bytes=n * gb)
            for n in (4, 8, 12, 24)}
    assert [p.offload for p in sdxl.values()] == ["sequential", "model", "none", "none"]
    assert sdxl[12].attention_slicing and not sdxl[24].attention_slicing
    unknown = plan_memory(width=1024, height=1024, device="cpu", weights_bytes=gb, free_bytes=None)
    assert unknown.attention_slicing and unknown.vae_tiling


def test_finding_models(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(InputError, match="no such model"):
        find_model(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="not a diffusers pipeline"):
        find_model(tmp_path / "empty")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match="not a model checkpoint"):
        find_model(tmp_path / "notes.txt")
    snap = tmp_path / "hub" / "models--someone--tiny-sd" / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (snap / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    (snap.parent.parent / "refs").mkdir()
    (snap.parent.parent / "refs" / "main").write_text("abc123")
    found = find_model("someone/tiny-sd")
    assert found.path == snap and found.name == "someone/tiny-sd" and found.pipeline == "StableDiffusionPipeline"
    (tmp_path / "ckpts").mkdir()
    (tmp_path / "ckpts" / "realistic.safetensors").write_bytes(b"x")
    ip = tmp_path / "ckpts" / "ip" / "models"
    (ip / "image_encoder").mkdir(parents=True)
    (ip / "ip-adapter_sd15.safetensors").write_bytes(b"x")
    seen = {m.name: m for m in list_models([tmp_path / "ckpts"])}
    assert set(seen) == {"realistic.safetensors", "someone/tiny-sd", "ip-adapter_sd15.safetensors"}
    assert "text-to-image" in seen["someone/tiny-sd"].capabilities()
    assert seen["ip-adapter_sd15.safetensors"].kind == "adapter"
    assert seen["ip-adapter_sd15.safetensors"].capabilities() == ["identity adapter for headshots (--adapter)"]


def _cli(*args, env=None, python=sys.executable):
    return subprocess.run([python, "-m", "portrait_studio", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "src"), **(env or {})}, timeout=300)


def test_cli_refuses_missing_model_and_bad_size_in_one_line(tmp_path):
    out = tmp_path / "o.png"
    r = _cli("generate", "x", "-o", out, "--model", tmp_path / "nonexistent")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "no such model" in r.stderr
    assert not out.exists()
    (tmp_path / "folder").mkdir()
    r = _cli("generate", "x", "-o", out, "--model", tmp_path / "folder")
    assert r.returncode == 2 and "model_index.json" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = _cli("generate", "x", "-o", out, "--model", tmp_path / "folder", "--size", "65")
    assert r.returncode == 2 and "size='65'" in r.stderr and not out.exists()
    r = _cli("generate", "x", "-o", out, "--model", tmp_path / "folder", "--style", "anime")
    assert r.returncode == 2 and "invalid choice" in r.stderr and "Traceback" not in r.stderr


def test_cli_models_lists_given_folders(tmp_path):
    pipe = tmp_path / "mine"
    pipe.mkdir()
    (pipe / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionXLPipeline"}))
    r = _cli("models", tmp_path, "--json", env={"HF_HUB_CACHE": str(tmp_path / "hub")})
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [{"name": "mine", "path": str(pipe), "kind": "folder",
                                     "pipeline": "StableDiffusionXLPipeline",
                                     "can": ["text-to-image", "identity adapter (IP-Adapter)"]}]


def test_missing_extra_is_one_line(tmp_path):
    """With torch hidden, a found model gives one line naming the extra."""
    pipe = tmp_path / "mine"
    pipe.mkdir()
    (pipe / "model_index.json").write_text("{}")
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "torch.py").write_text("raise ModuleNotFoundError('No module named torch', name='torch')\n")
    r = _cli("generate", "x", "-o", tmp_path / "o.png", "--model", pipe,
             env={"PYTHONPATH": f"{hide}{os.pathsep}{ROOT / 'src'}"})
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [r.stderr.strip()]
    assert "pip install 'portrait-studio[generate]'" in r.stderr


# -- with the generate extra: tiny pipelines built here ------------------------------------------------------

def _tiny_pipeline(folder: pathlib.Path, seed: int) -> pathlib.Path:
    pytest.importorskip("torch")
    pytest.importorskip("diffusers")
    pytest.importorskip("transformers")
    from portrait_studio.generate.tiny import tiny_pipeline

    return tiny_pipeline(folder, seed=seed)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny pipeline, run on one thread while this module's tests use it: torch's threads spin against each
    other on a tiny model (a 64 px step took 0.3 s on two busy cores, 5 ms on one)."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield _tiny_pipeline(tmp_path_factory.mktemp("models") / "tiny", 0)
    torch.set_num_threads(threads)


def test_load_generate_seeded_and_prompted(tiny):
    from portrait_studio.generate import generate, load_pipeline

    gen = load_pipeline(tiny)
    assert gen.device == "cpu" and gen.source.name == "tiny" and gen.default_size == (64, 64)
    steps = []
    a = generate(gen, "a studio portrait", Choices(style="film"), seed=3, steps=2, size=(64, 48),
                 progress=lambda d, t, w: steps.append((d, t)))
    assert steps == [(1, 2), (2, 2)]
    assert a.image.shape == (48, 64, 3) and a.image.dtype == np.float32 and 0 <= a.image.min() <= a.image.max() <= 1
    again = generate(gen, "a studio portrait", Choices(style="film"), seed=3, steps=2, size=(64, 48))
    other_seed = generate(gen, "a studio portrait", Choices(style="film"), seed=4, steps=2, size=(64, 48))
    other_words = generate(gen, "an old sailor in the rain", Choices(style="film"), seed=3, steps=2, size=(64, 48))
    assert np.array_equal(a.image, again.image)
    assert not np.array_equal(a.image, other_seed.image) and not np.array_equal(a.image, other_words.image)
    step, = a.history
    assert step["op"] == "generate" and step["source"] == "trainedAlgorithmicMedia"
    assert step["params"]["style"] == "film" and step["params"]["seed"] == 3 and step["params"]["size"] == "64x48"
    assert not gen.plans[(64, 48)].attention_slicing


def test_written_output_records_choices_and_credentials(tiny, tmp_path):
    from portrait_studio.generate import generate, load_pipeline
    from portrait_studio.provenance import credentials, write_output
    from portrait_studio.provenance import verify
    from portrait_studio.provenance.watermark import payload_for

    gen = load_pipeline(tiny)
    p = generate(gen, "a portrait", Choices(style="corporate", background="grey paper", mood="calm",
                                            lighting="clamshell"), seed=1, steps=1, size=(128, 128))
    out = write_output(tmp_path / "g.png", p)
    with Image.open(out) as im:
        exif = im.getexif()
        assert im.size == (128, 128)
    described = exif[0x010E]
    for words in ("prompt: a portrait", "style: corporate", "background: grey paper", "mood: calm",
                  "lighting: clamshell", "model: tiny", "seed: 1"):
        assert words in described
    assert json.loads(exif[0x9C9C].decode("utf-16-le").rstrip("\0"))["full_prompt"].startswith("a portrait, corporate")
    acts = credentials.actions(p.history, parent=False)
    assert acts[0]["action"] == "c2pa.created" and acts[0]["digitalSourceType"].endswith("/trainedAlgorithmicMedia")
    assert acts[0]["parameters"]["parameters"]["background"] == "grey paper" and len(acts) == 1
    if credentials.available():
        read = credentials.read(out)
        assert read["valid"] and read["actions"][0]["digitalSourceType"].endswith("/trainedAlgorithmicMedia")
        assert read["actions"][0]["parameters"]["mood"] == "calm"
    mark = verify(out)["watermark"]
    assert mark["found"] and mark["payload"] == payload_for(None, p.history)


def test_cli_end_to_end(tiny, tmp_path):
    """One run through the command line (each loads torch anew, so one): no --seed, so a new one, printed and
    recorded; the choices in the EXIF; nothing but notes on stderr."""
    out = tmp_path / "cli.png"
    r = _cli("generate", "a studio portrait", "-o", out, "--model", tiny, "--steps", 2, "--size", "72x64",
             "--style", "corporate", "--background", "grey paper", "--mood", "calm", "--lens", 85, "--aperture", 2,
             env={"OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr
    assert all(line.startswith("portrait: note:") for line in r.stderr.splitlines()), r.stderr
    seed = int(r.stdout.split("seed ")[1].split()[0])
    with Image.open(out) as im:
        assert im.size == (72, 64)
        said = im.getexif()[0x010E]
    assert "grey paper" in said and "style: corporate" in said and f"seed: {seed};" in said and "lens_mm: 85" in said
    r = _cli("generate", "x", "-o", out, "--model", tiny, "--seed", 5, "--steps", 1, "--size", 64)
    assert r.returncode == 2 and "already exists" in r.stderr and "Traceback" not in r.stderr


def test_folder_with_broken_parts_is_refused(tiny, tmp_path):
    import shutil

    from portrait_studio.generate import load_pipeline

    broken = tmp_path / "broken"
    shutil.copytree(tiny, broken)
    shutil.rmtree(broken / "unet")
    with pytest.raises(InputError, match="could not be loaded as a diffusion pipeline") as e:
        load_pipeline(broken)
    assert "\n" not in str(e.value)
    (tmp_path / "junk.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="configuration in your Hugging Face cache") as e:
        load_pipeline(tmp_path / "junk.safetensors")
    assert "\n" not in str(e.value)


# -- headshots: quality control, the identity adapter, regeneration ------------------------------------------

def _astronaut():
    from skimage import data

    from portrait_studio import Portrait
    from portrait_studio.core import from_srgb8

    return Portrait(from_srgb8(data.astronaut()))


def test_qc_finds_clipped_skin_soft_eyes_and_identity():
    import cv2

    from portrait_studio import Portrait
    from portrait_studio.generate import qc

    a = _astronaut()
    ref = [qc.face_descriptor(a)]
    good = qc.check(a, ref)
    assert good.passed and good.face and good.eyes_open > 0.2 and good.eyes_sharp > 2 * qc.EYES_SHARP
    assert good.clipped_skin < 0.01
    over = qc.check(Portrait(np.clip(a.image * 4, 0, 1)), ref)
    assert not over.passed and any("clipped skin" in p for p in over.problems)
    soft = qc.check(Portrait(cv2.GaussianBlur(a.image, (0, 0), 2)), ref)
    assert any("eyes soft" in p for p in soft.problems)
    empty = qc.check(Portrait(np.full((96, 96, 3), 0.3, np.float32)))
    assert not empty.face and empty.problems == ("no face found",)
    if qc.dlib_available():
        assert good.identity < 0.1 and 0.2 < soft.identity < qc.SAME_PERSON


def test_qc_identity_of_another_person():
    from portrait_studio import Portrait
    from portrait_studio.generate import qc

    other = ROOT.parent / "shared" / "data" / "portraits" / "001.jpg"
    if not other.exists() or not qc.dlib_available():
        pytest.skip("needs ../shared/data and dlib")
    r = qc.check(Portrait.read(other), [qc.face_descriptor(_astronaut())])
    assert r.identity > qc.SAME_PERSON and not r.passed and "identity not kept" in r.problems[-1]


def test_styles_are_parsed():
    from portrait_studio.generate.headshots import parse_styles

    assert parse_styles("corporate, outdoor,corporate") == ["corporate", "outdoor"]
    for bad in ("", "corporate,anime", " , "):
        with pytest.raises(ParameterError, match="styles="):
            parse_styles(bad)


@pytest.fixture(scope="module")
def adapter(tiny, tmp_path_factory):
    from portrait_studio.generate.tiny import tiny_ip_adapter

    return tiny_ip_adapter(tmp_path_factory.mktemp("adapters") / "ip", tiny)


def test_adapter_is_refused_in_one_line(tiny, adapter, tmp_path):
    from portrait_studio.generate import load_pipeline
    from portrait_studio.generate.headshots import load_adapter

    gen = load_pipeline(tiny)
    with pytest.raises(InputError, match="no such adapter"):
        load_adapter(gen, tmp_path / "none.safetensors")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no IP-Adapter weights"):
        load_adapter(gen, tmp_path / "empty")
    import shutil

    shutil.copy(adapter, tmp_path / "ip-adapter_alone.safetensors")
    with pytest.raises(InputError, match="image_encoder"):
        load_adapter(gen, tmp_path / "ip-adapter_alone.safetensors")


def test_headshots_regenerate_until_checks_pass(tiny, adapter, monkeypatch):
    """The adapter is loaded and its selfies change the picture; a failed check makes the next seed; the best is
    kept and every try is reported."""
    from portrait_studio.generate import Choices, generate, load_pipeline
    from portrait_studio.generate import headshots as hs
    from portrait_studio.generate.qc import Report

    gen = load_pipeline(tiny)
    plain = generate(gen, "a headshot", Choices(style="corporate"), seed=2, steps=1, size=(64, 64))
    assert hs.load_adapter(gen, adapter.parent, scale=0.7) == adapter.name
    selfie = _astronaut()
    calls = []

    def check(portrait, references, *, max_distance):
        calls.append(portrait)
        ok = len(calls) % 2 == 0
        return Report(True, 0.3, 20.0, 0.0, 0.4 if ok else 0.9, ok, () if ok else ("identity not kept",))
    monkeypatch.setattr(hs, "check", check)
    shots = hs.make_headshots(gen, [selfie], ["corporate", "outdoor"], text="a headshot", seed=2, steps=1,
                              size=(64, 64), tries=3, adapter_name=adapter.name)
    assert [s.style for s in shots] == ["corporate", "outdoor"] and len(calls) == 4
    assert [s.seed for s in shots] == [3, 3] and all(s.report.passed and len(s.tries) == 2 for s in shots)
    assert [t["seed"] for t in shots[0].tries] == [2, 3] and not shots[0].tries[0]["passed"]
    again = generate(gen, "a headshot", Choices(style="corporate"), seed=2, steps=1, size=(64, 64),
                     extra={"ip_adapter_image": [[hs.face_crop(selfie)]]})
    assert not np.array_equal(plain.image, again.image)          # the selfie reaches the model
    step = shots[0].portrait.history[0]
    assert step["params"]["adapter"] == adapter.name and step["params"]["selfies"] == 1


def test_headshots_command(tiny, adapter, tmp_path, capsys):
    """The whole command in this process: selfies read, the adapter loaded, a post-step recipe run, each headshot
    checked (the tiny model draws no face, so every one fails: exit 3) and written with its report."""
    from portrait_studio.cli import main

    selfie = tmp_path / "me.png"
    Image.fromarray(np.asarray(Image.open(_astronaut_file(tmp_path)))).save(selfie)
    recipe = tmp_path / "then.yaml"
    recipe.write_text("steps:\n  - exposure: {ev: 0.5}\n")
    out = tmp_path / "shots"
    args = ["headshots", str(selfie), "-o", str(out), "--styles", "corporate,outdoor", "--model", str(tiny),
            "--adapter", str(adapter), "--steps", "1", "--size", "64", "--tries", "2", "--seed", "3",
            "--then", str(recipe), "--mood", "confident"]
    assert main(args) == 3
    said = capsys.readouterr().out
    assert "corporate.png: FAILED: no face found (seed 3, 2 tries)" in said
    report = json.loads((out / "report.json").read_text())
    assert [h["file"] for h in report["headshots"]] == ["corporate.png", "outdoor.png"]
    assert [t["seed"] for t in report["headshots"][1]["tries"]] == [3, 4]
    from portrait_studio.provenance import credentials

    if credentials.available():
        acts = credentials.read(out / "outdoor.png")["actions"]
        assert [a["operation"] for a in acts] == ["generate", "exposure"]
        assert acts[0]["parameters"]["style"] == "outdoor" and acts[0]["parameters"]["mood"] == "confident"
    assert main(args) == 2 and "already exists" in capsys.readouterr().err
    (tmp_path / "blank.png").write_bytes(open(_blank_file(tmp_path), "rb").read())
    assert main([*args[:1], str(tmp_path / "blank.png"), *args[2:], "--overwrite"]) == 2
    assert "no face" in capsys.readouterr().err


def _astronaut_file(tmp_path):
    from skimage import data

    path = tmp_path / "astronaut.png"
    Image.fromarray(data.astronaut()).save(path)
    return path


def _blank_file(tmp_path):
    path = tmp_path / "blank-src.png"
    Image.fromarray(np.full((96, 96, 3), 90, np.uint8)).save(path)
    return path


def test_device_is_chosen_and_refused():
    from types import SimpleNamespace

    from portrait_studio.generate.backend import choose_device

    def fake(cuda, mps):
        return SimpleNamespace(cuda=SimpleNamespace(is_available=lambda: cuda),
                               backends=SimpleNamespace(mps=SimpleNamespace(is_available=lambda: mps)))
    assert choose_device(fake(True, False)) == "cuda" and choose_device(fake(False, True)) == "mps"
    assert choose_device(fake(False, False)) == "cpu" and choose_device(fake(True, False), "cpu") == "cpu"
    with pytest.raises(ParameterError, match="device='cuda' is not available here; use one of cpu"):
        choose_device(fake(False, False), "cuda")


# -- a small CUDA card, faked: its free memory patched, the moves and offloads recorded ----------------------

@pytest.fixture
def small_card(monkeypatch):
    """A CUDA card with `free` bytes free (set it on the returned namespace): torch says CUDA is there, the
    free-memory question is answered from it, and moving or offloading the pipeline is recorded, not done."""
    from types import SimpleNamespace

    torch = pytest.importorskip("torch")
    diffusers = pytest.importorskip("diffusers")
    from portrait_studio.generate import backend

    card = SimpleNamespace(free=8 << 30, calls=[], asked=[])
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (card.asked.append(device), (card.free, 8 << 30))[1])
    cls = diffusers.DiffusionPipeline
    monkeypatch.setattr(cls, "to", lambda self, *a, **k: card.calls.append(("to", *a)) or self)
    monkeypatch.setattr(cls, "enable_model_cpu_offload",
                        lambda self, gpu_id=None, device="cuda": card.calls.append(("model", device)))
    monkeypatch.setattr(cls, "enable_sequential_cpu_offload",
                        lambda self, gpu_id=None, device="cuda": card.calls.append(("sequential", device)))
    card.backend = backend
    return card


def test_small_card_is_planned_before_the_weights_move(tiny, small_card):
    """Weights that do not fit the card's free memory are offloaded, never moved there first; the device named
    (cuda:1) is the one asked and offloaded to."""
    from portrait_studio.generate import load_pipeline

    small_card.free = 1000                                  # fewer bytes than the tiny model's weights
    gen = load_pipeline(tiny, device="cuda:1")
    assert small_card.calls == [("sequential", "cuda:1")] and gen.offload == "sequential"
    assert small_card.asked and all(str(d) == "cuda:1" for d in small_card.asked)
    assert gen.dtype == "float16"


def test_card_with_room_counts_the_weights_once(tiny, small_card):
    """With the weights on the card, the free memory read afterwards already lacks them: the plan adds them back
    rather than counting them twice (a card with room for one copy plus the run needs no slicing)."""
    from portrait_studio.generate import load_pipeline

    gen = load_pipeline(tiny, device="cuda")
    assert small_card.calls == [("to", "cuda")] and gen.offload == "none"
    run = gen.weights_bytes // 2 + 64 * 64 * 1536 + (64 * 64 // 64) ** 2 * 2 * 8
    small_card.free = int(run / 0.85) + 1                    # after the weights: room for the run alone
    plan = gen.prepare(64, 64)
    assert not plan.attention_slicing and plan.offload == "none" and gen.plans[(64, 64)] == plan


def test_only_what_was_applied_is_recorded(tiny, small_card):
    """Offload stays once on: a later size that would need none records the offload still in force."""
    from portrait_studio.generate import load_pipeline

    small_card.free = 1000
    gen = load_pipeline(tiny, device="cuda")
    small_card.free = 8 << 30
    plan = gen.prepare(64, 64)
    assert plan.offload == "sequential" and "kept" in plan.reason


def test_failed_generation_is_a_one_line_refusal(tiny, monkeypatch):
    torch = pytest.importorskip("torch")
    from portrait_studio.generate import backend, load_pipeline

    gen = load_pipeline(tiny)

    def oom(**kw):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB\nmore detail")

    def broken(**kw):
        raise RuntimeError("Expected all tensors to be on the same device\ntraceback detail")
    gen.pipe = oom
    with pytest.raises(ParameterError, match=r"ran out of memory on cpu; try --size \d+ or --device cpu"):
        backend.run(gen, "x", width=64, height=64, steps=1, seed=0)
    gen.pipe = broken
    with pytest.raises(ParameterError, match="failed to generate at 64x64 .*same device\\)") as e:
        backend.run(gen, "x", width=64, height=64, steps=1, seed=0)
    assert "\n" not in str(e.value)


def test_pipeline_needing_an_image_is_refused_at_load(tiny, monkeypatch):
    diffusers = pytest.importorskip("diffusers")
    from portrait_studio.generate import load_pipeline

    class ImageOnly:
        vae = object()

        def __call__(self, prompt, image, strength=0.8):
            pass
    monkeypatch.setattr(diffusers.DiffusionPipeline, "from_pretrained", lambda *a, **k: ImageOnly())
    with pytest.raises(InputError, match=r"is a ImageOnly, not a text-to-image pipeline \(it needs image=\)"):
        load_pipeline(tiny)


def test_flux_sizes_and_precision(tiny, small_card, monkeypatch):
    """FLUX: bfloat16 on a card that has it, 1024 by default, sides a multiple of 16 (refused after loading)."""
    torch = pytest.importorskip("torch")
    diffusers = pytest.importorskip("diffusers")
    from portrait_studio.generate import load_pipeline
    from portrait_studio.generate.backend import ModelSource

    dtypes = []

    real = diffusers.DiffusionPipeline.from_pretrained.__func__

    def load(cls, *a, torch_dtype=None, **k):
        dtypes.append(torch_dtype)
        pipe = real(diffusers.DiffusionPipeline, *a, torch_dtype=torch_dtype, **k)
        pipe.__class__ = type("FluxPipeline", (type(pipe),), {})
        return pipe
    monkeypatch.setattr(diffusers.DiffusionPipeline, "from_pretrained", classmethod(load))
    gen = load_pipeline(ModelSource(tiny, "folder", "flux", "FluxPipeline"), device="cuda")
    assert dtypes == [torch.bfloat16] and gen.dtype == "bfloat16"
    assert gen.default_size == (1024, 1024) and gen.size_step == 16
    with pytest.raises(ParameterError, match="multiples of 16"):
        gen.prepare(72, 64)
    assert "identity adapter (IP-Adapter)" not in ModelSource(tiny, "folder", "f", "FluxPipeline").capabilities()
    assert "identity adapter (IP-Adapter)" not in ModelSource(tiny, "folder", "k", "KandinskyPipeline").capabilities()


def test_library_changes_no_process_wide_state(tiny):
    """No environment variable set, and the libraries' logging left as it was, by loading and generating."""
    transformers = pytest.importorskip("transformers")
    diffusers = pytest.importorskip("diffusers")
    from portrait_studio.generate import generate, load_pipeline

    env = dict(os.environ)
    transformers.logging.set_verbosity_info()
    diffusers.utils.logging.set_verbosity_warning()
    try:
        gen = load_pipeline(tiny)
        generate(gen, "x", seed=1, steps=1, size=(64, 64))
        assert dict(os.environ) == env
        assert transformers.logging.get_verbosity() == transformers.logging.INFO
        assert diffusers.utils.logging.get_verbosity() == diffusers.utils.logging.WARNING
    finally:
        transformers.logging.set_verbosity_warning()


def test_headshots_never_overwrite_a_selfie(tiny, tmp_path, capsys):
    """A selfie at DIR/<style>.png is an input: refused as an output even with --overwrite, before any loading."""
    from portrait_studio.cli import main

    out = tmp_path / "shots"
    out.mkdir()
    selfie = out / "corporate.png"
    Image.fromarray(np.asarray(Image.open(_astronaut_file(tmp_path)))).save(selfie)
    before = selfie.read_bytes()
    code = main(["headshots", str(selfie), "-o", str(out), "--styles", "corporate", "--model", str(tiny),
                 "--adapter", str(tmp_path / "none"), "--overwrite"])
    assert code == 2 and "is one of the input frames" in capsys.readouterr().err
    assert selfie.read_bytes() == before


def test_models_refuses_a_missing_folder(tmp_path, capsys):
    from portrait_studio.cli import main

    assert main(["models", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip()
    assert "nowhere: no such folder" in err and "\n" not in err
