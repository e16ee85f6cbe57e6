"""refocus: move the focal plane and the aperture after the shot, from the depth the phone stored or an estimate.

The steps: the depth (:mod:`.depth`: a depth file, the phone's own map, else an estimate from the face and
the person matte), fitted to the photo's outlines as two surfaces and a share; the optics (thin-lens circle
of confusion, :mod:`portrait_studio.core.lens`, shared with background's lens blur); the layered rendering
that respects occlusion (:mod:`.render`), highlights recovered before the blur so that out-of-focus lights
glow, and the photo's grain put back where the blur took it away.
"""
from __future__ import annotations

import hashlib
import math
from typing import Annotated, Literal

import cv2
import numpy as np
from pydantic import Field

from ...core import lens, to_srgb8
from ...core.grain import add_grain, noise_level
from ...core.guided import guided_upsample
from ...errors import InputError, ParameterError
from ...inputs import ImageInput
from ...schema import operation
from . import depth as depth_
from .render import Colours, render_layers, unmix_outlines

#: Where no face gives the subject's distance and the depth is relative: the distance assumed, metres.
_DEFAULT_SUBJECT_M = 2.0
#: The focus point's neighbourhood whose median depth is taken, fraction of the image diagonal.
_FOCUS_WINDOW = 0.01
#: Depth kept sharp when focusing on a face (nose tip to ears), metres.
FACE_DEPTH_M = 0.15
#: Linear values above this (the photo's white = 1) are taken as clipped highlights, recovered before the blur.
_CLIPPED = 0.92
#: Linear values above this are bright: a light's neighbourhood is mostly darker.
_BRIGHT = 0.5
#: The neighbourhood in which a clipped highlight must stand mostly alone to be taken as a light, fraction of
#: the image diagonal.
_LIGHT_SIZE = 0.02
#: How many times brighter a fully clipped highlight is taken to have been, at highlights = 1.
_HIGHLIGHT_GAIN = 6.0


def parse_focus(text: str | None) -> str | tuple[float, float] | None:
    """``face``, ``left-eye``, ``right-eye`` or a point ``X,Y`` (fractions of the width and height)."""
    if text is None:
        return None
    t = text.strip().lower()
    if t in ("face", "left-eye", "right-eye"):
        return t
    try:
        x, y = (float(v) for v in t.split(","))
    except ValueError:
        x = y = -1.0
    if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
        raise ParameterError(f"refocus: focus must be face, left-eye, right-eye or a point X,Y with both in "
                             f"0-1 (got {text!r})")
    return (x, y)


def _camera(portrait, focal_length: float | None, sensor_width: float | None) -> tuple[float, float]:
    """(focal length the f-number refers to, mm; the focal length in pixels of this image).

    With a sensor width the focal length is the real one (the flag's, else the EXIF FocalLength) and the
    f-number the real one; without, both are 35 mm-equivalent (:mod:`portrait_studio.core.lens`)."""
    h, w = portrait.shape
    exif = portrait.metadata.exif if portrait.metadata else None
    if sensor_width is not None:
        f_mm = focal_length or lens.focal_mm_from_exif(exif)
        if not f_mm:
            raise ParameterError("refocus: sensor-width needs the real focal length: give --focal-length (mm)")
        return float(f_mm), float(f_mm) * w / float(sensor_width)
    f35 = focal_length or lens.focal_35mm_from_exif(exif) or lens.DEFAULT_FOCAL_35MM
    return float(f35), lens.focal_length_px(f35, w, h)


def _surfaces(portrait, picture, *, kind: str, near: float | None, far: float | None, focal_px: float
              ) -> depth_.Surfaces:
    """The scene's depth fitted to the photo (see :mod:`.depth`), metres; relative depth scaled by the face."""
    h, w = portrait.shape
    guide = to_srgb8(portrait.image).astype(np.float32) / 255.0
    if picture is not None:
        d, absolute = depth_.from_file(picture, (h, w), kind=kind, near=near, far=far)
        if not absolute:
            d = d * (_subject_m(portrait, focal_px) / _face_depth(portrait, d))
        return depth_.split_outlines(d, guide, source="file")
    stored = portrait.stored_depth()
    if stored is not None:
        d = depth_.upsample_depth(stored.depth, guide)
        matte = stored.matte if stored.matte is not None and _same_aspect(stored.matte.shape, (h, w)) else None
        if matte is not None:
            small = cv2.resize(guide, matte.shape[::-1], interpolation=cv2.INTER_AREA)
            matte = np.clip(guided_upsample(guide, small, matte, 2, 1e-4), 0.0, 1.0)
        else:
            matte = _person_matte(portrait, guide) if portrait.faces else None
        if matte is None:
            return depth_.split_outlines(d, guide, source=stored.source)
        return depth_.split_by_matte(d, matte, stored.source)
    if not portrait.faces:
        raise InputError(portrait.path, "has no depth map stored and no face to estimate the depth from",
                         "give a depth map with --depth FILE (depth in metres, or 8/16-bit with --depth-kind)")
    face = portrait.face()
    subject = _subject_m(portrait, focal_px)
    matte = _person_matte(portrait, guide)
    d = depth_.estimate((h, w), face=face, matte=matte, subject_m=subject, focal_px=focal_px)
    return depth_.split_by_matte(d, matte, "estimate")


def _same_aspect(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return abs(a[1] / a[0] - b[1] / b[0]) <= 0.02 * (b[1] / b[0])


def _person_matte(portrait, guide: np.ndarray) -> np.ndarray:
    """The person matte at full size, its edges put on the photo's by the guided filter."""
    coarse = portrait.coarse_matte
    small = cv2.resize(guide, coarse.shape[::-1], interpolation=cv2.INTER_AREA)
    return np.clip(guided_upsample(guide, small, coarse, 2, 1e-3), 0.0, 1.0)


def _subject_m(portrait, focal_px: float) -> float:
    if not portrait.faces:
        return _DEFAULT_SUBJECT_M
    face = portrait.face()
    turned = max(math.cos(math.radians(min(abs(face.pose.yaw), lens.MAX_YAW))), 0.5)
    return lens.subject_distance(face.interocular / turned, focal_px)


def _face_depth(portrait, d: np.ndarray) -> float:
    if portrait.faces:
        return _depth_at(d, portrait.face().pupils.mean(0))
    return float(np.median(d))


def _depth_at(d: np.ndarray, xy) -> float:
    """The median depth around the pixel `xy`, metres."""
    h, w = d.shape
    r = max(2, int(_FOCUS_WINDOW * math.hypot(h, w)))
    x, y = int(np.clip(round(float(xy[0])), 0, w - 1)), int(np.clip(round(float(xy[1])), 0, h - 1))
    return float(np.median(d[max(0, y - r):y + r + 1, max(0, x - r):x + r + 1]))


def _focus_m(portrait, surfaces: depth_.Surfaces, focus, focus_distance: float | None) -> float:
    if focus_distance is not None:
        return float(focus_distance)
    h, w = portrait.shape
    if isinstance(focus, tuple):
        return _depth_at(surfaces.front, (focus[0] * (w - 1), focus[1] * (h - 1)))
    if not portrait.faces:
        if focus is not None:
            portrait.face(needed_by="refocus --focus " + focus)          # the clear "no face" error
        return _person_focus(surfaces)
    pupils = portrait.face().pupils                  # the subject's right eye (image left) first
    where = {"left-eye": pupils[1], "right-eye": pupils[0]}.get(focus, pupils.mean(0))
    return _depth_at(surfaces.front, where)


def _person_focus(surfaces: depth_.Surfaces) -> float:
    """Where to focus when no face is found and none is asked for: the top of the person (the head) when a
    person matte is known, else the middle of the frame."""
    h, w = surfaces.front.shape
    person = surfaces.person
    if person is None or float((person > 0.5).mean()) < 0.005:
        return _depth_at(surfaces.front, ((w - 1) / 2, (h - 1) / 2))
    rows = np.nonzero((person > 0.5).any(axis=1))[0]
    top = rows[0] + max(1, (rows[-1] - rows[0]) // 4)                 # the person's top quarter
    sel = person[:top] > 0.5
    return float(np.median(surfaces.front[:top][sel]))


def _light_gains(image: np.ndarray, amount: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """How much brighter each clipped highlight of the photo `image` is taken to have been (its true light
    was cut at the photo's white), so that a blurred light spreads into a glowing disc instead of a dull grey
    one: the pixels ``(ys, xs)`` and their gains (n,), 1 for most.

    A light is small and stands out of a darker surround: where much of the neighbourhood is bright too (a
    blown sky, a white shirt whose folds are not all clipped, a bright cheek) the brightness is a surface's,
    and is left as it is. Judged on the photo, not on the colours
    unmixed from it at outlines (a thin line of them may be bright without being a light)."""
    peak = image.max(axis=-1)
    clipped = peak > _CLIPPED
    ys, xs = np.nonzero(clipped)
    if not ys.size:
        return ys, xs, np.ones(0, np.float32)
    h, w = clipped.shape
    f = max(1, int(max(h, w) / 512))
    bright = (peak > _BRIGHT).astype(np.float32)     # a light stands out of a darker surround
    small = cv2.resize(bright, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA)
    k = max(3, int(_LIGHT_SIZE * np.hypot(*small.shape)) | 1)
    crowd = cv2.blur(small, (k, k))[np.minimum(ys // f, small.shape[0] - 1), np.minimum(xs // f, small.shape[1] - 1)]
    t = np.clip((peak[ys, xs] - _CLIPPED) / (1.0 - _CLIPPED), 0.0, 1.0)
    t *= np.clip(1.0 - 3.0 * crowd, 0.0, 1.0)
    return ys, xs, (1.0 + amount * (_HIGHLIGHT_GAIN - 1.0) * t * t).astype(np.float32)


@operation("refocus", c2pa_action="c2pa.filtered", extras={"depth": ("mask", "the depth used, as a grey map of disparity: 1 = the nearest point, "
                                                 "0 = the farthest")},
           exclusive=[("focus", "focus_distance")])
def refocus(portrait, *,
            f_number: Annotated[float, Field(ge=0.7, le=64, description=(
                "Aperture (f-number) to render: smaller is shallower. 35 mm-equivalent unless --sensor-width "
                "is given."))] = 2.0,
            focus: Annotated[str | None, Field(description=(
                "Where to focus: face (the eyes, the default), left-eye or right-eye (the subject's), or a point "
                "X,Y as fractions of the width and height from the top left."))] = None,
            focus_distance: Annotated[float | None, Field(gt=0, le=100000, description=(
                "Focus at this distance from the camera, metres (instead of --focus)."))] = None,
            depth: Annotated[ImageInput | None, Field(description=(
                "A depth map for the photo, same aspect ratio: a float TIFF in metres, or an 8/16-bit image "
                "(see --depth-kind, --depth-near, --depth-far). Default: the depth the phone stored in the "
                "file (iPhone HEIC/JPEG, Google GDepth), else an estimate from the face and the person."))] = None,
            depth_kind: Annotated[Literal["depth", "disparity"], Field(description=(
                "What the depth map holds: depth (bright = far; metres in a float file) or disparity "
                "(bright = near; 1/m in a float file)."))] = "depth",
            depth_near: Annotated[float | None, Field(gt=0, le=100000, description=(
                "For an 8/16-bit depth map: the distance of its nearest code, metres (with --depth-far; "
                "without both the map is relative, scaled by the face's size)."))] = None,
            depth_far: Annotated[float | None, Field(gt=0, le=100000, description=(
                "For an 8/16-bit depth map: the distance of its farthest code, metres."))] = None,
            focal_length: Annotated[float | None, Field(ge=1, le=2000, description=(
                "Focal length, mm: 35 mm-equivalent, or the real one with --sensor-width (default: the "
                "photo's EXIF, else 50)."))] = None,
            sensor_width: Annotated[float | None, Field(gt=0, le=100, description=(
                "Sensor width, mm: then --focal-length and --f-number are the real ones, not "
                "35 mm-equivalent."))] = None,
            bokeh: Annotated[str, Field(description=(
                "Aperture shape: disk, blades:N (an N-bladed iris, 3-16) or cat-eye (cut by the lens "
                "barrel towards the corners)."))] = "disk",
            highlights: Annotated[float, Field(ge=0, le=1, description=(
                "How much clipped highlights are recovered before the blur so out-of-focus lights glow: "
                "0 = none, 1 = up to 6x."))] = 0.5,
            focus_range: Annotated[float | None, Field(ge=0, le=1000, description=(
                "Depth kept sharp around the focus, metres (default: a face's depth, 0.15, when focusing on "
                "a face or an eye; 0 for --focus-distance or a point: one plane, as a lens)."))] = None,
            grain: Annotated[float, Field(ge=0, le=1, description=(
                "Share of the photo's own noise put back on the blurred areas so they do not look pasted: "
                "0 = none, 1 = all of it (a lens at that aperture would keep all; 0.4 keeps the blur "
                "reading as blur on a plain wall)."))] = 0.4,
            seed: Annotated[int, Field(ge=0, le=2 ** 31 - 1, description=(
                "Seed of the grain put back."))] = 0,
            ):
    """Move the focal plane and the aperture after the shot, from the depth the phone stored or an estimate:
    thin-lens circle of confusion, occlusion-aware layered bokeh, shaped apertures, focus on an eye by name.

    Examples
    --------
    portrait refocus in.heic -o out.jpg --f-number 1.4
    portrait refocus in.jpg -o out.jpg --focus left-eye --bokeh blades:7
    portrait refocus in.png -o out.png --depth depth.tif --focus-distance 1.5 --f-number 2.8
    """
    try:
        lens.parse_aperture(bokeh)
    except ValueError as e:
        raise ParameterError(f"refocus: bokeh: {e}") from None
    where = parse_focus(focus)
    if (depth_near is None) != (depth_far is None) or (depth_near is not None and depth_near >= depth_far):
        raise ParameterError("refocus: give both --depth-near and --depth-far, the near one smaller "
                             f"(got {depth_near}, {depth_far})")
    h, w = portrait.shape
    focal_mm, focal_px = _camera(portrait, focal_length, sensor_width)

    def compute():
        return _surfaces(portrait, depth, kind=depth_kind, near=depth_near, far=depth_far, focal_px=focal_px)
    key = ("refocus-depth", _input_key(depth), depth_kind, depth_near, depth_far, round(focal_px, 3))
    surfaces = portrait.cached(key, compute)
    focus_m = _focus_m(portrait, surfaces, where, focus_distance)

    if focus_range is None:          # a face is kept sharp all through; a distance or a point is one plane
        focus_range = 0.0 if focus_distance is not None or isinstance(where, tuple) else FACE_DEPTH_M
    near_m = max(focus_m - focus_range / 2, 1e-3)
    far_m = focus_m + focus_range / 2

    # the circle of confusion is linear in the disparity: c = k (1 - s / d), k = f² / (N (s - f)) in pixels
    px = 0.5 * focal_px / focal_mm
    k_near = px * float(lens.signed_coc_mm(focal_mm, f_number, near_m, 1e9))
    k_far = px * float(lens.signed_coc_mm(focal_mm, f_number, far_m, 1e9))
    disp_front, disp_back = portrait.cached(("refocus-disparity",) + key, surfaces.disparities)

    def radius(disp: np.ndarray) -> np.ndarray:
        """Signed blur radius, pixels: the circle of confusion from the nearer edge of the range kept sharp for
        what lies in front of it, from the farther edge for what lies behind, none within."""
        before = np.minimum(k_near - (k_near * near_m) * disp, 0.0)
        behind = k_far - (k_far * far_m) * disp
        np.maximum(behind, 0.0, out=behind)
        behind += before
        return behind

    def colours() -> Colours:                           # the two surfaces' colours at outlines (see render)
        outline = (surfaces.mix < 0.995) | (surfaces.front != surfaces.back)
        front, back, plate = unmix_outlines(portrait.image, surfaces.front, surfaces.back, surfaces.mix, outline)
        ys, xs, gain = _light_gains(portrait.image, highlights)
        lit = gain > 1.0
        ys, xs, gain = ys[lit], xs[lit], gain[lit]
        in_front = surfaces.mix[ys, xs] >= 0.5          # the surface holding most of the pixel is the light
        added = np.zeros((ys.size, 3), np.float32)      # (at an outline the other one is not lit)
        if ys.size:
            front, back = front.copy(), back.copy()
            for surface, sel in ((front, in_front), (back, ~in_front)):
                added[sel] = surface[ys[sel], xs[sel]] * (gain[sel, None] - 1.0)
                surface[ys[sel], xs[sel]] += added[sel]
        prepared = Colours(front, back, plate, surfaces.mix)
        prepared.lights = ys, xs, in_front, added        # the light added to the lights, by surface
        prepared.noise = noise_level(portrait.image, np.ones(portrait.shape, np.float32))
        return prepared
    prepared = portrait.cached(("refocus-colours",) + key + (highlights,), colours, per_image=True)
    front = radius(disp_front)
    back = front if disp_back is disp_front else radius(disp_back)
    out = render_layers(portrait.image, front, behind=back, mix=surfaces.mix, colours=prepared, aperture=bokeh)
    ys, xs, in_front, added = prepared.lights
    if ys.size:                                         # a light not blurred keeps its own light: what was
        share = np.where(in_front, surfaces.mix[ys, xs], 1.0 - surfaces.mix[ys, xs])      # added, taken back
        rad = np.where(in_front, front[ys, xs], back[ys, xs])
        out[ys, xs] -= (np.clip(1.5 - np.abs(rad), 0.0, 1.0) * share)[:, None] * added
    if grain > 0 and prepared.noise > 1e-4:             # a share of the photo's noise, where the blur took it
        blurred = np.abs(front)
        blurred -= 0.75
        blurred *= 1 / 1.5
        np.clip(blurred, 0.0, 1.0, out=blurred)
        out = add_grain(out, grain * prepared.noise, blurred, seed=seed)
    return out, {"depth": portrait.cached(("refocus-depth-map",) + key, surfaces.disparity_map)}


def _input_key(picture) -> str | None:
    """What identifies a depth picture in the cache: its path and a digest of a sample of its pixels."""
    if picture is None:
        return None
    sample = np.ascontiguousarray(picture.image[::7, ::7, 0])
    return f"{picture.path}:{picture.shape}:{hashlib.sha1(sample.tobytes()).hexdigest()[:12]}"
