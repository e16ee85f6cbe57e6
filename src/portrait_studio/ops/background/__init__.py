"""background: replace the background so that the portrait looks shot in one place.

The steps, each in its own module: the soft matte and the decontaminated foreground (:mod:`.matte`); the new
background placed to cover the frame with its horizon at the camera's eye level (:mod:`.scene`); the lens
match, the background defocused by the thin-lens circle of confusion (:mod:`portrait_studio.core.lens`);
the light match, light wrap and grain (:mod:`.light`), or an optional learned harmoniser (:mod:`.harmonise`);
then the composite, in linear light.
"""
from __future__ import annotations

import math
from typing import Annotated, Literal

import cv2
import numpy as np
from pydantic import Field

from ...analysis.regions import FACE_OVAL
from ...core import lens, luminance
from ...core.colour import achromatic, is_monochrome
from ...core.grain import add_grain, noise_level
from ...core.grid import Grid
from ...core.guided import sample_bilinear
from ...errors import InputError, ParameterError
from ...inputs import ImageInput, ModelInput
from ...schema import operation
from . import harmonise, light, matte, scene

#: Smallest background picture accepted, pixels per side.
MIN_BACKGROUND_PX = 64
_LIGHT_WRAP_RADIUS = 0.006      # light-wrap reach, fraction of the image diagonal
_LENS_WORK = 8.0                # the background is made where its blur disc is this many pixels across
_MIN_PERSON = 0.002             # smallest person (fraction of the frame) the matte must show

Backdrop = Literal[tuple(scene.BACKDROPS)]


def refined_matte(portrait) -> tuple[np.ndarray, np.ndarray]:
    """The portrait's full-resolution alpha and decontaminated foreground (see :func:`.matte.refine_matte`),
    computed once per image, so that changing the background of the same photo again is cheap.

    Raises
    ------
    InputError
        When the photo shows no person: no face, or a person matte that is empty.
    """
    def refine() -> tuple[np.ndarray, np.ndarray]:
        # the person matte alone cannot tell: it finds "a person" in a cat, a cup of coffee or a logo
        if not portrait.faces:
            raise InputError(portrait.path, "no person found (no face in the photo)",
                             "use a photo of a person with the face visible")
        coarse = portrait.coarse_matte
        if float((coarse > 0.5).mean()) < _MIN_PERSON:
            raise InputError(portrait.path, "no person found (the person matte is empty)",
                             "use a photo with a person in it")
        return matte.refine_matte(portrait.image, coarse)
    # the decontaminated foreground holds these pixels' colours: it is kept with this image only
    return portrait.cached(("background-matte", matte.WORK_SIZE), refine, per_image=True)


def _background_picture(picture) -> tuple[np.ndarray, float | None]:
    """The background picture's pixels (linear) and its 35 mm-equivalent focal length if its EXIF says.

    Raises
    ------
    InputError
        For a picture too small to be a background.
    """
    h, w = picture.shape
    if min(h, w) < MIN_BACKGROUND_PX:
        raise InputError(picture.path, f"is only {w}×{h} pixels; a background needs at least {MIN_BACKGROUND_PX} px "
                         "on each side", "use a larger picture")
    return picture.image, lens.focal_35mm_from_exif(picture.metadata.exif if picture.metadata else None)


def camera_horizon(face, shape: tuple[int, int], focal_px: float) -> float:
    """Where the horizon crosses the frame, as a fraction of the height from the top.

    Two estimates averaged: portraits are mostly taken from about eye height, and the horizon passes through
    everything at the camera's height, so through the eyes; and the camera's tilt, read from the head's
    pitch (a level head looks up into a camera that looks down at it, half of the pitch being taken as the
    camera's tilt since heads tilt too), puts the horizon ``f·tan(tilt)`` above the frame's centre.
    """
    h = shape[0]
    if face is None:
        return 0.5
    eyes_y = float(face.pupils[:, 1].mean())
    tilt = math.radians(float(np.clip(0.5 * face.pose.pitch, -20.0, 20.0)))
    tilt_y = h / 2.0 - focal_px * math.tan(tilt)
    return float(np.clip(0.5 * (eyes_y + tilt_y) / h, 0.05, 0.95))


@operation("background", extras={"matte": ("mask", "the refined soft matte of the person, 1 = person"),
                                  "alpha": ("alpha", "the cut-out's opacity (with --cutout)")},
           transparent=lambda p: p.cutout,  # c2pa.placed would need the new background as an ingredient
           exclusive=[("image", "colour", "backdrop")])
def background(portrait, *,
               image: Annotated[ImageInput | None, Field(description=(
                   "A photo to put behind the subject, any size and aspect: scaled to cover the frame and "
                   "cropped, never stretched."))] = None,
               colour: Annotated[str | None, Field(description=(
                   "A flat background colour: #rrggbb, r,g,b (8-bit sRGB), white, black or grey."))] = None,
               backdrop: Annotated[Backdrop | None, Field(description=(
                   "A generated studio backdrop: seamless paper with light fall-off, or mottled canvas."))] = None,
               f_number: Annotated[float, Field(ge=0.95, le=32, description=(
                   "Aperture (35 mm-equivalent f-number) the background's defocus is rendered for: smaller "
                   "is blurrier."))] = 2.8,
               background_distance: Annotated[float, Field(ge=0.0, le=10000, description=(
                   "How far behind the subject the background is, metres."))] = 4.0,
               focal_length: Annotated[float | None, Field(ge=8, le=1200, description=(
                   "Focal length, 35 mm-equivalent mm (default: from the photo's EXIF, else 50)."))] = None,
               horizon: Annotated[float | None, Field(ge=0, le=1, description=(
                   "Where the background's horizon goes, fraction of the height from the top (default: the "
                   "camera's eye level, from the head pose and the face's position)."))] = None,
               match_light: Annotated[float, Field(ge=0, le=1, description=(
                   "How far the subject's colour temperature and exposure are adapted to the new scene."))] = 1.0,
               harmoniser: Annotated[ModelInput | None, Field(description=(
                   "A learned harmonisation model: a registered name or a path to an .onnx file (needs "
                   "portrait-studio[onnx]); replaces the statistical exposure and colour match, scaled by "
                   "match-light."))] = None,
               relight: Annotated[float, Field(ge=0, le=1, description=(
                   "How far the subject is relit for the change of light direction and spread from the photo's "
                   "own scene to the new one (the relight technique's lighting from an environment; needs a face "
                   "and a new scene, and acts with the light match)."))] = 0.0,
               light_wrap: Annotated[float, Field(ge=0, le=1, description=(
                   "How much of the background's light wraps around the subject's edges."))] = 0.15,
               grain: Annotated[bool, Field(description=(
                   "Match noise/grain between the subject and the new background."))] = True,
               seed: Annotated[int, Field(ge=0, le=2**31 - 1, description=(
                   "Seed of the generated backdrop's texture and of the grain."))] = 0,
               cutout: Annotated[bool, Field(description=(
                   "Output the cut-out subject with transparency instead of a composite (PNG/TIFF/WebP keep "
                   "the alpha)."))] = False,
               ):
    """Replace the background so the portrait looks shot in one place: soft matte with hair, colour
    decontamination, lens-matched defocus, horizon at the camera's eye level, light and colour matched.

    With no --image, --colour or --backdrop the photo's own background is kept and only defocused.
    A photo without a person (no face found) is refused: the person matte alone finds people in cats.

    Examples
    --------
    portrait background in.jpg -o out.jpg --image beach.jpg --f-number 2.0
    portrait background in.jpg -o out.jpg --backdrop grey-paper
    portrait background in.jpg -o cut.png --cutout
    """
    fill = scene.parse_colour(colour) if colour is not None else None
    if colour is not None and fill is None:
        raise ParameterError(f"background: colour must be #rrggbb, r,g,b (0-255), white, black or grey "
                             f"(got {colour!r})")
    picture, picture_focal = _background_picture(image) if image is not None else (None, None)
    model = harmonise.load(harmoniser) if harmoniser is not None else None

    alpha, fg = refined_matte(portrait)
    if portrait.alpha is not None:              # what the input hides is not the person's
        alpha = alpha * portrait.alpha
    extras = {"matte": alpha}
    if cutout:
        return np.where(alpha[..., None] > 0, fg, 0.0).astype(np.float32), {**extras, "alpha": alpha}

    h, w = portrait.shape
    face = portrait.face()                      # there is one: refined_matte refuses a photo without
    cam = lens.camera(w, h, interocular_px=face.interocular, yaw=face.pose.yaw, focal_35mm=focal_length,
                      exif=portrait.metadata.exif if portrait.metadata else None)
    blur = cam.blur_px(f_number, cam.subject_m + background_distance)
    level = camera_horizon(face, (h, w), cam.focal_px) if horizon is None else horizon

    # the new scene, sharp, at the size the lens blur allows (a blurred plane holds no finer detail)
    keep = picture is None and fill is None and backdrop is None
    s = min(1.0, _LENS_WORK / blur) if fill is None and blur >= 2.0 else 1.0
    grid = Grid.whole((h, w), s, min_size=8)
    small_hw = grid.size[::-1]
    alpha_small, image_small = grid.take(alpha), grid.take(portrait.image)
    if picture is not None:
        zoom = float(np.clip(cam.focal_35mm / picture_focal, 1.0, 4.0)) if picture_focal else 1.0
        bg = scene.place(picture, small_hw, zoom=zoom, dst_horizon=level)
    elif fill is not None:
        bg = np.broadcast_to(fill, small_hw + (3,)).astype(np.float32)
    elif backdrop is not None:
        cx = (face.box[0] + face.box[2] / 2) / w
        bg = scene.backdrop(backdrop, small_hw, centre=(cx, min(level, 0.6)), seed=seed)
    else:
        bg = scene.painted_out(image_small, alpha_small)

    # light and colour: the subject adapted to the new scene (before the lens: the blur keeps the scene's light)
    fg_small, adapted = image_small, False
    matching = match_light > 0 and not keep     # keeping the photo's own scene: its light already agrees
    if matching and model is not None:          # the learned harmoniser, as one global colour transform
        m = harmonise.transform(model, image_small, alpha_small, bg, strength=match_light)
    elif matching:                              # the statistical match of exposure and colour
        old, new = light.scene_light(image_small, 1.0 - alpha_small), light.scene_light(bg)
        # the subject read at the size its statistics were measured at (highlights average away when smaller)
        read = min(1.0, light.STATS_SIZE / max(h, w))
        if max(small_hw) >= light.STATS_SIZE or grid.full:
            subject, read = (image_small, alpha_small), s
        elif read == 1.0:
            subject = (portrait.image, alpha)
        else:
            at = Grid.whole((h, w), read)
            subject = (at.take(portrait.image), at.take(alpha))
        outline = face.landmarks[FACE_OVAL, :2] * read
        m, _ = light.light_transform(old, new, light.subject_light(*subject, outline), strength=match_light)
    mono = is_monochrome(image_small)             # a black-and-white photo stays so: exposure alone is matched
    if matching and mono:
        m = achromatic(m)
    if matching:
        fg, fg_small = cv2.transform(fg, m), cv2.transform(image_small, m)
        own_scene = scene.painted_out(image_small, alpha_small) if relight > 0 else None
        fg, adapted = light.relight_to_scene(fg, portrait, own_scene, bg, strength=relight), True

    # the lens: the background plane defocused by its circle of confusion, then brought to full size
    sharp_noise = noise_level(bg, np.ones(small_hw, np.float32)) if grid.full and blur < 2.0 else 0.0
    if fill is None:
        bg = lens.defocus_plane(bg, blur * s)
    wrap = light.light_wrap(fg_small, alpha_small, bg, radius=_LIGHT_WRAP_RADIUS * math.hypot(*small_hw),
                            strength=light_wrap)
    if wrap is not None and mono:                # the light that wraps round a black-and-white subject, grey
        wrap = np.repeat(luminance(wrap)[..., None], 3, axis=-1)
    bg = grid.enlarge(bg)

    # the composite, in place (in the adapted foreground, a copy of its own): bg + alpha (fg - bg), plus the
    # light wrapping round the edges (brought to full size only where it is not zero)
    out = fg if adapted else fg.copy()
    out -= bg
    out *= alpha[..., None]
    out += bg
    del bg
    if wrap is not None and grid.full:
        out += wrap
    elif wrap is not None:
        live = cv2.dilate((wrap.max(-1) > 0).astype(np.uint8), np.ones((3, 3), np.uint8))
        ys, xs = np.nonzero(cv2.resize(live, (w, h), interpolation=cv2.INTER_NEAREST))
        out[ys, xs] += sample_bilinear(wrap, (h, w), ys, xs)

    # grain: whichever layer is cleaner gets the difference
    if grain:
        n_fg = noise_level(portrait.image, alpha > 0.95)
        if n_fg > sharp_noise:
            out = add_grain(out, math.sqrt(n_fg ** 2 - sharp_noise ** 2), 1.0 - alpha, seed=seed)
        elif sharp_noise > n_fg:
            out = add_grain(out, math.sqrt(sharp_noise ** 2 - n_fg ** 2), alpha, seed=seed)
    return out, extras
