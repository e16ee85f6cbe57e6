"""The diffusion backend: a pipeline the user has, found, loaded on the best device, and run seeded.

Nothing is downloaded: a model is a diffusers folder (``model_index.json`` and its parts), a single-file
checkpoint (``.safetensors``/``.ckpt``, read by ``from_single_file`` with the configs the user's Hugging Face
cache holds), or the name of a pipeline in that cache (``org/name``), all read with ``local_files_only``
(:func:`find_model`, which needs no torch, so a missing model is refused before the extra is even imported).
torch, diffusers and transformers are the ``generate`` extra; without them :func:`load_pipeline` raises a
:class:`~portrait_studio.errors.MissingDependencyError` naming it.

The device is CUDA, else Apple's MPS, else the CPU (:func:`choose_device`); the memory settings for a size
(attention slicing, VAE tiling, CPU offload) are planned from the free memory (:func:`plan_memory`), on CUDA
before the weights are moved to the card (offloaded instead where they would not fit). A run is
seeded by a CPU ``torch.Generator``, so the same seed gives the same picture on any machine of one kind.
"""
from __future__ import annotations

import contextlib
import json
import os
import pathlib
from dataclasses import dataclass, field
from typing import Callable, Literal

import numpy as np

from ..errors import InputError, MissingDependencyError, ParameterError, first_line

#: What to install for generation, said wherever it is missing.
INSTALL = "pip install 'portrait-studio[generate]'"
#: Checkpoint file extensions read as single files.
SINGLE_FILE = (".safetensors", ".ckpt")
#: Sizes, pixels a side: a multiple of this (the VAE's 8 times the UNet's smallest stride in latents).
SIZE_STEP = 8
SIZE_RANGE = (64, 4096)
Progress = Callable[[int, int, str], None]


# -- finding a model (no torch) --------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelSource:
    """A model found on disk.

    Attributes
    ----------
    path : pathlib.Path
        The diffusers folder or the checkpoint file.
    kind : {"folder", "single-file", "adapter"}
    name : str
        How it is named in records: the cache name (``org/name``) or the folder's or file's name (never the
        full path, which may hold the user's name).
    pipeline : str
        The pipeline class its ``model_index.json`` names (``"StableDiffusionPipeline"``...), or
        ``"single-file checkpoint"``.
    """

    path: pathlib.Path
    kind: Literal["folder", "single-file", "adapter"]
    name: str
    pipeline: str

    def capabilities(self) -> list[str]:
        """What it can do here: text-to-image always; image prompts (an identity adapter) for Stable Diffusion
        and SDXL pipelines; ``ip-adapter`` where an IP-Adapter's weights lie in the folder. An adapter: headshots."""
        if self.kind == "adapter":
            return ["identity adapter for headshots (--adapter)"]
        caps = ["text-to-image"]
        # load_adapter takes SD 1.5 and SDXL adapters (a single-file checkpoint is one of them or FLUX)
        if "StableDiffusion" in self.pipeline or self.kind == "single-file":
            caps.append("identity adapter (IP-Adapter)")
        if self.kind == "folder" and adapter_weights(self.path):
            caps.append("ip-adapter weights included")
        return caps


def hf_cache() -> pathlib.Path:
    """The Hugging Face hub cache folder: ``$HF_HUB_CACHE``, ``$HF_HOME/hub`` or ``~/.cache/huggingface/hub``."""
    if os.environ.get("HF_HUB_CACHE"):
        return pathlib.Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or pathlib.Path.home() / ".cache" / "huggingface"
    return pathlib.Path(home).expanduser() / "hub"


def _cached(name: str) -> pathlib.Path | None:
    """The newest snapshot of the cached repository `name` (``org/name``) that holds a pipeline, or None."""
    if name.count("/") != 1 or name.startswith(("/", ".", "~")):
        return None
    repo = hf_cache() / ("models--" + name.replace("/", "--"))
    ref = repo / "refs" / "main"
    snaps = repo / "snapshots"
    if ref.is_file() and (snaps / ref.read_text().strip() / "model_index.json").is_file():
        return snaps / ref.read_text().strip()
    found = sorted((p for p in snaps.glob("*") if (p / "model_index.json").is_file()),
                   key=lambda p: p.stat().st_mtime) if snaps.is_dir() else []
    return found[-1] if found else None


def _pipeline_class(folder: pathlib.Path) -> str:
    try:
        return str(json.loads((folder / "model_index.json").read_text()).get("_class_name") or "DiffusionPipeline")
    except (OSError, ValueError, AttributeError):
        return "unreadable model_index.json"


def find_model(model: str | os.PathLike) -> ModelSource:
    """The model `model` names: a diffusers folder, a single-file checkpoint, or a pipeline in the Hugging Face
    cache (:func:`hf_cache`) by its ``org/name``; nothing is downloaded.

    Raises
    ------
    InputError
        For a path that does not exist (and no cached pipeline of that name), a folder that is not a
        diffusers pipeline, or a file that is not a checkpoint.
    """
    text = os.fspath(model)
    path = pathlib.Path(text).expanduser()
    if path.is_dir():
        if not (path / "model_index.json").is_file():
            raise InputError(path, "is not a diffusers pipeline folder (it has no model_index.json)",
                             "give the folder save_pretrained wrote (with model_index.json, unet/, vae/...) "
                             "or a .safetensors checkpoint")
        return ModelSource(path, "folder", path.resolve().name, _pipeline_class(path))
    if path.is_file():
        if path.suffix.lower() not in SINGLE_FILE:
            raise InputError(path, "is not a model checkpoint", "give a diffusers folder or a .safetensors "
                             "(or .ckpt) checkpoint")
        return ModelSource(path, "single-file", path.name, "single-file checkpoint")
    cached = _cached(text)
    if cached is not None:
        return ModelSource(cached, "folder", text, _pipeline_class(cached))
    raise InputError(text, "no such model folder or file, and no pipeline of that name in the Hugging Face cache "
                     f"({hf_cache()})", "give a diffusers folder or a .safetensors checkpoint "
                     "(see 'portrait models' for the ones found here)")


def adapter_weights(folder: pathlib.Path) -> list[pathlib.Path]:
    """IP-Adapter weight files in `folder` or its ``models``/``sdxl_models`` subfolders."""
    out = []
    for sub in (folder, folder / "models", folder / "sdxl_models"):
        if sub.is_dir():
            out += sorted(p for p in sub.iterdir() if p.name.startswith("ip-adapter") and p.suffix in (".bin", ".safetensors"))
    return out


def list_models(folders=()) -> list[ModelSource]:
    """Every pipeline and IP-Adapter that can be seen: the given folders (a pipeline or adapter folder itself, or a
    folder of them and of checkpoints, one level down) and the Hugging Face cache.

    Raises
    ------
    InputError
        For a given folder (or file) that does not exist.
    """
    for f in folders:
        if not pathlib.Path(f).expanduser().exists():
            raise InputError(f, "no such folder", "give a folder holding diffusion pipelines, checkpoints or "
                             "IP-Adapters (or none, to look in the Hugging Face cache only)")
    found: list[ModelSource] = []
    for f in folders:
        p = pathlib.Path(f).expanduser()
        candidates = [p] if (p / "model_index.json").is_file() or p.is_file() else sorted(p.iterdir()) if p.is_dir() else []
        for c in candidates:
            if (c.is_dir() and (c / "model_index.json").is_file()) or (c.is_file() and c.suffix.lower() in SINGLE_FILE):
                found.append(find_model(c))
    def adapters(folder: pathlib.Path, name: str | None = None) -> list[ModelSource]:
        return [ModelSource(w, "adapter", name or w.name, "IP-Adapter") for w in adapter_weights(folder)
                if (w.parent / "image_encoder").is_dir()]

    for f in folders:
        p = pathlib.Path(f).expanduser()
        for c in [p, *(sorted(q for q in p.iterdir() if q.is_dir()) if p.is_dir() else [])]:
            found += adapters(c)
    cache = hf_cache()
    if cache.is_dir():
        for repo in sorted(cache.glob("models--*")):
            name = repo.name.removeprefix("models--").replace("--", "/", 1)
            snap = _cached(name)
            if snap is not None:
                found.append(ModelSource(snap, "folder", name, _pipeline_class(snap)))
            for snap in sorted((repo / "snapshots").glob("*"))[-1:]:
                found += adapters(snap, name)
    return found


def parse_size(text: str | int) -> tuple[int, int]:
    """A size ``N`` (square) or ``WxH`` as (width, height), each a multiple of 8 from 64 to 4096.

    Raises
    ------
    ParameterError
        For anything else.
    """
    parts = str(text).lower().replace("×", "x").split("x")
    try:
        w, h = (int(parts[0]), int(parts[-1])) if len(parts) in (1, 2) else (None, None)
    except ValueError:
        w = h = None
    lo, hi = SIZE_RANGE
    if w is None or not all(lo <= v <= hi and v % SIZE_STEP == 0 for v in (w, h)):
        raise ParameterError(f"size={text!r} is not a size; give N or WxH in pixels, each a multiple of {SIZE_STEP} "
                             f"from {lo} to {hi} (e.g. 1024 or 832x1216)")
    return w, h


# -- torch ------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def quiet_libraries():
    """transformers' and diffusers' logging to errors only and their progress bars off (the CLI draws its own)
    while the block runs; their previous levels and bars are restored after it. No environment variable is
    changed: ``local_files_only=True`` is what keeps every load off the network."""
    import diffusers
    import transformers

    tlog, dlog = transformers.logging, diffusers.utils.logging
    before = (tlog.get_verbosity(), tlog.is_progress_bar_enabled(), dlog.get_verbosity(), dlog.is_progress_bar_enabled())
    tlog.set_verbosity_error()
    tlog.disable_progress_bar()
    dlog.set_verbosity_error()
    dlog.disable_progress_bar()
    try:
        yield
    finally:
        tlog.set_verbosity(before[0])
        tlog.enable_progress_bar() if before[1] else tlog.disable_progress_bar()
        dlog.set_verbosity(before[2])
        dlog.enable_progress_bar() if before[3] else dlog.disable_progress_bar()


def require() -> tuple:
    """(torch, diffusers), imported; nothing process-wide is changed (see :func:`quiet_libraries`).

    Raises
    ------
    MissingDependencyError
        Without torch, diffusers or transformers, naming the extra.
    """
    try:
        import torch
        import transformers  # noqa: F401
        import diffusers
    except ImportError as e:
        raise MissingDependencyError(f"generation needs torch, diffusers and transformers ({e.name or e} is "
                                     f"missing): {INSTALL}") from None
    return torch, diffusers


def choose_device(torch, prefer: str | None = None) -> str:
    """``prefer`` where given, else ``"cuda"`` when a CUDA GPU is there, else ``"mps"``, else ``"cpu"``.

    Raises
    ------
    ParameterError
        When `prefer` names a device this machine does not have.
    """
    have = {"cpu": True, "cuda": torch.cuda.is_available(),
            "mps": bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())}
    if prefer:
        if not have.get(prefer.split(":")[0]):
            raise ParameterError(f"device={prefer!r} is not available here; use one of "
                                 f"{', '.join(d for d, ok in have.items() if ok)}")
        return prefer
    return "cuda" if have["cuda"] else "mps" if have["mps"] else "cpu"


@dataclass(frozen=True)
class MemoryPlan:
    """The memory settings for one size on one device.

    Attributes
    ----------
    attention_slicing : bool
        Attention computed a slice at a time (less peak memory, a little slower).
    vae_tiling : bool
        The VAE decodes in tiles (for large pictures).
    offload : {"none", "model", "sequential"}
        CUDA only: the parts kept on the CPU and moved to the GPU when used (whole models, or layer by layer).
    reason : str
        Why, in one line.
    """

    attention_slicing: bool
    vae_tiling: bool
    offload: Literal["none", "model", "sequential"]
    reason: str


def plan_memory(*, width: int, height: int, device: str, weights_bytes: int, free_bytes: int | None,
                largest_part_bytes: int | None = None) -> MemoryPlan:
    """The settings that fit a `width` x `height` generation on `device` with `free_bytes` free (None: unknown).

    The estimate: the weights, the attention maps of the largest self-attention (latent tokens squared for 8
    heads at once, half precision on CUDA; one head at a time when sliced) and the VAE's full-resolution
    activations (about 1.5 kB a pixel; a 512² tile's worth when tiled), against 85% of the free memory. Where the
    whole run fits, nothing is changed; else attention is sliced and the VAE tiled; where even that does not fit
    on CUDA, the parts are offloaded to the CPU, whole models (the largest part, default 75% of the weights, on
    the GPU at a time) or layer by layer. With the free memory unknown a picture of 1024² or more is sliced and
    tiled.
    """
    pixels = width * height
    tokens = pixels // 64                                 # latent positions (VAE factor 8)
    heads = 8
    attention = tokens * tokens * (2 if device.startswith("cuda") else 4) * heads
    vae = pixels * 1536
    lean_vae = min(vae, 512 * 512 * 1536)
    full = weights_bytes + attention + vae
    lean = weights_bytes + attention // heads + lean_vae
    gb = lambda b: f"{b / 2**30:.1f} GB"                  # noqa: E731
    if free_bytes is None:
        big = pixels >= 1024 * 1024
        return MemoryPlan(big, big, "none", f"free memory unknown{': sliced and tiled at this size' if big else ''}")
    room = free_bytes * 0.85
    if full <= room:
        return MemoryPlan(False, False, "none", f"{gb(full)} needed of {gb(free_bytes)} free")
    if lean <= room or not device.startswith("cuda"):
        return MemoryPlan(True, True, "none", f"{gb(full)} needed of {gb(free_bytes)} free: attention sliced and "
                          f"VAE tiled ({gb(lean)})" + ("" if lean <= room else ", and it may still not fit"))
    part = largest_part_bytes if largest_part_bytes is not None else int(weights_bytes * 0.75)
    offload = "model" if part + attention // heads + lean_vae <= room else "sequential"
    return MemoryPlan(True, True, offload, f"{gb(lean)} needed even sliced and tiled, {gb(free_bytes)} free: "
                      f"{offload} CPU offload")


def free_memory(torch, device: str) -> int | None:
    """Free bytes on `device` (CUDA's free memory; the system's available memory on the CPU and MPS)."""
    if device.startswith("cuda"):
        return int(torch.cuda.mem_get_info(torch.device(device))[0])
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


@dataclass
class Generator:
    """A loaded pipeline and where it runs (what :func:`load_pipeline` returns).

    Attributes
    ----------
    pipe : diffusers.DiffusionPipeline
    source : ModelSource
    device : str
    dtype : str
        ``"bfloat16"`` for FLUX on a CUDA card that has it, ``"float16"`` otherwise on CUDA, ``"float32"``
        elsewhere.
    weights_bytes : int
        The size of its weights in memory.
    largest_part_bytes : int
        The size of its largest part's weights (the UNet or transformer).
    plans : dict
        The memory settings applied for each size so far (what was done, not only what was planned).
    size_step : int
        Width and height must be multiples of this (8; 16 for FLUX, which packs 2x2 latents).
    """

    pipe: object
    source: ModelSource
    device: str
    dtype: str
    weights_bytes: int
    largest_part_bytes: int = 0
    plans: dict = field(default_factory=dict)
    size_step: int = SIZE_STEP
    _applied: MemoryPlan | None = None

    @property
    def default_size(self) -> tuple[int, int]:
        """The size the model was trained at (the UNet's sample size times the VAE factor; 1024 for FLUX, whose
        transformer states none)."""
        if _is_flux(self.pipe):
            return 1024, 1024
        cfg = getattr(getattr(self.pipe, "unet", None) or getattr(self.pipe, "transformer", None), "config", None)
        sample = getattr(cfg, "sample_size", None) or 64
        sample = sample[0] if isinstance(sample, (list, tuple)) else sample
        side = int(sample) * int(getattr(self.pipe, "vae_scale_factor", 8))
        return side, side

    @property
    def offload(self) -> str:
        """The CPU offload in force: ``"none"``, ``"model"`` or ``"sequential"``."""
        return self._applied.offload if self._applied is not None else "none"

    @property
    def resident_bytes(self) -> int:
        """The weights already held in the device's free-memory figure: all of them when the pipeline was moved
        there (or runs on the CPU, whose available memory they already take), none when offloaded."""
        return 0 if self.offload != "none" else self.weights_bytes

    def prepare(self, width: int, height: int) -> MemoryPlan:
        """Plan and apply the memory settings for this size (once per change); returns what was applied."""
        torch, _ = require()
        if width % self.size_step or height % self.size_step:
            raise ParameterError(f"size={width}x{height} does not suit {self.source.name}; its sides must be "
                                 f"multiples of {self.size_step} (e.g. {width // self.size_step * self.size_step}x"
                                 f"{height // self.size_step * self.size_step})")
        free = free_memory(torch, self.device)
        plan = plan_memory(width=width, height=height, device=self.device, weights_bytes=self.weights_bytes,
                           free_bytes=None if free is None else free + self.resident_bytes,
                           largest_part_bytes=self.largest_part_bytes)
        applied = self._apply(plan)
        self.plans[(width, height)] = applied
        return applied

    def _apply(self, plan: MemoryPlan) -> MemoryPlan:
        """Apply `plan` to the pipeline; the settings actually in force afterwards."""
        import dataclasses

        before = self._applied or MemoryPlan(False, False, "none", "")
        if plan == before:
            return plan
        pipe, notes = self.pipe, []
        slicing, tiling, offload = before.attention_slicing, before.vae_tiling, before.offload
        # slicing swaps the attention processors, an identity adapter's among them: not with an adapter loaded
        adapter = getattr(getattr(pipe, "unet", None), "encoder_hid_proj", None) is not None
        if plan.attention_slicing != slicing and hasattr(pipe, "enable_attention_slicing"):
            if adapter:
                notes.append("attention not sliced (an identity adapter is loaded)")
            else:
                pipe.enable_attention_slicing() if plan.attention_slicing else pipe.disable_attention_slicing()
                slicing = plan.attention_slicing
        vae = getattr(pipe, "vae", None)
        if plan.vae_tiling != tiling and vae is not None and hasattr(vae, "enable_tiling"):
            vae.enable_tiling() if plan.vae_tiling else vae.disable_tiling()
            tiling = plan.vae_tiling
        if plan.offload != offload:
            if offload == "none":
                _offload(pipe, plan.offload, self.device)
                offload = plan.offload
            else:
                notes.append(f"{offload} CPU offload kept (it stays once on)")
        reason = "; ".join([plan.reason, *notes])
        applied = dataclasses.replace(plan, attention_slicing=slicing, vae_tiling=tiling, offload=offload, reason=reason)
        self._applied = applied
        return applied


def _offload(pipe, how: str, device: str) -> None:
    """Keep the pipeline's parts on the CPU and move them to `device` (``cuda`` or ``cuda:N``) as they are used."""
    if how == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif how == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)


def _is_flux(pipe) -> bool:
    return "Flux" in type(pipe).__name__


def _check_text_to_image(pipe, source: ModelSource) -> None:
    """Refuse a pipeline that is not text-to-image: one whose call takes no width and height or needs an image."""
    import inspect

    try:
        params = inspect.signature(pipe.__call__).parameters
    except (TypeError, ValueError):
        params = {}
    needs = [n for n, p in params.items() if n in ("image", "init_image", "control_image", "mask_image")
             and p.default is inspect.Parameter.empty]
    if not hasattr(pipe, "vae") or not {"width", "height"} <= set(params) or needs:
        raise InputError(source.path, f"is a {type(pipe).__name__}, not a text-to-image pipeline"
                         f"{' (it needs ' + ', '.join(needs) + '=)' if needs else ''}",
                         "give a Stable Diffusion, SDXL or FLUX text-to-image pipeline")


def load_pipeline(model: str | os.PathLike | ModelSource, *, device: str | None = None) -> Generator:
    """The pipeline `model` names (:func:`find_model`), loaded from local files only for `device` (default
    :func:`choose_device`), its safety checker's warnings and progress bars silenced.

    On CUDA the memory is planned for the model's default size from the card's free memory before any weight is
    moved: the pipeline is moved to the card where it fits, else offloaded (whole models or layer by layer).

    Raises
    ------
    InputError
        For a model that is missing or cannot be loaded (the reason in one line), or a pipeline that is not
        text-to-image.
    MissingDependencyError
        Without the ``generate`` extra.
    """
    source = model if isinstance(model, ModelSource) else find_model(model)
    torch, diffusers = require()
    device = choose_device(torch, device)
    cuda = device.startswith("cuda")
    flux = "Flux" in source.pipeline
    dtype = (torch.bfloat16 if flux and torch.cuda.is_bf16_supported() else torch.float16) if cuda else torch.float32
    try:
        with _quiet_stderr(), quiet_libraries():
            if source.kind == "folder":
                pipe = diffusers.DiffusionPipeline.from_pretrained(source.path, torch_dtype=dtype, local_files_only=True)
            else:
                pipe = _single_file(diffusers, source.path, dtype)
    except Exception as e:  # noqa: BLE001 - diffusers, transformers and safetensors raise their own kinds
        fix = ("give a complete diffusers folder (all of its parts downloaded)" if source.kind == "folder" else
               "a checkpoint needs its base model's configuration in your Hugging Face cache; or convert it to a "
               "diffusers folder and give that")
        raise InputError(source.path, f"could not be loaded as a diffusion pipeline ({first_line(e)})", fix) from None
    _check_text_to_image(pipe, source)
    if cuda and not flux and _is_flux(pipe) and torch.cuda.is_bf16_supported():      # a FLUX single-file checkpoint
        pipe.to(dtype=torch.bfloat16)
        dtype = torch.bfloat16
    pipe.set_progress_bar_config(disable=True)
    parts = [sum(p.numel() * p.element_size() for p in m.parameters()) for m in pipe.components.values()
             if isinstance(m, torch.nn.Module)]
    gen = Generator(pipe, source, device, str(dtype).removeprefix("torch."), int(sum(parts)), int(max(parts, default=0)),
                    size_step=SIZE_STEP * 2 if _is_flux(pipe) else SIZE_STEP)
    if cuda:
        w, h = gen.default_size
        plan = plan_memory(width=w, height=h, device=device, weights_bytes=gen.weights_bytes,
                           free_bytes=free_memory(torch, device), largest_part_bytes=gen.largest_part_bytes)
        if plan.offload != "none":
            try:
                _offload(pipe, plan.offload, device)
            except Exception as e:  # noqa: BLE001 - accelerate missing or too old, or the card refusing
                raise ParameterError(f"device={device!r}: {source.name} does not fit in its free memory and could "
                                     f"not be offloaded ({first_line(e)}); use --device cpu") from None
            gen._applied = MemoryPlan(False, False, plan.offload, plan.reason)
            return gen
    try:
        pipe.to(device)
    except Exception as e:  # noqa: BLE001 - torch.cuda.OutOfMemoryError and the backends' own errors
        raise ParameterError(f"device={device!r}: {source.name} could not be moved there ({first_line(e)}); "
                             "use --device cpu") from None
    return gen


def _single_file(diffusers, path: pathlib.Path, dtype):
    """A single-file checkpoint through the pipeline class its keys call for (SDXL's second text encoder,
    FLUX's double blocks, else Stable Diffusion), with the configs in the user's cache."""
    from safetensors import safe_open

    keys: set[str] = set()
    if path.suffix.lower() == ".safetensors":
        with safe_open(str(path), "pt") as f:
            keys = set(f.keys())
    if any(k.startswith("conditioner.embedders.1") for k in keys):
        cls = diffusers.StableDiffusionXLPipeline
    elif any("double_blocks" in k for k in keys):
        cls = diffusers.FluxPipeline
    else:
        cls = diffusers.StableDiffusionPipeline
    return cls.from_single_file(str(path), torch_dtype=dtype, local_files_only=True)


@contextlib.contextmanager
def _quiet_stderr():
    """Python warnings (deprecations, "you have disabled the safety checker") kept off stderr while loading."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def run(gen: Generator, prompt: str, *, negative: str = "", width: int, height: int, steps: int, seed: int,
        guidance: float | None = None, progress: Progress | None = None, extra: dict | None = None) -> np.ndarray:
    """Generate one picture: float32 (H, W, 3) linear-light RGB.

    Parameters
    ----------
    prompt, negative : str
        What to show and what not to.
    width, height : int
        Pixels, multiples of 8.
    steps : int
        Denoising steps, 1 or more.
    seed : int
        0 to 2**31 - 1; the initial noise comes from a CPU generator seeded with it.
    guidance : float, optional
        Classifier-free guidance scale (the pipeline's default when None).
    progress : callable, optional
        ``progress(done, total, "steps")`` after each step.
    extra : dict, optional
        More keyword arguments for the pipeline (an adapter's image embeddings).
    """
    torch, _ = require()
    if steps < 1:
        raise ParameterError(f"steps={steps} is out of range; use 1 or more")
    gen.prepare(width, height)
    kw = dict(extra or {})
    if guidance is not None:
        kw["guidance_scale"] = guidance
    if negative and "negative_prompt" in _call_params(gen.pipe):
        kw["negative_prompt"] = negative
    if progress is not None and "callback_on_step_end" in _call_params(gen.pipe):
        def step_end(pipe, i, t, tensors):
            progress(i + 1, steps, "steps")
            return tensors
        kw["callback_on_step_end"] = step_end
    generator = torch.Generator(device="cpu").manual_seed(int(seed))
    try:
        with torch.inference_mode(), _quiet_stderr(), quiet_libraries():
            out = gen.pipe(prompt=prompt, width=width, height=height, num_inference_steps=steps, generator=generator,
                           output_type="np", **kw)
    except torch.cuda.OutOfMemoryError:
        smaller = max(SIZE_RANGE[0], min(width, height, 1024) * 3 // 4 // gen.size_step * gen.size_step)
        raise ParameterError(f"size={width}x{height} ran out of memory on {gen.device}; try --size {smaller} or "
                             "--device cpu") from None
    except (RuntimeError, ValueError, TypeError) as e:
        raise ParameterError(f"{gen.source.name} failed to generate at {width}x{height} on {gen.device} "
                             f"({first_line(e)}); try another --size or --steps, or --device cpu") from None
    pixels = np.asarray(out.images[0], np.float32)
    from ..core.image import srgb_to_linear

    return srgb_to_linear(np.clip(np.nan_to_num(pixels), 0.0, 1.0))


def _call_params(pipe) -> set[str]:
    import inspect

    return set(inspect.signature(pipe.__call__).parameters)
