"""The light falling on a face: second-order spherical harmonics per colour channel, and a key + fill reading.

Lambertian skin shaded by distant light shows, at each pixel, ``albedo × irradiance(normal)``. Given the face
normals (from the mesh) and the observed skin colour, two models of the irradiance are fitted:

- **spherical harmonics** (SH, 9 coefficients per channel): any distant lighting, to second order (Ramamoorthi
  & Hanrahan 2001: 9 terms hold about 98% of a Lambertian surface's irradiance). This is what
  ``--match-light`` transfers and what :func:`environment_sh` projects a scene image onto;
- **key + fill**: one directional key light, softened by its size, over a uniform ambient fill. Its direction
  is the dominant light direction, and ``(key + fill) / fill`` the photographer's key-to-fill ratio. A weak
  prior on the fill's share settles what a near-frontal light leaves open.

Both are fitted on the skin of the upper face (forehead, eyes, cheeks, nose): lower down, beard, stubble and lips
change the albedo and the jaw's normals are the mesh's least sure.

Directions are in the camera frame (x to the image's right, y up, z toward the camera): azimuth 0° is light
from the camera, positive azimuth light from the image's right, positive elevation light from above.

The light's colour is read from the whites of the eyes (nearly neutral reflectors), not from skin, whose own
colour would be mistaken for the light's.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..core import LUMA_709
from ..core.colour import cct
from ..core.stats import robust_sigma

#: Lambertian convolution of each SH band (Ramamoorthi & Hanrahan 2001): irradiance = Σ A_l L_lm Y_lm(n).
SH_BAND_GAIN = np.array([np.pi] + [2 * np.pi / 3] * 3 + [np.pi / 4] * 5, np.float32)
#: Exponents of the photo's response tried (see :attr:`Lighting.response`).
RESPONSES = (2.2, 1.6, 1.0)
_FILL_PRIOR = 0.1             # prior share of the fill in the light, and how much it weighs (see _fit_key_fill)
_FILL_PRIOR_WEIGHT = 0.3
_UPPER_FACE = 0.7             # the fit uses the skin down to this fraction of its height (on Yale B, people 1-10:
                              # direction error 8.5 -> 6.6 degrees median; below it, beard and lips vary in albedo)
_RESPONSE_MARGIN = 0.9         # a gentler response is taken only when it fits the shading this much better
_SOFTNESSES = (0.0, 0.2, 0.4, 0.6)   # light sizes tried (see softness_radius)
_SOFT_MARGIN = 0.9            # a softer light is taken only when it fits this much better
_MIN_PIXELS = 50               # fewer skin pixels than this: no estimate, a neutral frontal light is assumed
_RIDGE = 1e-3                  # SH fit regulariser, relative to the data's energy (the normals cover a hemisphere)


def sh_basis(normals: np.ndarray) -> np.ndarray:
    """The 9 real orthonormal SH functions at unit directions (..., 3) in the camera frame, float32 (..., 9).

    Order: Y00; Y1-1 (y), Y10 (z), Y11 (x); Y2-2 (xy), Y2-1 (yz), Y20 (3z²-1), Y21 (xz), Y22 (x²-y²).
    """
    n = np.asarray(normals, np.float32)
    x, y, z = n[..., 0], n[..., 1], n[..., 2]
    return np.stack([np.full_like(x, 0.282095), 0.488603 * y, 0.488603 * z, 0.488603 * x,
                     1.092548 * x * y, 1.092548 * y * z, 0.315392 * (3 * z * z - 1), 1.092548 * x * z,
                     0.546274 * (x * x - y * y)], axis=-1)


def sh_irradiance(normals: np.ndarray, sh: np.ndarray) -> np.ndarray:
    """Irradiance (..., 3) at unit normals (..., 3) under radiance SH coefficients `sh` (9, 3), float32."""
    return (sh_basis(normals) * SH_BAND_GAIN) @ np.asarray(sh, np.float32)


def direction(azimuth: float, elevation: float) -> np.ndarray:
    """Unit vector (3,) in the camera frame toward a light at `azimuth`, `elevation` degrees."""
    az, el = np.radians(azimuth), np.radians(elevation)
    return np.array([np.cos(el) * np.sin(az), np.sin(el), np.cos(el) * np.cos(az)], np.float32)


def angles(vector: np.ndarray) -> tuple[float, float]:
    """(azimuth, elevation) in degrees of a direction (3,) in the camera frame."""
    x, y, z = np.asarray(vector, np.float64) / max(float(np.linalg.norm(vector)), 1e-12)
    return float(np.degrees(np.arctan2(x, z))), float(np.degrees(np.arcsin(np.clip(y, -1, 1))))


def soft_cosine(cos: np.ndarray, radius: float) -> np.ndarray:
    """Irradiance from a round light of angular `radius` (radians) at cosine `cos` from the normal.

    ``max(cos, 0)`` for a point light; across the terminator (|cos| < sin radius) a quadratic blend, C¹ and
    exact in its integral, so a larger light wraps further round the form.
    """
    s = float(np.sin(min(max(radius, 0.0), np.pi / 2)))
    cos = np.asarray(cos, np.float32)
    if s < 1e-4:
        return np.maximum(cos, 0.0)
    return np.where(cos >= s, cos, np.where(cos <= -s, 0.0, (cos + s) ** 2 / (4 * s))).astype(np.float32)


def softness_radius(softness: float) -> float:
    """Angular radius (radians) of a light of `softness` in [0, 1]: 0 a bare bulb, 1 a wall of light (60°)."""
    return float(np.radians(60.0) * np.clip(softness, 0.0, 1.0))


@dataclass(frozen=True)
class Lighting:
    """The estimated light on one face.

    Attributes
    ----------
    azimuth, elevation : float
        Direction of the key (dominant) light, degrees (see the module docstring).
    key, fill : float
        Key light and ambient fill, as the luminance they give skin facing them (linear light, albedo
        included: a face-on skin pixel under the key alone reads about ``key``).
    softness : float
        Size of the key in [0, 1] (see :func:`softness_radius`).
    colour : ndarray (3,)
        Linear RGB of the light, luminance 1.
    sh : ndarray (9, 3)
        Radiance SH per channel, albedo removed up to one grey scale: ``sh_irradiance(n, sh)`` is the shading
        a mid-grey surface of the face's mean luminance albedo would show.
    peak : ndarray (3,)
        Per channel, the skin value of a pixel facing the key (key + fill): the photo's own light level.
    pixels : int
        Skin pixels the fit used (0: nothing to fit; a neutral frontal light was assumed).
    response : float
        The photo's pixel values are ``(albedo × shading) ** response``: 1 for radiometrically linear
        pixels, more where a tone curve steepened the shading (or linear data was stored as sRGB). `key`,
        `fill`, `peak` and `sh` are in the shading's own units (pixel values to the power 1/response).
    """

    azimuth: float
    elevation: float
    key: float
    fill: float
    softness: float
    colour: np.ndarray
    sh: np.ndarray
    peak: np.ndarray
    pixels: int
    response: float = 1.0

    @property
    def key_to_fill(self) -> float:
        """The lighting ratio (key + fill) : fill, capped at 100."""
        return float(min(100.0, (self.key + self.fill) / max(self.fill, 1e-6)))

    @property
    def temperature(self) -> float:
        """Correlated colour temperature of the light, kelvin."""
        return cct(self.colour)

    def to_dict(self) -> dict:
        """JSON-ready: direction, ratio, temperature, softness, key/fill levels and the SH coefficients."""
        return {"azimuth": round(self.azimuth, 1), "elevation": round(self.elevation, 1),
                "key_to_fill": round(self.key_to_fill, 2), "temperature": round(self.temperature),
                "softness": round(self.softness, 2), "response": self.response, "key": round(self.key, 4), "fill": round(self.fill, 4),
                "colour": [round(float(c), 4) for c in self.colour],
                "sh": np.round(self.sh.astype(np.float64), 5).tolist()}


def _direction_grid(step: float, az=(-90.0, 90.0), el=(-60.0, 85.0)) -> tuple[np.ndarray, np.ndarray]:
    a, e = np.meshgrid(np.arange(az[0], az[1] + 1e-6, step), np.arange(el[0], el[1] + 1e-6, step))
    a, e = a.ravel(), e.ravel()
    return np.stack([a, e], 1), np.stack([direction(x, y) for x, y in zip(a, e)])


def _fit_key_fill(n: np.ndarray, lum: np.ndarray, w: np.ndarray, dirs: np.ndarray, radius: float,
                  prior: float = _FILL_PRIOR_WEIGHT):
    """Best (index, key, fill, cost) of ``lum ≈ key · soft_cosine(n·l, radius) + fill`` over directions.

    Weighted least squares with a weak prior on the fill's share of the light, in every direction's fit (not
    after the search): under near-frontal light a face's normals barely tell a key from an ambient fill (both
    light every pixel about alike), and a free fill lets the key drift up or down to trade against it. The
    prior (fill = a tenth of the light) decides only where the shading cannot; it halves the frontal photos'
    direction error on Extended Yale B.
    """
    x = soft_cosine(dirs @ n.T, radius)                                  # (D, N)
    sw = w.sum()
    sx, sxx = x @ w / sw, (x * x) @ w / sw
    sy, sxy = float(lum @ w / sw), (x * lum) @ w / sw
    p, lam = _FILL_PRIOR, prior
    a11, a12, a22 = sxx + lam * p * p, sx - lam * p * (1 - p), 1 + lam * (1 - p) ** 2
    det = np.maximum(a11 * a22 - a12 * a12, 1e-12)
    key = np.maximum((a22 * sxy - a12 * sy) / det, 0.0)
    fill = np.maximum((a11 * sy - a12 * sxy) / det, 0.0)
    cost = ((x * key[:, None] + fill[:, None] - lum) ** 2) @ w / sw + lam * (fill - p * (key + fill)) ** 2
    i = int(np.argmin(cost))
    return i, float(key[i]), float(fill[i]), float(cost[i])


def estimate_lighting(image: np.ndarray, normals: np.ndarray, skin: np.ndarray,
                      sclera: np.ndarray | None = None) -> Lighting:
    """Estimate the light on a face from its skin shading.

    Parameters
    ----------
    image : ndarray (H, W, 3)
        Linear-light RGB, any (reduced) resolution.
    normals : ndarray (H, W, 3)
        Face normals at the same resolution (camera frame; zero where unknown).
    skin : ndarray (H, W)
        Skin weight in [0, 1] (eyes, brows and lips left out: their albedo differs).
    sclera : ndarray (H, W), optional
        Where the whites of the eyes are, for the light's colour; neutral light is assumed without it.

    Returns
    -------
    Lighting
    """
    image = np.asarray(image, np.float32)
    length = np.linalg.norm(normals, axis=2)
    sel = (skin > 0.5) & (length > 0.5)
    rows = np.nonzero(sel.any(axis=1))[0]
    if len(rows):                       # the lower face (beard, stubble, lips, the jaw's less sure normals) left out
        sel[int(rows[0] + _UPPER_FACE * (rows[-1] - rows[0])) + 1:] = False
    colour = _light_colour(image, sclera)
    if sel.sum() < _MIN_PIXELS:
        flat = np.zeros((9, 3), np.float32)
        flat[0] = colour / (SH_BAND_GAIN[0] * 0.282095)
        level = float(np.median(image.reshape(-1, 3) @ LUMA_709))
        return Lighting(0.0, 0.0, level, level, 0.0, colour, flat * level,
                        np.full(3, level, np.float32), 0, 1.0)
    n = normals[sel] / length[sel][:, None]
    rgb = image[sel]
    step = max(1, int(sel.sum() // 6000))                                  # ~6000 pixels are plenty
    n, rgb = n[::step], rgb[::step]
    lum = rgb @ LUMA_709
    # robust weights: the darkest and brightest few percent are cast shadows, speculars, hairs
    lo, hi = np.percentile(lum, [2, 99])
    w = ((lum >= lo) & (lum <= hi)).astype(np.float32)

    # the photo's response: shading appears raised to this power (a camera's tone curve; a linear sensor's
    # data read as sRGB). Shading alone cannot tell them apart under frontal light, so the exponent of linear
    # data read as sRGB is kept unless a gentler one explains the shading clearly better
    grid, dirs = _direction_grid(6.0)
    response, best_fit = RESPONSES[0], np.inf
    for gamma in RESPONSES:
        x = np.maximum(lum, 0) ** (1 / gamma)
        fit = _fit_key_fill(n, x, w, dirs, 0.0, prior=0.0)[3] / max(float(np.var(x[w > 0])), 1e-12)
        if fit < best_fit * _RESPONSE_MARGIN:
            response, best_fit = gamma, fit
    lum = np.maximum(lum, 0) ** (1 / response)
    rgb = np.maximum(rgb, 0) ** (1 / response)

    # key + fill: coarse grid, robust reweighting, then a fine grid around the best and the key's size
    i, key, fill, res = _fit_key_fill(n, lum, w, dirs, 0.0)
    for _ in range(2):
        pred = key * soft_cosine(n @ dirs[i], 0.0) + fill
        r = lum - pred
        s = robust_sigma(r[w > 0], centre=False) + 1e-6
        w = w * (np.abs(r) < 3 * s) if (np.abs(r) < 3 * s).sum() > _MIN_PIXELS else w
        i, key, fill, res = _fit_key_fill(n, lum, w, dirs, 0.0)
    az0, el0 = grid[i]
    best = None
    for soft in _SOFTNESSES:
        fgrid, fdirs = _direction_grid(1.5, (az0 - 6, az0 + 6), (el0 - 6, el0 + 6))
        j, k, f, r = _fit_key_fill(n, lum, w, fdirs, softness_radius(soft))
        if best is None or r < best[-1] * _SOFT_MARGIN:                      # prefer the harder light on ties
            best = (fgrid[j], k, f, soft, r)
    (az, el), key, fill, softness, _ = best

    # SH per channel: a ridge-regularised least-squares fit of the irradiance, then skin colour removed
    basis = sh_basis(n) * SH_BAND_GAIN                                     # (N, 9)
    bw = basis * w[:, None]
    gram = bw.T @ basis
    coef = np.linalg.solve(gram + _RIDGE * np.trace(gram) / 9 * np.eye(9, dtype=np.float32), bw.T @ rgb)
    mean_rgb = np.maximum((rgb * w[:, None]).sum(0) / max(w.sum(), 1), 1e-6)   # per channel: skin × light
    sh = coef / mean_rgb * float(mean_rgb @ LUMA_709) * colour
    peak_lum = key + fill
    peak = mean_rgb / max(float(mean_rgb @ LUMA_709), 1e-6) * peak_lum
    return Lighting(float(az), float(el), key, fill, float(softness), colour, sh.astype(np.float32),
                    peak.astype(np.float32), int(sel.sum()), float(response))


def _light_colour(image: np.ndarray, sclera: np.ndarray | None) -> np.ndarray:
    """Linear RGB (luminance 1) of the light: the mean of the brighter half of the eye whites, else grey."""
    neutral = np.ones(3, np.float32)
    if sclera is None:
        return neutral
    px = image[sclera > 0.7]
    if len(px) < 12:
        return neutral
    lum = px @ LUMA_709
    c = px[lum >= np.median(lum)].mean(0)
    c = c / max(float(c @ LUMA_709), 1e-6)
    # eye whites far from any light colour (red eyes, a bad mask): do not trust them
    if c.min() <= 0 or not 1800 <= cct(c) <= 15000 or np.ptp(c) > 0.8:
        return neutral
    return c.astype(np.float32)


def environment_sh(image: np.ndarray, *, field_of_view: float = 180.0) -> np.ndarray:
    """Radiance SH (9, 3) of the light a subject placed in a scene photo would receive.

    The photo is taken to show the scene behind the subject, spanning `field_of_view` degrees across its
    width (and as many, in proportion, up and down); the unseen half of the sphere, in front of the subject,
    is taken to mirror it (light from the image's left in the scene lights the subject from the left). Sky at
    the top of the photo becomes light from above.

    Parameters
    ----------
    image : ndarray (H, W, 3)
        Linear-light RGB scene, any size.
    field_of_view : float
        Horizontal angle the photo spans, degrees (180 by default: the photo is stretched over the whole
        hemisphere, as the light around a subject comes from wider than any lens sees).

    Returns
    -------
    ndarray (9, 3), float32
        Radiance SH coefficients in the image's linear units, for :func:`sh_irradiance`.
    """
    image = np.asarray(image, np.float32)
    small = cv2.resize(image, (64, 64), interpolation=cv2.INTER_AREA)
    theta = (np.arange(48) + 0.5) / 48 * np.pi                                # polar angle from +y (up)
    phi = (np.arange(96) + 0.5) / 96 * 2 * np.pi - np.pi
    t, p = np.meshgrid(theta, phi, indexing="ij")
    d = np.stack([np.sin(t) * np.sin(p), np.cos(t), np.sin(t) * np.cos(p)], -1).astype(np.float32)
    half = np.radians(field_of_view) / 2
    az = np.arctan2(d[..., 0], np.abs(d[..., 2]))                             # mirrored front/back
    el = np.arcsin(np.clip(d[..., 1], -1, 1))
    aspect = image.shape[0] / image.shape[1]
    u = np.clip(0.5 + az / (2 * half), 0, 1) * 63
    v = np.clip(0.5 - el / (2 * half * aspect), 0, 1) * 63
    radiance = cv2.remap(small, u.astype(np.float32), v.astype(np.float32), cv2.INTER_LINEAR)
    dw = (np.sin(t) * (np.pi / 48) * (2 * np.pi / 96)).astype(np.float32)    # solid angle of each sample
    return np.einsum("ijk,ijc,ij->kc", sh_basis(d), radiance, dw).astype(np.float32)
