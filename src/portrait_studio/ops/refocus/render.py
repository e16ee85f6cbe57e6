"""Layered, occlusion-aware defocus: the photo cut into depth layers, each blurred by its own circle of confusion
and composited back to front, so that a sharp subject does not bleed into the blurred background, a blurred
foreground spreads over what lies behind it, and what it hid is filled in.

The scene is a stack of layers ordered by their signed blur radius (positive behind the focal plane, negative
in front; the radius grows monotonically with the distance). Each pixel belongs to the one or two layers whose
radii bracket its own (weights sum to 1, so a continuous surface, a floor, is blurred continuously). Working
from the farthest layer forward, a layer is *extended* under what is nearer (the part of the scene it hides is
given to the layers at or behind it in proportion to their share nearby) and its colour there is filled in
from what shows of it (a push-pull fill); its colour where it mixes with the layer behind (an anti-aliased
outline, hair) is unmixed. Then its premultiplied colour and its coverage are blurred by the aperture's image
(:func:`portrait_studio.core.lens.defocus_plane`) and laid over the layers behind: ``out = blur(α·L) +
(1 − blur(α))·out``, the exact result of a thin lens for one layer in front of another when either is sharp.
"""
from __future__ import annotations


import cv2
import numpy as np

from ...core.lens import defocus_plane
from ...core.masked import gaussian, push_pull_fill

#: Layers closer than this in blur radius (pixels) share one layer.
_SNAP = 0.05
#: Step between layer radii: the larger of this many pixels and this fraction of the radius.
_STEP_PX, _STEP_REL = 1.0, 0.12
#: At most this many layers (the step grows to fit).
MAX_LAYERS = 14
#: A layer whose blur is under this diameter (pixels) is composited sharp.
_SHARP_PX = 0.8
#: A layer is blurred on a copy reduced by a power of two, as far as its disc stays this many pixels across.
_MIN_DISC = 6.0
#: Coarsest reduction (a power of two) a layer is worked on at.
_MAX_LEVEL = 5
#: How far into the surface in front of an outline what it hides is inpainted, fraction of the image diagonal.
_PLATE_REACH = 0.03
#: Side of the blocks in which where each layer lies is looked up, pixels.
_BLOCK = 16
#: Width (pixels, at the working size) of the hidden band Telea's inpainting fills; beyond, a push-pull fill.
_FILL_BAND = 12.0


def layer_radii(radius: np.ndarray, *, max_layers: int = MAX_LAYERS) -> np.ndarray:
    """The blur radii (pixels, signed) of the layers a radius map is cut into, farthest first (descending).

    When the map holds few distinct radii (a synthetic scene, a map of planes), they are the layers; otherwise
    a grid from the nearest to the farthest radius, fine near focus (:data:`_STEP_PX`) and coarser where the
    blur is large (:data:`_STEP_REL` of the radius), as a lens's eye cannot tell 40 from 41 px of blur.
    """
    sample = radius[::4, ::4] if radius.size > 1 << 16 else radius
    vals = np.unique(np.round(sample / _SNAP) * _SNAP)
    if len(vals) <= max_layers:
        return vals[::-1].astype(np.float32)
    lo, hi = float(sample.min()), float(sample.max())
    for scale in (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0):
        grid = [0.0]
        while grid[-1] < hi:
            grid.append(grid[-1] + scale * max(_STEP_PX, _STEP_REL * grid[-1]))
        while grid[0] > lo:
            grid.insert(0, grid[0] - scale * max(_STEP_PX, _STEP_REL * abs(grid[0])))
        if len(grid) <= max_layers:
            break
    return np.asarray(grid[::-1], np.float32)


def _tent(r: np.ndarray, radii: np.ndarray, k: int) -> np.ndarray:
    """Layer `k`'s share of pixels of radius `r` (radii descending): 1 at its radius, falling linearly to 0
    at its neighbours' (all of what lies beyond the first or the last layer)."""
    rk = float(radii[k])
    out = np.ones(r.shape, np.float32)
    if k > 0:                                            # the layer behind: towards it the share falls
        out = np.minimum(out, np.clip((float(radii[k - 1]) - r) / (float(radii[k - 1]) - rk), 0.0, 1.0))
    if k < len(radii) - 1:
        out = np.minimum(out, np.clip((r - float(radii[k + 1])) / (rk - float(radii[k + 1])), 0.0, 1.0))
    return out


def _drawn(r: np.ndarray, radii: np.ndarray, k: int) -> np.ndarray:
    """The share of pixels of radius `r` that layers 0..k (the farthest up to `k`) hold together."""
    if k >= len(radii) - 1:
        return np.ones(r.shape, np.float32)
    lo, hi = float(radii[k + 1]), float(radii[k])
    return np.clip((r - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)


def memberships(radius: np.ndarray, radii: np.ndarray) -> list[np.ndarray]:
    """Each layer's share of every pixel, float32 (H, W) each, summing to 1: a pixel between two layers' radii
    is split between them in proportion (linear in the radius)."""
    return [_tent(radius, radii, k) for k in range(len(radii))]


def _share_nearby(own: np.ndarray, behind: np.ndarray, sigma: float) -> np.ndarray:
    """A layer's share among the layers at or behind it, smoothed over `sigma` pixels (normalised convolution;
    0 where none of them is near)."""
    a, c = gaussian(own, sigma), gaussian(behind, sigma)
    return np.where(c > 1e-3, a / np.maximum(c, 1e-6), 0.0).astype(np.float32, copy=False)


class _Pyramid:
    """Maps halved again and again (area averaging), made when first asked for."""

    def __init__(self, **maps: np.ndarray):
        self.levels = [maps]

    def __getitem__(self, level: int) -> dict[str, np.ndarray]:
        while len(self.levels) <= level:
            prev = self.levels[-1]
            h, w = next(iter(prev.values())).shape[:2]
            size = (max(1, (w + 1) // 2), max(1, (h + 1) // 2))
            self.levels.append({n: cv2.resize(m, size, interpolation=cv2.INTER_AREA) for n, m in prev.items()})
        return self.levels[level]


class Colours:
    """What the renderer needs of the photo that no aperture or focus changes, worked out once: the two
    surfaces' colours at outlines premultiplied by their shares, what the surface in front hides (see
    :func:`unmix_outlines`), and their reduced copies, made when first needed.

    Attributes
    ----------
    front : ndarray, (H, W, 3)
        The colour of the surface in front (the photo away from outlines).
    """

    def __init__(self, front: np.ndarray, back: np.ndarray, plate: np.ndarray, mix: np.ndarray):
        self.front = front
        self.pyramid = _Pyramid(pf=front * mix[..., None], pb=back * (1.0 - mix)[..., None], plate=plate, m=mix)


class _Levels:
    """Two pyramids read as one: ``levels[l]`` holds the maps of both at reduction ``2**l``."""

    def __init__(self, *pyramids: _Pyramid):
        self.pyramids = pyramids

    def __getitem__(self, level: int) -> dict[str, np.ndarray]:
        out = {}
        for p in self.pyramids:
            out.update(p[level])
        return out


def unmix_outlines(image: np.ndarray, near: np.ndarray, far: np.ndarray, mix: np.ndarray,
                   outline: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The colours of the two surfaces a pixel sees at outlines, and what the nearer surface hides.

    Parameters
    ----------
    image : ndarray, (H, W, 3)
    near, far : ndarray, (H, W)
        The surface in front and the one behind (depth, or signed blur radius: anything that grows with the
        distance); equal away from outlines.
    mix : ndarray, (H, W)
        The share of each pixel the surface in front covers.
    outline : ndarray of bool, (H, W)
        Where a pixel sees two surfaces.

    Returns
    -------
    front, back, plate : ndarray, float32 (H, W, 3), (H, W, 3), (H, W, 4)
        `front`: the surface in front unmixed from the pixel, ``F = (I − (1 − m) B) / m``, where it covers
        enough of it to be trusted (else filled from the front side). `back`: what lies behind, inpainted
        from the pixels wholly behind (Telea's fast marching across the outline and, on ever coarser copies,
        up to :data:`_PLATE_REACH` of the diagonal into the surface in front); the photo elsewhere. `plate`:
        that hidden colour premultiplied by the weight of where it was made (its last channel), for layers
        that must show what the surface in front hides.
    """
    h, w = mix.shape
    band = np.asarray(outline, bool)
    plate = np.zeros((h, w, 4), np.float32)
    if not band.any():
        return image, image, plate
    # which side of its nearest outline every pixel lies on: behind if farther than the outline's middle
    mid = push_pull_fill(np.where(band, 0.5 * (near + far), 0.0).astype(np.float32), band.astype(np.float32))
    single = np.where(mix >= 0.5, near, far)
    behind = np.where(band, mix < 0.02, single >= mid)
    reach = _PLATE_REACH * float(np.hypot(h, w))
    dist = cv2.distanceTransform((~behind).astype(np.uint8), cv2.DIST_L2, 3)
    zone = ~behind & (dist <= reach)
    back = _fill_deep(image, behind, zone, dist)
    plate[..., :3] = np.where(zone[..., None], back, 0.0)
    plate[..., 3] = zone
    back = np.where(band[..., None], back, image)
    # the surface in front: unmixed where it covers enough of the pixel, filled from its own side elsewhere
    front = _fill_deep(image, np.where(band, mix > 0.98, ~behind), band, None)
    m = np.maximum(mix, 1e-3)[..., None]
    unmixed = np.clip((image - (1.0 - m) * back) / m, 0.0, float(image.max()))
    trust = np.clip((mix - 0.02) / 0.3, 0.0, 1.0)[..., None] * band[..., None]
    front = front + trust * (unmixed - front)
    return front.astype(np.float32, copy=False), back.astype(np.float32, copy=False), plate


def _fill_deep(image: np.ndarray, known: np.ndarray, zone: np.ndarray, dist: np.ndarray | None) -> np.ndarray:
    """`image` inpainted over `zone` from the `known` pixels: at full size within :data:`_FILL_BAND` pixels of
    them, and beyond on copies reduced by 4, 16, ... (each filling a band :data:`_FILL_BAND` of its pixels
    wide), so the cost follows the zone's outline, not its area."""
    if dist is None:
        dist = cv2.distanceTransform((~known).astype(np.uint8), cv2.DIST_L2, 3)
    out = fill_band(image, known, zone & (dist <= _FILL_BAND))
    h, w = known.shape
    f, done = 4, float(_FILL_BAND)
    while (zone & (dist > done)).any() and min(h, w) // f >= 4:
        size = (max(1, w // f), max(1, h // f))
        have = known | (zone & (dist <= done))
        k_small = cv2.resize(have.astype(np.float32), size, interpolation=cv2.INTER_AREA)
        c_small = cv2.resize(out * have[..., None], size, interpolation=cv2.INTER_AREA) / np.maximum(
            k_small, 1e-6)[..., None]
        ks = k_small > 0.5
        z_small = cv2.resize(zone.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
        d_small = cv2.distanceTransform((~ks).astype(np.uint8), cv2.DIST_L2, 3)
        filled = fill_band(c_small, ks, (z_small | ~ks) & (d_small <= _FILL_BAND))
        deeper = zone & (dist > done)
        up = cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)
        out[deeper] = up[deeper]
        done, f = done + _FILL_BAND * f, f * 4
    return out


def fill_band(image: np.ndarray, known: np.ndarray, where: np.ndarray) -> np.ndarray:
    """`image` with the pixels of `where` that are not `known` inpainted (Telea's fast marching, on a
    square-root encoding scaled to the brightest known value) from the known ones around; a copy. Pixels
    neither known nor to be filled take a smooth fill of the known ones first, so that they bring nothing of
    their own into the hole."""
    out = np.array(image, np.float32, copy=True)
    hole = where & ~known
    if not hole.any() or not known.any():
        return out
    ys, xs = np.nonzero(hole)
    y0, y1, x0, x1 = max(0, ys.min() - 8), ys.max() + 9, max(0, xs.min() - 8), xs.max() + 9
    crop = out[y0:y1, x0:x1]
    sel = hole[y0:y1, x0:x1]
    k_crop = known[y0:y1, x0:x1]
    # the unknown pixels beyond the hole would feed the fast marching from the wrong side: they are given a
    # smooth fill of the known colours first (in the inpainting's input only)
    other = ~k_crop & ~sel
    source = crop
    if other.any():
        oy, ox = np.nonzero(other)
        source = crop.copy()
        source[oy, ox] = _fill(crop, k_crop, oy, ox)
    mask = sel.astype(np.uint8)
    sample = source[::3, ::3][mask[::3, ::3] == 0]
    top = max(float(np.percentile(sample, 99.9)) if sample.size else 1.0, 1e-3)
    enc = np.sqrt(np.clip(source / top, 0.0, 1.0))
    filled = cv2.inpaint((enc * 255 + 0.5).astype(np.uint8), mask, 3, cv2.INPAINT_TELEA)
    crop[sel] = ((filled.astype(np.float32) / 255) ** 2 * top)[sel]
    return out


def _level(diameter: float) -> int:
    """The reduction (a power of two) a layer of this blur diameter is worked at."""
    level = 0
    while level < _MAX_LEVEL and diameter / 2 ** (level + 1) >= _MIN_DISC:
        level += 1
    return level


def render_layers(image: np.ndarray, radius: np.ndarray, *, behind: np.ndarray | None = None,
                  mix: np.ndarray | None = None, colours: Colours | None = None,
                  aperture: str = "disk", max_layers: int = MAX_LAYERS) -> np.ndarray:
    """Defocus `image` by the per-pixel signed blur `radius`, layer by layer, respecting occlusion.

    Parameters
    ----------
    image : ndarray, (H, W, 3)
        The all-in-focus photo, linear light.
    radius : ndarray, (H, W)
        Signed circle-of-confusion radius per pixel, pixels: positive behind the focal plane, negative in front.
    behind, mix : ndarray, (H, W), optional
        At an outline, where a pixel sees two surfaces (hair before a wall): the radius of the surface behind
        and the share `mix` of the pixel that `radius` (the one in front) covers; elsewhere ``behind ==
        radius``. Without them every pixel sees one surface.
    colours : Colours, optional
        The surfaces' colours (:class:`Colours`), when already known (they do not depend on the blur, so a
        second rendering of the same photo reuses them); made here otherwise.
    aperture : str
        The aperture's shape (see :func:`portrait_studio.core.lens.aperture_kernel`).
    max_layers : int
        Most layers the depth range is cut into.

    Returns
    -------
    ndarray, float32 (H, W, 3), linear light.

    Notes
    -----
    A layer is worked on at the coarsest power-of-two reduction at which its disc is still :data:`_MIN_DISC`
    pixels across, so the cost hardly grows with the blur: the layers behind the focal plane are composited
    from the coarsest (the farthest) to full size, those in front of it from the nearest (coarsest) backwards
    (an "under" composite), and the two joined at full size.
    """
    image = np.asarray(image, np.float32)
    radius = np.asarray(radius, np.float32)
    h, w = radius.shape
    if behind is None or mix is None:
        behind, mix = radius, np.ones_like(radius)
    behind = np.asarray(behind, np.float32)
    mix = np.asarray(mix, np.float32)
    outline = (mix < 0.995) | (np.abs(radius - behind) > 1e-3)
    radii = layer_radii(np.concatenate([radius, behind]), max_layers=max_layers)
    if colours is None:
        colours = Colours(*unmix_outlines(image, radius, behind, mix, outline), mix)
    # the surfaces' colours premultiplied by their shares, so that a reduced copy averages only what each shows
    pyr = _Levels(colours.pyramid, _Pyramid(rf=radius, rb=behind))
    # where each layer can be: blocks of _BLOCK px whose radius range meets the layer's
    rmin = _pool(np.minimum(radius, behind), _BLOCK, np.min)
    rmax = _pool(np.maximum(radius, behind), _BLOCK, np.max)

    def box_of(k: int, lvl: int, margin: float):
        """The part of the frame (at level `lvl`) that layer k and its blur can reach, as slices, or None."""
        upper = float(radii[k - 1]) if k > 0 else np.inf
        lower = float(radii[k + 1]) if k < len(radii) - 1 else -np.inf
        ys, xs = np.nonzero((rmin < upper) & (rmax > lower))
        if ys.size == 0:
            return None
        f = 2 ** lvl
        hl, wl = pyr[lvl]["m"].shape
        grow = margin + _BLOCK
        y0, y1 = (ys.min() * _BLOCK - grow) / f, ((ys.max() + 1) * _BLOCK + grow) / f
        x0, x1 = (xs.min() * _BLOCK - grow) / f, ((xs.max() + 1) * _BLOCK + grow) / f
        return (slice(max(0, int(y0)), min(hl, int(np.ceil(y1)))), slice(max(0, int(x0)), min(wl, int(np.ceil(x1)))))

    def layer(k: int):
        """Layer k at its working size, within its box: premultiplied blurred colour, blurred coverage, level,
        box (None when the layer is empty)."""
        r = float(radii[k])
        d = 2.0 * abs(r)
        lvl = _level(d)
        reach_full = max([abs(float(x)) for x in radii[k:]] + [1.0])
        reach = reach_full / 2 ** lvl + 2.0
        box = (slice(None), slice(None)) if k == 0 else box_of(k, lvl, 3.0 * reach_full + abs(r) + 2 ** lvl)
        if box is None:
            return None
        L = {n: m[box] for n, m in pyr[lvl].items()}
        tf, tb = _tent(L["rf"], radii, k), _tent(L["rb"], radii, k)
        own = L["m"] * tf + (1.0 - L["m"]) * tb
        if k > 0 and not own.any():
            return None
        # the layer extended under what is nearer: the hidden part (1 - drawn) shared among the layers at or
        # behind this one in proportion to their presence nearby
        if k == 0:
            alpha = np.ones_like(own)
        else:
            drawn = L["m"] * _drawn(L["rf"], radii, k) + (1.0 - L["m"]) * _drawn(L["rb"], radii, k)
            alpha = np.clip(own + (1.0 - drawn) * _share_nearby(own, drawn, max(2.0, reach)), 0.0, 1.0)
        # its colour where it shows (the surfaces' colours unmixed at outlines), filled in where it is hidden
        # and yet shows (alpha above 1/1000: below, the colour is multiplied by next to nothing)
        premult = tf[..., None] * L["pf"]
        premult += tb[..., None] * L["pb"]
        colour = np.divide(premult, np.maximum(own, 1e-6)[..., None], out=premult)
        known = own > 0.05
        ys, xs = np.nonzero(~known & (alpha > 1e-3))
        if ys.size:                          # hidden: what the surface in front hides, else a smooth fill
            pz = L["plate"][ys, xs]
            colour[ys, xs] = pz[:, :3] + (1.0 - pz[:, 3:]) * _fill(colour, known, ys, xs)
        if d / 2 ** lvl < _SHARP_PX:
            return alpha[..., None] * colour, alpha, lvl, box
        stack = np.dstack([alpha[..., None] * colour, alpha])
        if aperture == "cat-eye":
            hl, wl = pyr[lvl]["m"].shape
            both = _cat_eye(stack, d / 2 ** lvl, box, (hl, wl))
        else:
            both = defocus_plane(stack, d / 2 ** lvl, aperture=aperture, work_px=float("inf"))
        return both[..., :3], np.clip(both[..., 3], 0.0, 1.0), lvl, box

    def resize(x: np.ndarray, lvl: int) -> np.ndarray:
        size = pyr[lvl]["m"].shape[::-1]
        return x if x.shape[:2] == size[::-1] else cv2.resize(x, size, interpolation=cv2.INTER_LINEAR)

    ks = list(range(len(radii)))
    # the layers behind: from the farthest while the working size grows (or stays), "over" composite
    split = len(ks)
    for i in range(1, len(ks)):
        if _level(2 * abs(float(radii[ks[i]]))) > _level(2 * abs(float(radii[ks[i - 1]]))):
            split = i
            break
    out = None
    for k in ks[:split]:
        got = layer(k)
        if got is None:
            continue
        c, a, lvl, box = got
        if out is None:
            out = resize(c, lvl) if k == 0 else c
            continue
        out = resize(out, lvl)
        region = out[box]
        region *= (1.0 - a)[..., None]
        region += c
    out = resize(out, 0)
    # the layers in front, nearest first, "under" composite
    acc_c = acc_a = None
    for k in reversed(ks[split:]):
        got = layer(k)
        if got is None:
            continue
        c, a, lvl, box = got
        if acc_c is None:
            hl, wl = pyr[lvl]["m"].shape
            acc_c, acc_a = np.zeros((hl, wl, 3), np.float32), np.zeros((hl, wl), np.float32)
        acc_c, acc_a = resize(acc_c, lvl), resize(acc_a, lvl)
        keep = 1.0 - acc_a[box]
        acc_c[box] += keep[..., None] * c
        acc_a[box] += keep * a
    if acc_c is not None:
        acc_c, acc_a = resize(acc_c, 0), resize(acc_a, 0)
        out *= (1.0 - acc_a)[..., None]
        out += acc_c
    return out


#: How far the lens barrel cuts into the aperture at the frame's corners, fraction of the disc's diameter.
CAT_EYE = 0.35


def _cat_eye(stack: np.ndarray, diameter: float, box, frame_hw: tuple[int, int]) -> np.ndarray:
    """Blur by the "cat's eye" a fast lens's barrel makes of its aperture off the axis: a disc towards the
    frame's centre, cut more and more towards the corners (the cut facing the centre). The part of the frame
    in `box` is blurred with the discs of a 3 × 3 grid of frame positions and blended bilinearly between them."""
    from ...core.lens import aperture_kernel

    hl, wl = frame_hw
    ys = (np.arange(box[0].start or 0, box[0].stop if box[0].stop is not None else hl, dtype=np.float32) + 0.5)
    xs = (np.arange(box[1].start or 0, box[1].stop if box[1].stop is not None else wl, dtype=np.float32) + 0.5)
    ys, xs = ys[:stack.shape[0]] / hl * 2 - 1, xs[:stack.shape[1]] / wl * 2 - 1      # -1 .. 1 across the frame
    out = np.zeros_like(stack)
    for gy in (-1, 0, 1):
        wy = np.clip(1.0 - np.abs(ys - gy), 0.0, 1.0)
        if not wy.any():
            continue
        for gx in (-1, 0, 1):
            wx = np.clip(1.0 - np.abs(xs - gx), 0.0, 1.0)
            if not wx.any():
                continue
            kernel = aperture_kernel(diameter, "cat-eye", offset=(-CAT_EYE * gx / np.sqrt(2), -CAT_EYE * gy / np.sqrt(2)))
            blurred = cv2.filter2D(stack, -1, cv2.flip(kernel, -1), borderType=cv2.BORDER_REFLECT)
            out += (wy[:, None] * wx[None, :])[..., None] * blurred
    return np.maximum(out, 0.0)


def _pool(x: np.ndarray, block: int, fn) -> np.ndarray:
    """`fn` (np.min or np.max) over blocks of `block` × `block` pixels (the last ones partial)."""
    h, w = x.shape
    ph, pw = -h % block, -w % block
    if ph or pw:
        x = np.pad(x, ((0, ph), (0, pw)), mode="edge")
    return fn(x.reshape((h + ph) // block, block, (w + pw) // block, block), axis=(1, 3))


def _fill(colour: np.ndarray, known: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """A smooth fill of a layer's colour where it is not `known`, at the pixels ``(ys, xs)`` (n, 3): a
    push-pull fill on a copy reduced 8 times, read bilinearly at those pixels as an enlarged copy would hold
    them (only where nothing hides the layer does it show, and there it is blurred)."""
    h, w = known.shape
    if not known.any():
        return colour[ys, xs]
    c = 8
    small_hw = (max(1, w // c), max(1, h // c))
    k_small = cv2.resize(known.astype(np.float32), small_hw, interpolation=cv2.INTER_AREA)
    c_small = cv2.resize(colour * known[..., None], small_hw, interpolation=cv2.INTER_AREA) / np.maximum(
        k_small, 1e-6)[..., None]
    filled = push_pull_fill(c_small, np.clip(k_small * 2.0, 0.0, 1.0))
    # (pixel centres mapped as cv2.resize maps them when enlarging; the points laid out in rows of 1024, as
    # OpenCV's remap takes maps of fewer than 32767 rows)
    n, row = len(ys), 1024
    pad = -n % row
    mx = np.pad((xs + 0.5) * (small_hw[0] / w) - 0.5, (0, pad)).astype(np.float32).reshape(-1, row)
    my = np.pad((ys + 0.5) * (small_hw[1] / h) - 0.5, (0, pad)).astype(np.float32).reshape(-1, row)
    return cv2.remap(filled, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).reshape(-1, 3)[:n]


