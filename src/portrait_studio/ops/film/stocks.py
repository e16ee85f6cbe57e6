"""Built-in film stocks: small parametric models of a film's colour response, not baked tables.

A stock turns scene light into display values in four steps, each a few numbers:

1. **Layer exposure.** Linear RGB light times a 3×3 sensitivity matrix (the layers' spectral cross-talk:
   a red-sensitive layer also sees some green); a black-and-white stock has one panchromatic layer.
2. **Characteristic curve per layer.** Display value against the exposure's sRGB encoding (extended above
   the diffuse white, so highlights roll off instead of clipping), a logistic S-curve set by its black (toe)
   level, white (shoulder) level, the value mid-grey prints at, and its contrast at mid-grey relative to a
   plain sRGB rendering. Per-layer differences in these are the stock's colour balance: a warm toe, a cool
   shoulder, tinted blacks.
3. **Dye response.** One 3×3 matrix on the display values: saturation around the luma and the dyes'
   unwanted absorptions (hue cross-talk).
4. **Optics and grain**, applied by the operation: halation (red glow bleeding around highlights, light
   reflected back through the base into the red layer), bloom (a wide neutral glow), and grain per layer
   (:mod:`.grain`).

The curves are computed on tables, so a 12-megapixel frame costs a few table look-ups and two matrices.
Names end in "-like": these are impressions of a stock's character, not measurements, and no trademark is
claimed.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ...core.image import LUMA_709, linear_to_srgb, srgb_to_linear

#: The curves act on the exposure's sRGB encoding, extended above 1 by the same power law; they reach their
#: white level at this encoded value (linear exposure 1.6, 2/3 stop over the diffuse white).
_X_MAX = 1.055 * 1.6 ** (1 / 2.4) - 0.055
#: Highest exposure the tables cover (linear light; above it the white level holds).
_E_MAX = 16.0
#: Encoded value of mid-grey (linear 0.18).
_X_MID = 1.055 * 0.18 ** (1 / 2.4) - 0.055
_TABLE = 65536


@dataclass(frozen=True)
class Stock:
    """A film stock's parameters (see the module for the model).

    Attributes
    ----------
    name, description : str
    kind : {"negative", "slide", "cine", "bw"}
        Colour negative, reversal (slide), cinema negative, black-and-white negative; grain is strongest in
        the mid-tones of a negative and in the shadows of a slide.
    sensitivity : (3, 3) array
        Layer exposure = sensitivity @ linear RGB; rows sum to 1. For "bw", each row is the panchromatic
        response.
    black, white, mid : (3,) floats
        Per layer: display value (sRGB-encoded) of deep shadow, of blown highlight, and of mid-grey.
    contrast : (3,) floats
        Per layer: slope at mid-grey relative to plain sRGB (1 = same, higher = punchier).
    saturation : float
        Colour around the luma after the curves (1 = as the curves leave it).
    dye : (3, 3) array
        Hue cross-talk of the dyes applied with the saturation (rows sum to 1).
    grain : float
        Grain amount at ``--grain 1`` (a multiplier of the Boolean model's own granularity).
    grain_radius : float
        Grain radius in micrometres on a 35 mm frame (43.3 mm diagonal), the Boolean model's disc (a
        faster, coarser film has larger grains: about 0.3 µm for ISO 50 to 0.8 µm for ISO 400).
    grain_layers : (3,) floats
        Relative grain of the red, green and blue layers (blue-sensitive layers are coarser).
    halation : float
        Strength of the red halo around highlights at ``--halation 1`` (0 = anti-halation backed film).
    bloom : float
        Strength of the wide neutral glow around highlights.
    """

    name: str
    description: str
    kind: str
    sensitivity: tuple = ((1, 0, 0), (0, 1, 0), (0, 0, 1))
    black: tuple = (0.02, 0.02, 0.02)
    white: tuple = (0.98, 0.98, 0.98)
    mid: tuple = (0.46, 0.46, 0.46)
    contrast: tuple = (1.0, 1.0, 1.0)
    saturation: float = 1.0
    dye: tuple = ((1, 0, 0), (0, 1, 0), (0, 0, 1))
    grain: float = 1.0
    grain_radius: float = 0.55
    grain_layers: tuple = (1.0, 0.9, 1.25)
    halation: float = 0.3
    bloom: float = 0.1

    @property
    def monochrome(self) -> bool:
        return self.kind == "bw"


def _bw(r: float, g: float, b: float) -> tuple:
    w = np.array([r, g, b]) / (r + g + b)
    return tuple(tuple(w) for _ in range(3))


STOCKS: dict[str, Stock] = {s.name: s for s in (
    Stock("portra-like", "colour negative, ISO 400: soft contrast, warm gentle skin, muted greens, fine grain",
          "negative", sensitivity=((0.92, 0.08, 0.0), (0.04, 0.92, 0.04), (0.0, 0.08, 0.92)),
          black=(0.06, 0.055, 0.05), white=(0.96, 0.95, 0.92), mid=(0.475, 0.46, 0.43), contrast=(0.88, 0.86, 0.84),
          saturation=1.04, dye=((0.96, 0.05, -0.01), (0.0, 0.98, 0.02), (-0.02, 0.06, 0.96)),
          grain=1.0, grain_radius=0.55, halation=0.25, bloom=0.08),
    Stock("ektar-like", "colour negative, ISO 100: vivid saturated colour, deep blues, very fine grain",
          "negative", sensitivity=((0.97, 0.03, 0.0), (0.02, 0.96, 0.02), (0.0, 0.04, 0.96)),
          black=(0.03, 0.03, 0.035), white=(0.97, 0.97, 0.97), mid=(0.465, 0.455, 0.45), contrast=(1.08, 1.1, 1.12),
          saturation=1.25, dye=((1.02, -0.02, 0.0), (-0.02, 1.03, -0.01), (0.0, -0.03, 1.03)),
          grain=1.0, grain_radius=0.35, halation=0.2, bloom=0.05),
    Stock("400h-like", "colour negative, ISO 400: airy pastel rendering, cool-green shadows, soft highlights",
          "negative", sensitivity=((0.9, 0.1, 0.0), (0.05, 0.9, 0.05), (0.0, 0.12, 0.88)),
          black=(0.07, 0.085, 0.085), white=(0.95, 0.97, 0.96), mid=(0.47, 0.48, 0.47), contrast=(0.8, 0.82, 0.82),
          saturation=0.95, dye=((0.95, 0.06, -0.01), (0.01, 0.97, 0.02), (-0.01, 0.05, 0.96)),
          grain=1.0, grain_radius=0.6, halation=0.2, bloom=0.1),
    Stock("provia-like", "colour slide, ISO 100: neutral, clean and crisp, moderate saturation, deep blacks",
          "slide", sensitivity=((0.97, 0.03, 0.0), (0.02, 0.96, 0.02), (0.0, 0.03, 0.97)),
          black=(0.01, 0.01, 0.015), white=(0.985, 0.985, 0.985), mid=(0.45, 0.45, 0.455), contrast=(1.18, 1.18, 1.18),
          saturation=1.12, grain=1.0, grain_radius=0.35, halation=0.1, bloom=0.04),
    Stock("velvia-like", "colour slide, ISO 50: intense saturation, rich reds and greens, hard contrast",
          "slide", sensitivity=((0.99, 0.01, 0.0), (0.0, 1.0, 0.0), (0.0, 0.02, 0.98)),
          black=(0.0, 0.0, 0.01), white=(0.985, 0.98, 0.975), mid=(0.44, 0.44, 0.445), contrast=(1.32, 1.3, 1.28),
          saturation=1.45, dye=((1.04, -0.05, 0.01), (-0.03, 1.06, -0.03), (0.0, -0.04, 1.04)),
          grain=1.0, grain_radius=0.3, halation=0.1, bloom=0.04),
    Stock("vision3-500t-like", "cinema tungsten negative, ISO 500, printed for daylight: cool cast, soft "
          "roll-off, strong red halation around lights, visible grain",
          "cine", sensitivity=((0.9, 0.1, 0.0), (0.05, 0.9, 0.05), (0.0, 0.1, 0.9)),
          black=(0.045, 0.055, 0.07), white=(0.95, 0.96, 0.98), mid=(0.43, 0.46, 0.5), contrast=(0.92, 0.92, 0.9),
          saturation=1.0, grain=1.0, grain_radius=0.7, halation=0.9, bloom=0.15),
    Stock("hp5-like", "black-and-white negative, ISO 400: classic panchromatic, moderate contrast, open "
          "shadows, pronounced grain", "bw", sensitivity=_bw(0.3, 0.56, 0.14),
          black=(0.04,) * 3, white=(0.96,) * 3, mid=(0.47,) * 3, contrast=(1.0,) * 3,
          grain=1.0, grain_radius=0.75, grain_layers=(1.0, 1.0, 1.0), halation=0.0, bloom=0.08),
    Stock("tri-x-like", "black-and-white negative, ISO 400: punchy contrast, slightly red-sensitive (lighter "
          "skin), gritty grain", "bw", sensitivity=_bw(0.36, 0.53, 0.11),
          black=(0.02,) * 3, white=(0.975,) * 3, mid=(0.46,) * 3, contrast=(1.22,) * 3,
          grain=1.0, grain_radius=0.8, grain_layers=(1.0, 1.0, 1.0), halation=0.0, bloom=0.06),
)}

DEFAULT_STOCK = "portra-like"


def catalogue() -> dict[str, str]:
    """Every built-in stock's name and description, in order."""
    return {name: s.description for name, s in STOCKS.items()}


@dataclass(frozen=True)
class Rendering:
    """A stock prepared for rendering: its curve tables and matrices (made once per stock)."""

    stock: Stock
    sensitivity: np.ndarray      # (3, 3) float32
    tables: np.ndarray           # (3, _TABLE) display value against the table position of log exposure
    dye: np.ndarray              # (3, 3) float32: saturation and dye cross-talk on display values


def prepare(stock: Stock) -> Rendering:
    """The curve tables and matrices of `stock` (the tables indexed by the square root of the exposure)."""
    root = np.linspace(0.0, np.sqrt(_E_MAX), _TABLE)
    x = 1.055 * np.power(root * root, 1 / 2.4) - 0.055
    tables = np.stack([_curve(np.maximum(x, 0.0), stock.black[c], stock.white[c], stock.mid[c], stock.contrast[c])
                       for c in range(3)]).astype(np.float32)
    s = stock.saturation
    sat = (1 - s) * np.outer(np.ones(3), LUMA_709) + s * np.eye(3)
    dye = np.asarray(stock.dye, np.float64) @ sat
    return Rendering(stock, np.asarray(stock.sensitivity, np.float32), tables, dye.astype(np.float32))


def _curve(x: np.ndarray, black: float, white: float, mid: float, contrast: float) -> np.ndarray:
    """Logistic characteristic curve on the encoded exposure `x`: `black` at 0, `white` at :data:`_X_MAX`,
    `mid` at mid-grey with slope `contrast` (relative to sRGB's 1) there."""
    k, x0 = _logistic(black, white, mid, contrast)
    sig = lambda v: 1 / (1 + np.exp(-k * (v - x0)))                             # noqa: E731
    lo, hi = sig(0.0), sig(_X_MAX)
    return black + (white - black) * (sig(np.asarray(x, np.float64)) - lo) / max(hi - lo, 1e-12)


@functools.lru_cache(maxsize=64)
def _logistic(black: float, white: float, mid: float, contrast: float) -> tuple[float, float]:
    """Steepness and centre of the logistic that :func:`_curve` normalises (a pure function, remembered)."""
    from scipy.optimize import brentq

    target = (mid - black) / (white - black)

    def shape(k):
        sig = lambda v, x0: 1 / (1 + np.exp(-k * (v - x0)))                      # noqa: E731
        def s_of(v, x0):
            lo, hi = sig(0.0, x0), sig(_X_MAX, x0)
            return (sig(v, x0) - lo) / max(hi - lo, 1e-12)
        x0 = brentq(lambda x0: s_of(_X_MID, x0) - target, -20.0, 20.0)
        return x0, s_of

    best = None
    for k in np.linspace(0.5, 14.0, 136):
        try:
            x0, s_of = shape(k)
        except ValueError:                                   # this steepness cannot put mid-grey at `mid`
            continue
        slope = (s_of(_X_MID + 1e-4, x0) - s_of(_X_MID - 1e-4, x0)) / 2e-4 * (white - black)
        if best is None or abs(slope - contrast) < best[0]:
            best = (abs(slope - contrast), k, x0, s_of)
    return float(best[1]), float(best[2])


def layer_values(render: Rendering, linear: np.ndarray) -> np.ndarray:
    """The layers' display values (..., 3) of linear light `linear` (..., 3) through the characteristic curves."""
    import cv2

    shape = linear.shape
    flat = np.ascontiguousarray(linear.reshape(-1, 1, 3), np.float32)
    exposure = cv2.transform(flat, render.sensitivity).reshape(shape)
    # table position: the square root of the exposure (cheap, and fine enough near black), rounded to the
    # nearest of the 16-bit table's entries by OpenCV's saturating conversion (negative light is black)
    pos = cv2.multiply(cv2.sqrt(exposure), (_TABLE - 1) / np.sqrt(_E_MAX), dtype=cv2.CV_16U)
    out = np.empty(shape, np.float32)
    for c in range(3):
        out[..., c] = render.tables[c][pos[..., c]]
    return out


def dye_values(render: Rendering, layers: np.ndarray) -> np.ndarray:
    """Display values (sRGB-encoded, clipped to [0, 1]) of the layers' values through the dye matrix."""
    import cv2

    shape = layers.shape
    out = cv2.transform(np.ascontiguousarray(layers.reshape(-1, 1, 3), np.float32), render.dye).reshape(shape)
    return np.clip(out, 0.0, 1.0, out=out)


def encoded_look(render: Rendering, encoded: np.ndarray) -> np.ndarray:
    """The stock's colour response (no grain, halation or bloom) as a map of sRGB-encoded values in [0, 1] to
    sRGB-encoded values: what a LUT of the stock holds."""
    return dye_values(render, layer_values(render, srgb_to_linear(np.clip(encoded, 0.0, 1.0))))


_DECODE = srgb_to_linear(np.linspace(0.0, 1.0, 65536, dtype=np.float32))


def to_linear(encoded: np.ndarray) -> np.ndarray:
    """sRGB-encoded display values in [0, 1] back to the linear-light convention (a 16-bit table)."""
    import cv2

    return _DECODE[cv2.multiply(encoded, 65535.0, dtype=cv2.CV_16U)]


__all__ = ["STOCKS", "DEFAULT_STOCK", "Stock", "Rendering", "catalogue", "prepare", "layer_values", "dye_values",
           "encoded_look", "to_linear", "linear_to_srgb"]
