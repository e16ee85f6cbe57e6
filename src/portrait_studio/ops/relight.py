"""Relighting: estimate the light on the face, then render the subject under new light, keeping its albedo.

The lights (a named studio setup, a moved key, more lights, or the light of another image) are planned here
and rendered on the subject's shape by :mod:`portrait_studio.render`, which applies the change of light to
the photo: albedo and fine detail stay as they were, only the shading changes. A setup is exposed as a
photographer would: the skin as bright on average as before, the lit side not burnt.

Directions: azimuth 0° is light from the camera, positive azimuth light from the image's right, positive
elevation light from above (degrees).
"""
from __future__ import annotations

from typing import Annotated, Literal

import cv2
import numpy as np
from pydantic import AfterValidator, Field

from .. import render
from ..analysis.lighting import Lighting, environment_sh
from ..core import LUMA_709
from ..core.colour import kelvin_to_rgb
from ..inputs import ImageInput
from ..render import Light, light_level
from ..schema import operation

#: Named setups. Each light: (azimuth on the key's side, elevation, intensity, softness), intensity as a
#: fraction of the photo's own light level; "fill" is the ambient fill at the same scale. A positive azimuth
#: is on the side the setup wants (the short side of a turned face, except for "broad").
SETUPS: dict[str, dict] = {
    "rembrandt": {"lights": [(45, 40, 0.9, 0.35)], "fill": 0.3},
    "loop": {"lights": [(32, 30, 0.85, 0.3)], "fill": 0.4},
    # butterfly: a beauty dish above (soft enough, with a reflector's fill under the chin, about 7:1, that the
    # eye sockets and the shadow under the nose do not outline lashes and nostrils), high enough to change a
    # photo already lit from above
    "butterfly": {"lights": [(0, 48, 0.85, 0.6)], "fill": 0.15},
    "split": {"lights": [(90, 5, 0.95, 0.2)], "fill": 0.12},
    "broad": {"lights": [(-50, 25, 0.85, 0.4)], "fill": 0.18},
    "short": {"lights": [(50, 25, 0.85, 0.4)], "fill": 0.18},
    "clamshell": {"lights": [(0, 40, 0.75, 0.55), (0, -30, 0.3, 0.7)], "fill": 0.15},
    "rim": {"lights": [(-30, 15, 0.35, 0.6), (115, 15, 0.9, 0.15), (-115, 15, 0.9, 0.15)], "fill": 0.06,
            "background": "darken"},
    "high-key": {"lights": [(0, 20, 0.6, 0.8), (55, 10, 0.3, 0.9), (-55, 10, 0.3, 0.9)], "fill": 0.4},
    "stage": {"lights": [(25, 50, 0.95, 0.1)], "fill": 0.1, "background": "stage"},
}
SetupName = Literal["rembrandt", "loop", "butterfly", "split", "broad", "short", "clamshell", "rim", "high-key",
                    "stage"]
_MAX_EXPOSURE = 2.0           # a setup is exposed for the skin's mean, but opened up by at most this factor
_MAX_HIGHLIGHT = 1.25         # ... and its lit side kept within this factor of the photo's brightest skin


def _valid_lights(text: str) -> str:
    parse_lights(text)
    return text


@operation("relight", extras={"shading": ("mask", "new light / old light, 0.5 = unchanged")}, face=True, c2pa_action="c2pa.color_adjustments",
           exclusive=[("match_light", ("setup", "azimuth", "elevation", "lights"))])
def relight(portrait, *,
            setup: Annotated[SetupName | None, Field(description=(
                "A named studio setup (a preset of the controls below, which override it), mirrored to the "
                "side that suits the head pose unless --side is given."))] = None,
            azimuth: Annotated[float | None, Field(ge=-180, le=180, description=(
                "Key light direction, degrees: 0 = from the camera, + = from the image's right. Alone: the "
                "estimated key moved there (same intensity, size, colour; the estimated fill kept)."))] = None,
            elevation: Annotated[float | None, Field(ge=-90, le=90, description=(
                "Key light elevation, degrees: + = from above."))] = None,
            intensity: Annotated[float | None, Field(ge=0, le=8, description=(
                "Key light intensity relative to the estimated key (or the setup's key)."))] = None,
            softness: Annotated[float | None, Field(ge=0, le=1, description=(
                "Key light size: 0 = a bare bulb (hard shadows), 1 = a wall of light."))] = None,
            temperature: Annotated[float | None, Field(ge=1000, le=40000, description=(
                "Key light colour temperature, kelvin (6504 = neutral white of the photo; default: the "
                "photo's own light colour)."))] = None,
            ambient: Annotated[float | None, Field(ge=0, le=2, description=(
                "Ambient fill, as a fraction of the photo's light level (default: the estimated fill, or "
                "the setup's)."))] = None,
            lights: Annotated[str, AfterValidator(_valid_lights), Field(description=(
                "More lights, ';'-separated, each 'azimuth,elevation[,intensity[,softness[,kelvin]]]' "
                "(intensity a fraction of the photo's light level, default 0.5; softness default 0.3); write "
                "--lights=-120,20 when it starts with a minus."))] = "",
            strength: Annotated[float, Field(ge=0, le=1, description=(
                "How much of the new light: 0 = the photo unchanged, 1 = fully relit."))] = 1.0,
            specular: Annotated[float, Field(ge=0, le=3, description=(
                "Strength of the skin's specular highlights from the new lights (1 = skin-like)."))] = 1.0,
            background: Annotated[Literal["auto", "keep", "darken", "stage"], Field(description=(
                "The background: kept, darkened, or falling to black like a stage (auto: the setup's "
                "choice, else keep)."))] = "auto",
            side: Annotated[Literal["auto", "left", "right"], Field(description=(
                "Which side of the image a setup's key comes from (auto: the side that suits the head "
                "pose)."))] = "auto",
            match_light: Annotated[ImageInput | None, Field(description=(
                "Relight to the light of this image: a portrait's estimated light, or a scene's "
                "spherical-harmonic projection when it has no face."))] = None,
            ) -> tuple[np.ndarray, dict]:
    """Relight the subject: a new key light, named studio setups, or the light of another image.

    Examples: ``--setup rembrandt``; ``--azimuth 45 --elevation 30 --softness 0.3 --temperature 3200``;
    ``--match-light scene.jpg``. Albedo and detail are kept: only the shading changes.
    """
    est = portrait.lighting()
    if match_light is not None:
        out, ratio = render.render_sh(portrait, light_sh(match_light), strength,
                                      _background(background, None))
        return out, {"shading": _shading_picture(ratio, portrait.shape)}
    new, fill, bg, normalise = plan_lights(est, portrait.face().pose.yaw, setup=setup, azimuth=azimuth,
                                           elevation=elevation, intensity=intensity, softness=softness,
                                           temperature=temperature, ambient=ambient, lights=lights, side=side)
    bg = _background(background, bg)
    g = render.lit_geometry(portrait)
    old = render.photo_light(portrait)             # the photo's own light, in its shading units
    level = light_level(est)
    shade, spec = render.render_lights(g, new, fill * level, level, est.colour)
    skin = g.skin > 0.5
    if not normalise:
        # the photo's own key moved: rendered in the photo's shading units, through its response
        if skin.sum() > 20:
            # the same light, moved: the exposure is opened up (never closed) so the lit side of the skin is
            # as bright as the photo's, as a photographer would expose it
            k = float(np.percentile(old[skin], 90)) / max(float(np.percentile(shade[skin] @ LUMA_709, 90)), 1e-6)
            k = min(max(k, 1.0), _MAX_EXPOSURE)
            shade, spec = shade * k, spec * k ** est.response
        spec *= level ** (est.response - 1)                       # shading units -> pixel units
        ratio = (shade / old[..., None]) ** est.response
    else:
        # a setup: its lights in linear light (its ratios are a photographer's), exposed for the skin. The
        # photo's own light is taken off as it was estimated, without the response: under the soft light
        # setups are mostly applied to, the response is a guess, and through it shadows would open up harshly
        if skin.sum() > 20:
            # exposed as a photographer would: the skin as bright on average as before, unless that burns the
            # lit side (its brightest tenth at most _MAX_HIGHLIGHT times the photo's), and opened up at most
            # _MAX_EXPOSURE times (a rim-lit face stays dark, as it would in the studio)
            lum = shade[skin] @ LUMA_709
            k = min(float(np.mean(old[skin])) / max(float(np.mean(lum)), 1e-6),
                    _MAX_HIGHLIGHT * float(np.percentile(old[skin], 90)) / max(float(np.percentile(lum, 90)), 1e-6),
                    _MAX_EXPOSURE)
            shade, spec = shade * k, spec * k
        ratio = shade / old[..., None]
    out, ratio = render.apply(portrait, ratio, spec, specular=specular, strength=strength, background=bg)
    return out, {"shading": _shading_picture(ratio, portrait.shape)}


def _background(choice: str, setup_choice: str | None) -> str:
    return (setup_choice or "keep") if choice == "auto" else choice


def plan_lights(est: Lighting, yaw: float, *, setup=None, azimuth=None, elevation=None, intensity=None,
                softness=None, temperature=None, ambient=None, lights="", side="auto"
                ) -> tuple[list[Light], float, str | None, bool]:
    """The lights to render: ``(lights, ambient fill, background choice of the setup, normalise exposure)``.

    Intensities and the fill are fractions of the photo's light level (:attr:`Lighting.key` + fill). Without a
    setup the first light is the estimated key, moved and changed as asked; with one, the setup's lights,
    mirrored so that positive setup azimuths fall on the short side of the face (``side`` overrides).
    """
    level = light_level(est)
    if setup:
        spec = SETUPS[setup]
        sign = {"left": -1.0, "right": 1.0}.get(side, 1.0 if yaw > 0 else -1.0)
        new = [Light(sign * a, e, i, s, np.ones(3, np.float32)) for a, e, i, s in spec["lights"]]
        fill, bg, normalise = spec["fill"], spec.get("background"), True
    else:
        new = [Light(est.azimuth, est.elevation, est.key / level, est.softness, np.ones(3, np.float32))]
        fill, bg, normalise = est.fill / level, None, False
    k = new[0]
    new[0] = Light(k.azimuth if azimuth is None else azimuth, k.elevation if elevation is None else elevation,
                   k.intensity * (1.0 if intensity is None else intensity),
                   k.softness if softness is None else softness, _colour(temperature, est))
    new += parse_lights(lights, est)
    return new, (fill if ambient is None else ambient), bg, normalise


def _colour(kelvin: float | None, est: Lighting) -> np.ndarray:
    """A light's colour relative to the photo's own light."""
    if kelvin is None:
        return np.ones(3, np.float32)
    return (kelvin_to_rgb(kelvin) / np.maximum(est.colour, 1e-3)).astype(np.float32)


def parse_lights(text: str, est: Lighting | None = None) -> list[Light]:
    """Lights from ``'azimuth,elevation[,intensity[,softness[,kelvin]]]; ...'`` (colours relative to the
    light of `est`, the photo's estimate; neutral without it).

    Raises
    ------
    ValueError
        Text that is not a list of such lights, or a light outside the ranges of the key light's controls
        (the schema turns it into a ParameterError).
    """
    out = []
    for item in filter(None, (t.strip() for t in text.split(";"))):
        try:
            v = [float(x) for x in item.split(",")]
        except ValueError:
            v = []
        if not 2 <= len(v) <= 5:
            raise ValueError(f"{item!r} is not 'azimuth,elevation[,intensity[,softness[,kelvin]]]'")
        az, el, i, s, kelvin = (v + [0.5, 0.3, None][len(v) - 2:])[:5]
        checks = [(-180 <= az <= 180, "azimuth must be in [-180, 180]"), (-90 <= el <= 90, "elevation must be "
                  "in [-90, 90]"), (0 <= i <= 8, "intensity must be in [0, 8]"), (0 <= s <= 1, "softness must "
                  "be in [0, 1]"), (kelvin is None or 1000 <= kelvin <= 40000, "kelvin must be in [1000, 40000]")]
        for ok, why in checks:
            if not ok:
                raise ValueError(f"{why} in {item!r}")
        colour = np.ones(3, np.float32) if est is None else _colour(kelvin, est)
        out.append(Light(az, el, i, s, colour))
    return out


def light_sh(source) -> np.ndarray:
    """Radiance SH (9, 3) of the light in a picture (a Portrait): its own estimate when it shows a face, else the
    SH projection of the whole image as a scene (:func:`environment_sh`). (The photo itself, given as
    --match-light, arrives as the photo, its estimate cached: see :func:`portrait_studio.inputs.resolve`.)"""
    if source.faces:
        return source.lighting().sh
    return environment_sh(source.image)


def _shading_picture(ratio: np.ndarray, shape) -> np.ndarray:
    """The luminance ratio of new to old light as a full-resolution mask: 0.5 where nothing changed."""
    h, w = shape[:2]
    small = np.clip(ratio @ LUMA_709 * 0.5, 0, 1).astype(np.float32)     # linear resampling keeps [0, 1]
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
