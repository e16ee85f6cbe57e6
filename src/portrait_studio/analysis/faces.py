"""Finding faces and placing the 478-point mesh on them, at any image size.

Detection runs on a downscaled copy of the image: the whole frame with BlazeFace's short- and
full-range models, plus overlapping tiles for faces down to 5% of the frame height, plus a turned copy
when nothing was found upright (heads rolled by up to 45°). Each candidate is then cropped from the
full-resolution image, the mesh placed on the crop, and its points mapped back, so landmark precision
does not depend on how small the analysis copy is. A candidate the mesh model does not confirm is dropped.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..core import to_srgb8
from .backend import AnalysisBackend, Detection
from .pose import Pose, head_pose

#: Long side of the copy that detection runs on (an integer factor of the original is taken, for speed).
ANALYSIS_SIZE = 1536
#: Smallest face (mesh height, pixels) that operations working on the face's detail (relight, retouch) accept.
#: Measured on the 20 development portraits downscaled (bench notes in the commit): below 32 px the detector
#: starts to miss faces (18/20 found at 16 px, 19/20 at 24, all from 32), the mesh's error grows past 2.6% of
#: the face (6.2% at 16 px, 3.6% at 24; about one pixel whatever the size), and relighting turns blotchy (a
#: white mask with dark eye holes at 20 px; its change departs from the change made at full size by 0.23 in
#: log light at 16 px against 0.10 at 32 and 0.06 at 96).
MIN_FACE_PX = 32
_MESH_INPUT = 384            # side of the square crop given to the mesh model, pixels
_CROP_SCALE = 2.0            # crop side as a multiple of the detected box's larger side
# Tiles for small faces: the full-range model, seeing the whole frame, finds faces down to about 8% of
# the frame height; tiles half the frame high (so a 5% face becomes a 9% face) overlapping by 8% of the
# shorter side (so such a face lies whole in some tile) find the rest: 4 tiles for a square frame, 6 for 4:3.
_TILE = 0.54                 # tile side as a fraction of the shorter image side
_STRIDE = 0.46               # tile stride, same unit


@dataclass(frozen=True, eq=False)
class Face:
    """One face in pixels of the upright, full-resolution image.

    Attributes
    ----------
    box : tuple of float
        ``(x, y, w, h)``: the extent of the mesh, pixels.
    score : float
        Detector confidence in [0, 1].
    landmarks : ndarray, shape (478, 3), float32
        MediaPipe face-mesh points (468 mesh + 10 iris points: 468 and 473 are the iris centres) as
        ``(x, y, z)`` pixels; z is depth relative to the face centre in the same pixel scale, smaller
        is nearer the camera.
    pose : Pose
        Head yaw, pitch and roll in degrees.
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray
    pose: Pose

    @property
    def size(self) -> float:
        """The face's height in pixels (mesh extent): the unit for resolution-independent sizes."""
        return self.box[3]

    @property
    def pupils(self) -> np.ndarray:
        """Iris centres (2, 2) ``(x, y)``: the subject's right eye (image left) first."""
        return self.landmarks[[468, 473], :2]

    @property
    def interocular(self) -> float:
        """Distance between the iris centres, pixels."""
        return float(np.linalg.norm(self.pupils[0] - self.pupils[1]))

    def to_dict(self, *, decimals: int = 2) -> dict:
        """JSON-ready description: box, score, landmarks and pose, rounded."""
        return {
            "box": [round(float(v), decimals) for v in self.box],
            "score": round(self.score, 4),
            "landmarks": np.round(self.landmarks.astype(np.float64), decimals).tolist(),
            "pose": {"yaw": self.pose.yaw, "pitch": self.pose.pitch, "roll": self.pose.roll},
        }


def analysis_copy(image: np.ndarray, *, size: int = ANALYSIS_SIZE) -> tuple[np.ndarray, int]:
    """A downscaled 8-bit sRGB copy for the models and the integer factor it was reduced by.

    An integer factor keeps OpenCV's area averaging on its fast path (about 10 ms for 12 MP).
    """
    h, w = image.shape[:2]
    factor = max(1, -(-max(h, w) // size))
    small = image if factor == 1 else cv2.resize(image, (w // factor, h // factor), interpolation=cv2.INTER_AREA)
    return to_srgb8(small), factor


def find_faces(image: np.ndarray, backend: AnalysisBackend, *, small: tuple[np.ndarray, int] | None = None
               ) -> list[Face]:
    """All faces of a linear-light image, largest first.

    Parameters
    ----------
    image : ndarray, shape (H, W, 3), float32
        Linear-light RGB, full resolution.
    backend : AnalysisBackend
        The models to use.
    small : (ndarray, int), optional
        A ready :func:`analysis_copy` of `image` (to share it with other analyses).
    """
    rgb8, factor = small if small is not None else analysis_copy(image)
    candidates = _detect(rgb8, backend)
    faces: list[Face] = []
    for det in candidates:
        face = _mesh_face(image, rgb8, factor, det, backend)
        if face is not None and not any(_overlap(face.box, f.box) > 0.5 for f in faces):
            faces.append(face)
    return sorted(faces, key=lambda f: -f.box[2] * f.box[3])


def _detect(rgb8: np.ndarray, backend: AnalysisBackend) -> list[Detection]:
    """Candidate boxes on the analysis copy, best first, duplicates removed."""
    found = backend.detect_faces(rgb8, long_range=False) + backend.detect_faces(rgb8, long_range=True)
    h, w = rgb8.shape[:2]
    side, stride = max(64, round(_TILE * min(h, w))), max(32, round(_STRIDE * min(h, w)))
    for y in _starts(h, side, stride):
        for x in _starts(w, side, stride):
            for d in backend.detect_faces(rgb8[y:y + side, x:x + side], long_range=True):
                bx, by, bw, bh = d.box
                found.append(Detection((bx + x, by + y, bw, bh), d.score))
    if not found:
        found = [d for angle in (45, -45) for d in _detect_turned(rgb8, backend, angle)]
    return _suppress(found)


def _starts(length: int, side: int, stride: int) -> list[int]:
    if length <= side:
        return [0]
    starts = list(range(0, length - side, stride))
    return starts + [length - side]


def _detect_turned(rgb8: np.ndarray, backend: AnalysisBackend, angle: float) -> list[Detection]:
    """Detect on a copy turned by `angle` degrees; boxes mapped back (their bounding box upright)."""
    h, w = rgb8.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    turned = cv2.warpAffine(rgb8, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    back = cv2.invertAffineTransform(m)
    out = []
    for d in backend.detect_faces(turned, long_range=True) + backend.detect_faces(turned, long_range=False):
        x, y, bw, bh = d.box
        corners = np.array([[x, y], [x + bw, y], [x, y + bh], [x + bw, y + bh]], np.float64)
        pts = corners @ back[:, :2].T + back[:, 2]
        (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
        out.append(Detection((x0, y0, x1 - x0, y1 - y0), d.score))
    return out


def _overlap(a, b) -> float:
    """Intersection over the smaller box's area (1 when one box holds the other)."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return ix * iy / max(min(a[2] * a[3], b[2] * b[3]), 1e-9)


def _suppress(found: list[Detection]) -> list[Detection]:
    kept: list[Detection] = []
    for d in sorted(found, key=lambda d: -d.score):
        if all(_overlap(d.box, k.box) < 0.4 for k in kept):
            kept.append(d)
    return kept


def _mesh_face(image: np.ndarray, rgb8: np.ndarray, factor: int, det: Detection, backend: AnalysisBackend
               ) -> Face | None:
    """Crop the candidate, place the mesh on the crop, map its points back to full-resolution pixels.

    The crop comes from the analysis copy when the face is large enough there for the mesh model's input,
    and from the full-resolution image otherwise (small faces keep all their detail).
    """
    x, y, w, h = det.box
    side = _CROP_SCALE * max(w, h)
    source, unit = (rgb8, factor) if side >= _MESH_INPUT else (image, 1)
    side, cx, cy = side * factor / unit, (x + w / 2) * factor / unit, (y + h / 2) * factor / unit
    n = max(8, int(round(side)))
    x0, y0 = int(round(cx - n / 2)), int(round(cy - n / 2))
    crop = _crop_padded(source, x0, y0, n)
    if n > _MESH_INPUT:
        crop = cv2.resize(crop, (_MESH_INPUT, _MESH_INPUT), interpolation=cv2.INTER_AREA)
    pts = backend.face_mesh(crop if crop.dtype == np.uint8 else to_srgb8(crop))
    if pts is None:
        return None
    scale = n / crop.shape[0] * unit
    pts = (pts * scale + np.array([x0 * unit, y0 * unit, 0], np.float32)).astype(np.float32)
    (bx0, by0), (bx1, by1) = pts[:, :2].min(0), pts[:, :2].max(0)
    return Face((float(bx0), float(by0), float(bx1 - bx0), float(by1 - by0)), det.score, pts, head_pose(pts))


def _crop_padded(image: np.ndarray, x0: int, y0: int, n: int) -> np.ndarray:
    """The n×n square at (x0, y0), edge pixels repeated where it leaves the image."""
    h, w = image.shape[:2]
    xs0, ys0, xs1, ys1 = max(x0, 0), max(y0, 0), min(x0 + n, w), min(y0 + n, h)
    crop = image[ys0:ys1, xs0:xs1]
    pad = (ys0 - y0, y0 + n - ys1, xs0 - x0, x0 + n - xs1)
    if any(pad):
        crop = cv2.copyMakeBorder(crop, *pad, borderType=cv2.BORDER_REPLICATE)
    return crop
