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
    cpu = plan_memory(width=1024, height=1024, device="cpu", weights_bytes=2 << 30, free_bytes=20 << 30)
    assert cpu.attention_slicing and cpu.vae_tiling and cpu.offload == "none"
    small = plan_memory(width=512, height=512, device="cpu", weights_bytes=2 << 30, free_bytes=20 << 30)
    assert not small.attention_slicing and not small.vae_tiling
    gpu8 = plan_memory(width=1024, height=1024, device="cuda", weights_bytes=7 << 30, free_bytes=8 << 30)
    assert gpu8.offload == "model" and gpu8.attention_slicing
    gpu4 = plan_memory(width=1024, height=1024, device="cuda", weights_bytes=7 << 30, free_bytes=3 << 30)
    assert gpu4.offload == "sequential"
    gpu24 = plan_memory(width=1024, height=1024, device="cuda", weights_bytes=7 << 30, free_bytes=24 << 30)
    assert gpu24.offload == "none" and not gpu24.attention_slicing


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
    seen = {m.name: m for m in list_models([tmp_path / "ckpts"])}
    assert set(seen) == {"realistic.safetensors", "someone/tiny-sd"}
    assert "text-to-image" in seen["someone/tiny-sd"].capabilities()


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
    """A Stable-Diffusion-class pipeline with tiny random weights, saved as a diffusers folder: a CLIP tokenizer
    whose vocabulary is the printable ASCII characters (alone and word-final), so any prompt tokenizes."""
    torch = pytest.importorskip("torch")
    diffusers = pytest.importorskip("diffusers")
    transformers = pytest.importorskip("transformers")
    transformers.logging.set_verbosity_error()
    diffusers.utils.logging.set_verbosity_error()
    words = folder.with_name(folder.name + "-vocab")
    words.mkdir(parents=True)
    letters = [chr(i) for i in range(33, 127)]
    tokens = ["<|startoftext|>", "<|endoftext|>"] + letters + [t + "</w>" for t in letters]
    (words / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (words / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = transformers.CLIPTokenizer(str(words / "vocab.json"), str(words / "merges.txt"), model_max_length=77)
    torch.manual_seed(seed)
    unet = diffusers.UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(16, 32),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=16, attention_head_dim=4, norm_num_groups=8)
    vae = diffusers.AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 8, 16, 16),
                                  down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                                  layers_per_block=1, norm_num_groups=8, sample_size=64)
    text = transformers.CLIPTextModel(transformers.CLIPTextConfig(
        vocab_size=len(tokens), hidden_size=16, intermediate_size=24, num_hidden_layers=1, num_attention_heads=2,
        max_position_embeddings=77, bos_token_id=0, eos_token_id=1, pad_token_id=1))
    scheduler = diffusers.DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                        clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    pipe = diffusers.StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet,
                                             scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                             requires_safety_checker=False)
    pipe.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return _tiny_pipeline(tmp_path_factory.mktemp("models") / "tiny", 0)


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
             "--style", "corporate", "--background", "grey paper", "--mood", "calm", "--lens", 85, "--aperture", 2)
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
