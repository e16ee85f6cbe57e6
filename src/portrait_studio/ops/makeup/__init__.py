"""makeup: lipstick, blush, eyeshadow and brow fill tried on as pigment in linear light.

Each layer is a smooth per-channel gain on the diffuse light of its area (:mod:`.pigment`), so texture,
creases, pores and the light across the face stay the photo's; areas come from the face mesh snapped to the
photo's own edges (:mod:`.areas`). Colours are given as ``#rrggbb`` or taken from a reference portrait, each
relative to that portrait's skin (so a lipstick photographed on pale skin in warm light transfers as the
same make-up, not the same pixels).
"""
from __future__ import annotations

import numpy as np

from ...analysis.regions import LEFT_BROW, LIPS_OUTER, RIGHT_BROW
from ...core import LUMA_709
from ...core.masked import gaussian, masked_gaussian
from ...errors import InputError, NoFaceError
from ...schema import operation
from .areas import BROW_LOWER, CHEEKS, UPPER_LIDS, Crop, brow_area, cheek_area, lid_area, lips_area
from .pigment import apply_gain, gloss_highlight, pigment_gain, split_shine
from .settings import MakeupSettings, linear_colour

SHINE_KEPT = {"matte": 0.3, "satin": 1.0, "gloss": 1.2}     # share of the lips' own shine each finish keeps
_MEASURE_FACE = 200.0                                         # face height, px, where a portrait's colours are measured


@operation("makeup", face=True, c2pa_action="c2pa.color_adjustments",
           extras={"mask": ("mask", "where make-up was applied and how thickly, 0 = bare")})
def makeup(portrait, settings: MakeupSettings):
    """Try on make-up as pigment in linear light: lipstick (matte, satin, gloss), blush, eyeshadow, brow fill.

    The lips keep their creases, texture and highlights (a matte finish tones the shine down, a gloss adds a
    highlight where the light falls); edges follow the real lips and lids, snapped from the face mesh; an
    open mouth's teeth and tongue are never coloured. Colours are #rrggbb, or taken from a made-up
    reference portrait (``--reference``) for those not given.

    Examples
    --------
    portrait makeup in.jpg -o out.jpg --lips "#9e1b32" --lip-finish matte
    portrait makeup in.jpg -o out.jpg --lips "#c2185b" --lip-finish gloss --blush "#e8747c" --eyeshadow "#6d4c41"
    portrait makeup in.jpg -o out.jpg --reference made_up.jpg
    """
    s = settings
    face = portrait.face()
    colours = {"lips": s.lips, "blush": s.blush, "eyeshadow": s.eyeshadow, "brows": s.brows}
    rgb = {k: linear_colour(v) for k, v in colours.items() if v is not None}
    if s.reference is not None and len(rgb) < 4:
        for k, v in reference_colours(portrait, s.reference).items():
            rgb.setdefault(k, v)
    image = portrait.image.copy()
    mask = np.zeros(portrait.shape, np.float32)
    if "lips" in rgb and s.lip_opacity > 0:
        _lipstick(image, mask, face, rgb["lips"], s.lip_finish, s.lip_opacity)
    if "blush" in rgb and s.blush_opacity > 0:
        for side in (0, 1):
            _blush(image, mask, face, rgb["blush"], s.blush_opacity, side)
    if "eyeshadow" in rgb and s.eyeshadow_opacity > 0:
        _eyeshadow(image, mask, face, rgb["eyeshadow"], s.eyeshadow_opacity)
    if "brows" in rgb and s.brow_opacity > 0:
        _brows(image, mask, face, rgb["brows"], s.brow_opacity)
    return image, {"mask": mask}


def _level(rgb: np.ndarray, weight: np.ndarray) -> float:
    """Weighted mean luminance of an area."""
    return float((rgb @ LUMA_709 * weight).sum() / max(float(weight.sum()), 1e-6))


def _crop(image, face, idx, margin: float) -> Crop | None:
    """The full-resolution crop around the mesh points `idx`, None when it falls outside the photo."""
    crop = Crop(face, face.landmarks[list(idx), :2], margin, image.shape[:2])
    return None if crop.empty else crop


def _tint(image, mask, crop: Crop, colour, area, weight, *, depth: float, sigma: float, local_from=None) -> None:
    """Lay a pigment over `area` of the crop: the gain from its local colour (a blur of `sigma` face heights
    over `local_from`, default the area) to the pigment, at `weight` (H, W); the mask records the weight."""
    region = image[crop.slices]
    local = masked_gaussian(region, area if local_from is None else local_from, sigma * crop.unit)
    gain = pigment_gain(local, colour, _level(local, area), depth=depth)
    region[...] = apply_gain(region, gain, weight)
    np.maximum(mask[crop.slices], weight, out=mask[crop.slices])


def _lipstick(image, mask, face, colour, finish: str, opacity: float) -> None:
    crop = _crop(image, face, LIPS_OUTER, 0.04)
    if crop is None:
        return
    region = image[crop.slices]
    lips = lips_area(crop, region)
    sel = lips > 0.5
    if sel.sum() <= 20:
        return
    unit = crop.unit
    y = region @ LUMA_709
    # the lips' own diffuse colour nearby (their highlights left out) and the white shine over it
    local = masked_gaussian(region, lips * (y < float(np.percentile(y[sel], 85))), 0.03 * unit)
    # the white a pixel shows is shine only beyond the colour noise of the fit (its lips' typical value) and
    # over more than a pixel: the rest stays in the diffuse part, coloured with it (else the noise, which
    # the lipstick's dark channels cannot hide, would show as grain)
    shine = gaussian(split_shine(region, local), 0.003 * unit)
    shine = np.maximum(shine - 2.0 * float(np.median(shine[sel])), 0.0)
    diffuse = region - shine[..., None]
    level = _level(local, lips)
    gain = pigment_gain(local, colour, level, depth=0.6)
    kept = SHINE_KEPT[finish] * shine
    if finish == "gloss":
        shading = diffuse @ LUMA_709 / np.maximum(local @ LUMA_709, 1e-5)
        kept = kept + gloss_highlight(shading, lips, level, 0.006 * unit)
    painted = diffuse * gain + kept[..., None]
    region += (opacity * lips)[..., None] * (painted - region)
    np.maximum(mask[crop.slices], opacity * lips, out=mask[crop.slices])


def _blush(image, mask, face, colour, opacity: float, side: int) -> None:
    crop = _crop(image, face, CHEEKS[side], 0.15)
    if crop is not None and (area := cheek_area(crop, side)).max() >= 0.05:
        # a tint: the skin's lightness kept, its colour measured over the skin around
        _tint(image, mask, crop, colour, area, opacity * area, depth=0.0, sigma=0.05,
              local_from=crop.regions(("skin",))["skin"])


def _eyeshadow(image, mask, face, colour, opacity: float) -> None:
    crop = _crop(image, face, [i for group in UPPER_LIDS + BROW_LOWER for i in group], 0.04)
    if crop is not None and (area := lid_area(crop, image[crop.slices])).max() >= 0.05:
        _tint(image, mask, crop, colour, area, opacity * area, depth=0.8, sigma=0.02)


def _brows(image, mask, face, colour, opacity: float) -> None:
    crop = _crop(image, face, RIGHT_BROW + LEFT_BROW, 0.04)
    if crop is None:
        return
    area, gap = brow_area(crop, image[crop.slices])
    if area.max() >= 0.05:                       # the gaps between hairs filled most
        _tint(image, mask, crop, colour, area, opacity * area * (0.3 + 0.7 * gap), depth=0.7, sigma=0.02)


def measure_colours(portrait) -> dict[str, np.ndarray]:
    """Median linear colours (3,) of a portrait's skin, lips, upper lids, brows and cheeks, measured on a
    reduced copy of the face (the face 200 px high); a NoFaceError without a face."""
    face = portrait.face()
    x, y, w, h = face.box
    crop = Crop(face, np.array([[x, y], [x + w, y + h]]), 0.05, portrait.shape, min(1.0, _MEASURE_FACE / face.size))
    rgb = crop.take(portrait.image)
    reg = crop.regions(("skin", "lips", "brows"))
    lum = rgb @ LUMA_709

    def median(weight):
        sel = weight > 0.5
        if sel.sum() < 5:
            return None
        lo, hi = np.percentile(lum[sel], [15, 85])            # no shadows, no highlights
        keep = sel & (lum >= lo) & (lum <= hi)
        return np.median(rgb[keep if keep.sum() >= 5 else sel], axis=0).astype(np.float32)

    areas = {"skin": reg["skin"], "lips": reg["lips"], "brows": reg["brows"], "eyeshadow": lid_area(crop, rgb),
             "blush": cheek_area(crop, 0) + cheek_area(crop, 1)}
    return {k: v for k, a in areas.items() if (v := median(a)) is not None}


def reference_colours(portrait, reference) -> dict[str, np.ndarray]:
    """The make-up colours (linear RGB) of `reference`, each as its ratio to the reference's skin, put on this
    portrait's skin: the lips, lids, brows and cheeks of the reference, relative to who wears them."""
    try:
        ref = measure_colours(reference)
    except NoFaceError:
        raise InputError(reference.path or "reference", "no face found in the make-up reference",
                         "give a portrait with a visible face as --reference") from None
    own = measure_colours(portrait)
    if "skin" not in ref or "skin" not in own:
        return {}
    return {k: (v / np.maximum(ref["skin"], 1e-5) * own["skin"]).astype(np.float32)
            for k, v in ref.items() if k != "skin"}


__all__ = ["MakeupSettings", "makeup", "measure_colours", "reference_colours"]
