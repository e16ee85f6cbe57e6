"""The studio's main job, for the README's first command: analyse a portrait, then run the studio recipe.

The recipe (``pipeline/studio.yaml``) holds one pass of every single-photo technique that has landed; each
step's result is written, so the folder shows the work stage by stage, next to the analysis overlay.
"""
from __future__ import annotations

import json
import os
from importlib import resources

import numpy as np

from .io import DEFAULT_MAX_PIXELS, Metadata, write_image
from .overlay import draw_overlay
from .pipeline import parse_recipe
from .portrait import Portrait

#: The studio recipe the demo runs (YAML, shipped with the package).
STUDIO_RECIPE = resources.files("portrait_studio.pipeline") / "studio.yaml"


def astronaut(*, face_index: int | None = None) -> Portrait:
    """scikit-image's astronaut (Eileen Collins, a public-domain NASA portrait, 512×512 sRGB)."""
    from skimage import data

    from .core import from_srgb8

    return Portrait(from_srgb8(data.astronaut()), Metadata(format="PNG", bit_depth=8, profile="sRGB (untagged, assumed)"),
                    path="astronaut", face_index=face_index)


def run_demo(photo: str | None, folder: str, *, max_pixels: int = DEFAULT_MAX_PIXELS,
             face_index: int | None = None) -> list[str]:
    """Analyse `photo` (or the astronaut), run the studio recipe on it, and write everything into `folder`.

    Writes ``STEM-analysis.json``, ``STEM-overlay.png``, one ``STEM-N-OPERATION.jpg`` per recipe step,
    ``STEM-studio.jpg`` (the final result), ``STEM-before-after.jpg`` and ``studio.yaml`` (the recipe run).
    Returns the lines to show the user. Existing results in `folder` are replaced (it is the demo's own).
    """
    import yaml

    portrait = (Portrait.read(photo, max_pixels=max_pixels, face_index=face_index) if photo
                else astronaut(face_index=face_index))
    face = portrait.face()                                     # a portrait needs a face: say so early
    recipe_text = STUDIO_RECIPE.read_text(encoding="utf-8")
    steps = parse_recipe(yaml.safe_load(recipe_text), source="studio.yaml")
    os.makedirs(folder, exist_ok=True)
    stem = os.path.splitext(os.path.basename(portrait.path))[0]
    lines = [f"{portrait.path}: {len(portrait.faces)} face(s); face {portrait.face_index or 0} pose "
             f"yaw {face.pose.yaw:+.0f}°, pitch {face.pose.pitch:+.0f}°, roll {face.pose.roll:+.0f}°"]

    def put(name: str, image: np.ndarray) -> None:           # pictures about the work (overlay, before/after)
        path = write_image(os.path.join(folder, f"{stem}-{name}"), image, portrait.metadata, overwrite=True,
                           strip_private=True)
        lines.append(f"wrote {path}")

    def output(name: str, result) -> None:                    # results: with their provenance, as every output
        from .provenance import write_output

        notes: list[str] = []
        path = write_output(os.path.join(folder, f"{stem}-{name}"), result, overwrite=True, note=notes.append)
        lines.extend(f"note: {n}" for n in notes if f"note: {n}" not in lines)
        lines.append(f"wrote {path}")

    json_path = os.path.join(folder, f"{stem}-analysis.json")
    _write_text(json_path, json.dumps(portrait.describe()))
    lines.append(f"wrote {json_path}")
    put("overlay.png", draw_overlay(portrait))

    result = portrait
    for i, step in enumerate(steps, 1):
        result = step.op(result, **dict(step.params))
        output(f"{i}-{step.op.name}.jpg", result)
    output("studio.jpg", result)
    if result.shape == portrait.shape:
        put("before-after.jpg", np.concatenate([portrait.image, result.image], axis=1))
    _write_text(os.path.join(folder, "studio.yaml"), recipe_text)
    lines.append(f"results are in {os.path.abspath(folder)} (recipe: studio.yaml)")
    return lines


def _write_text(path: str, text: str) -> None:
    """Write a text file atomically (a temporary file, then a rename)."""
    tmp = path + ".part"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
