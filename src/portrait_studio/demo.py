"""The studio's main job, for the README's first command: analyse a portrait and write what was found.

As techniques land, this grows into the full studio recipe.
"""
from __future__ import annotations

import json
import os

from .io import DEFAULT_MAX_PIXELS, Metadata, write_image
from .overlay import draw_overlay
from .portrait import Portrait


def astronaut(*, face_index: int | None = None) -> Portrait:
    """scikit-image's astronaut (Eileen Collins, a public-domain NASA portrait, 512×512 sRGB)."""
    from skimage import data

    from .core import from_srgb8

    return Portrait(from_srgb8(data.astronaut()), Metadata(format="PNG", bit_depth=8, profile="sRGB (untagged, assumed)"),
                    path="astronaut", face_index=face_index)


def run_demo(photo: str | None, folder: str, *, max_pixels: int = DEFAULT_MAX_PIXELS,
             face_index: int | None = None) -> list[str]:
    """Analyse `photo` (or the astronaut) and write ``analysis.json`` and ``overlay.png`` into `folder`.

    Returns the lines to show the user. Existing results in `folder` are replaced (it is the demo's own).
    """
    portrait = (Portrait.read(photo, max_pixels=max_pixels, face_index=face_index) if photo
                else astronaut(face_index=face_index))
    portrait.face()                                            # a portrait needs a face: say so early
    os.makedirs(folder, exist_ok=True)
    stem = os.path.splitext(os.path.basename(portrait.path))[0]
    json_path = os.path.join(folder, f"{stem}-analysis.json")
    tmp = json_path + ".part"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(portrait.describe(), f)
    os.replace(tmp, json_path)
    overlay = write_image(os.path.join(folder, f"{stem}-overlay.png"), draw_overlay(portrait), portrait.metadata,
                          overwrite=True, strip_private=True)
    face = portrait.face()
    return [f"{portrait.path}: {len(portrait.faces)} face(s); face {portrait.face_index or 0} pose "
            f"yaw {face.pose.yaw:+.0f}°, pitch {face.pose.pitch:+.0f}°, roll {face.pose.roll:+.0f}°",
            f"wrote {json_path}", f"wrote {overlay}",
            f"results are in {os.path.abspath(folder)}"]
