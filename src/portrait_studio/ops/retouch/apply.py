"""The retouch pipeline on two reduced grids, applied at full resolution.

- The *tone grid* (the face about 200 px high) covers all the skin to retouch: the face with neck and ears,
  and skin of the same colour elsewhere in the person (shoulders, arms). The skin map, shine and the
  middle-frequency tone evening are found there; they are smooth, so this grid is fine enough.
- The *detail grid* (the face at most 230 px high) covers the face: spots are found there (their centres
  and sizes), stray hairs rebuilt, and eyes and teeth treated.
Both make their changes as optical density (a per-pixel gain in linear light; shine is measured as white
light in linear light and turned into such a change); the gains are enlarged to full resolution and
multiply the original pixels, so the photo's own finest detail is never resampled. Spots are then
subtracted at full resolution, each in a small window around it (see :func:`.blemish.remove_spots`).

What depends on the image alone, not on the parameters (the skin box and map, the shine, the detail grid's
density, the spot measurements at each scale, the stray hairs) is kept with the image
(:meth:`~portrait_studio.portrait.Portrait.cached`, per image), so retouching the same photo again with
other settings, as an interactive session does, only redoes what the settings change.
"""
from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

import cv2
import numpy as np

from ...analysis import region_masks
from ...core.grid import Grid, shrink
from ...core.masked import gaussian
from .blemish import SpotScale, find_hairs, find_spots, rebuild, remove_spots, spot_mask, spot_scales
from .features import eye_and_teeth_change
from .grain import add_grain
from .settings import RetouchSettings
from .skin import fit_skin_colour, skin_likelihood, skin_map
from .tone import (BASIS, HAEMOGLOBIN, MID_COARSE, blotch_excess, components, density, from_components, mid_band,
                   shine_light, without_shine)

TONE_FACE = 200.0            # face height, pixels, on the tone grid
DETAIL_FACE = 230.0          # face height, pixels, on the detail grid (never above full resolution)
_BODY_FACE = 60.0            # face height on the grid where skin beyond the face is looked for
RED_BLOTCH = 0.015           # least redness a blotch exceeds the skin around by before it is evened (density)
BROWN_BLOTCH = 0.015         # the same for pigment
_H = BASIS @ HAEMOGLOBIN
_REGION_NAMES = ("skin", "eyes", "irises", "brows", "lips", "mouth")


class _Grid(Grid):
    """A box of the image (x0, y0, x1, y1) seen with the face `face_px` high (at most full resolution)."""

    def __init__(self, box, face_size: float, face_px: float):
        super().__init__(box, min(1.0, face_px / max(face_size, 1.0)))
        self.unit = face_size * self.ky          # the face's height on this grid, pixels

    def face(self, face):
        """The face moved onto this grid (for drawing its regions here)."""
        pts = face.landmarks.copy()
        pts[:, 0] = (pts[:, 0] - self.x0) * self.kx
        pts[:, 1] = (pts[:, 1] - self.y0) * self.ky
        pts[:, 2] *= self.ky
        x, y, w, h = face.box
        return replace(face, landmarks=pts, box=((x - self.x0) * self.kx, (y - self.y0) * self.ky,
                                                 w * self.kx, h * self.ky))

    def regions(self, face) -> dict[str, np.ndarray]:
        return region_masks(self.face(face), self.size[::-1], _REGION_NAMES)

    def regions_of(self, portrait, face) -> dict[str, np.ndarray]:
        """:meth:`regions`, kept with the portrait's geometry (they depend on the face and this box only,
        as the Portrait's own region masks), read-only."""
        def compute():
            masks = self.regions(face)
            _frozen(*masks.values())
            return masks
        return portrait.cached(("retouch regions", id(face), self.x0, self.y0, self.x1, self.y1, self.size), compute)


def _box_of(mask: np.ndarray, scale: float):
    ys, xs = np.nonzero(mask)
    return (xs.min() * scale, ys.min() * scale, (xs.max() + 1) * scale, (ys.max() + 1) * scale)


def _clip_box(box, shape) -> tuple[int, int, int, int]:
    h, w = shape
    return (max(0, int(box[0])), max(0, int(box[1])), min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3]))))


def skin_box(portrait, face) -> tuple[int, int, int, int]:
    """The part of the image retouching may touch: the face with neck and ears, and skin of the face's
    colour elsewhere inside the person matte (shoulders, arms), found on a very coarse grid."""
    x, y, bw, bh = face.box
    box = [x - 0.45 * bw, y - 0.25 * bh, x + 1.45 * bw, y + 1.6 * bh]
    g = _Grid((0, 0, portrait.shape[1], portrait.shape[0]), face.size, _BODY_FACE)
    if g.full or g.unit < 20:
        return _clip_box(box, portrait.shape)
    col = components(density(shrink(portrait.image, g.size)))
    face_skin = g.regions_of(portrait, face)["skin"]
    matte = shrink(portrait.coarse_matte, g.size)
    mean, inv = fit_skin_colour(col, face_skin)
    body = (skin_likelihood(col, mean, inv) * matte > 0.5).astype(np.uint8)
    body = cv2.morphologyEx(body, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(body)
    keep = [i for i in range(1, n) if stats[i, cv2.CC_STAT_AREA] >= 0.02 * g.unit ** 2]
    if keep:
        ex = _box_of(np.isin(labels, keep), 1.0 / g.kx)
        box = [min(box[0], ex[0]), min(box[1], ex[1]), max(box[2], ex[2]), max(box[3], ex[3])]
    return _clip_box(box, portrait.shape)


def _under_eye(face, shape, unit) -> np.ndarray:
    """Soft ellipses under both eyes (a face already on the grid)."""
    m = np.zeros(shape, np.float32)
    for lid in (145, 374):
        cx, cy = face.landmarks[lid, :2]
        cv2.ellipse(m, (int(cx), int(cy + 0.045 * unit)), (int(0.085 * unit), int(0.035 * unit)), 0, 0, 360,
                    1.0, -1)
    return gaussian(m, 0.015 * unit)


class _SkinGrid(NamedTuple):
    """What retouching finds on the tone grid from the image alone (kept per image, see :func:`_skin_grid`)."""
    grid: _Grid
    work: np.ndarray             # linear RGB on the grid
    regions: dict                # the face's region masks on the grid
    skin: np.ndarray             # the skin map
    d0: np.ndarray               # optical density of `work`


class _DetailGrid(NamedTuple):
    """The same on the detail grid."""
    grid: _Grid
    d: np.ndarray                # optical density
    c: np.ndarray                # its (shading, redness, pigment) components
    skin: np.ndarray             # the skin map resampled here


def _frozen(*arrays):
    """The arrays, made read-only (they are kept with the image and shared by later calls)."""
    for a in arrays:
        a.flags.writeable = False
    return arrays


def _skin_grid(portrait) -> _SkinGrid:
    """The tone grid with its skin map: they depend on the pixels only (not on the parameters), so they are
    kept with the image and an interactive session re-retouching it does not find them again."""
    def compute():
        face = portrait.face()
        tg = _Grid(skin_box(portrait, face), face.size, TONE_FACE)
        work = tg.take(portrait.image)
        regions = tg.regions_of(portrait, face)
        d0 = density(work)
        skin = skin_map(work, regions, tg.take(portrait.person_matte()), tg.unit, d=d0)
        _frozen(work, skin, d0)
        return _SkinGrid(tg, work, regions, skin, d0)
    return portrait.cached(("retouch skin", id(portrait.face())), compute, per_image=True)


def _shine_of(portrait, t: _SkinGrid) -> tuple[np.ndarray, np.ndarray]:
    """The shine's white light and the skin colour around it on the tone grid (:func:`.tone.shine_light`),
    kept with the image."""
    return portrait.cached(("retouch shine", id(portrait.face())),
                           lambda: _frozen(*shine_light(t.work, t.skin, t.grid.unit)), per_image=True)


def _detail_grid(portrait, t: _SkinGrid) -> _DetailGrid:
    """The detail grid (the face and a tenth of its size around, inside the tone grid), kept with the image."""
    def compute():
        face = portrait.face()
        tg = t.grid
        x, y, bw, bh = face.box
        dg = _Grid(_clip_box((max(x - 0.1 * bw, tg.x0), max(y - 0.1 * bh, tg.y0), min(x + 1.1 * bw, tg.x1),
                              min(y + 1.1 * bh, tg.y1)), portrait.shape), face.size, DETAIL_FACE)
        dd = density(dg.take(portrait.image))
        return _DetailGrid(dg, *_frozen(dd, components(dd), tg.sub(t.skin, dg)))
    return portrait.cached(("retouch detail", id(portrait.face())), compute, per_image=True)


def _spot_scales_of(portrait, g: _DetailGrid) -> list[SpotScale]:
    """What spot finding measures at each scale on the detail grid (:func:`.blemish.spot_scales`: the
    image's alone, not the parameters'), kept with the image."""
    def compute():
        scales = spot_scales(g.c, g.skin, g.grid.unit)
        for m in scales:
            _frozen(m.score, m.blob, m.shade, m.redness, m.pigment)
        return scales
    return portrait.cached(("retouch spot scales", id(portrait.face())), compute, per_image=True)


def _hairs_of(portrait, g: _DetailGrid) -> np.ndarray:
    """Stray hairs on the detail grid (:func:`.blemish.find_hairs`), kept with the image."""
    return portrait.cached(("retouch hairs", id(portrait.face())),
                           lambda: _frozen(find_hairs(g.c, g.skin, g.grid.unit))[0], per_image=True)


def _bounds(mask: np.ndarray) -> tuple[slice, slice] | None:
    """The slices of the smallest box holding all of `mask`'s true pixels, None if there are none."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if not len(rows):
        return None
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _max3(a: np.ndarray) -> np.ndarray:
    """The largest of the three channels (..., 3), as ``a.max(-1)`` but many times faster."""
    return np.maximum(np.maximum(a[..., 0], a[..., 1]), a[..., 2])


def skin_map_of(portrait) -> np.ndarray:
    """The skin map retouching uses, at full resolution, float32 (H, W) in [0, 1] (0 outside its box)."""
    t = _skin_grid(portrait)
    tg = t.grid
    full = np.zeros(portrait.shape, np.float32)
    full[tg.y0:tg.y1, tg.x0:tg.x1] = tg.enlarge(t.skin)
    return full


def retouch_image(portrait, s: RetouchSettings) -> tuple[np.ndarray, np.ndarray]:
    """The retouched linear image (H, W, 3) and the mask of what changed (H, W), see :func:`retouch`."""
    face = portrait.face()
    image = portrait.image
    amt = s.amount

    # tone grid: skin map and shine
    t = _skin_grid(portrait)
    tg, regions, skin, d0 = t.grid, t.regions, t.skin, t.d0
    d = d0
    if s.shine > 0:            # shine: white light taken off, as a density change like everything else
        light, base = _shine_of(portrait, t)
        hot = _bounds(light > 0)           # (without_shine changes nothing where there is no shine)
        if hot is not None:
            d = d0.copy()
            d[hot] = density(without_shine(t.work[hot], light[hot] * amt(s.shine), base[hot]))

    # detail grid: blemishes, eyes, teeth
    fine_change = None
    spots = moles = np.zeros((0, 3), np.float32)
    if s.blemishes > 0 or s.eyes > 0 or s.teeth > 0:
        g = _detail_grid(portrait, t)
        dg, dd, cd, dskin = g
        if s.blemishes > 0:
            found, kept = find_spots(cd, dskin, dg.unit, max_size=s.blemish_size, keep_moles=s.keep_moles,
                                     mole_contrast=s.mole_contrast, mole_size=s.mole_size,
                                     scales=_spot_scales_of(portrait, g))
            spots, moles = dg.to_full(found), dg.to_full(kept)
            if s.stray_hairs:
                hairs = _hairs_of(portrait, g)
                if len(kept):
                    hairs = hairs * (1.0 - spot_mask(kept, dskin.shape, reach=3.0))
                if hairs.max() > 0.01:
                    fine_change = rebuild(dd, hairs * amt(s.blemishes), dskin, dg.unit) - dd
        if s.eyes > 0 or s.teeth > 0:
            fine_change = np.zeros_like(dd) if fine_change is None else fine_change
            fine_change += eye_and_teeth_change(dd, dg.regions(face), dg.unit, eyes=amt(s.eyes),
                                                teeth=amt(s.teeth))
    # the tone grid sees the skin without its spots, and leaves the moles kept as they are
    clear = skin * (1.0 - spot_mask(tg.from_full(np.concatenate([spots, moles])), skin.shape, reach=4.0))

    # tone evening in the middle frequencies of shading, melanin and haemoglobin (tone grid)
    change = d - d0                        # the shine's change so far
    c = components(d)
    if s.redness > 0:        # red blotches: remove the haemoglobin (with the light it absorbs) they add
        red = blotch_excess(c, clear, tg.unit, 1, RED_BLOTCH, face=regions["skin"])
        change -= (amt(s.redness) * red / _H[1])[..., None] * HAEMOGLOBIN
    if s.evenness > 0:       # uneven pigmentation: the pigment chroma blotches add (not their lightness)
        brown = blotch_excess(c, clear, tg.unit, 2, BROWN_BLOTCH, face=regions["skin"])
        change -= (amt(s.evenness) * brown)[..., None] * BASIS[2]
    if s.under_eye > 0:      # darker than the skin around, under the eyes, in the middle frequencies
        ue = _under_eye(tg.face(face), skin.shape, tg.unit) * amt(s.under_eye) * skin
        eb = _bounds(ue > 0)               # its band, found in a box reaching 4 blurs beyond the ellipses
        if eb is not None:
            m = int(np.ceil(4 * MID_COARSE * tg.unit)) + 2
            ry, rx = slice(max(eb[0].start - m, 0), eb[0].stop + m), slice(max(eb[1].start - m, 0), eb[1].stop + m)
            band = mid_band(c[ry, rx], skin[ry, rx], tg.unit)
            change[ry, rx] -= from_components(ue[ry, rx, None] * np.maximum(band, 0.0))

    # everything at full resolution, in the box where anything changes: gains (exp of minus the density
    # change), enlarged once from each grid
    gain_t = np.exp(-change).astype(np.float32)
    moved = _max3(np.abs(change)) > 1e-4
    if not moved.any() and fine_change is None and not len(spots):
        return image.copy(), np.zeros(portrait.shape, np.float32)
    ys, xs = np.nonzero(moved) if moved.any() else (np.array([0]), np.array([0]))
    box = [tg.x0 + xs.min() / tg.kx - 2, tg.y0 + ys.min() / tg.ky - 2, tg.x0 + (xs.max() + 1) / tg.kx + 2,
           tg.y0 + (ys.max() + 1) / tg.ky + 2]
    if fine_change is not None:
        box = [min(box[0], dg.x0), min(box[1], dg.y0), max(box[2], dg.x1), max(box[3], dg.y1)]
    box = [max(box[0], tg.x0), max(box[1], tg.y0), min(box[2], tg.x1), min(box[3], tg.y1)]   # (all is in it)
    ag = _Grid(_clip_box(box, portrait.shape), face.size, face.size)        # full resolution
    gain = tg.sub(gain_t, ag)
    touched = np.zeros(portrait.shape, np.float32)
    touched_box = touched[ag.y0:ag.y1, ag.x0:ag.x1]
    touched_box[...] = tg.sub(_max3(np.abs(gain_t - 1.0)), ag)
    if fine_change is not None:
        gain_f = np.exp(-fine_change).astype(np.float32)
        fy, fx = dg.y0 - ag.y0, dg.x0 - ag.x0
        gain[fy:fy + dg.h, fx:fx + dg.w] *= dg.enlarge(gain_f)
        touched_box[fy:fy + dg.h, fx:fx + dg.w] += dg.enlarge(_max3(np.abs(gain_f - 1.0)))
    # the new image: the original, times the gain inside the box
    full = image.copy()
    out = full[ag.y0:ag.y1, ag.x0:ag.x1]
    out *= gain
    if s.grain > 0:
        out[...] = add_grain(out, tg.sub(skin, ag), face.size, amount=amt(s.grain), seed=s.seed,
                             origin=(ag.x0, ag.y0), landmarks=face.landmarks[:, :2])
    mb = [ag.x0, ag.y0, ag.x1, ag.y1]       # where anything was touched
    if len(spots):
        remove_spots(full, spots, amt(s.blemishes), changed=touched)
        reach = 5.0 * spots[:, 2] + 4.0     # (each spot is changed within 4.5 sigma + 2 px of its centre)
        mb = [min(mb[0], float((spots[:, 0] - reach).min())), min(mb[1], float((spots[:, 1] - reach).min())),
              max(mb[2], float((spots[:, 0] + reach).max())), max(mb[3], float((spots[:, 1] + reach).max()))]
    x0, y0, x1, y1 = _clip_box(mb, portrait.shape)
    region = touched[y0:y1, x0:x1]          # the mask: 0 untouched, 1 from a change of 0.08 in density
    np.divide(region, 0.08, out=region)
    np.minimum(region, 1.0, out=region)     # (never below 0)
    return full, touched
