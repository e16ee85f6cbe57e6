"""The prompt builder: a portrait described by structured choices, composed into a prompt and a negative prompt.

A photographer thinks in style, background, mood, light, lens and framing; a diffusion model reads a list of
phrases. :class:`Choices` holds the first, :func:`build_prompt` writes the second (the user's own words first,
so the model's token limit cuts the builder's words, never the user's), and :meth:`Choices.record` is what the
output's metadata and Content Credentials carry. Lighting names are the relight operation's setups
(:data:`portrait_studio.ops.relight.SetupName`), so a generated portrait and a relit one speak of light alike.

Examples
--------
>>> p, n = build_prompt("a woman in her forties", Choices(style="corporate", background="grey paper", mood="calm"))
>>> p.split(", ")[:3]
['a woman in her forties', 'corporate headshot', 'business attire']
>>> "grey paper" in p and "calm" in p and "cartoon" in n
True
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import get_args

from ..errors import ParameterError
from ..ops.relight import SetupName

#: Styles: the phrases each adds to the prompt and to the negative prompt.
STYLES: dict[str, tuple[str, str]] = {
    "corporate": ("corporate headshot, business attire, professional photograph, clean and sharp",
                  "casual clothes, messy hair"),
    "editorial": ("editorial portrait, magazine photography, styled wardrobe, high detail", "snapshot"),
    "film": ("analogue film photograph, 35mm, fine film grain, natural colour", "digital look, oversharpened"),
    "fine-art": ("fine art portrait, painterly light, museum print", "snapshot, flat light"),
    "outdoor": ("outdoor environmental portrait, natural light", "studio backdrop"),
    "casual": ("casual lifestyle portrait, relaxed, candid", "stiff pose"),
    "black-and-white": ("black and white portrait photograph, rich tonal range", "colour"),
    "studio": ("studio portrait photograph, professional lighting", "snapshot"),
}
#: Backgrounds with a fuller phrase; any other text is used as it is ("a brick wall" -> "background: a brick wall").
BACKGROUNDS: dict[str, str] = {
    "grey paper": "seamless grey paper backdrop",
    "white": "seamless white studio backdrop",
    "black": "plain black backdrop",
    "office": "softly blurred modern office background",
    "outdoor": "blurred green park background, natural bokeh",
    "city": "blurred city street background, evening bokeh",
    "painted canvas": "hand-painted canvas backdrop, old master style",
}
#: Moods with a fuller phrase; any other text is used as it is.
MOODS: dict[str, str] = {
    "calm": "calm, serene expression",
    "confident": "confident, assured expression",
    "friendly": "friendly, warm smile",
    "serious": "serious, focused expression",
    "joyful": "joyful, laughing",
    "pensive": "pensive, thoughtful look",
}
#: The relight setups as a model reads them (a setup missing here is said as "NAME lighting").
LIGHTING: dict[str, str] = {
    "rembrandt": "Rembrandt lighting, triangle of light on the shadow cheek",
    "loop": "loop lighting, small nose shadow",
    "butterfly": "butterfly lighting, paramount light from above",
    "split": "split lighting, half the face in shadow",
    "broad": "broad lighting",
    "short": "short lighting, shadow side towards the camera",
    "clamshell": "clamshell beauty lighting, soft and even",
    "rim": "rim lighting, glowing edges, dark background",
    "high-key": "high-key lighting, bright and airy",
    "stage": "stage spotlight, hard light, dark surroundings",
}
#: Framings and how the model reads them.
FRAMINGS: dict[str, str] = {
    "headshot": "tight headshot",
    "head-and-shoulders": "head and shoulders portrait",
    "half-length": "half-length portrait",
    "full-length": "full-length portrait",
}
#: Said in every negative prompt: what no portrait wants.
NEGATIVE = ("blurry, out of focus, deformed face, distorted features, extra fingers, bad anatomy, watermark, "
            "text, cartoon, lowres, jpeg artefacts")
_BASE = "photograph of a person, realistic skin texture"

#: The lighting names a portrait can ask for: the relight operation's setups.
SETUP_NAMES: tuple[str, ...] = tuple(get_args(SetupName))


@dataclass(frozen=True)
class Choices:
    """What a portrait should look like, besides the user's own words. Every field is optional (None: not said).

    Attributes
    ----------
    style : str, optional
        One of :data:`STYLES`.
    background : str, optional
        A name in :data:`BACKGROUNDS` or any short description.
    mood : str, optional
        A name in :data:`MOODS` or any short description.
    lighting : str, optional
        A relight setup name (:data:`SETUP_NAMES`).
    lens_mm : float, optional
        The focal length, mm (full-frame equivalent), 14 to 800.
    aperture : float, optional
        The f-number, 0.95 to 32; at f/2.8 and wider the prompt asks for a shallow depth of field.
    framing : str, optional
        One of :data:`FRAMINGS`.
    """

    style: str | None = None
    background: str | None = None
    mood: str | None = None
    lighting: str | None = None
    lens_mm: float | None = None
    aperture: float | None = None
    framing: str | None = None

    def __post_init__(self) -> None:
        for name, table in (("style", STYLES), ("lighting", SETUP_NAMES), ("framing", FRAMINGS)):
            value = getattr(self, name)
            if value is not None and value not in table:
                raise ParameterError(f"{name}={value!r} is not known; use one of {', '.join(table)}")
        for name in ("background", "mood"):
            value = getattr(self, name)
            if value is not None and (not value.strip() or len(value) > 200):
                raise ParameterError(f"{name} must be a short description (1 to 200 characters)")
        if self.lens_mm is not None and not 14 <= self.lens_mm <= 800:
            raise ParameterError(f"lens={self.lens_mm} mm is out of range; use 14 to 800")
        if self.aperture is not None and not 0.95 <= self.aperture <= 32:
            raise ParameterError(f"aperture=f/{self.aperture} is out of range; use 0.95 to 32")

    def record(self) -> dict:
        """The choices that were made (None fields left out), as plain JSON values."""
        return {k: v for k, v in asdict(self).items() if v is not None}


def build_prompt(text: str, choices: Choices = Choices()) -> tuple[str, str]:
    """The prompt and negative prompt for `text` (the user's description, first) under `choices`.

    Returns
    -------
    (str, str)
        Comma-separated phrases: the prompt, and the negative prompt (the style's own negatives first).

    Raises
    ------
    ParameterError
        For an empty description.
    """
    text = " ".join(str(text).split())
    if not text:
        raise ParameterError("the prompt is empty; describe the portrait, e.g. \"a woman in her forties\"")
    phrases, negative = [text], []
    if choices.style:
        positive, neg = STYLES[choices.style]
        phrases.append(positive)
        negative.append(neg)
    if choices.framing:
        phrases.append(FRAMINGS[choices.framing])
    if choices.mood:
        phrases.append(MOODS.get(choices.mood, choices.mood))
    if choices.lighting:
        phrases.append(LIGHTING.get(choices.lighting, f"{choices.lighting} lighting"))
    if choices.background:
        phrases.append(BACKGROUNDS.get(choices.background, f"background: {choices.background}"))
        if choices.background in BACKGROUNDS:      # the user's words too, so the record and the prompt agree
            phrases[-1] += f" ({choices.background})"
    if choices.lens_mm:
        phrases.append(f"{choices.lens_mm:g}mm lens")
    if choices.aperture:
        phrases.append(f"f/{choices.aperture:g}" + (", shallow depth of field, creamy bokeh"
                                                    if choices.aperture <= 2.8 else ", deep focus"))
    phrases.append(_BASE)
    return ", ".join(", ".join(p.split(", ")) for p in phrases), ", ".join(negative + [NEGATIVE])
