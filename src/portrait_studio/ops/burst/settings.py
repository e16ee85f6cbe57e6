"""burst's parameters, declared once: the operation's schema and what the merge reads."""
from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

#: How many of the first frames compete to be the reference when none is chosen.
REFERENCE_CANDIDATES = 3


class BurstSettings(BaseModel):
    """How to merge a burst (see :func:`portrait_studio.ops.burst.burst`); the defaults are the product's."""

    reference: Annotated[int | None, Field(ge=0, description=(
        "0-based position of the reference frame in the input list (its moment and framing are kept); "
        f"default: the sharpest of the first {REFERENCE_CANDIDATES}."))] = None
    robustness: Annotated[float, Field(ge=0.25, le=4, description=(
        "How readily a frame that disagrees with the reference (a moving subject) gives way to it: "
        "1 rejects differences beyond about 3 noise standard deviations, 2 beyond 1.5."))] = 1.0
    denoise: Annotated[float, Field(ge=0, le=4, description=(
        "Strength of the spatial pass after the merge, relative to the estimated remaining noise "
        "(0 = none, 1 = as estimated)."))] = 1.0
    sharpen: Annotated[float, Field(ge=0, le=2, description=(
        "Edge-preserving sharpening after the merge (0 = none); only where detail stands out of "
        "the noise."))] = 0.3
    window: Annotated[int, Field(ge=0, le=31, description=(
        "Sliding-window mode for sequences and video frames: denoise every frame from this many "
        "neighbouring frames (itself included), one output per input frame; 0 merges the whole "
        "burst into one picture."))] = 0
