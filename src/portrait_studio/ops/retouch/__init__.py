"""retouch: texture-preserving skin retouching (blemishes, tone evening, shine, grain, eyes and teeth).

The analysis runs on reduced copies of the face's neighbourhood (the face 200 to 230 px high), in optical
density (``-ln`` of linear light, where pigments and shading add) for the skin and in linear light for
shine (which is added light); the corrections are then enlarged and applied to the full-resolution pixels
as one density change (a per-pixel gain in linear light). The image's own finest
detail is never blurred: a spot is subtracted as a fitted blob (the skin's texture under it stays), a stray
hair is rebuilt from nearby skin, what is evened lies in the middle frequencies only.
"""
from __future__ import annotations

import numpy as np

from ...schema import operation
from .apply import retouch_image, skin_map_of
from .settings import RetouchSettings


@operation("retouch", extras={"mask": ("mask", "how much each pixel was retouched, 0 = untouched")}, face=True,
           c2pa_action="c2pa.filtered")
def retouch(portrait, settings: RetouchSettings):
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
    if settings.strength == 0.0:
        portrait.face()                           # still refuse a photo without a face
        return portrait.image.copy(), {"mask": np.zeros(portrait.shape, np.float32)}
    image, mask = retouch_image(portrait, settings)
    return image, {"mask": mask}


__all__ = ["RetouchSettings", "retouch", "retouch_image", "skin_map_of"]
