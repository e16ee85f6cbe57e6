"""style: artistic styles that keep the face the person's: oil, watercolour, pencil, ink, comic, pop-art, and a
style taken from a picture.

Every style is a method in one registry (:data:`STYLES`, name -> :class:`Style`) behind one dispatcher
(:func:`render`). All of them are drawn from the same :class:`~.field.Guide`: a working copy of the photo, the
flow of its structure (strokes and hatching run along edges and contours) and a detail map from the face
analysis (broad strokes in the background, finer on the person, finer again on the face, finest on the eyes,
brows and lips). Sizes are fractions of the face height (of the frame diagonal when there is no face, so a
style works on any picture), random textures are seeded, and the style is drawn at a working size (long side
:data:`~.field.WORK_LONG_SIDE`) and enlarged, so its cost does not grow with the megapixels.

Where the work happens: styles are drawn in sRGB-encoded values (paint and pigment are perceptual media); the
result is decoded to linear light at the working size, enlarged, and blended with the photo by `strength` in
linear light.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Callable, Literal

import cv2
import numpy as np
from pydantic import Field

from ...core import srgb_to_linear
from ...inputs import ImageInput
from ...schema import operation
from . import draw, field, graphic, paint, reference as references


@dataclass(frozen=True)
class Style:
    """A built-in style: its renderer (Guide, texture_amount= -> sRGB (h, w, 3)) and a one-line description."""

    render: Callable[..., np.ndarray]
    description: str


#: The built-in styles, in the order they are listed.
STYLES: dict[str, Style] = {
    "oil": Style(paint.oil, "oil paint: strokes along the forms with impasto relief, on canvas"),
    "watercolour": Style(paint.watercolour, "transparent washes pooled at their edges, granulating on white paper"),
    "pencil": Style(draw.pencil, "graphite hatching along the forms over contour lines, on paper"),
    "ink": Style(draw.ink, "pen lines and hatching over a pale wash in three tones"),
    "comic": Style(graphic.comic, "flat cel colours, bold outlines, halftone shadows"),
    "pop-art": Style(graphic.pop_art, "a screen print in four bold flat tones with Ben-Day dots"),
}
StyleName = Literal["oil", "watercolour", "pencil", "ink", "comic", "pop-art"]
assert set(StyleName.__args__) == set(STYLES)          # noqa: S101  (the CLI's choices are the registry's)


def catalogue() -> dict[str, str]:
    """Every built-in style's name and description, in order."""
    return {name: s.description for name, s in STYLES.items()}


def render(guide: field.Guide, name: str, *, texture_amount: float = 1.0,
           look: references.Look | None = None) -> np.ndarray:
    """The dispatcher: style `name` drawn from `guide`, sRGB-encoded (h, w, 3) float32 in [0, 1] at the working
    size; with `look` (a reference's statistics) its palette and stroke texture are the reference's."""
    try:
        style = STYLES[name]
    except KeyError:
        raise ValueError(f"unknown style {name!r}; choose from {', '.join(STYLES)}") from None
    out = style.render(guide, texture_amount=texture_amount)
    if look is not None:
        out = references.apply_look(out, guide, look)
    return out


@operation("style", c2pa_action="c2pa.filtered", catalogue=catalogue)
def style(portrait, *,
          style: Annotated[StyleName, Field(description=(
              "The style (see --list): oil, watercolour, pencil, ink, comic or pop-art."))] = "oil",
          reference: Annotated[ImageInput | None, Field(description=(
              "A painting or drawing whose palette and stroke texture to take (not its content): the style is "
              "drawn with the reference's colours, stroke size and surface texture."))] = None,
          strength: Annotated[float, Field(ge=0, le=1, description=(
              "How much of the style: 0 = the photo, 1 = all style."))] = 1.0,
          stroke: Annotated[float, Field(ge=0.25, le=4, description=(
              "Stroke, line and dot size as a multiple of the style's own (sizes are fractions of the face "
              "height, or of the frame diagonal without a face): 0.5 = finer, 2 = broader."))] = 1.0,
          texture: Annotated[float, Field(ge=0, le=2, description=(
              "Paper or canvas texture: 0 = none, 1 = the style's own, 2 = twice as strong."))] = 1.0,
          seed: Annotated[int, Field(ge=0, le=2 ** 31 - 1, description=(
              "Seed of the strokes' and paper's randomness (the same seed gives the same picture)."))] = 0,
          ) -> np.ndarray:
    """An artistic style (painting, drawing or print) whose strokes follow the forms and keep the face the person's.

    Examples
    --------
    portrait style photo.jpg -o oil.jpg --style oil
    portrait style photo.jpg -o sketch.jpg --style pencil --texture 0.5
    portrait style photo.jpg -o mine.jpg --style oil --reference painting.jpg
    portrait style photo.jpg -o soft.jpg --style watercolour --strength 0.7
    portrait style --list
    """
    look = references.measure(reference.image) if reference is not None else None
    scale = stroke * (look.stroke if look is not None else 1.0)
    guide = portrait.cached(("style-guide", scale, seed), lambda: field.make_guide(portrait, seed=seed, scale=scale),
                            per_image=True)
    out = render(guide, style, texture_amount=texture, look=look)
    return finish(portrait.image, out, strength)


def finish(photo: np.ndarray, styled_srgb: np.ndarray, strength: float) -> np.ndarray:
    """The styled working copy decoded to linear light, enlarged to the photo's size and blended with it by
    `strength` (linear light), float32 (H, W, 3)."""
    h, w = photo.shape[:2]
    out = srgb_to_linear(styled_srgb)
    if out.shape[:2] != (h, w):
        out = cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)
    if strength < 1:
        out = photo + np.float32(strength) * (out - photo)
    return out.astype(np.float32, copy=False)


__all__ = ["STYLES", "Style", "catalogue", "render", "style"]
