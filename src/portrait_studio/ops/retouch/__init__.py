"""retouch: texture-preserving skin retouching (blemishes, tone evening, shine, grain, eyes and teeth).

The analysis runs on reduced copies of the face's neighbourhood (the face 200 to 230 px high), in optical
density (``-ln`` of linear light, where pigments and shading add) for the skin and in linear light for
shine (which is added light); the corrections are then enlarged and applied to the full-resolution pixels
as one density change (a per-pixel gain in linear light). The image's own finest
detail is never blurred: a spot is subtracted as a fitted blob (the skin's texture under it stays), a stray
hair is rebuilt from nearby skin, what is evened lies in the middle frequencies only.
"""
from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import Field

from ...schema import operation
from .apply import retouch_image, skin_map_of

_AMOUNT = "0 = off, 1 = full; scaled by --strength"


@operation("retouch", extras={"mask": ("mask", "how much each pixel was retouched, 0 = untouched")}, face=True)
def retouch(portrait, *,
            strength: Annotated[float, Field(ge=0, le=2, description=(
                "Overall strength: 0 leaves the photo unchanged, 1 is the natural default, up to 2 is "
                "stronger; multiplies every aspect below."))] = 1.0,
            blemishes: Annotated[float, Field(ge=0, le=1, description=(
                f"Removal of spots redder or darker than the skin around them ({_AMOUNT})."))] = 1.0,
            blemish_size: Annotated[float, Field(ge=0.005, le=0.05, description=(
                "Largest spot removed, diameter as a fraction of the face height (larger marks are "
                "blotches, evened by --redness and --evenness)."))] = 0.016,
            stray_hairs: Annotated[bool, Field(description=(
                "Also remove stray hairs (thin dark lines) lying on the skin."))] = True,
            keep_moles: Annotated[bool, Field(description=(
                "Keep moles, freckles and beauty marks (brown, well-defined spots)."))] = True,
            mole_contrast: Annotated[float, Field(ge=0.02, le=1.0, description=(
                "Pigment contrast from which a brown spot counts as a mole or freckle (optical density "
                "over the skin around it; 0.1 is about 10% less light)."))] = 0.12,
            mole_size: Annotated[float, Field(ge=0.0, le=0.05, description=(
                "Smallest diameter of a brown spot kept as a mole or freckle, fraction of the face "
                "height; smaller brown specks are removed like blemishes."))] = 0.004,
            redness: Annotated[float, Field(ge=0, le=1, description=(
                f"Evening of redness and red blotches in the middle frequencies ({_AMOUNT})."))] = 0.9,
            evenness: Annotated[float, Field(ge=0, le=1, description=(
                f"Evening of uneven pigmentation (blotchiness) in the middle frequencies ({_AMOUNT})."
            ))] = 0.5,
            under_eye: Annotated[float, Field(ge=0, le=1, description=(
                f"Lightening of under-eye darkness ({_AMOUNT})."))] = 0.4,
            shine: Annotated[float, Field(ge=0, le=1, description=(
                f"Reduction of specular shine on forehead, nose and cheeks ({_AMOUNT})."))] = 1.0,
            grain: Annotated[float, Field(ge=0, le=1, description=(
                "Re-synthesised skin texture where the photo lacks it, matched to the subject's own "
                f"skin ({_AMOUNT}; off by default)."))] = 0.0,
            seed: Annotated[int, Field(ge=0, le=2 ** 31 - 1, description=(
                "Seed of the synthesised grain (the same seed gives the same grain)."))] = 0,
            eyes: Annotated[float, Field(ge=0, le=1, description=(
                f"Sclera whitening and iris clarity ({_AMOUNT}; off by default)."))] = 0.0,
            teeth: Annotated[float, Field(ge=0, le=1, description=(
                f"Teeth whitening ({_AMOUNT}; off by default)."))] = 0.0,
            ):
    """Retouch skin without the plastic look: remove blemishes, even tone, reduce shine, keep the texture.

    Spots redder or darker than the skin around them are subtracted as fitted blobs, keeping the texture
    under them; stray hairs are rebuilt from nearby skin with its texture; moles and freckles stay unless
    asked. Redness, blotchiness and under-eye darkness are evened in the middle frequencies only, so pores
    and fine texture (the finest band) and the face's shape (the coarsest) stay. Shine is removed as the
    white light it adds. Grain re-synthesises missing skin texture from the subject's own skin statistics.
    The ``mask`` extra shows what was touched.

    Examples
    --------
    >>> from skimage import data
    >>> from portrait_studio import Portrait
    >>> from portrait_studio.core import from_srgb8
    >>> p = Portrait(from_srgb8(data.astronaut()))
    >>> out = retouch(p, strength=0.0)
    >>> bool((out.image == p.image).all())
    True
    """
    params = dict(blemishes=blemishes, blemish_size=blemish_size, stray_hairs=stray_hairs,
                  keep_moles=keep_moles, mole_contrast=mole_contrast, mole_size=mole_size, redness=redness,
                  evenness=evenness, under_eye=under_eye, shine=shine, grain=grain, seed=seed, eyes=eyes,
                  teeth=teeth)
    if strength == 0.0:
        portrait.face()                           # still refuse a photo without a face
        return portrait.image.copy(), {"mask": np.zeros(portrait.shape, np.float32)}
    image, mask = retouch_image(portrait, strength=strength, **params)
    return image, {"mask": mask}


__all__ = ["retouch", "retouch_image", "skin_map_of"]
