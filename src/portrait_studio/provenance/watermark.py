"""An invisible watermark in the pixels, that survives JPEG compression and downscaling.

The mark lives on a canonical grid: the picture's luma (sRGB-encoded, 0-255) averaged down to
:data:`GRID` × :data:`GRID` cells whatever its size and aspect, so that a downscaled copy lands on the same
grid. The grid's cells are split (by a fixed, public pseudo-random permutation) into one group per payload
bit; each group's projection on a ±1 pattern is quantised to an even or odd half-step of :data:`STEP`
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

GRID = 128                   # canonical grid, cells a side
ID_BITS, CHECK_BITS = 40, 24
BITS = ID_BITS + CHECK_BITS
STEP = 24.0                  # quantisation step of a bit's projection (grid luma units × sqrt(cells))
MIN_SIDE = GRID              # pictures smaller than this on a side are not marked
CONFIDENCE = 0.8             # mean |cos| of the decisions a mark needs (unmarked portraits: 0.56-0.70; marked and laundered: 0.89-0.98)
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
    return (pixels[..., :3].astype(np.float64) @ _LUMA) * (255.0 / top)


def embed(pixels: np.ndarray, payload: str, *, rounds: int = 3) -> np.ndarray:
    """`pixels` (sRGB-encoded uint8 or uint16, H×W×3 or ×4 with alpha untouched) with the mark of `payload`
    (:data:`ID_BITS`/4 hex digits). Pictures under :data:`MIN_SIDE` on a side come back unchanged."""
    h, w = pixels.shape[:2]
    if min(h, w) < MIN_SIDE:
        return pixels
    top = float(np.iinfo(pixels.dtype).max)
    want = _bits(payload) * (STEP / 2)
    base = pixels[..., :3].astype(np.float64)
    delta = np.zeros((h, w))
    out = pixels
    for _ in range(rounds):
        p = _projections(_grid(_luma(out, top)))
        # the nearest point of this bit's lattice (STEP Z + bit * STEP / 2)
        target = np.round((p - want) / STEP) * STEP + want
        move = np.zeros(BITS)
        move[:] = target - p
        cell = np.where(_GROUP >= 0, move[np.maximum(_GROUP, 0)] * _SIGN / np.sqrt(_PER), 0.0)
        delta += cv2.resize(cell.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
        marked = np.clip(np.round(base + (delta * (top / 255.0))[..., None]), 0, top)
        out = pixels.copy()
        out[..., :3] = marked.astype(pixels.dtype)
    return out


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
