"""The shape of the whole subject for lighting: normals for face, hair, neck and shoulders, and a height field.

Inside the face oval the normals are the mesh's. Elsewhere the person matte is "inflated": a surface rising
like a rounded cushion from the matte's outline (a parabola in the distance to the outline, as steep as a
circle 0.9 face heights across at the edge), so hair, ears, neck and shoulders turn away from the camera at
their edges and a body lit from the side keeps its terminator near its middle. The two normal fields are blended
across a band of the face's edge, so no seam shows there. The height field that casts shadows is the face's
relief from the mesh depth (nose, brows, cheeks, chin), the same surface as its normals.

Everything is made at a reduced working resolution (the face about 144 px high) and is meant to be
upsampled smoothly: light varies slowly, detail stays in the full-resolution image.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..core.grid import Grid
from .faces import Face
from .regions import FACE_OVAL

_WORK_FACE_HEIGHT = 144.0     # face height at the working resolution, pixels
_WORK_MAX_SIDE = 1024         # ... unless that makes the working image's long side larger than this
_CUSHION = 0.9                # curvature radius of the inflated matte at its edge, fraction of the face height
_FACE_MARGIN = 0.12           # the subject takes in this much round the face oval, fraction of the face height
# The mesh's normals are turned down a little: on Extended Yale B (people 1-10, lights within 70 degrees of the
# camera) 4 degrees relights best and reads the frontal light best (8, fitted on people 1-4 alone, overshot)
_NORMAL_PITCH = -4.0
_RELIEF = 1.0                 # scale of the mesh's relief in the shadow-casting height field
_BLEND = 0.12                 # width of the face-edge blend, fraction of the face height


@dataclass(frozen=True)
class SubjectGeometry:
    """The subject's shape at the working resolution.

    Attributes
    ----------
    grid : Grid
        The working resolution: the whole frame, reduced (:class:`~portrait_studio.core.grid.Grid`).
    normals : ndarray (h, w, 3)
        Unit normals, camera frame (x right, y up, z toward the camera); (0, 0, 1) off the subject.
    height : ndarray (h, w)
        Height toward the camera of the face's surface above its outline (0 elsewhere), working pixels: what
        casts shadows.
    subject : ndarray (h, w)
        The person matte in [0, 1].
    face, skin, sclera : ndarray (h, w)
        Face oval, skin and eye-white weights in [0, 1].
    face_normals : ndarray (h, w, 3)
        The mesh's normals alone (zero outside the face oval), for the lighting estimate.
    face_height : float
        The face's height in working pixels.
    """

    grid: Grid
    normals: np.ndarray
    height: np.ndarray
    subject: np.ndarray
    face: np.ndarray
    skin: np.ndarray
    sclera: np.ndarray
    face_normals: np.ndarray
    face_height: float

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the working resolution, as OpenCV takes sizes."""
        return self.grid.size


def working_scale(face: Face, shape: tuple[int, ...]) -> float:
    """Full → working resolution factor: the face about 144 px high, the long side at most 1024 px."""
    s = min(1.0, _WORK_FACE_HEIGHT / max(face.size, 1.0))
    return min(s, _WORK_MAX_SIDE / max(shape[:2]))


def subject_geometry(face: Face, shape: tuple[int, ...], *, matte: np.ndarray, normals: np.ndarray,
                     regions: dict[str, np.ndarray]) -> SubjectGeometry:
    """Normals and height of the whole subject at the working resolution.

    Parameters
    ----------
    face : Face
        The face, in full-resolution pixels.
    shape : tuple
        The full image's shape.
    matte : ndarray
        Person matte in [0, 1], any resolution (the coarse analysis matte will do).
    normals : ndarray (H, W, 3)
        The face normals (:func:`~portrait_studio.analysis.face_normals`), any resolution.
    regions : dict
        Region masks ``face``, ``skin``, ``eyes`` and ``irises`` (:func:`~portrait_studio.analysis.region_masks`).
    """
    s = working_scale(face, shape)
    grid = Grid.whole(shape, s, min_size=8)
    size = grid.size

    def small(a):                               # a new float32 array at the working resolution
        out = grid.take(np.asarray(a, np.float32))
        return out.copy() if grid.full else out

    fh = face.size * s
    subject = np.clip(cv2.resize(np.asarray(matte, np.float32), size, interpolation=cv2.INTER_LINEAR), 0, 1)
    face_mask, skin = small(regions["face"]), small(regions["skin"])
    sclera = np.clip(small(regions["eyes"]) - 2 * small(regions["irises"]), 0, 1)
    t = np.radians(_NORMAL_PITCH)                                # turn the mesh's normals down a little
    fn = small(normals) @ np.float32([[1, 0, 0], [0, np.cos(t), -np.sin(t)], [0, np.sin(t), np.cos(t)]])
    # the shape: the face and a margin round it (forehead, jaw, ears) are always part of it, even where the
    # matte fails; what the light reaches (`subject`) is the matte alone, so the backdrop round a head is not lit
    grow = max(1, round(_FACE_MARGIN * fh)) * 2 + 1
    around = cv2.dilate((face_mask > 0.5).astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow)))
    shape = np.maximum(subject, cv2.GaussianBlur(around.astype(np.float32), (0, 0), 0.03 * fh))

    # inflated matte: a rounded cushion from the outline (OpenCV's distance transform does not take the frame's
    # edge for an outline: a body cut by the frame does not turn away from the camera there)
    r = _CUSHION * fh
    d = cv2.distanceTransform((shape > 0.5).astype(np.uint8), cv2.DIST_L2, 5)
    cushion = cv2.GaussianBlur(np.sqrt(2 * r * d), (0, 0), 0.12 * fh).astype(np.float32)   # no crease mid-body

    # normals: the cushion's everywhere, the mesh's inside the face, blended across the face edge
    smooth = cv2.GaussianBlur(cushion, (0, 0), 0.02 * fh)
    hx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3) / 8
    hy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3) / 8
    body = np.dstack([-hx, hy, np.ones_like(hx)])
    body /= np.linalg.norm(body, axis=2, keepdims=True)
    inner = cv2.erode((face_mask > 0.5).astype(np.uint8), np.ones((3, 3), np.uint8),
                      iterations=max(1, round(_BLEND * fh / 2))).astype(np.float32)
    wgt = cv2.GaussianBlur(inner, (0, 0), _BLEND * fh / 2)[..., None]
    fn_unit = fn / np.maximum(np.linalg.norm(fn, axis=2, keepdims=True), 1e-6)
    n = wgt * fn_unit + (1 - wgt) * body
    n /= np.maximum(np.linalg.norm(n, axis=2, keepdims=True), 1e-6)
    # the height field for cast shadows is the face's relief from the mesh (the same surface as its normals),
    # smoothed (the mesh is faceted) and tapering off across the face's edge: the nose shades the cheek, the
    # brows the eyes, the chin the neck, and the head the hair and shoulders on the far side from a light
    taper = cv2.GaussianBlur(inner, (0, 0), 2 * _BLEND * fh)
    relief = cv2.GaussianBlur(_face_relief(face, s, size), (0, 0), 0.025 * fh)
    height = _RELIEF * relief * np.maximum(taper, 0.0)
    return SubjectGeometry(grid, n.astype(np.float32), height.astype(np.float32), subject.astype(np.float32),
                           face_mask, skin, sclera, fn.astype(np.float32), float(fh))


def _face_relief(face: Face, s: float, size: tuple[int, int]) -> np.ndarray:
    """Height of the face's surface above its own outline (nose, brows, cheeks), working pixels; 0 outside."""
    from scipy.interpolate import LinearNDInterpolator  # here: importing SciPy costs every command 0.25 s

    pts = face.landmarks[:468]                             # mesh z: smaller is nearer the camera
    relief = np.maximum(-(pts[:, 2] - pts[FACE_OVAL, 2].mean()), 0.0) * s
    xy = pts[:, :2] * s
    x0, y0 = np.floor(xy.min(0)).astype(int)
    x1, y1 = np.ceil(xy.max(0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, size[0]), min(y1, size[1])
    out = np.zeros(size[::-1], np.float32)
    if x1 <= x0 or y1 <= y0:
        return out
    gx, gy = np.meshgrid(np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32))
    out[y0:y1, x0:x1] = LinearNDInterpolator(xy, relief, fill_value=0.0)(gx, gy)
    return out


def refine_normals(normals: np.ndarray, luminance: np.ndarray, sh: np.ndarray, weight: np.ndarray,
                   face_height: float, *, steps: int = 3, stiffness: float = 1.0,
                   smooth: float = 0.015, albedo_scale: float = 0.1) -> np.ndarray:
    """Normals bent so the estimated light explains the photo's own shading better (shape from shading).

    Lambertian skin reads ``albedo × irradiance(n)``. With the light `sh` fixed and the albedo taken as smooth
    (a local least-squares fit over `albedo_scale` face heights), each of `steps` Gauss-Newton steps moves every
    normal in its tangent plane to reduce the shading residual, held toward the given normals by a Tikhonov
    term of weight `stiffness` (relative to the mean squared shading gradient); the steps are smoothed over
    `smooth` face heights, so only the low-frequency shape moves, where `weight` is. On Extended Yale B
    (people 1-10, the key + fill estimate as `sh`) the relit/unchanged RMSE ratio goes 0.615 -> 0.590; weaker
    stiffness (0.1-0.3) or wider steps bend albedo into shape and do worse.

    Parameters
    ----------
    normals : ndarray (h, w, 3)
        Unit normals, camera frame, at the working resolution.
    luminance : ndarray (h, w)
        The photo's luminance in the light's shading units, same resolution.
    sh : ndarray (9,)
        Radiance SH of the light's luminance (:func:`~portrait_studio.analysis.lighting.sh_irradiance` units).
    weight : ndarray (h, w)
        Where the shading is trusted (skin), in [0, 1]; elsewhere the normals are kept.
    face_height : float
        The face's height in working pixels.

    Returns
    -------
    ndarray (h, w, 3), float32
        Unit normals.
    """
    from .lighting import SH_BAND_GAIN, sh_basis

    n0 = np.asarray(normals, np.float32)
    lum = np.asarray(luminance, np.float32)
    w = np.clip(np.asarray(weight, np.float32), 0, 1)
    if w.sum() < 20:
        return n0.copy()
    c = np.asarray(sh, np.float32).reshape(9) * SH_BAND_GAIN
    c1, c2, c3, c4 = 0.488603, 1.092548, 0.315392, 0.546274

    def blur(a, sigma):
        return cv2.GaussianBlur(a, (0, 0), max(sigma * face_height, 0.5))

    n = n0.copy()
    for _ in range(steps):
        x, y, z = n[..., 0], n[..., 1], n[..., 2]
        shade = sh_basis(n) @ c                                           # its gradient in n, term by term:
        grad = np.stack([c[3] * c1 + c[4] * c2 * y + c[7] * c2 * z + c[8] * 2 * c4 * x,
                         c[1] * c1 + c[4] * c2 * x + c[5] * c2 * z - c[8] * 2 * c4 * y,
                         c[2] * c1 + c[5] * c2 * y + c[6] * 6 * c3 * z + c[7] * c2 * x], axis=-1)
        albedo = blur(w * lum * shade, albedo_scale) / np.maximum(blur(w * shade * shade, albedo_scale), 1e-9)
        resid = lum - albedo * shade
        jac = albedo[..., None] * grad
        jac -= (jac * n).sum(-1, keepdims=True) * n                       # in the tangent plane
        jj = (jac * jac).sum(-1)
        lam = stiffness * float((w * jj).sum() / w.sum()) + 1e-12
        v = jac * resid[..., None] + lam * (n0 - n)
        step = (v - jac * ((jac * v).sum(-1) / (lam + jj))[..., None]) / lam   # (J Jᵀ + λ)⁻¹ v
        ws = blur(w, smooth)
        step = blur(step * w[..., None], smooth) / np.maximum(ws, 1e-6)[..., None] * np.minimum(ws / 0.5, 1)[..., None]
        n = n + step
        n /= np.maximum(np.linalg.norm(n, axis=2, keepdims=True), 1e-6)
    return n.astype(np.float32)
