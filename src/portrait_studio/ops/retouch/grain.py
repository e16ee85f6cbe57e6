"""Skin grain re-synthesis: measure the subject's skin texture and add matching texture where it is missing.

The texture is the fine band of log luminance (above a blur of 0.5% of the face height). Its spectrum is
measured on the best-resolved skin patches (those with the most fine-band energy) as a radial power
profile; its amplitude as a function of brightness by a line fitted to local RMS against local log
luminance over the skin. Grain is white noise shaped by that spectrum (a 256-px periodic tile, seeded),
scaled at each pixel to the texture the brightness there calls for but the photo lacks, and applied as a
gain in linear light (so it is multiplicative, like real skin texture).
"""
from __future__ import annotations

import numpy as np

from ...core import luminance
from ...core.masked import gaussian

_TILE = 256
_PATCH_POINTS = (50, 280, 151, 108, 337, 199, 117, 346)   # cheeks, forehead, chin, under the eyes


def texture_band(log_y: np.ndarray, face_size: float) -> np.ndarray:
    """The finest band of a log-luminance image: what a blur of 0.5% of the face height removes."""
    return log_y - gaussian(log_y, max(0.7, 0.005 * face_size))


def skin_spectrum(band: np.ndarray, skin: np.ndarray, points: np.ndarray, face_size: float) -> np.ndarray | None:
    """Radial power profile (by integer frequency bin of a ``_TILE`` grid) of the texture band, averaged over
    the three best-resolved skin patches around `points` (x, y in `band`'s pixels); None if none fits."""
    n = int(min(128, max(16, 2 ** round(np.log2(max(0.08 * face_size, 16))))))
    found = []
    for x, y in points:
        x, y = int(x) - n // 2, int(y) - n // 2
        if x < 0 or y < 0 or x + n > band.shape[1] or y + n > band.shape[0]:
            continue
        if skin[y:y + n, x:x + n].mean() < 0.75:
            continue
        p = band[y:y + n, x:x + n]
        found.append((float((p ** 2).mean()), p))
    if not found:
        return None
    win = np.outer(np.hanning(n), np.hanning(n)).astype(np.float32)
    power = np.mean([np.abs(np.fft.fft2((p - p.mean()) * win)) ** 2 for _, p in
                     sorted(found, key=lambda t: -t[0])[:3]], axis=0)
    f = np.hypot(*np.meshgrid(np.fft.fftfreq(n), np.fft.fftfreq(n)))
    bins = np.round(f * _TILE).astype(int)
    radial = np.bincount(bins.ravel(), power.ravel()) / np.maximum(np.bincount(bins.ravel()), 1)
    # fill bins the patch did not sample (a coarser patch grid) by interpolation
    have = np.bincount(bins.ravel()) > 0
    idx = np.arange(len(radial))
    return np.interp(np.arange(_TILE), idx[have], radial[have])


def grain_tile(profile: np.ndarray, seed: int) -> np.ndarray:
    """A periodic ``_TILE``² tile of unit-RMS noise with the radial power `profile`, deterministic in `seed`."""
    rng = np.random.default_rng(seed)
    white = rng.standard_normal((_TILE, _TILE))
    f = np.hypot(*np.meshgrid(np.fft.fftfreq(_TILE), np.fft.fftfreq(_TILE)))
    amp = np.sqrt(np.interp(f * _TILE, np.arange(len(profile)), profile))
    amp[0, 0] = 0.0
    t = np.real(np.fft.ifft2(np.fft.fft2(white) * amp))
    return (t / max(t.std(), 1e-12)).astype(np.float32)


def add_grain(rgb: np.ndarray, skin: np.ndarray, face_size: float, *, amount: float, seed: int,
              origin: tuple[int, int], landmarks: np.ndarray) -> np.ndarray:
    """`rgb` (linear, full resolution) with skin grain added where its texture falls short of what the
    subject's own skin shows at that brightness.

    Parameters
    ----------
    rgb : ndarray, shape (H, W, 3)
        Linear RGB of the crop.
    skin : ndarray, shape (H, W)
        Skin map on the same grid.
    face_size : float
        Face height, pixels.
    amount : float
        0 adds nothing, 1 fills the whole shortfall.
    seed : int
        Seed of the noise.
    origin : (int, int)
        Position of the crop in the image (to place the mesh points).
    landmarks : ndarray, shape (N, 2)
        Mesh points in image pixels.
    """
    if amount <= 0:
        return rgb
    log_y = np.log(np.maximum(luminance(rgb), 1e-4))
    band = texture_band(log_y, face_size)
    profile = skin_spectrum(band, skin, landmarks[list(_PATCH_POINTS)] - origin, face_size)
    if profile is None:
        return rgb
    sigma = 0.02 * face_size
    weight = (skin > 0.8).astype(np.float32)
    local_rms = np.sqrt(np.maximum(gaussian(band ** 2 * weight, sigma) / np.maximum(gaussian(weight, sigma), 1e-4), 0))
    local_mean = gaussian(log_y, sigma)
    # expected texture at each brightness: a line through the better-textured half of the skin
    sel = weight > 0
    if sel.sum() < 100:
        return rgb
    lm, lr = local_mean[sel], local_rms[sel]
    upper = lr >= np.median(lr)
    slope, icpt = np.polyfit(lm[upper], lr[upper], 1) if upper.sum() > 10 else (0.0, float(lr.mean()))
    expected = np.maximum(icpt + slope * local_mean, 0.0)
    missing = np.sqrt(np.maximum(expected ** 2 - local_rms ** 2, 0.0)) * amount * skin
    tile = grain_tile(profile, seed)
    h, w = log_y.shape
    ty, tx = -(-h // _TILE), -(-w // _TILE)
    noise = np.tile(tile, (ty, tx))[:h, :w]
    return (rgb * np.exp(missing * noise)[..., None]).astype(np.float32)
