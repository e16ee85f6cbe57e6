"""Blemishes: spots found at several scales as small blobs redder or darker than the skin around them, on a
reduced copy, with thresholds relative to the skin's own variation; each removed at full resolution, in a
small window, by subtracting a fitted blob (so the skin's own texture under it stays). Stray hairs (thin
dark lines) are rebuilt from the skin around: tone filled in, texture band taken from nearby skin.

Everything works on optical-density coordinates (see :mod:`.tone`): shading, redness, pigment.
"""
from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from ...core.masked import gaussian, masked_gaussian
from ...core.stats import robust_sigma
from .skin import mean_cov
from .tone import HAEMOGLOBIN, BASIS, MELANIN, density

_BLOOD = BASIS @ HAEMOGLOBIN          # haemoglobin's (shading, redness, pigment) direction

#: Detection scales: Gaussian sigma of a spot as fractions of the face height (spots of about 0.5% to 2%
#: of the face height across).
SCALES = (0.002, 0.003, 0.0045, 0.0065)
RED_THRESHOLD = 0.035        # least redness excess over the surrounding skin (density units) that counts
SPOT_FLOOR = 0.06            # least haemoglobin excess (darker and redder together, density units)
BLOOD_K = 2.0                # an excess of haemoglobin counts from this many standard deviations of the skin's
                             # own variation along it (whitened: see :func:`_along`)
DARK_THRESHOLD = 0.1         # least shading excess (darker, density units) of a spot that is only darker
OBJECT_SHADE = 1.0           # shading excess (density, about 44% of the light left) from which a dark thing
                             # is an object on the skin, not a blemish (inflamed spots: 0.1 to 0.5)
EDGE_K = 3.0                 # a shading gradient from this many times the skin's typical one (at a spot's
                             # scale) is a shadow's edge
NOISE_K = 2.5                # an excess counts from this many robust spreads of the skin's own variation
CROWD = 0.08                 # spots covering more than this share of their neighbourhood are texture
                             # (hair, stubble, brows), not blemishes
_WIDTHS = (0.7, 1.0, 1.4)    # blob widths tried in the fit, relative to the measured size
_FIT_STEPS = 3               # reweighting steps of the robust (Tukey) blob fit
_TUKEY = 4.685               # Tukey's biweight constant, in robust spreads of the fit's residual
_FIT_STRIDE = 0.5            # the fit samples its window every this many spot sizes (sigma), at least every pixel
#: An inflamed spot's density direction: haemoglobin with a fifth as much shading (a raised, inflamed bump)
PAPULE = (HAEMOGLOBIN + 0.2) / np.linalg.norm(HAEMOGLOBIN + 0.2)
#: How much more the skin's texture is trusted to fake a spot's grey or brown part than the fit's residual
#: says (that treats texture as white noise; skin's is correlated over a spot's size: measured on pasted
#: spots over 16 portraits, 100 is where the removal stops gaining)
_TEXTURE_DOUBT = 100.0
MAX_SPOTS = 250              # the strongest spots treated on one face (150 cut off real spots on 7 of 16
                             # photos; beyond 250 nothing more is gained in the measured removal)
FINE = 0.002                 # the texture band copied into a rebuilt hair: finer than this (face height)
                             # (pores, grain; the coarser bands of a hair are its colour, filled smooth)
HAIR_THRESHOLD = 0.05        # line strength of a dark thread (density units)


def _grow(mask: np.ndarray, radius: float) -> np.ndarray:
    r = max(1, int(round(radius)))
    return cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))


class SpotScale(NamedTuple):
    """What :func:`find_spots` measures at one scale: it depends on the image alone (no parameter)."""
    s: float                   # the scale, fraction of the face height
    sigma: float               # the same, pixels of the grid
    score: np.ndarray          # spot score (H, W): a spot from 1 (after the crowding test)
    blob: np.ndarray           # scale-normalised Laplacian of the spot signal (to measure each spot's size)
    shade: np.ndarray          # the excess over the skin around (H, W) of shading (darker), redness and
    redness: np.ndarray        # pigment, density units (a mole or freckle is told from them at each spot
    pigment: np.ndarray        # found, see :func:`_moles`)
    pigment_floor: float       # least pigment excess beyond its share of the redness and shading


def spot_scales(c: np.ndarray, skin: np.ndarray, unit: float) -> list[SpotScale]:
    """The measurements :func:`find_spots` makes at each of :data:`SCALES` (those at least 0.4 px):
    they depend on the image alone, so a caller may keep them for another call with other parameters.

    Parameters are those of :func:`find_spots`.
    """
    core_skin = (skin > 0.5).astype(np.float32)
    sample = core_skin[::2, ::2] > 0
    shading = np.ascontiguousarray(c[..., 0])
    out, objects = [], None
    for s in SCALES:
        sigma = s * unit
        if sigma < 0.4:
            continue
        centre = gaussian(c, sigma)
        dog = centre - masked_gaussian(c, core_skin, 3.0 * sigma)           # over the skin around
        shade, redness, pigment = cv2.split(dog)
        cols = np.ascontiguousarray(dog[::2, ::2][sample].T)            # the sampled skin, (3, N)
        med, spread = _robust(cols)
        # inflamed spots are extra haemoglobin: darker and redder together. They count on their redness
        # (in units of this skin's own spread of it in this band) or on their haemoglobin (in standard
        # deviations of the skin's variation along blood's direction), never below a floor
        red_t = max(RED_THRESHOLD, NOISE_K * spread[1])
        snr, amount = _along(dog, cols, _BLOOD, med, spread)
        red = np.maximum(redness / red_t, np.minimum(snr / BLOOD_K, amount / SPOT_FLOOR))
        signal = cv2.transform(centre, (_BLOOD + np.float32([1, 0, 0]))[None])      # blood plus shading
        blob = cv2.Laplacian(signal, cv2.CV_32F, scale=-sigma ** 2)
        dark_t = max(DARK_THRESHOLD, NOISE_K * spread[0])
        dark = shade / dark_t
        # along a shadow's edge skin is redder (light scattered under it): there a red spot must stand out
        # on every side too
        red *= 1.0 - _edge(shading, sigma, sample) * (1.0 - _isolated(signal, sigma, share=0.3))
        # a spot only darker must stand out on every side (not the dark side of a shadow's edge or a
        # crease) and be no less red than the skin (a shadow, a vein), to count
        score = np.maximum(red, np.minimum(dark, 1.0 + red) * _isolated(cv2.split(centre)[0], sigma))
        # far darker than any blemish: an object on the skin (a glasses frame, lashes, a nostril), not a spot;
        # nor is the skin beside it (its surround holds the object), within reach of this scale's window
        if objects is None:
            objects = (shade > OBJECT_SHADE).astype(np.uint8)
        score *= 1.0 - _grow(objects, 3.0 * sigma + 1.0)
        crowd = gaussian((score > 1.0).astype(np.float32), 6.0 * sigma)
        score *= np.clip(2.0 - crowd / CROWD, 0.0, 1.0)
        out.append(SpotScale(s, sigma, score, blob, shade, redness, pigment, 0.5 * spread[2]))
    return out


def find_spots(c: np.ndarray, skin: np.ndarray, unit: float, *, max_size: float = 0.016,
               keep_moles: bool = True, mole_contrast: float = 0.12, mole_size: float = 0.004,
               scales: list[SpotScale] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Where the spots are, as blobs: centre and size; and the moles kept.

    At each scale, a spot is the excess of the smoothed density over the skin around it (a difference of
    Gaussians, 1 to 3 sigma). The thresholds are relative to this skin's own variation in that band: an
    excess counts from :data:`NOISE_K` robust spreads of it (never below a floor), so a textured or noisy
    skin does not light up. Red spots count on redness, or on haemoglobin in standard deviations of the
    skin's own variation along blood's direction (whitened, so the strong shading texture of skin weighs
    less than its quieter colour); spots only darker than the skin must also stand out of it on every side
    (the dark side of a shadow's edge, a crease or a hair's edge does so across one direction only) and be no
    less red than it (a shadow, a vein). A spot is a local maximum of the best score over the scales;
    where candidates crowd (hair, stubble, the edge of brows) they are texture and stay.

    Parameters
    ----------
    c : ndarray, shape (H, W, 3)
        Shading, redness and pigment coordinates of the density (:func:`.tone.components`).
    skin : ndarray, shape (H, W)
        The skin map.
    unit : float
        Face height, pixels of this grid.
    max_size : float
        Largest spot treated, diameter as a fraction of the face height.
    keep_moles : bool
        Keep brown, well-defined spots (moles, freckles, beauty marks).
    mole_contrast : float
        Melanin excess over the surrounding skin (density units; 0.1 ≈ 10% less light) from which a brown
        spot counts as a mole or freckle.
    mole_size : float
        Smallest diameter, as a fraction of the face height, of a brown spot kept as a mole or freckle.
    scales : list of SpotScale, optional
        :func:`spot_scales` of the same `c`, `skin` and `unit`, if the caller kept them (they depend on
        the image only, not on the parameters); found here if not given.

    Returns
    -------
    spots : ndarray, shape (N, 3)
        ``(x, y, sigma)`` of each spot to remove, pixels of this grid (sigma: the blob's Gaussian radius).
    moles : ndarray, shape (M, 3)
        The same for the moles and freckles found and kept.
    """
    core_skin = skin > 0.5
    best = np.zeros(c.shape[:2], np.float32)
    which = np.zeros(c.shape[:2], np.uint8)   # the scale of the best score
    used = []
    for m in spot_scales(c, skin, unit) if scales is None else scales:
        if 2.4 * m.s > max_size * 1.0001:
            break
        np.copyto(which, len(used), where=m.score > best)
        np.maximum(best, m.score, out=best)
        used.append(m)
    peak = (best >= 1.0) & (best >= cv2.dilate(best, np.ones((3, 3), np.uint8))) & core_skin
    ys, xs = np.nonzero(peak)
    order = np.argsort(-best[ys, xs])[:MAX_SPOTS]
    ys, xs = ys[order], xs[order]
    sigmas = np.asarray([m.sigma for m in used], np.float32)
    scale = sigmas[which[ys, xs]]
    # each spot's size: the scale where its normalised Laplacian peaks (a Gaussian blob's own sigma)
    size = sigmas[np.argmax(np.stack([m.blob[ys, xs] for m in used]), 0)] if len(ys) else scale
    found = np.stack([xs, ys, np.maximum(size, scale)], 1).astype(np.float32)
    kept = _moles(used, which[ys, xs], ys, xs, mole_contrast, mole_size) if keep_moles else np.zeros(len(ys), bool)
    return found[~kept], found[kept]


def _moles(used: list[SpotScale], which: np.ndarray, ys: np.ndarray, xs: np.ndarray, mole_contrast: float,
           mole_size: float) -> np.ndarray:
    """Which of the spots at ``(ys, xs)`` (each best at scale ``used[which]``) are moles or freckles: at
    least `mole_size` across, darker than the skin around by `mole_contrast`, and brown: their chroma leans
    to pigment, where a red spot's lies on the redness axis."""
    mole = np.zeros(len(ys), bool)
    for i, m in enumerate(used):
        at = np.flatnonzero(which == i)
        if not len(at) or 2.4 * m.s < mole_size:
            continue
        y, x = ys[at], xs[at]
        shade, redness, pigment = m.shade[y, x], m.redness[y, x], m.pigment[y, x]
        brown = pigment >= np.maximum(0.4 * redness, 0.06 * shade) + m.pigment_floor
        mole[at] = (shade / np.sqrt(3.0) >= mole_contrast) & brown
    return mole


def spot_mask(spots: np.ndarray, shape: tuple[int, int], *, reach: float = 3.0) -> np.ndarray:
    """Soft disks over spots ``(x, y, sigma)``: 1 within `reach` sigma of the centre, 0 beyond `reach` + 1;
    float32 (H, W)."""
    m = np.zeros(shape, np.float32)
    for x, y, s in spots:
        r0 = int(np.ceil((reach + 1.0) * s)) + 1
        xa, xb = max(0, int(x) - r0), min(shape[1], int(x) + r0 + 1)
        ya, yb = max(0, int(y) - r0), min(shape[0], int(y) + r0 + 1)
        if xa >= xb or ya >= yb:
            continue
        dist = np.sqrt((np.arange(xa, xb, dtype=np.float32)[None] - x) ** 2
                       + (np.arange(ya, yb, dtype=np.float32)[:, None] - y) ** 2)
        disk = np.clip(reach + 1.0 - dist / max(s, 1e-3), 0.0, 1.0)
        np.maximum(m[ya:yb, xa:xb], disk, out=m[ya:yb, xa:xb])
    return m


def remove_spots(rgb: np.ndarray, spots: np.ndarray, amount: float, *, changed: np.ndarray | None = None
                 ) -> np.ndarray:
    """Subtract each spot, fitted as a Gaussian blob of density over a sloping skin background, in place.

    In a window around each spot ``(x, y, sigma)`` (full-resolution pixels), the density is fitted by robust
    least squares as a plane (the skin's shading across the window) plus a Gaussian blob per channel; the
    centre is refined on the low-passed density and the blob's width chosen among a few around `sigma` by
    the best fit. The blob's colour is then read as an inflamed spot's (:data:`PAPULE`) plus grey and brown
    parts, each of those kept only as far as it stands out of what the skin's texture can fake
    (:func:`_spot_colours`): the texture under a spot fits a blob too, but rarely one of blood's colour.
    Only the fitted blob is subtracted: the skin's texture and its own tone variations under and around
    the spot stay as they were (a fill would replace them with a smooth patch). A spot that does not fit
    as a darker blob is left alone.

    Parameters
    ----------
    rgb : ndarray, shape (H, W, 3)
        Linear RGB, changed in place.
    spots : ndarray, shape (N, 3)
        Spots, full-resolution pixels.
    amount : float
        Share of each spot removed, in [0, 1].
    changed : ndarray, shape (H, W), optional
        A float32 map raised in place to how much each pixel changed; a new one if not given.

    Returns
    -------
    ndarray
        `changed`: the largest density change of each pixel's channels, float32 (H, W).
    """
    h, w = rgb.shape[:2]
    changed = np.zeros((h, w), np.float32) if changed is None else changed
    ones = np.ones((1, 3), np.float32)
    windows, samples = [], []
    for x, y, s in spots:
        r0 = int(np.ceil(4.5 * s)) + 2
        x0, x1, y0, y1 = max(0, int(x) - r0), min(w, int(x) + r0 + 1), max(0, int(y) - r0), min(h, int(y) + r0 + 1)
        if x1 - x0 < 5 or y1 - y0 < 5:
            continue
        d = density(rgb[y0:y1, x0:x1])
        xs, ys = np.arange(x0, x1, dtype=np.float32)[None], np.arange(y0, y1, dtype=np.float32)[:, None]
        # the centre: the darkest point of the low-passed density within a sigma of the detected one
        low = gaussian(cv2.transform(d, ones), 0.5 * s)
        near = (xs - x) ** 2 + (ys - y) ** 2 <= max(1.0, s) ** 2
        iy, ix = divmod(int(np.argmax(np.where(near, low, -np.inf))), x1 - x0)
        dx, dy = xs - xs[0, ix], ys - ys[iy, 0]
        windows.append((slice(y0, y1), slice(x0, x1), dx ** 2 + dy ** 2, float(s)))
        samples.append(_blob_samples(d, dx, dy, float(s)))
    if not windows:
        return changed
    a, width, doubt = _fit_blobs(samples)
    a = _spot_colours(a, doubt)
    for (rows, cols, r2, s), a_i, f in zip(windows, a, width):
        if a_i.sum() <= 0:                        # not darker: not a spot
            continue
        a_i = (np.maximum(a_i, 0.0) * amount).astype(np.float32)
        g = np.exp(-r2 / (2 * (f * s) ** 2)).astype(np.float32)
        g[g < 1e-3] = 0.0                  # (beyond 3.7 widths: pixels there keep their exact values)
        rgb[rows, cols] *= np.exp(g[..., None] * a_i)
        # (the largest channel of the excess: g ≥ 0, so g times the largest amount)
        np.maximum(changed[rows, cols], g * a_i.max(), out=changed[rows, cols])
    return changed


def _blob_samples(d: np.ndarray, dx: np.ndarray, dy: np.ndarray, s: float) -> tuple[np.ndarray, ...]:
    """The pixels of a spot's window that :func:`_fit_blobs` fits: within 4.5 `s` of the centre, on every
    step-th row and column (a few hundred pixels, whatever the resolution).

    Parameters
    ----------
    d : ndarray, shape (h, w, 3)
        Optical density of the window.
    dx, dy : ndarray, shape (1, w) and (h, 1)
        Offsets of each column and row from the spot's centre, pixels (float32).
    s : float
        The spot's size (Gaussian sigma), pixels.

    Returns
    -------
    tuple
        Their offsets across and down in units of `s`, their squared distances in pixels, and their
        densities (n, 3), all float64; and `s`.
    """
    r2 = dx ** 2 + dy ** 2
    sel = r2 <= (4.5 * s) ** 2
    step = max(1, int(round(_FIT_STRIDE * s)))
    if step > 1:
        sel &= (np.arange(r2.shape[0]) % step == 0)[:, None] & (np.arange(r2.shape[1]) % step == 0)[None]
    return (np.broadcast_to(dx, r2.shape)[sel] / s, np.broadcast_to(dy, r2.shape)[sel] / s,
            r2[sel].astype(np.float64), d[sel].astype(np.float64), s)


def _fit_blobs(samples: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The spot fit of :func:`remove_spots`, every spot at once: each window's density fitted as a plane
    plus a Gaussian blob.

    Each spot's samples (:func:`_blob_samples`) are fitted by least squares as ``c0 + c1·dx/s + c2·dy/s +
    a·g`` per channel, `g` a Gaussian of width ``f·s`` for each `f` of :data:`_WIDTHS`, reweighted
    :data:`_FIT_STEPS` times with Tukey's biweight on each pixel's residual (a pore, a hair or a
    neighbouring spot in the window stops pulling the fit); the width with the smallest weighted residual
    wins. Spots with fewer samples than the most are padded with samples of no weight.

    Returns
    -------
    a : ndarray, shape (S, 3)
        Each spot's best blob amplitude per channel (density).
    width : ndarray, shape (S,)
        Its blob's width, relative to the spot's size.
    doubt : ndarray, shape (S, 3, 3)
        The covariance of `a` were the residual white noise (its channels' covariance, scaled by the
        blob's share of the fit).
    """
    count = np.array([len(smp[2]) for smp in samples])
    n, k, m = int(count.max()), len(_WIDTHS), len(samples)
    valid = np.arange(n)[None] < count[:, None]                                  # (m, n)
    x = np.zeros((m, k, n, 4))                                                   # every spot and width at once
    y = np.zeros((m, n, 3))
    for i, (ax, ay, r2, dens, s) in enumerate(samples):
        c = count[i]
        x[i, :, :c, 0] = 1.0
        x[i, :, :c, 1], x[i, :, :c, 2] = ax, ay
        x[i, :, :c, 3] = np.exp(r2[None] * (-0.5 / (np.asarray(_WIDTHS)[:, None] * s) ** 2))
        y[i, :c] = dens
    y = y[:, None]                                                               # (m, 1, n, 3)
    w = np.broadcast_to(valid[:, None], (m, k, n)).astype(np.float64)
    rhs = np.zeros((m, k, 4, 4))
    rhs[..., 3, 3] = 1.0               # (the last column solves for the blob's row of the inverse)
    middle = ((count - 1) // 2, count // 2)                                      # the median's ranks
    for _ in range(_FIT_STEPS):
        xw = x * w[..., None]
        gram = xw.swapaxes(-1, -2) @ x + 1e-12 * np.eye(4)                      # (m, k, 4, 4)
        rhs[..., :3] = xw.swapaxes(-1, -2) @ y
        sol = np.linalg.solve(gram, rhs)
        coef = sol[..., :3]                                                      # (m, k, 4, 3)
        res = y - x @ coef
        rr = np.sqrt((res * res).sum(-1))                                        # (m, k, n)
        ranked = np.sort(np.where(valid[:, None], rr, np.inf), axis=-1)
        med = 0.5 * sum(np.take_along_axis(ranked, r[:, None, None], -1) for r in middle)
        cut = _TUKEY * 1.4826 * med + 1e-12
        w = np.clip(1.0 - (rr / cut) ** 2, 0.0, None) ** 2 * valid[:, None]
    err = (w * rr * rr).sum(-1) / np.maximum(w.sum(-1), 1e-12)                   # (m, k)
    b = np.argmin(err, axis=1)
    pick = np.arange(m)
    res_b, w_b = res[pick, b], w[pick, b]                                        # (m, n, 3), (m, n)
    cov = (res_b * w_b[..., None]).swapaxes(-1, -2) @ res_b / np.maximum(w_b.sum(-1), 1e-12)[:, None, None]
    doubt = cov * sol[pick, b, 3, 3][:, None, None]
    return coef[pick, b, 3], np.asarray(_WIDTHS)[b], doubt


#: An inflamed spot's colour and the parts it is read against: (papule, grey, brown) as columns.
_SPOT_BASIS = np.column_stack([PAPULE, BASIS[0], MELANIN]).astype(np.float64)


def _spot_colours(a: np.ndarray, doubt: np.ndarray) -> np.ndarray:
    """Fitted blobs' densities `a` (S, 3) read as an inflamed spot (:data:`PAPULE`) plus grey (shading) and
    brown (melanin) parts, the last two each kept as far as they stand out of the fit's uncertainty
    (`doubt` (S, 3, 3), times :data:`_TEXTURE_DOUBT`): a Wiener shrinkage toward a spot of blood's colour. A
    grey or brown spot (a dark speck) keeps its colour; the texture that fakes grey under a red spot is left."""
    basis = _SPOT_BASIS
    weigh = np.linalg.solve(doubt * _TEXTURE_DOUBT + 1e-12 * np.eye(3), np.broadcast_to(basis, doubt.shape))
    # the coefficients and their variances (the inverse of the Fisher matrix) in one solve
    fisher = basis.T @ weigh + 1e-12 * np.eye(3)                                 # (S, 3, 3)
    rhs = np.concatenate([(weigh.swapaxes(-1, -2) @ a[..., None]), np.broadcast_to(np.eye(3), doubt.shape)], -1)
    sol = np.linalg.solve(fisher, rhs)
    c, var = sol[..., 0], np.diagonal(sol[..., 1:], axis1=-2, axis2=-1)
    keep = c * c / np.maximum(c * c + var, 1e-24)
    keep[:, 0] = 1.0
    return (c * keep) @ basis.T


def find_hairs(c: np.ndarray, skin: np.ndarray, unit: float) -> np.ndarray:
    """Soft mask (H, W) of stray hairs (thin dark lines) lying on the skin."""
    return gaussian(_hairs(c[..., 0], unit), max(0.5, SCALES[0] * unit)) * (skin > 0.5)


def _along(x: np.ndarray, sample: np.ndarray, v: np.ndarray, med: np.ndarray, spread: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """How far each pixel of `x` (H, W, 3) stands out along the direction `v`, against the variation of
    `sample` (3, N) (its per-coordinate median and robust spread `med`, `spread`: :func:`_robust`): the
    matched filter whitened by the sample's covariance (so a strongly varying coordinate, such as the
    shading of textured skin, weighs less than a quiet one).

    Returns the signal-to-noise ratio (standard deviations) and the estimated amount along `v` (the units
    of `x`), both float32 (H, W), both 0 at the sample's median. Outliers (beyond 3 robust spreads in any
    coordinate: spots themselves, pores' extremes) are left out of the covariance.
    """
    inliers = (np.abs(sample - med[:, None]) <= 3.0 * spread[:, None] + 1e-6).all(0)
    cov = mean_cov(sample.astype(np.float64), inliers)[1] if inliers.sum() >= 16 else np.eye(3) * 1e-2
    w = np.linalg.solve(cov + 1e-8 * np.eye(3), v)
    q = float(v @ w)
    proj = cv2.transform(x, w.astype(np.float32)[None]) - np.float32(med @ w)
    return proj / np.float32(np.sqrt(q)), proj / np.float32(q)


def _robust(sample: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median and robust standard deviation (1.4826 × median absolute deviation) of each row of a sample
    (k, N); the spread is 0 for fewer than 16 values, both are 0 for none."""
    if not sample.shape[1]:
        return np.zeros(len(sample), np.float32), np.zeros(len(sample), np.float32)
    med = np.median(sample, 1)
    if sample.shape[1] < 16:
        return med, np.zeros_like(med)
    return med, robust_sigma(sample, axis=1)


def _curvatures(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The principal curvatures (lo ≤ hi) of an image, per pixel (Hessian eigenvalues, per pixel²)."""
    dxx = cv2.Sobel(x, cv2.CV_32F, 2, 0, ksize=3, scale=0.25)
    dyy = cv2.Sobel(x, cv2.CV_32F, 0, 2, ksize=3, scale=0.25)
    dxy = cv2.Sobel(x, cv2.CV_32F, 1, 1, ksize=3, scale=0.25)
    mean = (dxx + dyy) * 0.5
    half = cv2.magnitude((dxx - dyy) * 0.5, dxy)
    return mean - half, mean + half


def _edge(shading: np.ndarray, sigma: float, sample: np.ndarray) -> np.ndarray:
    """How surely each pixel lies on a shadow's edge at the scale `sigma` (px), float32 in [0, 1]: the
    gradient of the shading smoothed at 3 `sigma`, from :data:`EDGE_K` (0) to ``EDGE_K + 2`` (1) times its
    median over the sampled skin (`sample`: a mask of the half-size grid)."""
    x = gaussian(shading, 3.0 * sigma)
    g = cv2.magnitude(cv2.Sobel(x, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(x, cv2.CV_32F, 0, 1, ksize=3))
    typical = float(np.median(g[::2, ::2][sample])) if sample.any() else 0.0
    g /= max(typical, 1e-9)
    g -= EDGE_K
    g *= 0.5
    return np.clip(g, 0.0, 1.0, out=g)


def _isolated(x: np.ndarray, sigma: float, *, reach: float = 2.5, share: float = 0.5) -> np.ndarray:
    """1 where `x` stands above its surroundings on every side, as a spot does; 0 where it does so across one
    direction only, as the dark side of an edge or a crease does; float32, same shape.

    The excess of `x` over its values `reach` × `sigma` pixels away in 8 directions (whole-pixel shifts): the
    smallest of the 8 must be at least `share` of their mean (a ramp from 0 where it is none)."""
    d = reach * sigma
    pad = int(np.ceil(d)) + 1
    h, w = x.shape
    big = cv2.copyMakeBorder(x, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    low, total = None, np.zeros_like(x)
    for a in np.arange(8) * (np.pi / 4):
        dy, dx = pad + int(round(d * np.sin(a))), pad + int(round(d * np.cos(a)))
        e = x - big[dy:dy + h, dx:dx + w]
        total += e
        low = e if low is None else np.minimum(low, e)
    total *= share / 8.0
    out = np.divide(low, total, out=np.zeros_like(x), where=total > 0)
    return np.clip(out, 0.0, 1.0, out=out)


def _hairs(shading: np.ndarray, unit: float) -> np.ndarray:
    """Thin dark lines (stray hairs) in the shading density: a strong ridge across, flat along."""
    sigma = max(0.7, 0.0018 * unit)
    lo, hi = _curvatures(gaussian(shading, sigma))      # lo: across a density ridge, most negative
    line = (-lo - 2.0 * np.abs(hi)) * sigma ** 2
    m = np.clip(line / HAIR_THRESHOLD - 1.0, 0.0, 1.0)
    crowd = gaussian((m > 0).astype(np.float32), 10.0 * sigma)
    m = m * np.clip(2.0 - crowd / CROWD, 0.0, 1.0)
    return _grow(m, 1.5 * sigma)


def rebuild(d: np.ndarray, mask: np.ndarray, skin: np.ndarray, unit: float) -> np.ndarray:
    """Density with the masked places rebuilt: tone from the skin around, texture from nearby skin.

    Under the mask, the tone is filled by normalised convolution (a blur of 1% of the face height) from
    unmasked skin, so the spot's colour at every scale it has is replaced by the skin's around it; the
    finest band (below :data:`FINE` of the face height: pores, grain) is copied from skin 3.5% of the face
    height away (of four directions, the one that lands on unmasked skin), so the rebuilt place keeps the
    grain of its neighbours. (Copying the middle band too brought other skin's contrast into the spot.)

    Returns
    -------
    ndarray
        The new density (H, W, 3), equal to `d` where the mask is 0.
    """
    if not mask.any():
        return d
    sigma = 0.01 * unit
    trusted = skin * (1.0 - np.clip(_grow(mask, 0.004 * unit) * 4.0, 0, 1))
    base = masked_gaussian(d, trusted, sigma)
    texture = d - gaussian(d, max(0.5, FINE * unit))
    off = 0.035 * unit
    h, w = mask.shape
    best_cost = np.full((h, w), np.inf, np.float32)
    best = np.zeros_like(texture)
    bad = (mask * 2.0 + (1.0 - skin)).astype(np.float32)
    for dx, dy in ((off, 0), (-off, 0), (0, off), (0, -off)):
        m = np.float32([[1, 0, dx], [0, 1, dy]])      # output(x, y) = input(x - dx, y - dy)
        t = cv2.warpAffine(texture, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        cost = cv2.warpAffine(bad, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        better = cost < best_cost
        np.minimum(best_cost, cost, out=best_cost)
        cv2.copyTo(t, better.view(np.uint8), best)    # in place where better
    filled = base + best
    return (d + mask[..., None] * (filled - d)).astype(np.float32)
