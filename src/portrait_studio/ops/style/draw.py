"""Drawn styles: pencil (graphite hatching along the forms, over contour lines, on paper) and ink (pen lines and
hatching over a wash).

Each takes the :class:`~.field.Guide` and returns the drawing, sRGB-encoded (h, w, 3) float32 in [0, 1], at
the working size. Sizes are in units of the face height (background, face, features).
"""
from __future__ import annotations

import cv2
import numpy as np

from ...core.masked import gaussian

from . import texture
from .field import DETAIL_FACE, DETAIL_PERSON, Guide, dog_lines, noise, smear

#: Graphite's colour on paper at full pressure, sRGB-encoded (a cool dark grey).
GRAPHITE = np.float32([0.16, 0.165, 0.18])
#: Ink's colour, sRGB-encoded.
INK = np.float32([0.06, 0.06, 0.08])


def hatching(g: Guide, cover: np.ndarray, width, length, *, seed: int, turn: float = 0.0) -> np.ndarray:
    """Pencil strokes along the flow (turned by `turn` radians), after Mao, Nagasaka and Imamiya's LIC pencil
    drawing: seed points scattered as densely as `cover` (0..1, the share of paper to darken) asks, each drawn
    out into a stroke by line-integral convolution along the flow. Returns the graphite's darkness in [0, 1].

    Strokes are straight (a hand hatches in straight strokes), laid along the flow at each pixel. The smear
    needs a step no longer than a seed (else strokes break into dashes), so it runs on a copy at half the size,
    where as many steps cost a quarter."""
    h, w = g.shape
    k = 2 if min(h, w) >= 200 else 1
    t = g.tangent[::k, ::k]
    if turn:
        c, s = np.cos(turn), np.sin(turn)
        t = np.dstack([c * t[..., 0] - s * t[..., 1], s * t[..., 0] + c * t[..., 1]]).astype(np.float32)
    wid, ln = g.size(*width)[::k, ::k] / k, g.size(*length)[::k, ::k] / k
    steps = int(np.clip(np.ceil(float(np.median(ln / np.maximum(wid, 0.7)))), 3, 10))
    rng = np.random.default_rng(seed)
    # one seed per stroke: a seed covers about width × 2 length of paper
    per_px = np.clip(cover[::k, ::k], 0, 1) / np.maximum(2 * ln * wid, 1.0) * 1.5
    seeds = (rng.random(t.shape[:2], np.float32) < per_px * np.maximum(wid, 1.0) ** 2).astype(np.float32)
    seeds = gaussian(seeds, float(np.median(wid)) * 0.5)
    drawn = smear(seeds, t, ln, steps=steps, falloff=0.6, follow=False) * (2 * steps + 1) * 0.5
    if k > 1:
        drawn = cv2.resize(drawn, (w, h), interpolation=cv2.INTER_LINEAR)
    return (1 - np.exp(-1.5 * drawn)).astype(np.float32)


def steps(x: np.ndarray, width) -> np.ndarray:
    """A soft step: 0 where `x` < −width/2, 1 where `x` > width/2, linear between (antialiased thresholds)."""
    return np.clip(x / width + 0.5, 0, 1).astype(np.float32)


def stretch(g: Guide, t: np.ndarray, *, low: float = 2.0) -> np.ndarray:
    """`t` (a luma in [0, 1]) stretched so that the person's darkest (the `low` percentile) is 0 and the face's
    lit skin (its 90th percentile; the person's 99th without a face) is 1, clipped: a dark, light or backlit
    photo, a dark or a fair skin, draws alike."""
    sel = g.person > 0.5
    lo = np.percentile(t[sel] if sel.sum() > 100 else t, low)
    face = g.detail >= 0.9 * DETAIL_FACE
    hi = np.percentile(t[face], 90) if face.sum() > 100 else np.percentile(t[sel] if sel.sum() > 100 else t, 99)
    return np.clip((t - lo) / max(hi - lo, 0.05), 0, 1).astype(np.float32)


def tone(g: Guide, *, gamma: float, smooth: float) -> np.ndarray:
    """The photo's luma, flattened edge-preservingly over `smooth` units, :func:`stretch`-ed and lifted by
    `gamma` (< 1 lighter)."""
    t = cv2.ximgproc.dtFilter(g.srgb, g.grey, smooth * g.unit, 0.15, mode=cv2.ximgproc.DTF_RF, numIters=3)
    return stretch(g, t) ** np.float32(gamma)


def line_source(g: Guide) -> np.ndarray:
    """The luma lines are drawn from: flattened edge-preservingly (domain transform, 0.006 units) so that skin
    texture and noise draw no lines, only forms and features."""
    return cv2.ximgproc.dtFilter(g.srgb, g.grey, 0.006 * g.unit, 0.12, mode=cv2.ximgproc.DTF_RF, numIters=3)


def pencil(g: Guide, *, texture_amount: float) -> np.ndarray:
    """Graphite pencil: hatching along the forms whose density follows the tone, crossed in the shadows, over
    flow-aligned contour lines, on paper. Finer and closer on the face and its features."""
    t = tone(g, gamma=0.85, smooth=0.01)
    width, length = (0.006, 0.004, 0.003), (0.1, 0.045, 0.018)
    dark = 1 - t
    # the face's weight, faded out over a tenth of the face beyond the oval, so its blended graphite meets the
    # hatching around it without a light ring
    face = gaussian(np.clip((g.detail - DETAIL_PERSON) / (DETAIL_FACE - DETAIL_PERSON), 0, 1), 0.05 * g.unit)
    cover = np.clip((dark - 0.1) / 0.9, 0, 1) ** 1.2               # share of the paper the strokes cover
    mark = hatching(g, cover, width, length, seed=g.seed) * (0.75 - 0.4 * face)
    cross = np.clip((dark - 0.5) / 0.5, 0, 1)                      # crossed in the shadows
    mark = np.maximum(mark, hatching(g, cross, width, length, seed=g.seed + 1, turn=np.pi / 3) * 0.6)
    # smudged tone under the strokes: the face is modelled mostly by blended graphite, as portraitists do
    mark = np.maximum(mark, (0.35 + 0.4 * face) * dark ** (1.3 - 0.3 * face))
    lines = dog_lines(line_source(g), g.tangent, g.size(0.008, 0.004, 0.0025), sharpness=30)
    mark = np.maximum(mark, 0.85 * lines)
    if texture_amount > 0:                                          # graphite catches on the paper's tooth
        tooth = texture.paper_height(g, seed=g.seed + 3)
        mark = mark * np.clip(1 + 0.22 * texture_amount * (1 - 0.7 * face) * tooth, 0, 2)   # less on the face
    mark = np.clip(mark, 0, 1)[..., None]
    out = texture.PAPER_WHITE * (1 - mark) + GRAPHITE * mark
    if texture_amount > 0:
        out = texture.paper(out, g, amount=texture_amount)
    return np.clip(out, 0, 1).astype(np.float32)


def ink(g: Guide, *, texture_amount: float) -> np.ndarray:
    """Pen and ink: bold flow-aligned contour lines and pen hatching in the shadows over a pale grey wash in
    three tones, on paper."""
    t = tone(g, gamma=1.1, smooth=0.02)
    face = np.clip((g.detail - DETAIL_PERSON) / (DETAIL_FACE - DETAIL_PERSON), 0, 1)
    # three washes of the (stretched) tone; their edges are softer on the face, which they model
    wash = sum(a * steps(edge - t, 0.02 + 0.08 * face) for a, edge in ((0.12, 0.7), (0.12, 0.5), (0.16, 0.3)))
    # on the face the wash is graded, as a brush wash models a face, not stepped
    wash = wash + (0.45 * (1 - t) ** 1.2 - wash) * face
    # pen hatching: noise smeared along the flow, cut at the tone: wavy parallel lines in the shadows
    n = smear(noise(g.shape, g.size(0.006, 0.003, 0.002), seed=g.seed), g.tangent, g.size(0.06, 0.025, 0.01),
              steps=5)
    n = 0.5 + 0.5 * np.tanh(0.9 * n / max(float(n.std()), 1e-6))
    hatch = np.clip(((1 - t) - 0.45 - 0.7 * n) / 0.03 + 0.5, 0, 1) * (1 - 0.5 * face)
    lines = dog_lines(line_source(g), g.tangent, g.size(0.01, 0.005, 0.003), sharpness=60, tau=0.985)
    lines = lines * (1 - 0.35 * face)                              # a lighter pen on the face
    mark = np.clip(np.maximum.reduce([wash, hatch, lines]), 0, 1)[..., None]
    out = texture.PAPER_WHITE * (1 - mark) + INK * mark
    if texture_amount > 0:
        out = texture.paper(out, g, amount=texture_amount)
    return np.clip(out, 0, 1).astype(np.float32)
