"""An invisible watermark in the pixels, that survives JPEG compression and downscaling.

The mark lives on a canonical grid: the picture's luma (sRGB-encoded, 0-255) averaged down to
:data:`GRID` × :data:`GRID` cells whatever its size and aspect, so that a downscaled copy lands on the same
grid. The grid's cells are split (by a fixed, public pseudo-random permutation) into one group per payload
bit; each group's projection on a ±1 pattern (cells weighted by the texture in them, so that flat areas carry
less of the change) is quantised to an even or odd half-step of :data:`STEP`
(dither modulation, a form of quantisation index modulation), which cancels the picture's own content
instead of fighting it. The change is spread back to full resolution smoothly (bicubic), added equally
to R, G and B, and refined twice against the re-measured grid (rounding, clipping and resampling move it).

The payload is :data:`ID_BITS` bits of an identifier (from the input's hash and the recipe) followed by
:data:`CHECK_BITS` check bits (a hash of the identifier): a picture holds a mark only when the decoded check
bits agree with the decoded identifier *and* the decisions are confident, so an unmarked photo is taken
for marked about once in 2**24 × (chance of the confidence), never in practice.
"""
from __future__ import annotations

import hashlib

import cv2
import numpy as np

from ..core import srgb_to_linear

GRID = 64                    # canonical grid, cells a side (a 50% copy of a 512 px photo still has 4 px a cell)
ID_BITS, CHECK_BITS = 40, 24
BITS = ID_BITS + CHECK_BITS
STEP = 24.0                  # quantisation step of a bit's projection (grid luma units × sqrt(cells))
TEXTURE = 4.0                # luma standard deviation (0-255) inside a cell at which it carries an even share
MIN_SIDE = GRID              # pictures smaller than this on a side are not marked
CONFIDENCE = 0.8             # mean |cos| of the decisions a mark needs (unmarked portraits: 0.5-0.71; marked, downscaled 50% and JPEG q70: 0.96-0.99)
_LUMA = np.array([0.299, 0.587, 0.114])


def _patterns() -> tuple[np.ndarray, np.ndarray]:
    """(group, sign) per grid cell: which bit the cell carries (or -1) and its ±1 sign. Fixed and public."""
    rng = np.random.default_rng(0x5EA1)
    n = GRID * GRID
    per = n // BITS
    group = np.full(n, -1, np.int64)
    group[rng.permutation(n)[:per * BITS]] = np.repeat(np.arange(BITS), per)
    return group.reshape(GRID, GRID), rng.choice([-1.0, 1.0], n).reshape(GRID, GRID)


_GROUP, _SIGN = _patterns()
_PER = int((_GROUP == 0).sum())


def payload_for(source_sha256: str | None, history) -> str:
    """The identifier a mark carries for an input (its SHA-256, hex) and a recipe (the history's steps),
    as 10 hex digits: the same input and recipe give the same mark through every interface."""
    import json

    text = (source_sha256 or "") + json.dumps(list(history), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:ID_BITS // 4]


def _bits(payload: str) -> np.ndarray:
    ident = int(payload, 16)
    check = int.from_bytes(hashlib.sha256(b"portrait-studio mark " + payload.encode()).digest()[:3], "big")
    word = (ident << CHECK_BITS) | check
    return np.array([(word >> (BITS - 1 - i)) & 1 for i in range(BITS)], np.float64)


def _grid(luma: np.ndarray) -> np.ndarray:
    return cv2.resize(luma, (GRID, GRID), interpolation=cv2.INTER_AREA)


def _projections(grid: np.ndarray) -> np.ndarray:
    """Each bit's projection: sum of its cells' signed luma / sqrt(cells)."""
    v = (grid * _SIGN).ravel()
    g = _GROUP.ravel()
    keep = g >= 0
    return np.bincount(g[keep], v[keep], minlength=BITS) / np.sqrt(_PER)


def _luma(pixels: np.ndarray, top: float) -> np.ndarray:
    """Luma (Rec. 601 weights, as JPEG encodes it) of sRGB-encoded pixels, scaled to 0-255, float32."""
    rgb = pixels[..., :3]
    rgb = rgb if rgb.dtype == np.float32 else rgb.astype(np.float32)
    w = (_LUMA * (255.0 / top)).astype(np.float32)
    y = cv2.transform(np.ascontiguousarray(rgb), w[None, :])
    return y.reshape(rgb.shape[:2])


#: Luma (0-255) below which the mark's change fades with the light (see :func:`_light_share`).
_DARK = 32.0
_FLOOR = 2e-3                # linear light under which a change is lost in noise and flare (about sRGB level 7)


def _light_share() -> np.ndarray:
    """Per luma level (0-255, 256 entries, float32): how much of the mark's change a pixel takes, so that the
    change moves the light by the same fraction whatever the level below :data:`_DARK` (in full from there).

    Near black a level is a large share of the light: an even change there would be a step in the light at
    every edge between shadow and mid-tone (lashes, nostrils, a dark collar). The share is the light a level
    stands for, plus :data:`_FLOOR`, over the light one level adds (sRGB), relative to its value at _DARK:
    0.30 at black, 0.53 at level 5, 0.76 at 10.
    """
    level = np.arange(256, dtype=np.float64)
    step = srgb_to_linear((level + 0.5) / 255) - srgb_to_linear((level - 0.5) / 255)   # the light a level adds
    share = (srgb_to_linear(level / 255) + _FLOOR) / step
    return np.minimum(share / share[int(_DARK)], 1.0).astype(np.float32)


_SHARE = _light_share()


def embed(pixels: np.ndarray, payload: str, *, rounds: int = 3) -> np.ndarray:
    """`pixels` (sRGB-encoded uint8 or uint16, H×W×3 or ×4 with alpha untouched) with the mark of `payload`
    (:data:`ID_BITS`/4 hex digits). Pictures under :data:`MIN_SIDE` on a side come back unchanged.

    Each round moves every bit's projection to the nearest point of its lattice, on the grid of the picture
    plus the change so far (resampled as it will be written); a last round measures the written pixels
    (rounded and clipped) and corrects what they took away.
    """
    h, w = pixels.shape[:2]
    if min(h, w) < MIN_SIDE:
        return pixels
    top = float(np.iinfo(pixels.dtype).max)
    want = _bits(payload) * (STEP / 2)
    luma = _luma(pixels, top)
    base = _grid(luma)
    # masking: a cell carries its share in proportion to the texture in it (luma's standard deviation inside the
    # cell, at full resolution), so that flat areas (a backdrop, clear skin) carry a third as much as detail, and
    # busy cells (a mouth, an eye) at most 1.2 times an even share: a mark piled on them moves their colours
    texture = np.sqrt(np.maximum(_grid(luma * luma) - base * base, 0.0))
    weight = np.where(_GROUP >= 0, np.clip(texture / TEXTURE, 0.33, 1.2), 0.0)
    share = weight / np.bincount(_GROUP[_GROUP >= 0], weight[_GROUP >= 0], minlength=BITS)[np.maximum(_GROUP, 0)]
    cells = np.zeros((GRID, GRID), np.float32)

    def step(grid):
        p = _projections(grid)
        move = np.round((p - want) / STEP) * STEP + want - p     # to the nearest point of the bit's lattice
        # each cell's change: the bit's move spread over its cells by their share (the projection moves by `move`)
        return (move[np.maximum(_GROUP, 0)] * np.sqrt(_PER) * share * _SIGN).astype(np.float32)

    def spread(cells):                                          # the change at full size, in pixel units
        return cv2.resize(cells * np.float32(top / 255.0), (w, h), interpolation=cv2.INTER_CUBIC)

    dark = cv2.LUT(np.clip(luma + 0.5, 0, 255).astype(np.uint8), _SHARE)      # faded near black (_light_share)

    def apply(delta):
        out = pixels.copy()
        depth = cv2.CV_8U if pixels.dtype == np.uint8 else cv2.CV_16U
        rgb = np.ascontiguousarray(pixels[..., :3])
        out[..., :3] = cv2.add(rgb, cv2.merge([delta * dark] * 3), dtype=depth)   # rounded and saturated
        return out

    for _ in range(rounds):
        delta = spread(cells)
        cells += step(base + _grid(delta) * np.float32(255.0 / top))
    out = apply(spread(cells))
    cells += step(_grid(_luma(out, top)))                       # what rounding and clipping took away
    return apply(spread(cells))


def detect(pixels: np.ndarray) -> dict:
    """Look for a mark in sRGB-encoded pixels (any size; uint8/uint16 or float in [0, 1]):
    ``{"found": bool, "payload": hex or None, "confidence": mean |cos| of the decisions}``."""
    pixels = np.asarray(pixels)
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    top = float(np.iinfo(pixels.dtype).max) if pixels.dtype.kind in "ui" else 1.0
    if min(pixels.shape[:2]) < GRID // 2:
        return {"found": False, "payload": None, "confidence": 0.0}
    p = _projections(_grid(_luma(pixels, top)))
    phase = 2 * np.pi * (p / STEP)                        # bit 0 at whole steps (cos +1), bit 1 at half (cos -1)
    c = np.cos(phase)
    bits = (c < 0).astype(int)
    word = int("".join(map(str, bits)), 2)
    payload = f"{word >> CHECK_BITS:0{ID_BITS // 4}x}"
    confidence = float(np.abs(c).mean())
    found = bool(np.array_equal(_bits(payload), bits) and confidence >= CONFIDENCE)
    return {"found": found, "payload": payload if found else None, "confidence": round(confidence, 3)}
