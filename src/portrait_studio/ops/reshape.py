"""reshape: small changes of the face's shape (cheeks, jaw, eyes, nose) by one fold-free warp of its own pixels.

Each control moves the face mesh by a smooth field (:func:`mesh_move`): slimming draws the cheeks toward the
face's midline, the jaw control the jaw's angles, the eye control magnifies each eye about its centre, the
nose control narrows the nose about its axis, each fading to nothing within its neighbourhood. The moved mesh
drives the shared warp (:mod:`portrait_studio.core.warp`), held still on a ring just outside the face oval,
so hair, straight lines and the background beside the face stay where they are. Every control is capped
(:data:`CAPS`) where faces stop looking like themselves.
"""
from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import Field

from ..analysis.regions import FACE_OVAL, LEFT_EYE, RIGHT_EYE
from ..core.warp import apply_field, build_field
from ..schema import operation

#: How far each control at ±1 goes: the cheek's and jaw's inward move as a share of their distance from the
#: midline, the eye's magnification, the nose's narrowing.
CAPS = {"slim": 0.07, "jaw": 0.09, "eye_size": 0.10, "nose": 0.12}
RING = 1.12                # still on and beyond the face oval pushed out from its centre by this factor
_CONTROL = "-1 to 1, 0 = unchanged"
NOSE_WINGS = (98, 327)     # the nostrils' outer edges
NOSE_TOP, NOSE_TIP = 168, 2


@operation("reshape", geometry_kept=False, face=True, identity_changing=True, extras={
    "info": ("json", "what was applied and whether the warp stopped short"),
})
def reshape(portrait, *,
            slim: Annotated[float, Field(ge=-1, le=1, description=(
                f"Cheeks drawn toward the midline: 1 = {CAPS['slim']:.0%} of their distance from it, "
                f"-1 = fuller ({_CONTROL})."))] = 0.0,
            jaw: Annotated[float, Field(ge=-1, le=1, description=(
                f"Jaw's angles drawn in: 1 = {CAPS['jaw']:.0%} of their distance from the midline, -1 = wider "
                f"({_CONTROL})."))] = 0.0,
            eye_size: Annotated[float, Field(ge=-1, le=1, description=(
                f"Eyes magnified about their centres: 1 = {CAPS['eye_size']:.0%} larger, -1 = smaller "
                f"({_CONTROL})."))] = 0.0,
            nose: Annotated[float, Field(ge=-1, le=1, description=(
                f"Nose narrowed about its axis: 1 = {CAPS['nose']:.0%} narrower, -1 = wider ({_CONTROL})."
            ))] = 0.0,
            ):
    """Reshape the face a little (slimmer cheeks, jaw, larger eyes, narrower nose) by warping its own pixels.

    One smooth, fold-free resampling confined to the face: the skin keeps its texture, and hair, straight
    lines and the background beside the face stay where they are. Each control is capped at a change a
    friend would not notice as a different face. Declared identity-changing (recorded in the credentials).

    Examples
    --------
    portrait reshape in.jpg -o out.jpg --slim 0.5 --eye-size 0.3
    portrait reshape in.jpg -o out.jpg --jaw 0.4 --nose 0.3
    """
    face = portrait.face()
    pts = face.landmarks[:468, :2].astype(np.float64)        # the mesh (the irises move inside it)
    move = mesh_move(pts, slim=slim, jaw=jaw, eye_size=eye_size, nose=nose)
    info: dict = {"controls": {"slim": slim, "jaw": jaw, "eye_size": eye_size, "nose": nose}, "warp_scaled": 1.0}
    image, alpha = portrait.image, portrait.alpha
    if np.abs(move).max() > 0.02:
        oval = pts[FACE_OVAL]
        centre = oval.mean(0)
        field = build_field(pts, move, portrait.shape, face.size, ring=centre + (oval - centre) * RING)
        info["warp_scaled"] = field.scaled
        image = apply_field(image, field)
        alpha = None if alpha is None else apply_field(alpha, field)
    return portrait.replace(image, geometry_kept=False, alpha=alpha), {"info": info}


def _bump(x: np.ndarray) -> np.ndarray:
    """1 at 0, falling smoothly to 0 at |x| = 1 (and beyond)."""
    return np.clip(1.0 - x * x, 0.0, None) ** 2


def mesh_move(pts: np.ndarray, *, slim: float = 0.0, jaw: float = 0.0, eye_size: float = 0.0,
              nose: float = 0.0) -> np.ndarray:
    """The move (N, 2) of the mesh points `pts` (478 or 468, 2), image pixels, for the controls (each -1..1).

    Slim and jaw move points across, toward the midline (the line from the brow's middle to the chin), by a
    share of their distance from it that grows toward the face's edge (so the middle of the face stays) and
    peaks at the cheeks (half-way from the eyes to the chin) and at the jaw's angles (four fifths of the way).
    The eyes scale about their centres and the nose narrows about its axis, each fading out over about twice
    its own size.
    """
    move = np.zeros_like(pts, dtype=np.float64)
    top, chin = pts[NOSE_TOP], pts[152]
    axis = (chin - top) / max(np.linalg.norm(chin - top), 1e-6)
    across = np.array([axis[1], -axis[0]])
    eyes_y = ((pts[[33, 133, 263, 362]] - top) @ axis).mean()
    length = max(float((chin - top) @ axis - eyes_y), 1e-6)
    rel = pts - top
    along, side = rel @ axis, rel @ across
    half = max(float(np.abs((pts[FACE_OVAL] - top) @ across).max()), 1e-6)      # the face's half-width
    if slim or jaw:
        t = (along - eyes_y) / length                        # 0 at the eyes, 1 at the chin
        share = CAPS["slim"] * slim * _bump((t - 0.5) / 0.55) + CAPS["jaw"] * jaw * _bump((t - 0.8) / 0.3)
        edge = np.clip(np.abs(side) / half, 0, 1) ** 2      # the middle of the face stays
        move -= (side * share * edge)[:, None] * across
    if eye_size:
        for outline in (RIGHT_EYE, LEFT_EYE):
            ring = pts[outline]
            c = ring.mean(0)
            r = 0.5 * np.ptp(ring[:, 0])
            d = np.linalg.norm(pts - c, axis=1) / (2.2 * max(r, 1e-6))
            move += (pts - c) * (CAPS["eye_size"] * eye_size * _bump(d))[:, None]
    if nose:
        wings = pts[list(NOSE_WINGS)]
        w = 0.5 * np.linalg.norm(wings[1] - wings[0])
        n_along = ((pts[NOSE_TIP] - top) @ axis)
        u = (along - 0.7 * n_along) / max(n_along, 1e-6)
        v = side / (2.5 * max(w, 1e-6))
        move -= (side * CAPS["nose"] * nose * _bump(np.hypot(u, v)))[:, None] * across
    return move
