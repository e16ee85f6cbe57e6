"""Making the subject's light agree with the new scene: illuminant and exposure match, light wrap, grain.

All in linear light. The illuminant of a scene is estimated by "shades of grey" (Finlayson & Trezzi 2004,
Minkowski norm p = 6) over its unclipped pixels, pulled most of the way to neutral because a background's
own colours bias it (on the development portraits a subject's cast regressed on its background's
shades-of-grey cast has a slope of only 0.1-0.2, so a colourful background says little about the light);
the subject is adapted from the old scene's white to the new scene's white with CAT16
(:func:`portrait_studio.core.colour.adapt`).

Exposure: a photographer exposes for the subject, so a subject's brightest parts (its 99.95th luminance
percentile: skin highlights, eye whites, light clothing) sit at a typical level whatever the scene; on the
development portraits (../shared/data/portraits) that level is 2^-0.46 of diffuse white with a spread of
0.32 stops, while the ratio between subject and background brightness spreads over 2 stops (so a scene's
brightness says next to nothing about how bright its subject should be). Eye whites alone spread over a
stop (lids shade them) and a scene's white, compared with the subject's, spreads more than a subject's own
balance does; so the subject's exposure and red/blue balance are each pulled toward the typical portrait's
by the Bayes shrinkage their measured spreads allow (:func:`light_transform`).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ...core import LUMA_709, luminance
from ...core.colour import adaptation_matrix, cct, rgb_to_xy
from ...core.masked import masked_gaussian

#: The subject's highlights: (luminance percentile, its mean level in log2 of diffuse white, its spread in
#: stops) over the development portraits (../shared/data/portraits, interior of the person matte), from the
#: most telling percentile down to those read when clipping has taken the higher ones.
HIGHLIGHT_LEVELS = ((99.95, -0.46, 0.32), (99.9, -0.50, 0.34), (99.5, -0.65, 0.375), (99.0, -0.74, 0.42),
                    (98.0, -0.82, 0.46), (95.0, -0.98, 0.57))
#: The same for the face oval's luminance percentiles.
FACE_LEVELS = ((99.9, -0.71, 0.31), (99.5, -0.82, 0.37), (99.0, -0.88, 0.41), (98.0, -0.97, 0.44),
               (95.0, -1.11, 0.50))
#: Correlation between the face's and the whole subject's highlight readings (development portraits).
FACE_SUBJECT_CORRELATION = 0.68
#: A subject's shades-of-grey white as ln(R/B)/2: mean and spread over the development portraits.
SUBJECT_CAST = (0.24, 0.18)
#: Long side, pixels, of the copy the subject's statistics are read on (and were measured on).
STATS_SIZE = 512
#: How far a pasted subject's exposure typically departs from its scene's, stops (standard deviation).
EXPOSURE_PRIOR = 0.45
#: How far a pasted subject's colour balance typically departs from its scene's, ln(R/B)/2 (about ±1000 K).
CAST_PRIOR = 0.13
#: Fraction of the scene white's departure from neutral that is trusted (the regression slope above).
WHITE_TRUST = 0.2
_MAX_EV = 1.5                      # the largest exposure change applied, stops
_CLIPPED_EV = -0.15                 # a highlight percentile at or above this log2 level may be clipped
_DARK = 2.0 ** -8                  # pixels darker than this (linear) say nothing of a scene's colour
_MAX_CAST = 0.3                    # the largest cast removed, ln(R/B)/2


@dataclass(frozen=True)
class SceneLight:
    """A scene's light as seen by the camera: white (linear RGB of luminance 1), its colour temperature, and
    its key (log2 of the geometric-mean luminance)."""

    white: np.ndarray
    kelvin: float
    key: float


def scene_light(image: np.ndarray, weight: np.ndarray | None = None) -> SceneLight:
    """Estimate the light of a scene from its pixels (optionally weighted, e.g. by 1 - alpha)."""
    small = _reduce(image)
    wgt = np.ones(small.shape[:2], np.float32) if weight is None else _reduce(weight)
    y = luminance(small)
    ok = (small.max(-1) < 0.97) & (wgt > 0.5) & (y > _DARK)
    if ok.sum() < max(16, 0.02 * (wgt > 0.5).sum()):      # a near-black scene: its colour is noise
        return SceneLight(np.ones(3, np.float32), 6504.0, -2.0)
    px = np.maximum(small[ok], 0.0)
    white = np.mean(px ** 6, axis=0) ** (1 / 6)
    white = white / max(float(white @ LUMA_709), 1e-6)
    white = (1 - WHITE_TRUST) + WHITE_TRUST * white                  # pulled toward neutral
    white = (white / (white @ LUMA_709)).astype(np.float32)
    key = float(np.log2(np.exp(np.mean(np.log(np.maximum(y[ok], 1e-4))))))
    return SceneLight(white, cct(white), key)


def _reduce(x: np.ndarray, size: int = 256) -> np.ndarray:
    h, w = x.shape[:2]
    s = min(1.0, size / max(h, w))
    return x if s == 1 else cv2.resize(x, (max(1, round(w * s)), max(1, round(h * s))),
                                       interpolation=cv2.INTER_AREA)


@dataclass(frozen=True)
class SubjectLight:
    """How a subject departs from a typical well-exposed, neutrally balanced portrait, read from its own
    pixels: `ev`, its highlights' level minus the typical level (stops), known to about `sigma` stops;
    `cast`, half the natural log of its red/blue balance minus the typical one (positive = warm)."""

    ev: float
    sigma: float
    cast: float


def _highlight_ev(y: np.ndarray, table) -> tuple[float, float]:
    """The highest percentile of `table` ((percentile, typical log2 level, spread), best first) that clipping
    leaves readable (below :data:`_CLIPPED_EV`), as its departure from the typical level and its spread."""
    levels = np.log2(np.maximum(np.percentile(y, [row[0] for row in table]), 1e-4))
    i = int(np.argmax(levels < _CLIPPED_EV)) if (levels < _CLIPPED_EV).any() else len(levels) - 1
    return float(levels[i]) - table[i][1], table[i][2]


def subject_light(foreground: np.ndarray, alpha: np.ndarray, face_outline: np.ndarray | None = None
                  ) -> SubjectLight:
    """Read the subject's exposure and colour cast (see :class:`SubjectLight`) over its interior (alpha > 0.5,
    eroded by 1% of the diagonal so the edges' mixed pixels stay out).

    Exposure: the highest luminance percentile of :data:`HIGHLIGHT_LEVELS` that clipping leaves readable
    (below 0.9 of white), against that percentile's typical level, so that a clipped subject falls back on
    lower, less certain percentiles instead of reading white; with `face_outline` (the face oval's polygon,
    pixels of `foreground`) the face's own highlights (:data:`FACE_LEVELS`) are a second reading, the two
    averaged by their spreads (they correlate, :data:`FACE_SUBJECT_CORRELATION`). Colour: the subject's
    shades-of-grey white (Minkowski p = 6, unclipped pixels), as ``ln(R/B) / 2``, against the typical
    :data:`SUBJECT_CAST`.
    """
    small, a = _reduce(foreground, STATS_SIZE), _reduce(alpha, STATS_SIZE)
    k = 2 * max(1, round(0.01 * np.hypot(*a.shape))) + 1
    inside = cv2.erode((a > 0.5).astype(np.uint8), np.ones((k, k), np.uint8)) > 0
    if inside.sum() < 64:
        inside = a > 0.5
    px = np.maximum(small[inside], 0.0)
    if px.shape[0] < 16:
        return SubjectLight(0.0, HIGHLIGHT_LEVELS[0][2], 0.0)
    ev, sigma = _highlight_ev(luminance(px), HIGHLIGHT_LEVELS)
    if face_outline is not None:
        face = np.zeros(a.shape, np.uint8)
        scale = a.shape[1] / alpha.shape[1]
        cv2.fillPoly(face, [np.round(np.asarray(face_outline)[:, :2] * scale).astype(np.int32)], 1)
        if face.sum() >= 64:
            ev_f, sigma_f = _highlight_ev(luminance(np.maximum(small[face > 0], 0.0)), FACE_LEVELS)
            w = sigma_f ** 2 / (sigma ** 2 + sigma_f ** 2)           # inverse-variance weights
            rho = FACE_SUBJECT_CORRELATION
            var = (w * sigma) ** 2 + ((1 - w) * sigma_f) ** 2 + 2 * rho * w * (1 - w) * sigma * sigma_f
            ev, sigma = w * ev + (1 - w) * ev_f, float(np.sqrt(var))
    ok = px.max(-1) < 0.97
    white = np.mean(px[ok] ** 6, axis=0) ** (1 / 6) if ok.sum() >= 16 else np.ones(3)
    cast = 0.5 * float(np.log(max(white[0], 1e-6) / max(white[2], 1e-6))) - SUBJECT_CAST[0]
    return SubjectLight(ev, sigma, cast)


def light_transform(old: SceneLight, new: SceneLight, subject: SubjectLight, *, strength: float = 1.0
                    ) -> tuple[np.ndarray, float]:
    """The 3×3 linear-RGB matrix that adapts a subject to the new scene's light, and its exposure change in
    stops. Apply it as ``cv2.transform(image, matrix)`` (or ``image @ matrix.T``).

    Each of the subject's departures from a typical portrait (`subject`, see :func:`subject_light`) is
    undone by the share that its measurement's spread allows (the Bayes shrinkage
    ``prior² / (prior² + spread²)``, with the priors :data:`EXPOSURE_PRIOR` and :data:`CAST_PRIOR` for how far
    a pasted subject typically departs from its scene): the exposure is scaled, and the subject's white
    (the old scene's white with the trusted part of the subject's cast) is adapted to the new scene's white
    with CAT16.
    """
    pull = EXPOSURE_PRIOR ** 2 / (EXPOSURE_PRIOR ** 2 + subject.sigma ** 2)
    ev = float(np.clip(-pull * subject.ev, -_MAX_EV, _MAX_EV)) * strength
    trust = CAST_PRIOR ** 2 / (CAST_PRIOR ** 2 + SUBJECT_CAST[1] ** 2)
    c = float(np.clip(trust * subject.cast, -_MAX_CAST, _MAX_CAST))
    own = old.white * np.exp(np.array([c, 0.0, -c], np.float32))
    src, dst = rgb_to_xy(own), rgb_to_xy(new.white)
    dst = src + strength * (dst - src)
    return (adaptation_matrix(src, dst) * np.float32(2.0 ** ev)).astype(np.float32), ev


def match_light(foreground: np.ndarray, alpha: np.ndarray, old: SceneLight, new: SceneLight, *,
                strength: float = 1.0) -> tuple[np.ndarray, float]:
    """Adapt the subject to the new scene's light (see :func:`light_transform`); the adapted foreground
    (linear) and the exposure change applied, stops."""
    m, ev = light_transform(old, new, subject_light(foreground, alpha), strength=strength)
    return cv2.transform(np.asarray(foreground, np.float32), m), ev


def relight_to_scene(foreground: np.ndarray, portrait, old_scene: np.ndarray, new_scene: np.ndarray, *,
                     strength: float) -> np.ndarray:
    """Relight the subject for the change of light from its old scene to the new one, with the relight
    technique: both scenes read as lighting environments the same way
    (:func:`portrait_studio.analysis.environment_sh`, each normalised to its mean light), their difference
    added to the photo's own lighting estimate (``portrait.lighting()``), and the subject rendered under it
    (:func:`portrait_studio.render.relight_to_sh`); `strength` in [0, 1]. Where the scenes agree the
    subject comes back unchanged, whatever the environment reading's bias.

    Only the change in luminance is taken (a per-pixel gain): the colour and exposure were matched by
    :func:`light_transform`, and relight keeps the skin's mean light. Needs a face (relight reads the subject's
    geometry from it); without one, or at strength 0, `foreground` is returned unchanged. Otherwise it is
    modified in place (and returned).
    """
    if strength <= 0 or not portrait.faces:
        return foreground
    from ...analysis import environment_sh
    from ...render import relight_to_sh

    own = np.asarray(portrait.lighting().sh, np.float32)
    old, new = environment_sh(old_scene), environment_sh(new_scene)
    change = new / max(float(new[0] @ LUMA_709), 1e-6) - old / max(float(old[0] @ LUMA_709), 1e-6)
    target = own + max(float(own[0] @ LUMA_709), 1e-6) * change
    relit = relight_to_sh(portrait, target, strength=strength)
    gain = luminance(relit)
    gain /= np.maximum(luminance(portrait.image), 1e-6)
    foreground *= np.clip(gain, 0.0, 4.0)[..., None]
    return foreground


def light_wrap(foreground: np.ndarray, alpha: np.ndarray, background: np.ndarray, *, radius: float,
               strength: float) -> np.ndarray | None:
    """The light the background wraps around the subject's edges (as real light and a real lens do): near the
    silhouette the subject brightens toward the blurred background, fading inward over about `radius`
    pixels; `strength` in [0, 1]. Returns the term to add to the composite (same size as the inputs, which
    can be a reduced copy: the term is smooth), or None for no wrap."""
    if strength <= 0:
        return None
    s = min(1.0, 4.0 / max(radius, 1e-6))               # blur on a reduced copy: the result is smooth
    h, w = alpha.shape
    sw, sh = max(4, round(w * s)), max(4, round(h * s))
    a = cv2.resize(alpha, (sw, sh), interpolation=cv2.INTER_AREA)
    b = cv2.resize(background, (sw, sh), interpolation=cv2.INTER_AREA)
    sig = max(radius * s, 0.5)
    near = cv2.GaussianBlur(1 - a, (0, 0), sig)                          # how much background is near
    glow = masked_gaussian(b, 1 - a, sig, exact=True)                   # the background's light nearby
    k = strength * np.clip(near * 2.0, 0, 1) ** 4          # the rim only, not the subject's interior
    k = cv2.resize(k, (w, h), interpolation=cv2.INTER_LINEAR) * alpha
    glow = cv2.resize(glow, (w, h), interpolation=cv2.INTER_LINEAR)
    return (np.maximum(glow - foreground, 0.0) * k[..., None]).astype(np.float32)


