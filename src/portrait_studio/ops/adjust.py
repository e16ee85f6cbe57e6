"""Basic adjustments that every recipe needs: exposure and size."""
from __future__ import annotations

from typing import Annotated

import cv2
import numpy as np
from pydantic import Field

from ..errors import ParameterError
from ..schema import operation


@operation("exposure", c2pa_action="c2pa.color_adjustments")
def exposure(portrait, *, ev: Annotated[float, Field(ge=-8, le=8, description=(
        "Exposure change in stops (EV): +1 doubles the light, -1 halves it."))] = 0.0) -> np.ndarray:
    """Change the exposure in linear light, like opening or closing the aperture by `ev` stops.

    Examples
    --------
    >>> import numpy as np
    >>> from portrait_studio import Portrait
    >>> exposure(Portrait(np.full((2, 2, 3), 0.25, np.float32)), ev=1.0).image[0, 0, 0]
    0.5
    """
    return portrait.image * np.float32(2.0 ** ev)


@operation("resize", geometry_kept=False, c2pa_action="c2pa.resized")
def resize(portrait, *,
           long_edge: Annotated[int, Field(ge=16, le=65535, description=(
               "Length of the longer side of the result, pixels."))] = 2048,
           upscale: Annotated[bool, Field(description=(
               "Enlarge images smaller than long-edge too (otherwise they are left as they are)."))] = False,
           ) -> np.ndarray:
    """Scale the image so its longer side is `long_edge` pixels, keeping the aspect ratio.

    Reduction averages in linear light (area resampling, no aliasing, no darkened edges); enlargement is
    Lanczos, clipped at zero against ringing below black. Transparency is scaled with the image. A result
    over the run's pixel limit (``max_pixels``, that of the portrait) is refused with ParameterError.
    """
    h, w = portrait.shape
    s = long_edge / max(h, w)
    if s == 1.0 or (s > 1.0 and not upscale):
        return portrait.image.copy()
    size = (max(1, round(w * s)), max(1, round(h * s)))
    if size[0] * size[1] > portrait.max_pixels:          # the run's pixel limit holds for what it makes too
        raise ParameterError(f"resize: long_edge={long_edge} makes {size[0]}×{size[1]} pixels, over the limit of "
                             f"{portrait.max_pixels} pixels; ask for a smaller long_edge or raise --max-pixels")

    def scale(a: np.ndarray) -> np.ndarray:
        if s < 1.0:
            return cv2.resize(a, size, interpolation=cv2.INTER_AREA)
        return np.maximum(cv2.resize(a, size, interpolation=cv2.INTER_LANCZOS4), 0.0)
    if portrait.alpha is None:
        return scale(portrait.image)
    return portrait.replace(scale(portrait.image), geometry_kept=False, alpha=np.minimum(scale(portrait.alpha), 1.0))
