"""Headshots from selfies: one per style through an identity adapter the user has, each checked, failed ones made again.

The adapter is IP-Adapter class, loaded into the pipeline by diffusers' ``load_ip_adapter`` from local files
(:func:`load_adapter`); the selfies, cropped around their faces, are its image prompt. Every headshot is checked
(:func:`portrait_studio.generate.qc.check`: a face, eyes open and sharp, no clipped skin, the face-embedding
distance to the selfies) after the optional post-steps (a recipe of the studio's own operations); one that
fails is made again with the next seed, up to `tries` times, and the best is kept either way, its report saying
whether it passed.
"""
from __future__ import annotations

import os
import pathlib
from dataclasses import dataclass, field

import numpy as np

from ..core import to_srgb8
from ..errors import InputError, ParameterError, first_line
from . import Choices, generate
from .backend import Generator, adapter_weights, require
from .prompt import STYLES
from .qc import SAME_PERSON, Report, check, face_descriptor


def parse_styles(text: str) -> list[str]:
    """Comma-separated style names, each in :data:`~.prompt.STYLES`, without repeats.

    Raises
    ------
    ParameterError
        For an empty list or an unknown name.
    """
    styles = list(dict.fromkeys(s.strip() for s in str(text).split(",") if s.strip()))
    unknown = [s for s in styles if s not in STYLES]
    if not styles or unknown:
        raise ParameterError(f"styles={text!r}: {'unknown ' + ', '.join(unknown) if unknown else 'none given'}; "
                             f"use some of {', '.join(STYLES)}, comma-separated")
    return styles


def load_adapter(gen: Generator, adapter: str | os.PathLike, *, scale: float = 0.7) -> str:
    """Load the IP-Adapter at `adapter` (its weights file, with ``image_encoder/`` beside it, or a folder holding
    both) into `gen`'s pipeline, from local files only, at strength `scale`. Returns the adapter's name.

    Raises
    ------
    InputError
        For a missing file, a folder without adapter weights, or weights the pipeline cannot take.
    """
    path = pathlib.Path(adapter).expanduser()
    if path.is_dir():
        found = adapter_weights(path)
        if not found:
            raise InputError(path, "holds no IP-Adapter weights (ip-adapter*.safetensors or .bin)",
                             "give the adapter's weights file or the folder it lies in")
        path = found[0]
    if not path.is_file():
        raise InputError(path, "no such adapter file", "give an IP-Adapter weights file (ip-adapter*.safetensors)")
    if not (path.parent / "image_encoder").is_dir():
        raise InputError(path, "has no image_encoder/ folder beside it", "put the adapter's CLIP image encoder in "
                         f"{path.parent / 'image_encoder'} (as the published adapters lay it out)")
    if not hasattr(gen.pipe, "load_ip_adapter"):
        raise InputError(gen.source.path, f"{type(gen.pipe).__name__} takes no IP-Adapter",
                         "use a Stable Diffusion or SDXL pipeline")
    torch, _ = require()
    try:
        gen.pipe.load_ip_adapter(str(path.parent), subfolder="", weight_name=path.name,
                                 image_encoder_folder="image_encoder", local_files_only=True)
        gen.pipe.set_ip_adapter_scale(scale)
        if gen.offload == "none":
            gen.pipe.to(gen.device)
    except torch.cuda.OutOfMemoryError:
        raise ParameterError(f"device={gen.device!r}: no room left for the adapter {path.name} beside "
                             f"{gen.source.name}; use --device cpu") from None
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as e:
        raise InputError(path, f"could not be loaded as an IP-Adapter for {gen.source.name} ({first_line(e)})",
                         "give an adapter made for this model's family (SD 1.5 or SDXL); FaceID adapters, which "
                         "need insightface embeddings, are not supported") from None
    return path.name


def face_crop(portrait) -> np.ndarray:
    """The selfie around its face (a square twice the face's height, within the picture), 8-bit sRGB."""
    x, y, w, h = portrait.face().box
    side = 2.0 * max(w, h)
    cx, cy = x + w / 2, y + h / 2
    H, W = portrait.shape
    x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    x1, y1 = int(min(W, cx + side / 2)), int(min(H, cy + side / 2))
    return to_srgb8(portrait.image[y0:y1, x0:x1])


@dataclass
class Headshot:
    """One style's result: the picture kept, its seed and report, and every try's seed and report."""

    style: str
    portrait: object
    seed: int
    report: Report
    tries: list = field(default_factory=list)


def _better(a: Report, b: Report) -> bool:
    """Whether report `a` is better than `b`: passed first, then fewer problems, then the smaller distance."""
    key = lambda r: (not r.passed, len(r.problems), r.identity if r.identity is not None else 9.0)  # noqa: E731
    return key(a) < key(b)


def make_headshots(gen: Generator, selfies: list, styles: list[str], *, text: str, choices: Choices = Choices(),
                   seed: int, steps: int, size=None, guidance=None, tries: int = 3,
                   max_distance: float = SAME_PERSON, adapter_name: str = "", adapter_scale: float = 0.7,
                   then=None, progress=None, stage=None) -> list[Headshot]:
    """One checked headshot per style of the person in `selfies` (Portraits with a face each).

    Parameters
    ----------
    gen : Generator
        A pipeline with an IP-Adapter loaded (:func:`load_adapter`).
    text, choices
        The description and the prompt builder's choices; each style replaces ``choices.style``.
    seed : int
        The first try of every style uses `seed`, the next ``seed + 1``, and so on.
    tries : int
        Makes per style before the best one is kept though it failed.
    max_distance : float
        The identity distance that passes (dlib's descriptor; 0.6 is dlib's "same person").
    then : list of Step, optional
        A recipe (:func:`portrait_studio.pipeline.load_recipe`) applied to each headshot before it is checked.
    progress, stage : callable, optional
        ``progress(done, total, what)`` per denoising step; ``stage(text)`` as each try begins.
    """
    from PIL import Image

    images = [Image.fromarray(face_crop(p)) for p in selfies]
    references = [face_descriptor(p) for p in selfies]
    out = []
    for style in styles:
        best = None
        made = []
        for i in range(tries):
            s = (seed + i) % 2 ** 31
            if stage:
                stage(f"{style}: try {i + 1} of {tries} (seed {s})")
            shot = generate(gen, text, Choices(**{**choices.record(), "style": style}), seed=s, steps=steps,
                            size=size, guidance=guidance, progress=progress,
                            extra={"ip_adapter_image": [images]},
                            record={"adapter": adapter_name, "adapter_scale": adapter_scale, "selfies": len(images)})
            if then:
                from ..pipeline import apply_recipe

                shot = apply_recipe(shot, then)
            report = check(shot, references, max_distance=max_distance)
            made.append({"seed": s, **report.as_dict()})
            if best is None or _better(report, best.report):
                best = Headshot(style, shot, s, report)
            if report.passed:
                break
        best.tries = made
        out.append(best)
    return out
