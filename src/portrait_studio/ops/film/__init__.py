"""film: film-stock emulation. Built-in stocks (:mod:`.stocks`), a look fitted from a reference (:mod:`.look`),
a LUT (Hald CLUT or .cube), grain after Newson et al.'s Boolean model (:mod:`.grain`), halation and bloom.

Where the work happens: halation and bloom are light, added in linear light before the film sees it; a
stock's characteristic curves take linear light to display values; a LUT or fitted look maps sRGB-encoded
values; grain is added to the display values per layer (before the dyes mix them, for a stock); the
strength blends the look with the photo in sRGB-encoded values, as the exported ``.cube`` does.
"""
from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from ...core.image import luminance, linear_to_srgb
from ...errors import InputError, ParameterError
from ...inputs import ImageInput, LutInput
from ...io.lut import Lut3D, apply_table, identity_table
from ...schema import operation
from . import grain as grains
from . import look, stocks

StockName = Literal[tuple(stocks.STOCKS)]            # type: ignore[valid-type]
#: Grid size of the .cube a stock exports.
CUBE_SIZE = 33
#: Halation and bloom of a LUT or fitted look at --halation 1 (a stock has its own).
_GENERIC = stocks.STOCKS["portra-like"]
#: Halation: glow radius (fraction of the frame diagonal), its colour (light reflected back into the red
#: layer, some into the green), and where highlights start (linear light).
_HALATION_RADIUS, _HALATION_TINT, _KNEE = 0.004, np.array([1.0, 0.32, 0.06], np.float32), 0.6
#: Bloom: a wide neutral glow (fraction of the diagonal).
_BLOOM_RADIUS = 0.03


@operation("film", c2pa_action="c2pa.color_adjustments", extras={"cube": ("lut", "the look's colour response, without grain or glow")},
           exclusive=[("stock", "lut", ("reference", "reference_before"))], catalogue=stocks.catalogue)
def film(portrait, *,
         stock: Annotated[StockName | None, Field(description=(
             "Built-in film stock (see --list; default portra-like when no look is given)."))] = None,
         lut: Annotated[LutInput | None, Field(description=(
             "A look-up table to apply: a .cube file or a Hald CLUT image (.png, .tif)."))] = None,
         reference: Annotated[ImageInput | None, Field(description=(
             "A graded frame whose look to fit: alone, of any content (unpaired); with --reference-before, "
             "the same frame before grading (paired, fitted exactly as a smooth 3D LUT)."))] = None,
         reference_before: Annotated[ImageInput | None, Field(description=(
             "The reference frame before it was graded (same picture, same aspect)."))] = None,
         strength: Annotated[float, Field(ge=0, le=1, description=(
             "How much of the look's colour: 0 = none, 1 = all."))] = 1.0,
         grain: Annotated[float | None, Field(ge=0, le=4, description=(
             "Grain, as a multiple of the stock's own (or the grain measured in the reference): 0 = none, "
             "1 = the film's; with a LUT, of a 400-speed negative's (default: the film's; none for a LUT)."))] = None,
         halation: Annotated[float | None, Field(ge=0, le=4, description=(
             "Red glow bleeding around highlights (and a faint bloom), as a multiple of the stock's own: 0 = "
             "none (default: the stock's; none for a LUT or a reference)."))] = None,
         seed: Annotated[int, Field(ge=0, le=2 ** 31 - 1, description=(
             "Seed of the grain (the same seed gives the same grain)."))] = 0,
         ) -> tuple[np.ndarray, dict]:
    """Film-stock emulation: a built-in stock, a LUT, or a look fitted from a reference, with grain and halation.

    Examples
    --------
    portrait film photo.jpg -o portra.jpg --stock portra-like
    portrait film photo.jpg -o bw.jpg --stock tri-x-like --grain 1.5
    portrait film photo.jpg -o graded.jpg --reference graded_frame.jpg
    portrait film photo.jpg -o graded.jpg --reference after.jpg --reference-before before.jpg --export-cube look.cube
    portrait film photo.jpg -o out.jpg --lut Fuji_Provia_100F.png --grain 0.5
    portrait film --list
    """
    if reference_before is not None and reference is None:
        raise ParameterError("film: reference_before: give the graded frame too (--reference), the "
                             "'before' is only its pair")
    image = portrait.image
    shape = portrait.shape
    if lut is None and reference is None:
        return _stock(image, stocks.STOCKS[stock or stocks.DEFAULT_STOCK], strength=strength, grain=grain,
                      halation=halation, seed=seed)
    model, grain_default = None, 0.0
    if lut is not None:
        table, name = lut.table, lut.name
    else:
        after = linear_to_srgb(reference.image)
        if reference_before is not None:
            table = look.paired_table(_paired(reference_before, reference, after), after)
        else:
            table = look.unpaired_table(after)
            model = grains.measure(after, shape=shape)
            grain_default = 1.0 if model is not None else 0.0
        name = f"look from {reference.path}"
    if model is None:
        model = grains.stock_model(radius_um=_GENERIC.grain_radius, shape=shape, layers=_GENERIC.grain_layers)
    glow = _GENERIC.halation * (halation or 0.0), _GENERIC.bloom * (halation or 0.0)
    lit = _glow(image, *glow) if any(glow) else image
    before = linear_to_srgb(lit)
    out = apply_table(table, before)
    out = grains.add_grain(out, model, amount=grain_default if grain is None else grain, seed=seed)
    table = _blend(table, strength)
    return _finish(before, out, strength), {"cube": Lut3D(table, name=name)}


def _stock(image: np.ndarray, stock: stocks.Stock, *, strength: float, grain: float | None,
           halation: float | None, seed: int) -> tuple[np.ndarray, dict]:
    render = stocks.prepare(stock)
    h_amount = 1.0 if halation is None else halation
    glow = stock.halation * h_amount, stock.bloom * h_amount
    lit = _glow(image, *glow) if any(glow) else image
    layers = stocks.layer_values(render, lit)
    amount = stock.grain * (1.0 if grain is None else grain)
    if amount > 0:
        model = grains.stock_model(radius_um=stock.grain_radius, shape=image.shape[:2], layers=stock.grain_layers,
                                   mono=stock.monochrome, tone="slide" if stock.kind == "slide" else "negative")
        layers = grains.add_grain(layers, model, amount=amount, seed=seed)
    out = stocks.dye_values(render, layers)
    table = _blend(stocks.encoded_look(render, identity_table(CUBE_SIZE)), strength)
    before = linear_to_srgb(lit) if strength < 1 else None
    return _finish(before, out, strength), {"cube": Lut3D(table, name=stock.name)}


def _finish(before: np.ndarray | None, out: np.ndarray, strength: float) -> np.ndarray:
    """The look blended with the photo by `strength` in sRGB-encoded values, back to linear light."""
    if strength < 1:
        out = before + np.float32(strength) * (out - before)
    return stocks.to_linear(out)


def _blend(table: np.ndarray, strength: float) -> np.ndarray:
    if strength >= 1:
        return table
    ident = identity_table(table.shape[0])
    return (ident + np.float32(strength) * (table - ident)).astype(np.float32)


def _paired(before, after, after_encoded: np.ndarray) -> np.ndarray:
    """The 'before' frame, sRGB-encoded, at the graded frame's size (refused if the pictures differ in aspect)."""
    import cv2

    (hb, wb), (ha, wa) = before.shape, after.shape
    if abs(wb / hb - wa / ha) > 0.01 * wa / ha:
        raise InputError(before.path, f"is {wb}×{hb}, a different picture from the graded {after.path} ({wa}×{ha})",
                         "give the same frame before grading as --reference-before")
    enc = linear_to_srgb(before.image)
    if (hb, wb) != (ha, wa):
        enc = cv2.resize(enc, (wa, ha), interpolation=cv2.INTER_AREA)
    return enc


def _glow(image: np.ndarray, halation: float, bloom: float) -> np.ndarray:
    """Halation (a red glow tight around highlights) and bloom (a wide neutral glow) added in linear light.

    Computed on a reduced copy (the glows are wide and smooth) and enlarged; sizes are fractions of the
    frame diagonal.
    """
    import cv2

    from ...core.masked import gaussian

    h, w = image.shape[:2]
    scale = min(1.0, 640.0 / max(h, w))
    small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    y = luminance(small)
    hot = np.maximum(y - _KNEE, 0.0) / np.maximum(y, 1e-4)
    source = small * hot[..., None]
    diag = float(np.hypot(*small.shape[:2]))
    glow = np.zeros_like(small)
    if halation > 0:
        glow += np.float32(halation) * luminance(gaussian(source, _HALATION_RADIUS * diag))[..., None] * _HALATION_TINT
    if bloom > 0:
        glow += np.float32(bloom) * gaussian(source, _BLOOM_RADIUS * diag)
    glow = cv2.resize(glow, (w, h), interpolation=cv2.INTER_LINEAR)
    return image + glow


__all__ = ["film"]
