"""expression: edit a smile, the brows, the eyes and the gaze, warping the subject's own pixels.

The controls are directions in an expression space over the face mesh (:mod:`.space`: the smile learned from
real pairs, the rest anatomical rules); the mesh's move drives one dense, fold-free warp of the photo confined
to the face (:mod:`.warp`); what a warp cannot supply, the eye's inside when the lids or the iris move, is
composed from the eye's own iris and white (:mod:`.eyes`). Where an edit would need pixels that cannot be
made plausibly (teeth, an iris leaving the eye, a fold), it stops short and says so in the ``info`` extra.
"""
from __future__ import annotations

from typing import Annotated

import cv2
import numpy as np
from pydantic import Field

from ...core import from_srgb8
from ...schema import operation
from .eyes import compose_eyes, gaze_shift
from .space import LOWER_INNER, displacement
from .warp import build_field, apply_field

_CONTROL = "-1 to 1, 0 = unchanged"
MOUTH_OPEN = 0.04          # the lips count as apart above this gap, interocular distances


@operation("expression", geometry_kept=False, face=True, identity_changing=True, extras={
    "mesh": ("image", "the face mesh before (cyan) and after (magenta) over the result"),
    "info": ("json", "what was applied and where the edit stopped short"),
})
def expression(portrait, *,
               smile: Annotated[float, Field(ge=-1, le=1, description=(
                   f"Smile: 1 = a full natural smile with the lips closed, -1 = the mouth's corners down ({_CONTROL})."
               ))] = 0.0,
               smirk_left: Annotated[float, Field(ge=-1, le=1, description=(
                   f"One-sided smile on the subject's left (the image's right) ({_CONTROL}))."))] = 0.0,
               smirk_right: Annotated[float, Field(ge=-1, le=1, description=(
                   f"One-sided smile on the subject's right (the image's left) ({_CONTROL})."))] = 0.0,
               brows: Annotated[float, Field(ge=-1, le=1, description=(
                   f"Brows: 1 = raised (about 6 mm), -1 = lowered and drawn together in a frown ({_CONTROL})."
               ))] = 0.0,
               eyes: Annotated[float, Field(ge=-1, le=1, description=(
                   f"Eye openness: 1 = the upper lids lifted by a third of the opening, -1 = closed ({_CONTROL})."
               ))] = 0.0,
               gaze_x: Annotated[float, Field(ge=-1, le=1, description=(
                   f"Gaze across: the irises move toward the image's right (+) or left (-), 1 = as far as the "
                   f"eye's corners allow ({_CONTROL})."))] = 0.0,
               gaze_y: Annotated[float, Field(ge=-1, le=1, description=(
                   f"Gaze up (+) or down (-), 1 = as far as the lids allow ({_CONTROL})."))] = 0.0,
               ):
    """Change the expression (smile, smirk, brows, eyes, gaze) by warping the subject's own pixels.

    The mesh moves along the chosen directions; the photo follows by one smooth, fold-free resampling confined
    to the face (hair and background stay), so the skin keeps its texture and the person stays themselves.
    The irises move inside the eyes, the white they uncover taken from the eye's own white. Lips stay closed
    (teeth are never invented); an edit that would fold the skin or push the iris out of the eye stops short,
    said in the ``info`` extra. The ``mesh`` extra draws the mesh before and after.

    Examples
    --------
    portrait expression in.jpg -o out.jpg --smile 0.6 --brows 0.3 --eyes 0.2 --gaze-x -0.3
    portrait expression in.jpg -o out.jpg --smile 1 --face 1 --save-mesh mesh.png
    """
    face = portrait.face()
    pts = face.landmarks
    info: dict = {"face_box": [round(float(v), 1) for v in face.box], "stopped_short": []}
    move = displacement(pts, smile=smile, smirk_left=smirk_left, smirk_right=smirk_right, brows=brows, eyes=eyes)
    gap = float(np.median(np.linalg.norm(pts[LOWER_INNER[2:7], :2] - pts[[81, 82, 13, 312, 311], :2], axis=1)))
    info["mouth_open"] = bool(gap > MOUTH_OPEN * face.interocular)
    if info["mouth_open"] and (smile or smirk_left or smirk_right):
        info["stopped_short"].append("the mouth was open: its opening moves with the lips, no teeth are added")
    image, alpha = portrait.image, portrait.alpha
    after = pts[:468, :2] + move
    if np.abs(move).max() > 0.02:
        field = build_field(pts[:468, :2].astype(np.float64), move.astype(np.float64), portrait.shape, face.size)
        if field.scaled < 1:
            info["stopped_short"].append(f"the warp would fold the skin: {field.scaled:.0%} of the move applied")
            after = pts[:468, :2] + move * field.scaled
        image = apply_field(image, field)
        alpha = None if alpha is None else apply_field(alpha, field)       # a transparent photo's opacity moves too
        info["warp_scaled"] = field.scaled
    if eyes or gaze_x or gaze_y:
        shift, notes = gaze_shift(pts, gaze_x=gaze_x, gaze_y=gaze_y)
        info["stopped_short"] += notes
        image, notes = compose_eyes(portrait.image, image, pts, after, shift, face_size=face.size)
        info["stopped_short"] += notes
    info["controls"] = {"smile": smile, "smirk_left": smirk_left, "smirk_right": smirk_right, "brows": brows,
                        "eyes": eyes, "gaze_x": gaze_x, "gaze_y": gaze_y}
    # the face moved: the analysis is not carried over (geometry not kept), the opacity is, warped alike
    out = portrait.replace(image, geometry_kept=False, alpha=alpha)
    return out, {"mesh": _mesh_overlay(image, pts[:468, :2], after, face), "info": info}


def _mesh_overlay(image: np.ndarray, before: np.ndarray, after: np.ndarray, face) -> np.ndarray:
    """The result with the mesh before (cyan) and after (magenta) drawn over the face's neighbourhood."""
    from ...analysis.regions import mesh_triangles

    out = image.copy()
    h, w = image.shape[:2]
    x, y, bw, bh = face.box
    x0, y0 = max(0, int(x - 0.2 * bw)), max(0, int(y - 0.2 * bh))
    x1, y1 = min(w, int(x + 1.2 * bw) + 1), min(h, int(y + 1.2 * bh) + 1)
    crop = np.ascontiguousarray(out[y0:y1, x0:x1])
    thick = max(1, round(face.size / 500))
    tris = mesh_triangles()
    for pts, colour in ((before, (0, 230, 255)), (after, (255, 0, 220))):
        p = np.round((pts - (x0, y0)) * 4).astype(np.int32)
        lin = tuple(float(v) for v in from_srgb8(np.uint8(colour)[None, None])[0, 0])   # drawn in linear light
        cv2.polylines(crop, list(p[tris]), True, lin, thick, cv2.LINE_AA, 2)
    out[y0:y1, x0:x1] = crop
    return out
