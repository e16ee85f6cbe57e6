"""retouch's parameters, declared once: the operation's schema and what every step of the pipeline reads."""
from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

_AMOUNT = "0 = off, 1 = full; scaled by --strength"


class RetouchSettings(BaseModel):
    """What to retouch and how much (amounts 0..1 scaled by `strength`; sizes as fractions of the face
    height; see :func:`portrait_studio.ops.retouch.retouch`)."""

    strength: Annotated[float, Field(ge=0, le=2, description=(
        "Overall strength: 0 leaves the photo unchanged, 1 is the natural default, up to 2 is "
        "stronger; multiplies every aspect below."))] = 1.0
    blemishes: Annotated[float, Field(ge=0, le=1, description=(
        f"Removal of spots redder or darker than the skin around them ({_AMOUNT})."))] = 1.0
    blemish_size: Annotated[float, Field(ge=0.005, le=0.05, description=(
        "Largest spot removed, diameter as a fraction of the face height (larger marks are "
        "blotches, evened by --redness and --evenness)."))] = 0.016
    stray_hairs: Annotated[bool, Field(description=(
        "Also remove stray hairs (thin dark lines) lying on the skin."))] = True
    keep_moles: Annotated[bool, Field(description=(
        "Keep moles, freckles and beauty marks (brown, well-defined spots)."))] = True
    mole_contrast: Annotated[float, Field(ge=0.02, le=1.0, description=(
        "Pigment contrast from which a brown spot counts as a mole or freckle (optical density "
        "over the skin around it; 0.1 is about 10% less light)."))] = 0.12
    mole_size: Annotated[float, Field(ge=0.0, le=0.05, description=(
        "Smallest diameter of a brown spot kept as a mole or freckle, fraction of the face "
        "height; smaller brown specks are removed like blemishes."))] = 0.004
    redness: Annotated[float, Field(ge=0, le=1, description=(
        f"Evening of redness and red blotches in the middle frequencies ({_AMOUNT})."))] = 0.9
    evenness: Annotated[float, Field(ge=0, le=1, description=(
        f"Evening of uneven pigmentation (blotchiness) in the middle frequencies ({_AMOUNT})."
    ))] = 0.5
    under_eye: Annotated[float, Field(ge=0, le=1, description=(
        f"Lightening of under-eye darkness ({_AMOUNT})."))] = 0.4
    shine: Annotated[float, Field(ge=0, le=1, description=(
        f"Reduction of specular shine on forehead, nose and cheeks ({_AMOUNT})."))] = 1.0
    grain: Annotated[float, Field(ge=0, le=1, description=(
        "Re-synthesised skin texture where the photo lacks it, matched to the subject's own "
        f"skin ({_AMOUNT}; off by default)."))] = 0.0
    seed: Annotated[int, Field(ge=0, le=2 ** 31 - 1, description=(
        "Seed of the synthesised grain (the same seed gives the same grain)."))] = 0
    eyes: Annotated[float, Field(ge=0, le=1, description=(
        f"Sclera whitening and iris clarity ({_AMOUNT}; off by default)."))] = 0.0
    teeth: Annotated[float, Field(ge=0, le=1, description=(
        f"Teeth whitening ({_AMOUNT}; off by default)."))] = 0.0

    def amount(self, aspect: float) -> float:
        """An aspect's amount scaled by :attr:`strength`, within 0..1."""
        return min(max(aspect * self.strength, 0.0), 1.0)
