"""makeup's parameters, declared once: the operation's schema and what every step reads."""
from __future__ import annotations

import re
from typing import Annotated, Literal

import numpy as np
from pydantic import AfterValidator, BaseModel, Field

from ...core import from_srgb8
from ...inputs import ImageInput

_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


def _colour(text: str | None) -> str | None:
    if text is None:
        return None
    m = _HEX.match(text.strip())
    if not m:
        raise ValueError("a make-up colour is #rrggbb (8-bit sRGB hex, e.g. #9e1b32)")
    return "#" + m.group(1).lower()


#: A make-up colour as given: ``#rrggbb``, 8-bit sRGB.
Colour = Annotated[str | None, AfterValidator(_colour)]


def _colour_of(what: str):
    """The declaration of a make-up colour parameter (none = that make-up not applied)."""
    return Annotated[Colour, Field(description=f"{what}, #rrggbb (8-bit sRGB); none = none applied.")]


def _share(what: str):
    """The declaration of an amount from 0 (none) to 1."""
    return Annotated[float, Field(ge=0, le=1, description=f"{what}: 0 = none, 1 = full.")]


def linear_colour(text: str) -> np.ndarray:
    """The linear-light RGB (3,) float32 of a ``#rrggbb`` colour (validated by :data:`Colour`)."""
    rgb = np.array([[[int(text[i:i + 2], 16) for i in (1, 3, 5)]]], np.uint8)
    return from_srgb8(rgb)[0, 0].astype(np.float32)


class MakeupSettings(BaseModel):
    """Which make-up, in which colours and how much (see :func:`portrait_studio.ops.makeup.makeup`)."""

    lips: Annotated[Colour, Field(description=(
        "Lipstick colour, #rrggbb (8-bit sRGB): the lips take its hue and saturation, and move part of the "
        "way to its lightness (their own light and shade kept); none = no lipstick."))] = None
    lip_finish: Annotated[Literal["matte", "satin", "gloss"], Field(description=(
        "Lipstick finish: matte (the lips' own shine reduced), satin (kept), gloss (a highlight added "
        "where the light falls)."))] = "satin"
    lip_opacity: _share("Lipstick coverage (full: the lipstick's colour; the lips' texture always stays)") = 1.0
    blush: _colour_of("Blush colour on the cheekbones") = None
    blush_opacity: _share("Blush strength (full: the cheeks take the blush's hue)") = 0.35
    eyeshadow: _colour_of("Eyeshadow colour on the upper lids") = None
    eyeshadow_opacity: _share("Eyeshadow strength (full: the lids take the shadow's colour)") = 0.7
    brows: _colour_of("Brow fill colour (the gaps between the hairs filled most)") = None
    brow_opacity: _share("Brow fill strength") = 0.6
    reference: Annotated[ImageInput | None, Field(description=(
        "A made-up portrait whose colours to take (lips, lids, brows and cheeks, each relative to its own "
        "skin) for every colour not given here."))] = None
