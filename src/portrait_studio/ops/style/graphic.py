"""Graphic styles: comic (flat cel colours, bold ink outlines, halftone shadows) and pop-art (a screen print:
a few flat tones in a bold palette, Ben-Day dots, outlines, a flat backdrop).

Each takes the :class:`~.field.Guide` and returns the picture, sRGB-encoded (h, w, 3) float32 in [0, 1], at
the working size. Sizes are in units of the face height.
"""
from __future__ import annotations

import cv2
import numpy as np

from ...core.masked import gaussian

from .draw import INK, line_source, steps, stretch
from .field import DETAIL_FACE, DETAIL_PERSON, Guide, dog_lines
from .paint import abstract, saturate

#: Halftone screen angle, degrees, and dot pitch, units.
SCREEN_ANGLE = 22.5
DOT_PITCH = 0.018
#: Pop-art palette, sRGB-encoded: shadow, mid, light tones of the person, and the backdrop.
POP = np.float32([[0.18, 0.10, 0.45], [0.93, 0.25, 0.52], [1.0, 0.72, 0.55], [1.0, 0.93, 0.35]])
POP_BACKDROP = np.float32([0.15, 0.75, 0.85])
#: Comic: the brightness of the four cel tones (a share of the colour's own).
CEL_TONES = np.float32([0.22, 0.5, 0.8, 0.97])


def halftone(g: Guide, darkness: np.ndarray, pitch: float, *, angle: float = SCREEN_ANGLE) -> np.ndarray:
    """Ink coverage (h, w) in [0, 1] of a dot screen printing `darkness` (0..1): round dots on one regular grid
    turned by `angle` degrees, `pitch` units apart, antialiased (one pitch for the whole picture, as a printed
    screen has: a pitch varying across it would bend the rows into moiré)."""
    hh, ww = g.shape
    p = np.float32(max(3.0, pitch * g.unit))
    ys, xs = np.mgrid[0:hh, 0:ww].astype(np.float32)
    a = np.deg2rad(angle)
    u = (xs * np.cos(a) + ys * np.sin(a)) / p
    v = (-xs * np.sin(a) + ys * np.cos(a)) / p
    du, dv = u - np.round(u), v - np.round(v)
    dist = np.hypot(du, dv) * p
    radius = np.sqrt(np.clip(darkness, 0, 1) / np.pi) * p * 1.05      # dot area = darkness × cell area
    return np.clip(radius - dist + 0.5, 0, 1).astype(np.float32)


def _face(g: Guide) -> np.ndarray:
    """0 off the face, 1 on it (from the detail map)."""
    return np.clip((g.detail - DETAIL_PERSON) / (DETAIL_FACE - DETAIL_PERSON), 0, 1)


def comic(g: Guide, *, texture_amount: float) -> np.ndarray:
    """Comic: colours flattened and stepped into cels (three tones of each colour), bold ink outlines along the
    flow, halftone dots in the mid shadows."""
    flat = abstract(g, g.srgb, 0.06, 0.015, colour=0.2)
    flat = saturate(flat, 1.35)
    luma = flat @ np.float32([0.2126, 0.7152, 0.0722])
    chroma = flat / np.maximum(luma, 1e-3)[..., None]
    x = stretch(g, luma)
    face = _face(g)
    width = 0.04 + 0.1 * face                                      # cel edges: crisp, softer on the face
    level = sum(steps(x - edge, width) for edge in (0.25, 0.5, 0.78))
    level = gaussian(level, max(0.5, 0.0015 * g.unit))
    cel = np.interp(level, np.arange(4), CEL_TONES).astype(np.float32)
    out = np.clip(chroma * cel[..., None], 0, 1)
    dots = halftone(g, np.clip((0.85 - x) * 0.7, 0, 0.4) * (1 - 0.4 * face), DOT_PITCH)
    lines = dog_lines(line_source(g), g.tangent, g.size(0.012, 0.006, 0.0035), sharpness=60, tau=0.985)
    mark = np.maximum(0.45 * dots, lines)[..., None]
    out = out * (1 - mark) + INK * mark
    return np.clip(out, 0, 1).astype(np.float32)


def pop_art(g: Guide, *, texture_amount: float) -> np.ndarray:
    """Pop-art: the person screen-printed in four flat tones of a bold palette with Ben-Day dots in the mid
    tone, bold outlines, on a flat backdrop."""
    flat = abstract(g, g.grey, 0.05, 0.012, colour=0.2)
    x = stretch(g, flat, low=5)                                  # tones from the person's own range
    face = _face(g)
    level = sum(steps(x - edge, 0.04 + 0.08 * face) for edge in (0.25, 0.5, 0.78))
    level = gaussian(level, max(0.5, 0.0015 * g.unit))
    idx = np.arange(4, dtype=np.float32)
    out = np.dstack([np.interp(level, idx, POP[:, c]) for c in range(3)]).astype(np.float32)
    # Ben-Day dots on the light tones (fewer on the face) and over the whole backdrop
    dots = halftone(g, np.clip(level - 1.0, 0, 1) * 0.3 * (1 - 0.8 * face), DOT_PITCH)[..., None]
    out = out * (1 - 0.8 * dots) + POP[1] * 0.8 * dots
    person = gaussian(g.person, max(0.7, 0.003 * g.unit))[..., None]
    back = halftone(g, np.full(g.shape, 0.3, np.float32), DOT_PITCH * 1.5, angle=45.0)[..., None]
    backdrop = POP_BACKDROP * (1 - back) + POP[3] * back
    out = out * person + backdrop * (1 - person)
    lines = dog_lines(line_source(g), g.tangent, g.size(0.012, 0.006, 0.0035), sharpness=60, tau=0.985)
    lines = (lines * np.clip(1.5 * person[..., 0], 0, 1))[..., None]     # the backdrop stays flat
    out = out * (1 - lines) + INK * lines
    return np.clip(out, 0, 1).astype(np.float32)
