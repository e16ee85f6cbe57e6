"""Face regions and surface normals from the face mesh, at full resolution.

Both are rendered on a reduced copy of the face's neighbourhood (the face about 320 px high) and
resampled to full resolution, so their cost does not grow with the photo's megapixels; edges are
feathered by a fixed fraction of the face height, so a 1 MP preview and a 12 MP export agree.
"""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from .faces import Face
from .pose import camera_frame

# Closed outlines, as ordered mesh-point indices (MediaPipe's FACEMESH_* connection sets, walked in order).
FACE_OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152,
             148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109]
LIPS_OUTER = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146]
LIPS_INNER = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95]
RIGHT_EYE = [33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7]
LEFT_EYE = [263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249]
RIGHT_BROW = [46, 53, 52, 65, 55, 107, 66, 105, 63, 70]        # lower edge, then upper edge back
LEFT_BROW = [276, 283, 282, 295, 285, 336, 296, 334, 293, 300]
NOSE = [168, 193, 245, 188, 174, 198, 209, 129, 98, 97, 2, 326, 327, 358, 429, 420, 399, 412, 465, 417]
RIGHT_IRIS, LEFT_IRIS = 468, 473               # centre; the next four points lie on the iris edge

#: Region names :func:`region_masks` knows.
REGIONS = ("face", "skin", "eyes", "irises", "brows", "lips", "mouth", "nose")

_WORK_FACE_HEIGHT = 320.0     # face height, pixels, of the reduced copy regions are drawn on
_FEATHER = 0.006              # edge softness: Gaussian sigma as a fraction of the face height
_MARGIN = 0.3                 # neighbourhood drawn around the face box, fraction of the box


def _roi(face: Face, shape: tuple[int, int]) -> tuple[int, int, int, int, float]:
    """(x0, y0, x1, y1) of the face's neighbourhood in the image and the reduction factor used on it."""
    x, y, w, h = face.box
    m = _MARGIN * max(w, h)
    x0, y0 = max(0, int(x - m)), max(0, int(y - m))
    x1, y1 = min(shape[1], int(np.ceil(x + w + m))), min(shape[0], int(np.ceil(y + h + m)))
    return x0, y0, x1, y1, min(1.0, _WORK_FACE_HEIGHT / max(h, 1.0))


def _paste(small: np.ndarray, roi, shape) -> np.ndarray:
    x0, y0, x1, y1, _ = roi
    full = np.zeros(tuple(shape[:2]) + small.shape[2:], np.float32)
    full[y0:y1, x0:x1] = cv2.resize(small, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    return full


def _iris_disk(face: Face, centre: int) -> tuple[np.ndarray, float]:
    pts = face.landmarks[centre:centre + 5, :2]
    return pts[0], float(np.linalg.norm(pts[1:] - pts[0], axis=1).mean())


def region_masks(face: Face, shape: tuple[int, ...], names=REGIONS) -> dict[str, np.ndarray]:
    """Soft masks of face regions at full resolution.

    Parameters
    ----------
    face : Face
        The face, in pixels of the image.
    shape : tuple
        The image's shape; masks are ``shape[:2]``.
    names : iterable of str
        Which of :data:`REGIONS`: ``face`` (the whole oval), ``skin`` (the oval without eyes, brows, lips
        and mouth), ``eyes`` (the eye openings), ``irises``, ``brows``, ``lips`` (the red of the lips,
        without the mouth opening), ``mouth`` (the opening between the lips), ``nose``.

    Returns
    -------
    dict of str to ndarray
        float32 (H, W) masks in [0, 1] with edges feathered by 0.6% of the face height.
    """
    unknown = set(names) - set(REGIONS)
    if unknown:
        raise ValueError(f"unknown face regions {sorted(unknown)}; choose from {list(REGIONS)}")
    roi = _roi(face, shape)
    x0, y0, x1, y1, k = roi
    size = (max(1, round((x1 - x0) * k)), max(1, round((y1 - y0) * k)))
    kx, ky = size[0] / (x1 - x0), size[1] / (y1 - y0)
    pts = (face.landmarks[:, :2] - (x0, y0)) * (kx, ky)

    def fill(*outlines):
        m = np.zeros(size[::-1], np.float32)
        polys = [np.round(pts[list(o)] * 16).astype(np.int32) for o in outlines]
        cv2.fillPoly(m, polys, 1.0, lineType=cv2.LINE_AA, shift=4)
        return m

    def disks(*centres):
        m = np.zeros(size[::-1], np.float32)
        for c in centres:
            (cx, cy), r = _iris_disk(face, c)
            cv2.circle(m, (round((cx - x0) * kx * 16), round((cy - y0) * ky * 16)), round(r * kx * 16), 1.0,
                       -1, cv2.LINE_AA, shift=4)
        return m

    hard = {}
    hard["face"] = fill(FACE_OVAL)
    hard["eyes"] = fill(RIGHT_EYE, LEFT_EYE)
    hard["irises"] = disks(RIGHT_IRIS, LEFT_IRIS) * hard["eyes"]      # the lids cover part of the iris
    hard["brows"] = fill(RIGHT_BROW, LEFT_BROW)
    hard["mouth"] = fill(LIPS_INNER)
    hard["lips"] = np.clip(fill(LIPS_OUTER) - hard["mouth"], 0, 1)
    hard["nose"] = fill(NOSE)
    # skin: the oval without what is not skin, grown by 1.5% of the face height first, so that lashes,
    # lip lines and brow hairs stay out even after feathering
    not_skin = np.maximum.reduce([hard["eyes"], hard["brows"], hard["lips"], hard["mouth"]])
    grow = max(1, round(0.015 * face.size * k)) * 2 + 1
    not_skin = cv2.dilate(not_skin, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow)))
    hard["skin"] = hard["face"] * (1 - not_skin)
    sigma = _FEATHER * face.size * k
    return {n: _paste(cv2.GaussianBlur(hard[n], (0, 0), sigma) if sigma > 0.3 else hard[n], roi, shape)
            for n in names}


@lru_cache(maxsize=1)
def mesh_triangles() -> np.ndarray:
    """(T, 3) triangles of MediaPipe's 468-point face mesh, found as the 3-cycles of its tessellation."""
    import mediapipe as mp

    adj: dict[int, set[int]] = {}
    for a, b in mp.solutions.face_mesh_connections.FACEMESH_TESSELATION:
        adj.setdefault(a, set()).add(b)
        adj.setdefault(b, set()).add(a)
    tris = {tuple(sorted((a, b, c))) for a in adj for b in adj[a] for c in adj[a] & adj[b]}
    return np.array(sorted(tris), np.int32)


def vertex_normals(landmarks: np.ndarray) -> np.ndarray:
    """Unit normals (468, 3) of the mesh points in the camera frame (x right, y up, z toward the camera)."""
    p = camera_frame(landmarks[:468])
    t = mesh_triangles()
    n = np.cross(p[t[:, 1]] - p[t[:, 0]], p[t[:, 2]] - p[t[:, 0]])
    n *= np.where(n[:, 2:] < 0, -1.0, 1.0)                    # a visible surface faces the camera
    acc = np.zeros_like(p)
    for i in range(3):
        np.add.at(acc, t[:, i], n)
    return (acc / np.maximum(np.linalg.norm(acc, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def face_normals(face: Face, shape: tuple[int, ...]) -> np.ndarray:
    """Per-pixel surface normals of the face, float32 (H, W, 3), camera frame (x right, y up, z toward the
    camera), interpolated linearly between mesh points.

    Unit length inside the face oval (to within 0.5%: they are rendered on the reduced copy, normalised
    there and resampled); the length falls to 0 across the oval's outline; zero outside.
    """
    roi = _roi(face, shape)
    x0, y0, x1, y1, k = roi
    size = (max(1, round((x1 - x0) * k)), max(1, round((y1 - y0) * k)))
    pts = (face.landmarks[:468, :2] - (x0, y0)) * (size[0] / (x1 - x0), size[1] / (y1 - y0))
    gx, gy = np.meshgrid(np.arange(size[0], dtype=np.float32), np.arange(size[1], dtype=np.float32))
    from scipy.interpolate import LinearNDInterpolator  # here: importing SciPy costs every command 0.6 s

    n = LinearNDInterpolator(pts, vertex_normals(face.landmarks), fill_value=0.0)(gx, gy).astype(np.float32)
    inside = np.zeros(size[::-1], np.uint8)
    cv2.fillPoly(inside, [np.round(pts[FACE_OVAL]).astype(np.int32)], 1)
    length = np.linalg.norm(n, axis=2, keepdims=True)
    n = np.where(length > 1e-6, n / np.maximum(length, 1e-6), 0.0) * inside[..., None]
    return _paste(n.astype(np.float32), roi, shape)
