"""A style from a picture: the palette and the stroke texture of a painting or drawing, not its content.

:func:`measure` takes statistics from the reference: its colours (per-channel quantiles in CIE Lab and a
palette of its main colours, k-means), the size of its strokes (the scale where its fine structure has its
energy, as a fraction of its diagonal) and its surface texture (the amplitude spectrum of its fine band, which
random-phase synthesis turns into new texture of the same character, after Galerne, Gousseau and Morel).
:func:`apply_look` lays them on a drawn style: the colours mapped to the reference's distribution and pulled
toward its palette, the texture synthesised afresh (seeded), bent along the photo's flow and added to the
lightness. Nothing of the reference's layout reaches the result.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ...core.masked import gaussian

from ...core import linear_to_srgb
from .field import DETAIL_FACE, Guide, smear

#: Sizes the reference is measured at: its long side, pixels, and the side of the texture sample.
MEASURE_SIDE, SAMPLE = 768, 256
#: The built-in styles' stroke width, fraction of the frame diagonal, on a typical portrait (the scale 1).
STROKE_DIAGONAL = 0.009
#: How far colours are pulled toward the reference's nearest palette colour (0..1), and how much of its
#: lightness distribution is taken (the photo's own tones keep the face's modelling).
PALETTE_PULL, LIGHTNESS_TAKEN = 0.35, 0.5
#: The most surface texture a reference adds (spread of lightness, L units).
MAX_TEXTURE = 8.0
_QUANTILES = np.linspace(0, 1, 65)


@dataclass(frozen=True, eq=False)
class Look:
    """A reference's statistics (see the module).

    Attributes
    ----------
    quantiles : ndarray (65, 3) float32
        Lab quantiles (OpenCV's float Lab: L in [0, 100]).
    palette : ndarray (k, 3) float32
        Main colours, Lab.
    stroke : float
        Stroke size relative to the built-in styles' (clipped to 0.5..2).
    spectrum : ndarray (SAMPLE, SAMPLE) float32
        Amplitude spectrum of the fine band of its lightness, at the working copy's scale.
    contrast : float
        Spread of that band, L units.
    """

    quantiles: np.ndarray
    palette: np.ndarray
    stroke: float
    spectrum: np.ndarray
    contrast: float


def _lab(srgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(srgb, np.float32), cv2.COLOR_RGB2Lab)


def measure(image: np.ndarray) -> Look:
    """The :class:`Look` of a reference picture (linear light, any size)."""
    h, w = image.shape[:2]
    k = min(1.0, MEASURE_SIDE / max(h, w))
    small = cv2.resize(image, (max(8, round(w * k)), max(8, round(h * k))), interpolation=cv2.INTER_AREA) \
        if k < 1 else image
    lab = _lab(np.clip(linear_to_srgb(np.maximum(small, 0)), 0, 1))
    flat = lab.reshape(-1, 3)
    quantiles = np.quantile(flat, _QUANTILES, axis=0).astype(np.float32)
    rng = np.random.default_rng(0)
    sample = flat[rng.choice(len(flat), min(len(flat), 20000), replace=False)].astype(np.float32)
    n = min(8, len(sample))
    _, _, centres = cv2.kmeans(sample, n, None, (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5), 2,
                               cv2.KMEANS_PP_CENTERS)
    L = lab[..., 0]
    diag = float(np.hypot(*L.shape))
    # stroke scale: the band-pass (difference of Gaussians) whose energy per octave is largest
    sigmas = diag * np.geomspace(0.0015, 0.03, 9)
    energy = [float(np.mean((gaussian(L, s) - gaussian(L, 2 * s)) ** 2))
              for s in sigmas]
    # the spectrum falls with scale in every picture; weigh the energy by scale to find the stroke's knee
    best = float(sigmas[int(np.argmax(np.array(energy) / sigmas))]) / diag
    stroke = float(np.clip(best / STROKE_DIAGONAL * 2.0, 0.5, 2.0))
    # texture: the fine band of a central sample (tiled by reflection when the picture is small)
    fine = L - gaussian(L, max(1.0, 0.01 * diag))
    s = min(SAMPLE, *fine.shape)
    y0, x0 = (fine.shape[0] - s) // 2, (fine.shape[1] - s) // 2
    patch = fine[y0:y0 + s, x0:x0 + s]
    if s < SAMPLE:
        patch = cv2.resize(patch, (SAMPLE, SAMPLE), interpolation=cv2.INTER_LINEAR)
    patch = (patch - patch.mean()) * np.outer(np.hanning(SAMPLE), np.hanning(SAMPLE)).astype(np.float32)
    spectrum = np.abs(np.fft.fft2(patch)).astype(np.float32)
    return Look(quantiles, centres.astype(np.float32), stroke, spectrum, float(fine.std()))


def synthesise(look: Look, shape: tuple[int, int], *, seed: int) -> np.ndarray:
    """New texture with the reference's fine-band spectrum (random phase, seeded), tiled over `shape`, zero mean
    and unit spread."""
    rng = np.random.default_rng(seed)
    phase = np.angle(np.fft.fft2(rng.standard_normal(look.spectrum.shape)))   # a real field's symmetric phase
    tile = np.real(np.fft.ifft2(look.spectrum * np.exp(1j * phase))).astype(np.float32)
    tile /= max(float(tile.std()), 1e-6)
    reps = (-(-shape[0] // tile.shape[0]), -(-shape[1] // tile.shape[1]))
    return np.tile(tile, reps)[:shape[0], :shape[1]]                  # periodic: seamless tiles


def apply_look(srgb: np.ndarray, g: Guide, look: Look) -> np.ndarray:
    """`srgb` (a drawn style, sRGB-encoded) with the reference's colour distribution, palette and texture."""
    lab = _lab(np.clip(srgb, 0, 1))
    own = np.quantile(lab.reshape(-1, 3)[:: max(1, lab.size // 3 // 200000)], _QUANTILES, axis=0)
    mapped = np.dstack([np.interp(lab[..., c], own[:, c], look.quantiles[:, c]) for c in range(3)]).astype(np.float32)
    mapped[..., 0] = lab[..., 0] + LIGHTNESS_TAKEN * (mapped[..., 0] - lab[..., 0])
    # pull the colour (not the lightness) toward the nearest palette colour
    ab = mapped[..., 1:].reshape(-1, 2)
    d = ((ab[:, None, :] - look.palette[None, :, 1:]) ** 2).sum(-1)
    nearest = look.palette[np.argmin(d, axis=1), 1:].reshape(mapped.shape[:2] + (2,))
    mapped[..., 1:] += PALETTE_PULL * (nearest - mapped[..., 1:])
    tex = synthesise(look, g.shape, seed=g.seed + 21)
    # bent along the photo's flow into strokes (the reference's own orientation is its content's, not ours)
    tex = smear(tex, g.tangent, g.size(0.05, 0.02, 0.008), steps=4)
    tex /= max(float(tex.std()), 1e-6)
    quiet = 1 - 0.8 * np.clip(g.detail / DETAIL_FACE, 0, 1) ** 2        # little surface texture on the face
    mapped[..., 0] += np.float32(min(look.contrast, MAX_TEXTURE)) * tex * quiet
    mapped[..., 0] = np.clip(mapped[..., 0], 0, 100)
    return np.clip(cv2.cvtColor(mapped, cv2.COLOR_Lab2RGB), 0, 1).astype(np.float32)
