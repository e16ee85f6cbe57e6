"""Light rendered on the subject's shape, and a change of light applied to the photo, keeping its albedo.

The photo is ``albedo × shading``. The shading of the photo's own light (estimated from the face, see
:mod:`portrait_studio.analysis.lighting`) and of a new light are both rendered on the subject's shape
(:func:`lit_geometry`: mesh normals on the face, bent a little so the estimated light explains the photo's own
shading, an inflated person matte for hair, neck and shoulders), at a reduced working resolution; the photo is
multiplied by their ratio, upsampled (:func:`apply`). So the albedo (skin tone, freckles, make-up, identity)
and all fine detail stay exactly as they were, and a light equal to the estimated one gives the photo back.

What makes a rendered light read as studio light: attached shadows softened by the light's size and by the
light that scatters under skin, cast shadows from the subject's height field (:func:`cast_visibility`) with
penumbras that widen with the light's size, skin-like specular highlights (GGX, roughness of skin) in the
light's colour in place of the photo's own shine, and lights from the side or behind reaching only the head's
broad shape (:func:`render_lights`). A change of light stays plausible where the estimate is not sure: it is
smooth at the scale of the mesh, limited off the face, faded in inside the person's outline, stops at the
person's edges, and rolls highlights off below white.

Used by the relight operation (setups, free lights) and by background (:func:`relight_to_sh`, the light of a
new scene). Directions: azimuth 0° is light from the camera, positive azimuth light from the image's right,
positive elevation light from above (degrees).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from .analysis.lighting import Lighting, direction, sh_basis, sh_irradiance, soft_cosine, softness_radius
from .analysis.subject import refine_normals
from .core import LUMA_709, to_srgb8
from .core.guided import guided_filter
from .core.masked import masked_gaussian

#: What the background is multiplied by: kept, darkened, or dropped to near black like a stage.
BACKGROUND_GAIN = {"keep": 1.0, "darken": 0.3, "stage": 0.02}
_SKIN_ROUGHNESS = 0.32        # GGX alpha of skin (perceptual roughness about 0.57)
_SKIN_F0 = 0.028              # skin's specular reflectance at normal incidence (index of refraction about 1.4)
_SKIN_ALBEDO = 0.5            # skin's luminance albedo as the highlights see it (specular and diffuse on one scale)
_MAX_RATIO = 6.0              # on the face, brightening rolls off from this factor on (deep shadows hold noise)
_SHADOW_REACH = 0.6           # how far cast shadows are searched for, fraction of the face height
_BROAD_SHAPE = 0.07           # scale of the head's broad shape that side and back lights see, face heights
# light scattered under the skin carries past the terminator as if from a light at least this wide (radians):
# on Extended Yale B (point lights) it brings the relit photos 2% closer to the real ones
_SKIN_WRAP = np.radians(12.0)
_SHINE_SCALE = 0.08           # the skin's albedo is compared with its own smooth envelope at this scale (face heights)
_SHINE_MARGIN = 0.25          # albedo up to this much above the envelope is skin, not shine
_MAX_GAIN = 2.5               # off the face the new light brightens a pixel at most about this much ...
_MAX_LOSS = 2.5               # ... and darkens it at most about this much (soft limits, see _smooth_change)
_MAX_LOSS_FACE = 3.0          # on the face it darkens a pixel at most about this much
_CHANGE_SCALE = 0.02          # the change of light is smooth at this scale, face heights (see _smooth_change)
_MATTE_RADIUS = 0.06          # the person matte follows the photo's edges within this reach, face heights
_EDGE_BAND = 0.04             # the change of light fades in over this band inside the outline, face heights
_WHITE = 0.95                 # highlights roll off toward this linear level (sRGB 249), not past it ...
_KNEE = 0.95                  # ... from this fraction of it on
_SHINE_GRAIN = 0.012          # skin texture finer than this (face heights) is not taken for shine


@dataclass(frozen=True)
class Light:
    """One light: direction (degrees), intensity (fraction of the photo's light level), softness in [0, 1]
    and linear RGB colour relative to the photo's own light (1, 1, 1 = the same colour)."""

    azimuth: float
    elevation: float
    intensity: float
    softness: float
    colour: np.ndarray


def _smooth_change(ratio: np.ndarray, g) -> np.ndarray:
    """The change of light (h, w, 3) made plausible, then smoothed.

    Off the face (hair, the top of the head, the body: shapes that are guessed) it rolls off softly past
    _MAX_GAIN brighter or _MAX_LOSS darker: where the photo's own light is estimated low, new / old runs away
    with the estimate's error and burns what it lights. On the face it rolls off past _MAX_LOSS_FACE darker
    (deeper shadows outline lashes, brows and frames of glasses, which stay black). It is then smoothed in the
    log domain over _CHANGE_SCALE: the mesh's normals are not known finer than that (round the eyes, nostrils
    and lips they bend to explain the skin's own colour), and a change of light finer than them is a seam.
    """
    lr = np.log(np.clip(ratio, 1e-3, None))
    face = g.face[..., None]                       # on the face the mesh's shape is known: wider limits there
    up = face * 2 * np.log(_MAX_RATIO) + (1 - face) * np.log(_MAX_GAIN)     # (the roll-off starts at half the limit)
    down = face * np.log(_MAX_LOSS_FACE) + (1 - face) * np.log(_MAX_LOSS)
    lr = np.where(lr > 0, _roll_off(lr, up), -_roll_off(-lr, down))
    return np.exp(cv2.GaussianBlur(lr, (0, 0), _CHANGE_SCALE * g.face_height)).astype(np.float32)


def _roll_off(x: np.ndarray, limit: float) -> np.ndarray:
    """`x` (>= 0) kept up to half of `limit`, then rolled off smoothly (C¹) toward `limit`."""
    knee = 0.5 * limit
    return np.where(x <= knee, x, knee + (limit - knee) * np.tanh((x - knee) / (limit - knee)))


def lit_geometry(portrait):
    """The subject's geometry with its face normals refined from the photo's own shading under the estimated
    key and fill (:func:`~portrait_studio.analysis.subject.refine_normals`): the photo's own light, as the
    relighting takes it off, then explains the photo's shading better. Kept with these pixels."""
    def compute():
        g, est = portrait.subject_geometry(), portrait.lighting()
        lum = _shading_luminance(portrait, g, est)
        # key + fill as luminance SH: the key's clamped cosine to second order, the fill as a constant
        sh = est.key * sh_basis(direction(est.azimuth, est.elevation))
        sh[0] += est.fill / (np.pi * 0.282095)
        return replace(g, normals=refine_normals(g.normals, lum, sh, g.skin, g.face_height))
    return portrait.cached(("relight_geometry", id(portrait.face())), compute, per_image=True)


def _shading_luminance(portrait, g, est: Lighting) -> np.ndarray:
    """The photo's luminance at the working resolution of `g`, in the estimated light's shading units (through
    the photo's response), float32 (h, w)."""
    return np.maximum(_small(portrait, g) @ LUMA_709, 0) ** (1 / est.response)


def _shine(portrait, g, est: Lighting, old: np.ndarray) -> np.ndarray:
    """The photo's own specular highlights on skin (h, w, 3), linear pixel units, at the working resolution.

    Skin's apparent albedo (the photo over its estimated diffuse shading `old`) is compared with a smooth
    lower envelope of itself; what stands above it, where the estimated light can make a highlight (its GGX
    lobe) is shine. Its colour is the light's, not the skin's.
    """
    def compute():
        albedo = _shading_luminance(portrait, g, est) / np.maximum(old, 1e-4)
        skin = (g.skin > 0.5).astype(np.float32)
        sigma = _SHINE_SCALE * g.face_height

        def blur(a):                               # skin-only smoothing (normalised convolution)
            return masked_gaussian(a, skin, sigma, floor=1e-3, exact=True)
        albedo = cv2.GaussianBlur(albedo, (0, 0), _SHINE_GRAIN * g.face_height)   # shine is smooth; pores are not
        env = blur(albedo)
        for _ in range(2):                         # a lower envelope: highlights do not raise it
            env = blur(np.minimum(albedo, env))
        lobe = _ggx(g.normals, direction(est.azimuth, est.elevation), softness_radius(est.softness))
        lobe = np.clip(lobe / max(float(np.percentile(lobe[skin > 0], 99.5)) if skin.any() else 1.0, 1e-6), 0, 1)
        excess = np.maximum(albedo - env * (1 + _SHINE_MARGIN), 0) * lobe * g.skin
        # back to linear pixel units: the diffuse part is (env·old)^γ, the whole (albedo·old)^γ
        spec_lum = ((env + excess) * old) ** est.response - (env * old) ** est.response
        return (np.maximum(spec_lum, 0)[..., None] * est.colour).astype(np.float32)
    return portrait.cached(("relight shine", id(portrait.face())), compute, per_image=True)


def light_level(est: Lighting) -> float:
    """The photo's light level: the skin luminance facing the key (key + fill)."""
    return max(est.key + est.fill, 1e-4)


def photo_light(portrait) -> np.ndarray:
    """The photo's own light on the subject (h, w) at the working resolution, in its shading units: the
    estimated key (softened by its size, and at least by the light scattered under skin) and fill. Kept with
    these pixels."""
    def compute():
        g, est = lit_geometry(portrait), portrait.lighting()
        old = est.key * soft_cosine(g.normals @ direction(est.azimuth, est.elevation),
                                    max(softness_radius(est.softness), _SKIN_WRAP)) + est.fill
        return np.maximum(old, 0.04 * light_level(est))
    return portrait.cached(("render photo light", id(portrait.face())), compute, per_image=True)


def apply(portrait, ratio: np.ndarray, spec: np.ndarray, *, specular: float = 1.0, strength: float = 1.0,
          background: str = "keep") -> tuple[np.ndarray, np.ndarray]:
    """Apply a change of light to the photo: the new image (H, W, 3, linear RGB) and the change applied (h, w, 3).

    Parameters
    ----------
    ratio : ndarray (h, w, 3)
        New diffuse light over the photo's own (:func:`photo_light`), at the working resolution.
    spec : ndarray (h, w, 3)
        The new lights' specular radiance, linear pixel units (:func:`render_lights`).
    specular : float
        Scale of `spec`; the photo's own shine is taken off in any case (it is specular, not albedo: scaled
        with the skin it would show as a pale band).
    strength : float
        0 = the photo unchanged, 1 = fully relit.
    background : {"keep", "darken", "stage"}
        What happens off the person (:data:`BACKGROUND_GAIN`).
    """
    g, est = lit_geometry(portrait), portrait.lighting()
    shine = _shine(portrait, g, est, photo_light(portrait))
    spec = spec * specular - shine * np.clip(ratio, 0.0, _MAX_RATIO)
    return _compose(portrait, g, ratio + _relative(portrait, g, spec, est), strength, background)


def cast_visibility(height: np.ndarray, light: np.ndarray, radius: float, reach: float) -> np.ndarray:
    """How much of a light each pixel of a height field sees, in [0, 1] (cast shadows with penumbras).

    Along the light's direction in the image, the steepest rise of the height field ahead (its horizon) is
    compared with the light's elevation above the image plane; a light of angular `radius` fades out over
    twice that angle, so penumbras widen with distance from the occluder, as they do.

    Parameters
    ----------
    height : ndarray (h, w)
        Height toward the camera, pixels.
    light : ndarray (3,)
        Unit direction toward the light, camera frame.
    radius : float
        Angular radius of the light, radians.
    reach : float
        How far to look for occluders, pixels.
    """
    rho = float(np.hypot(light[0], light[1]))
    if rho < 1e-3 or reach < 2:
        return np.ones_like(height)
    ux, uy = light[0] / rho, -light[1] / rho                       # image direction toward the light (y down)
    steps = np.geomspace(max(1.5, 0.05 * reach), reach, 10)
    best = np.full_like(height, -np.inf)
    for t in steps:
        m = np.float32([[1, 0, t * ux], [0, 1, t * uy]])
        ahead = cv2.warpAffine(height, m, height.shape[::-1], flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
        np.maximum(best, (ahead - height) / t, out=best)
    horizon = np.arctan(best)
    elevation = np.arctan2(light[2], rho)
    return np.clip((elevation - horizon) / (2 * max(radius, 0.03)) + 0.5, 0.0, 1.0).astype(np.float32)


def _ggx(n: np.ndarray, light: np.ndarray, radius: float) -> np.ndarray:
    """Skin specular reflectance times n·l (GGX, Schlick Fresnel, Smith visibility), view from the camera.
    A larger light widens the lobe (its angular radius added to the roughness)."""
    v = np.array([0, 0, 1], np.float32)
    h = (light + v) / max(float(np.linalg.norm(light + v)), 1e-6)
    a2 = min(_SKIN_ROUGHNESS + 0.5 * radius, 1.0) ** 2
    nh = np.clip(n @ h, 0, 1)
    nl = np.clip(n @ light, 0, 1)
    nv = np.clip(n[..., 2], 1e-3, 1)
    d = a2 / (np.pi * (nh * nh * (a2 - 1) + 1) ** 2)
    f = _SKIN_F0 + (1 - _SKIN_F0) * (1 - float(h @ v)) ** 5
    k = np.sqrt(a2) / 2
    vis = 1 / (4 * (nl * (1 - k) + k) * (nv * (1 - k) + k))
    return (d * f * vis * nl).astype(np.float32)


def render_lights(g, lights: list[Light], fill: float, level: float, colour=(1.0, 1.0, 1.0)
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Diffuse shading (h, w, 3) and specular radiance (h, w, 3) of `lights` plus a uniform `fill` on the
    subject geometry `g`, at its working resolution. Shading is in the photo's luminance units (a surface
    facing a light of intensity 1 gets `level`), relative to the photo's own light colour; the specular is
    already in image units, the colour of the light it reflects (`colour`: the photo's light, linear RGB of
    luminance 1, times each light's own)."""
    shade = np.full(g.normals.shape, fill, np.float32)
    spec = np.zeros(g.normals.shape, np.float32)
    # highlights on skin, fading where the face turns away at its edge (the mesh's edge normals are the least
    # sure, and a sheen along the hairline reads as a seam)
    sheen = g.skin * np.clip(2.5 * g.normals[..., 2] - 1.25, 0, 1)
    broad = None
    for lt in lights:
        d = direction(lt.azimuth, lt.elevation)
        r = softness_radius(lt.softness)
        vis = cast_visibility(g.height, d, max(r, _SKIN_WRAP), _SHADOW_REACH * g.face_height)
        energy = (lt.intensity * level) * lt.colour
        n = g.normals
        grazing = float(np.clip((0.3 - d[2]) / 0.5, 0, 1))
        if grazing > 0:
            # a light from the side or behind reaches only the subject's outline: small features facing it (the
            # sides of the nose, the lips) lie in the shadow of the cheek, so the head's broad shape takes over
            if broad is None:
                broad = cv2.GaussianBlur(g.normals, (0, 0), _BROAD_SHAPE * g.face_height)
                broad /= np.maximum(np.linalg.norm(broad, axis=2, keepdims=True), 1e-6)
            n = (1 - grazing) * n + grazing * broad
            n /= np.maximum(np.linalg.norm(n, axis=2, keepdims=True), 1e-6)
        shade += (soft_cosine(n @ d, max(r, _SKIN_WRAP)) * vis)[..., None] * energy
        behind = float(np.clip(2 * d[2] + 1, 0, 1))     # lights from behind: no frontal sheen (no mesh there)
        spec += (_ggx(g.normals, d, r) * vis * sheen)[..., None] * (energy * behind * np.pi / _SKIN_ALBEDO)
    spec *= np.asarray(colour, np.float32)
    return shade, spec


def relight_to_sh(portrait, sh: np.ndarray, *, strength: float = 1.0, background: str = "keep") -> np.ndarray:
    """Relight a portrait to spherical-harmonic lighting `sh` (9, 3), e.g. a scene's from
    :func:`~portrait_studio.analysis.environment_sh`; the new image, linear RGB, full resolution.

    The light's overall level is scaled so the skin receives as much light as before on average (only its
    direction, spread and colour move): the subject keeps its exposure. With the photo's own estimate
    (``portrait.lighting().sh``) the photo comes back unchanged.
    """
    return render_sh(portrait, sh, strength, background)[0]


def render_sh(portrait, sh, strength, background) -> tuple[np.ndarray, np.ndarray]:
    """:func:`relight_to_sh`, and the change of light applied (h, w, 3) at the working resolution."""
    g = lit_geometry(portrait)
    est = portrait.lighting()
    old = sh_irradiance(g.normals, est.sh)
    new = sh_irradiance(g.normals, np.asarray(sh, np.float32))
    skin = g.skin > 0.5
    if skin.sum() > 20:                            # the same mean light on the skin: exposure kept
        a, b = float(np.mean(old[skin] @ LUMA_709)), float(np.mean(new[skin] @ LUMA_709))
        new *= a / b if a > 0 and b > 0 else 1.0
    floor = 0.04 * max(float(np.percentile(old[skin] @ LUMA_709, 90)) if skin.any() else 0.0, 1e-6)
    ratio = (np.maximum(new, floor) / np.maximum(old, floor)) ** est.response
    return _compose(portrait, g, ratio, strength, background)


def _relative(portrait, g, spec: np.ndarray, est: Lighting) -> np.ndarray:
    """Specular radiance added to (or shine taken off) the photo (h, w, 3), linear pixel units, as a change of
    its ratio: divided by the photo at the working resolution. Applied as part of one multiplicative field,
    highlights follow the skin's own texture (as real ones do, pores breaking them up) and never push a
    dark pore below black or leave a hard-edged patch where the photo's shine was taken off."""
    base = _small(portrait, g)
    skin = g.skin > 0.5
    # below the skin's typical level (beard, brows, nostrils: not skin's gloss) a highlight weakens with the
    # pixel, instead of growing without bound relative to it
    floor = np.median(base[skin], axis=0) if skin.sum() > 20 else np.full(3, light_level(est), np.float32)
    return spec / np.maximum(base, np.maximum(floor, 1e-4))


def _compose(portrait, g, ratio, strength, background):
    """Blend the ratio by strength and the subject matte, upsample, apply to the full-resolution photo, and
    roll off what it would push past white (:func:`_shoulder`); (image, ratio applied at the working resolution)."""
    ratio = _smooth_change(ratio, g)
    bg_gain = BACKGROUND_GAIN[background]
    subject, fade = _light_matte(portrait, g)
    m = subject[..., None]
    ratio = 1 + strength * (m * (1 + fade * (ratio - 1)) + (1 - m) * bg_gain - 1)
    # highlights rolled off as a smooth field, from the photo's local upper envelope: a per-pixel roll-off alone
    # compresses bright skin and not the dark frame of glasses beside it, and draws the frame's outline
    local = cv2.dilate(_small(portrait, g), np.ones((3, 3), np.uint8))
    ratio = ratio * _shoulder_gain(_channel_max(local), _channel_max(local * ratio))[..., None]
    h, w = portrait.shape
    out = g.grid.enlarge(ratio.astype(np.float32))     # (a new array: astype copies)
    cv2.multiply(portrait.image, out, dst=out)     # in place: at 12 MP a new array costs more than the product
    # the pixels left above the knee (the peaks of a texture, glints) can only lie where the light brings the
    # local envelope within reach of it: only that part of the full-resolution image is looked at
    ys, xs = np.nonzero(cv2.dilate((_channel_max(local * ratio) > 0.5 * _KNEE * _WHITE).astype(np.uint8),
                                   np.ones((3, 3), np.uint8)))
    if len(ys):
        ky, kx = h / ratio.shape[0], w / ratio.shape[1]
        crop = np.s_[int(ys.min() * ky):min(h, int(np.ceil((ys.max() + 1) * ky))),
                     int(xs.min() * kx):min(w, int(np.ceil((xs.max() + 1) * kx)))]
        _shoulder(portrait.image[crop], out[crop])
    return out, ratio


def _small(portrait, g) -> np.ndarray:
    """The photo at the working resolution (h, w, 3), linear RGB; kept with these pixels."""
    return portrait.cached(("render small", g.size), per_image=True,
                           compute=lambda: g.grid.take(portrait.image))


def _light_matte(portrait, g) -> tuple[np.ndarray, np.ndarray]:
    """Where the new light falls, at the working resolution: the person matte (h, w) sharpened on the photo's
    own edges, and the fade (h, w, 1) of the change of light over a band inside its outline (where the matte is
    unsure, flyaway hair or a scarf's edge, the light changes gradually instead of in a step along a wrong
    edge). Kept with these pixels."""
    def compute():
        guide = to_srgb8(_small(portrait, g))
        subject = np.clip(guided_filter(guide, g.subject, max(2, round(_MATTE_RADIUS * g.face_height)),
                                        1e-3 * 255 ** 2), 0, 1)
        inside = cv2.distanceTransform((subject > 0.5).astype(np.uint8), cv2.DIST_L2, 3) / (_EDGE_BAND * g.face_height)
        fade = np.clip(inside, 0, 1)
        return subject, (fade * fade * (3 - 2 * fade))[..., None]
    return portrait.cached(("render light matte", g.size), compute, per_image=True)


def _channel_max(image: np.ndarray) -> np.ndarray:
    """The brightest channel of an (h, w, 3) image (h, w): pairwise, several times faster than .max(axis=2)."""
    return np.maximum(np.maximum(image[..., 0], image[..., 1]), image[..., 2])


def _shoulder_gain(was: np.ndarray, x: np.ndarray, white: float = _WHITE) -> np.ndarray:
    """The factor that rolls off a brightest channel `x` (the photo's was `was`) pushed toward white: compressed
    smoothly (C¹, from _KNEE × `white` on) toward `white`, or toward `was` where that was brighter; never below
    `was` (nothing is made darker than it was by the roll-off)."""
    knee = _KNEE * white
    y = np.where(x > knee, white - (white - knee) * np.exp(-(x - knee) / (white - knee)), x)
    y = np.where(x > was, np.maximum(y, np.minimum(was, x)), x)
    return (y / np.maximum(x, 1e-6)).astype(np.float32)


def _shoulder(before: np.ndarray, after: np.ndarray) -> None:
    """Roll off, in place, the pixels the new light pushed toward white, all channels by one factor (their
    colour kept): what the smooth roll-off of :func:`_compose` left above the knee, e.g. the peaks of a texture."""
    peak = _channel_max(after)
    ys, xs = np.nonzero(peak > _KNEE * _WHITE)      # only the few pixels near white: cheap at 12 MP
    if len(ys):
        after[ys, xs] *= _shoulder_gain(np.maximum(before[ys, xs].max(axis=1), 0.0), peak[ys, xs])[:, None]
