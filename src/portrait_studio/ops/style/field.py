"""What every style is drawn from: the working copy, the stroke scale across the portrait and the flow of the
image's structure.

Styles are drawn on a working copy whose long side is at most :data:`WORK_LONG_SIDE` pixels (a painting's
strokes are wider than that copy's pixels at any size), so the cost of a style does not grow with the
megapixels; the result, paper and canvas included, is enlarged to the photo (at 12 MP a stroke or a grain of paper
is then about three pixels wide: soft at 100%, as the working size decides).

Sizes are in *units*: the height of the face (the mesh's extent) when there is one, else a quarter of the
frame diagonal, so a 1 MP preview and a 12 MP export agree. The *detail map* says how fine strokes are where:
0 in the background, :data:`DETAIL_PERSON` on the person, :data:`DETAIL_FACE` on the face, 1 on the eyes, brows
and lips. The *flow* is the edge tangent field: the direction of least change of the smoothed structure tensor
(Kyprianidis & Döllner's, as in their anisotropic Kuwahara filter), along which strokes and hatching run.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ...core import luminance, to_srgb8
from ...analysis import Face, region_masks
from ...core.masked import gaussian

#: Long side, pixels, of the copy styles are drawn on.
WORK_LONG_SIDE = 1400
#: Detail level of the person (hair, clothes), the face and the features (eyes, brows, lips; 1).
DETAIL_PERSON, DETAIL_FACE = 0.45, 0.75
#: The unit when there is no face: this fraction of the frame diagonal (a head-and-shoulders portrait's face).
NO_FACE_UNIT = 0.25
#: Where the structure is weak the flow turns to this direction (degrees from the image's x axis, counter-
#: clockwise: a right-handed hatch), as an artist hatches flat areas; the prior's weight is a fraction of the
#: structure tensor's mean strength.
PRIOR_ANGLE, PRIOR_WEIGHT = 55.0, 0.15


@dataclass(frozen=True, eq=False)
class Guide:
    """The working copy and what styles steer by, all at the working size.

    Attributes
    ----------
    srgb : ndarray (h, w, 3) float32
        The photo, sRGB-encoded, in [0, 1].
    grey : ndarray (h, w) float32
        Its luma (sRGB-encoded), in [0, 1].
    unit : float
        Face height (or :data:`NO_FACE_UNIT` of the diagonal), working pixels.
    detail : ndarray (h, w) float32
        Stroke fineness in [0, 1] (see the module).
    person : ndarray (h, w) float32
        The person matte in [0, 1] (ones when there is no face).
    tangent : ndarray (h, w, 2) float32
        Unit stroke direction (x, y): along edges and contours.
    coherence : ndarray (h, w) float32
        How clearly oriented the structure is, 0 (flat or isotropic) to 1 (a clean edge).
    seed : int
        Seed of every random texture.
    """

    srgb: np.ndarray
    grey: np.ndarray
    unit: float
    detail: np.ndarray
    person: np.ndarray
    tangent: np.ndarray
    coherence: np.ndarray
    seed: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.grey.shape

    def size(self, coarse: float, fine: float, finest: float | None = None) -> np.ndarray:
        """A per-pixel size (working pixels) from sizes in units: `coarse` in the background, `fine` on the face,
        `finest` (default half of `fine`) on the features, blended smoothly by the detail map."""
        finest = fine * 0.5 if finest is None else finest
        d = self.detail
        lo = coarse + (fine - coarse) * np.clip(d / DETAIL_FACE, 0, 1)
        hi = fine + (finest - fine) * np.clip((d - DETAIL_FACE) / (1 - DETAIL_FACE), 0, 1)
        return (np.where(d <= DETAIL_FACE, lo, hi) * self.unit).astype(np.float32)


def working_size(shape: tuple[int, int]) -> tuple[int, int]:
    """(width, height) of the working copy of an image of `shape` (h, w)."""
    h, w = shape
    k = min(1.0, WORK_LONG_SIDE / max(h, w))
    return max(1, round(w * k)), max(1, round(h * k))


def make_guide(portrait, *, seed: int, scale: float = 1.0) -> Guide:
    """The :class:`Guide` of a portrait: the working copy, the detail map from the face mesh's regions and the
    person matte (frame-relative sizes and a uniform detail of :data:`DETAIL_PERSON` without a face), and the
    flow. `scale` multiplies every stroke size (the unit)."""
    h, w = portrait.shape
    ws = working_size((h, w))
    k = ws[0] / w
    image = portrait.image if ws == (w, h) else cv2.resize(portrait.image, ws, interpolation=cv2.INTER_AREA)
    # 8-bit precision is plenty for a painting, and the table look-up is ten times faster than the curve
    srgb = to_srgb8(image).astype(np.float32) * np.float32(1 / 255)
    grey = to_srgb8(luminance(image)).astype(np.float32) * np.float32(1 / 255)
    faces = portrait.faces
    face = faces[portrait.face_index or 0] if faces and (portrait.face_index or 0) < len(faces) else None
    if face is None:
        unit = NO_FACE_UNIT * float(np.hypot(*ws))
        detail = np.full(grey.shape, DETAIL_PERSON, np.float32)
        person = np.ones(grey.shape, np.float32)
    else:
        unit = face.size * k
        person = cv2.resize(portrait.coarse_matte, ws, interpolation=cv2.INTER_LINEAR)
        person = np.clip(person, 0, 1).astype(np.float32)
        detail = DETAIL_PERSON * person
        for f in faces:                                       # every face is drawn finely, the main one decides sizes
            reg = _small_regions(f, k, ws)
            detail = np.maximum(detail, DETAIL_FACE * reg["face"])
            detail = np.maximum(detail, reg["features"])
        detail = gaussian(detail, 0.03 * unit)
    unit *= scale
    tangent, coherence = flow(grey, sigma=0.02 * unit, detail=detail)
    return Guide(srgb, grey, float(unit), detail.astype(np.float32), person, tangent, coherence, seed)


def _small_regions(face: Face, k: float, ws: tuple[int, int]) -> dict[str, np.ndarray]:
    """The face oval and its features (eyes, brows, lips and mouth, grown by 2% of the face height) drawn
    straight at the working size (the face's mesh scaled by `k`), never at the photo's full size."""
    small = Face(tuple(v * k for v in face.box), face.score, face.landmarks * np.float32(k), face.pose)
    regs = region_masks(small, (ws[1], ws[0]), ("face", "eyes", "brows", "lips", "mouth"))
    feat = np.maximum.reduce([regs[n] for n in ("eyes", "brows", "lips", "mouth")])
    grow = max(3, int(0.04 * small.size) | 1)
    feat = cv2.dilate(feat, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow)))
    return {"face": regs["face"], "features": feat}


def flow(grey: np.ndarray, *, sigma: float, detail: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Edge tangent field of `grey`: the minor eigenvector of its structure tensor.

    Parameters
    ----------
    grey : ndarray (h, w) float32
        Luma in [0, 1].
    sigma : float
        Integration scale on the face, pixels; the background integrates over three times as wide, blended by
        `detail` (so strokes there follow the larger forms).

    Returns
    -------
    tangent : ndarray (h, w, 2) float32
        Unit (x, y) directions, sign arbitrary.
    coherence : ndarray (h, w) float32
        (λ1 − λ2) / (λ1 + λ2) in [0, 1].
    """
    g = gaussian(grey, max(0.7, 0.3 * sigma))
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    t = np.dstack([gx * gx, gx * gy, gy * gy])
    fine = gaussian(t, max(1.0, sigma))
    if detail is not None:
        coarse = gaussian(t, max(1.0, 3 * sigma))
        a = np.clip(detail / DETAIL_FACE, 0, 1)[..., None]
        t = coarse + (fine - coarse) * a
    else:
        t = fine
    # a weak constant tensor whose minor direction is the prior: it decides only where the structure is weak
    a = np.deg2rad(PRIOR_ANGLE)
    nx, ny = -np.sin(a), -np.cos(a)                 # the normal of the tangent (cos a, -sin a) (y points down)
    strength = PRIOR_WEIGHT * max(float((t[..., 0] + t[..., 2]).mean()), 1e-6)
    t = t + np.float32(strength) * np.float32([nx * nx, nx * ny, ny * ny])
    e, f, g2 = t[..., 0], t[..., 1], t[..., 2]
    root = np.sqrt((e - g2) ** 2 + 4 * f * f)
    l1, l2 = 0.5 * (e + g2 + root), 0.5 * (e + g2 - root)
    tx, ty = l1 - e, -f                        # the eigenvector of the minor eigenvalue λ2: (λ1 − E, −F)
    norm = np.hypot(tx, ty)
    flat = norm < 1e-9
    tx = np.where(flat, 0.0, tx / np.maximum(norm, 1e-12))
    ty = np.where(flat, 1.0, ty / np.maximum(norm, 1e-12))
    coherence = np.where(l1 + l2 > 1e-9, (l1 - l2) / np.maximum(l1 + l2, 1e-12), 0.0)
    return np.dstack([tx, ty]).astype(np.float32), coherence.astype(np.float32)


def smear(image: np.ndarray, tangent: np.ndarray, length: np.ndarray, *, steps: int = 4,
          falloff: float = 0.0, follow: bool = True) -> np.ndarray:
    """Line-integral convolution: each pixel the mean of `image` along the flow's streamline through it,
    `length` pixels each way (a per-pixel array or a number), in ``steps`` steps each way.

    The streamline is followed (the direction re-sampled at each step and kept pointing the same way), so
    strokes bend with the contours (with ``follow=False`` the stroke is straight, at half the cost). `falloff`
    > 0 weighs samples down toward the stroke's ends. Any number of channels is smeared in one pass.
    """
    h, w = image.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    step = (np.asarray(length, np.float32) / steps)
    total = image.astype(np.float32).copy()
    weight = np.ones((h, w), np.float32)
    for sign in (1.0, -1.0):
        px, py = xs.copy(), ys.copy()
        dx, dy = tangent[..., 0] * sign, tangent[..., 1] * sign
        for i in range(1, steps + 1):
            px += dx * step
            py += dy * step
            wgt = np.float32(1.0 - falloff * i / (steps + 1))
            total += wgt * cv2.remap(image, px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            weight += wgt
            if follow and i < steps:
                t = cv2.remap(tangent, px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
                flip = np.where(t[..., 0] * dx + t[..., 1] * dy < 0, -1.0, 1.0).astype(np.float32)
                dx, dy = t[..., 0] * flip, t[..., 1] * flip
    if total.ndim == 3:
        return total / weight[..., None]
    return total / weight


def _levels(sizes: np.ndarray) -> list[float]:
    """The sizes a per-pixel size map is made from: one when it hardly varies, else three, log-spaced."""
    lo, hi = float(sizes.min()), float(sizes.max())
    return [lo] if hi < 1.3 * lo else list(np.geomspace(lo, hi, 3))


def _blend(layers: list[np.ndarray], sizes: np.ndarray, levels: list[float]) -> np.ndarray:
    """Per pixel, the two `layers` made at the `levels` around its own size blended log-linearly."""
    if len(layers) == 1:
        return layers[0]
    pos = np.clip(np.log(sizes / levels[0]) / np.log(levels[1] / levels[0]), 0, 2) if sizes.ndim else 0
    return np.where(pos <= 1, layers[0] * (1 - np.minimum(pos, 1)) + layers[1] * np.minimum(pos, 1),
                    layers[1] * (2 - pos) + layers[2] * (pos - 1)).astype(np.float32)


def noise(shape: tuple[int, int], size: np.ndarray | float, *, seed: int) -> np.ndarray:
    """Seeded white noise of zero mean and unit spread whose grain is `size` pixels (per pixel: three grains
    made and blended by size), float32 (h, w)."""
    h, w = shape
    rng = np.random.default_rng(seed)
    sizes = np.asarray(size, np.float32)
    levels = _levels(sizes)
    out = []
    for s in levels:
        s = max(1.0, s)
        sh, sw = max(2, int(round(h / s))), max(2, int(round(w / s)))
        n = rng.standard_normal((sh, sw)).astype(np.float32)
        n = cv2.resize(n, (w, h), interpolation=cv2.INTER_CUBIC if s > 1.5 else cv2.INTER_LINEAR)
        out.append(n / max(float(n.std()), 1e-6))
    return _blend(out, sizes, levels)


def dog_lines(grey: np.ndarray, tangent: np.ndarray, scale: np.ndarray, *, tau: float = 0.98,
              sharpness: float = 40.0) -> np.ndarray:
    """Flow-based lines (an extended difference of Gaussians smoothed along the flow, after Kang et al.
    and Winnemöller): darkness of ink in [0, 1] (1 = a full line) along contours and creases, as wide as
    `scale` pixels (per pixel, three widths blended)."""
    s = np.asarray(scale, np.float32)
    levels = _levels(s)
    resp = [gaussian(grey, max(0.6, sig)) - tau * gaussian(grey, 1.6 * max(0.6, sig)) for sig in levels]
    d = _blend(resp, s, levels)
    d = smear(d.astype(np.float32), tangent, 1.5 * s, steps=3)
    return np.clip(-np.tanh(sharpness * d), 0, 1).astype(np.float32)
