"""The thin-lens camera model: focal length in pixels, subject distance from the face, circle of confusion.

Every length is expressed for the **35 mm-equivalent** camera (a 36 × 24 mm frame, 43.27 mm diagonal) that
frames the same picture: focal lengths are 35 mm-equivalent millimetres and f-numbers the equivalent
f-number (the depth of field a full-frame camera would give), so the formulas need no sensor size and one
set of parameters means the same picture on a phone and on a full-frame camera. Distances are metres,
blur sizes pixels of the image at hand.

Examples
--------
>>> f_px = focal_length_px(50.0, 4032, 3024)        # a 50 mm-equivalent lens on a 12 MP frame
>>> d = subject_distance(300.0, f_px)              # eyes 300 px apart
>>> round(d, 2)
1.22
>>> round(blur_diameter_px(f_px, 50.0, 2.0, d, d + 3.0))      # the background 3 m behind, at f/2
88
>>> cam = camera(4032, 3024, interocular_px=300.0)    # the same, as one camera
>>> round(cam.subject_m, 2), round(cam.blur_px(2.0, cam.subject_m + 3.0))
(1.22, 88)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

#: Diagonal of the 35 mm frame (36 × 24 mm), millimetres.
FULL_FRAME_DIAGONAL_MM = math.hypot(36.0, 24.0)
#: Mean adult inter-pupillary distance, metres (about 63 mm; Dodgson 2004).
INTEROCULAR_M = 0.063
#: Focal length assumed when the file does not say, 35 mm-equivalent millimetres (a portrait "normal" lens).
DEFAULT_FOCAL_35MM = 50.0
#: Largest head turn (yaw, degrees) whose foreshortening of the eyes' separation is undone; beyond it the
#: landmarks of the far eye are too unsure to trust the cosine.
MAX_YAW = 60.0


@dataclass(frozen=True)
class Camera:
    """The camera that took a portrait, as the thin-lens model sees it (see :func:`camera`).

    Attributes
    ----------
    focal_35mm : float
        35 mm-equivalent focal length, millimetres.
    focal_px : float
        The focal length in pixels of the image at hand.
    subject_m : float
        Camera-to-eyes distance, metres (where the lens is focused).
    """

    focal_35mm: float
    focal_px: float
    subject_m: float

    def blur_px(self, f_number: float, object_m: float, focus_m: float | None = None) -> float:
        """Blur-disc diameter in pixels of a point `object_m` metres from the camera, at the equivalent
        `f_number`, the lens focused at `focus_m` (default: on the subject's eyes)."""
        return blur_diameter_px(self.focal_px, self.focal_35mm, f_number,
                                self.subject_m if focus_m is None else focus_m, object_m)


def camera(width: int, height: int, *, interocular_px: float, yaw: float = 0.0, focal_35mm: float | None = None,
           exif: bytes | None = None) -> Camera:
    """The camera of a `width` × `height` portrait: the focal length given, else the one its EXIF records
    (:func:`focal_35mm_from_exif`), else :data:`DEFAULT_FOCAL_35MM`; the subject's distance from the eyes'
    separation in pixels, undoing the foreshortening of a head turned by `yaw` degrees (its cosine, up to
    :data:`MAX_YAW`).
    """
    f35 = focal_35mm or focal_35mm_from_exif(exif) or DEFAULT_FOCAL_35MM
    f_px = focal_length_px(f35, width, height)
    turned = max(math.cos(math.radians(min(abs(yaw), MAX_YAW))), 0.5)
    return Camera(f35, f_px, subject_distance(interocular_px / turned, f_px))


def focal_length_px(focal_35mm: float, width: int, height: int) -> float:
    """Focal length in pixels of a `width` × `height` image taken with a `focal_35mm` (35 mm-equivalent) lens.

    The 35 mm-equivalent focal length relates to the frame diagonal, so any aspect ratio works.
    """
    return float(focal_35mm) * math.hypot(width, height) / FULL_FRAME_DIAGONAL_MM


def subject_distance(interocular_px: float, focal_px: float, *, interocular_m: float = INTEROCULAR_M) -> float:
    """Camera-to-eyes distance in metres from the eyes' separation in pixels (pinhole projection).

    A face turned by yaw shows a shorter separation; pass ``interocular_px / cos(yaw)`` for turned faces.
    """
    return float(interocular_m) * float(focal_px) / max(float(interocular_px), 1e-6)


def circle_of_confusion_mm(focal_mm: float, f_number: float, focus_m: float, object_m: float) -> float:
    """Thin-lens blur-circle diameter on the sensor, millimetres, of a point at `object_m` when the lens of
    focal length `focal_mm` at `f_number` is focused at `focus_m` (all distances from the lens).

    ``c = f² / (N (s − f)) · |d − s| / d``: zero at the focus distance, growing with the aperture (smaller N),
    the focal length and the distance from the focal plane, and tending to ``f² / (N (s − f))`` at infinity.
    """
    return abs(float(signed_coc_mm(focal_mm, f_number, focus_m, object_m)))


def signed_coc_mm(focal_mm: float, f_number: float, focus_m: float, object_m):
    """:func:`circle_of_confusion_mm` with its sign, for a scalar or an array of distances `object_m`:
    positive behind the focal plane, negative in front of it (where a layered renderer must draw a point
    over what lies behind it)."""
    import numpy as np

    f = float(focal_mm) / 1000.0
    s = max(float(focus_m), f * 1.001)
    d = np.maximum(np.asarray(object_m, np.float64 if np.ndim(object_m) == 0 else np.float32), 1e-6)
    return 1000.0 * f * f / (float(f_number) * (s - f)) * (d - s) / d


def blur_diameter_px(focal_px: float, focal_35mm: float, f_number: float, focus_m: float, object_m: float) -> float:
    """The circle of confusion of :func:`circle_of_confusion_mm` in pixels of an image whose focal length is
    `focal_px` pixels, for the 35 mm-equivalent lens `focal_35mm` at the equivalent `f_number`."""
    px_per_mm = float(focal_px) / float(focal_35mm)            # sensor scale of the 35 mm-equivalent frame
    return circle_of_confusion_mm(focal_35mm, f_number, focus_m, object_m) * px_per_mm


def focal_35mm_from_exif(exif: bytes | None) -> float | None:
    """The 35 mm-equivalent focal length an EXIF block records, millimetres, or None.

    Uses FocalLengthIn35mmFilm (tag 0xA405); else FocalLength (0x920A) times the crop factor derived from
    FocalPlaneXResolution / ResolutionUnit and the pixel width when all are present.
    """
    sub = _exif_ifd(exif)
    if sub is None:
        return None
    f35 = sub.get(0xA405)
    if f35:
        return float(f35)
    focal, xres, unit, width = sub.get(0x920A), sub.get(0xA20E), sub.get(0xA210, 2), sub.get(0xA002)
    if focal and xres and width:
        mm_per_unit = {2: 25.4, 3: 10.0, 4: 1.0}.get(int(unit), 25.4)
        sensor_w = float(width) / float(xres) * mm_per_unit
        if sensor_w > 1.0:
            return float(focal) * 36.0 / sensor_w
    return None


#: The aperture shapes :func:`aperture_kernel` draws: a round iris, a polygonal one of N blades
#: (``"blades:6"``), and the "cat's eye" that a fast lens's barrel cuts off towards the frame's corners.
APERTURES = ("disk", "blades:N", "cat-eye")


def parse_aperture(text: str) -> tuple[str, int]:
    """``"disk"``, ``"blades:N"`` (3 ≤ N ≤ 16) or ``"cat-eye"`` as ``(kind, blades)``; ValueError otherwise."""
    t = str(text).strip().lower()
    if t in ("disk", "cat-eye"):
        return t, 0
    if t.startswith("blades:") and t[7:].isdigit() and 3 <= int(t[7:]) <= 16:
        return "blades", int(t[7:])
    raise ValueError(f"aperture must be disk, blades:N (N from 3 to 16) or cat-eye (got {text!r})")


def aperture_kernel(diameter_px: float, aperture: str = "disk", *, offset: tuple[float, float] = (0.0, 0.0)):
    """The blur kernel of a point `diameter_px` pixels across: the image of the lens's aperture, float32,
    odd-sized, summing to 1, anti-aliased at its edge.

    Parameters
    ----------
    diameter_px : float
        Circle of confusion, pixels (the circumscribed circle for a polygonal iris).
    aperture : str
        ``"disk"``, ``"blades:N"`` (a regular N-gon, a flat side at the bottom as irises are usually
        mounted) or ``"cat-eye"`` (the disc cut by the lens barrel: a second disc of the same size
        offset by `offset`, a fraction of the diameter along x and y, typically pointing to the frame centre).
    offset : (float, float)
        For ``cat-eye``: the barrel's shift, fraction of the diameter (0 = a full disc).

    Examples
    --------
    >>> k = aperture_kernel(9.0)
    >>> k.shape, round(float(k.sum()), 6)
    ((11, 11), 1.0)
    """
    import numpy as np

    kind, blades = parse_aperture(aperture)
    r = max(float(diameter_px) / 2.0, 0.5)
    n = int(np.ceil(r + 0.5))
    yy, xx = np.mgrid[-n:n + 1, -n:n + 1].astype(np.float32)
    if kind == "blades":
        # distance to a regular polygon's edge: max over the edges' normals of the projection minus the apothem
        ang = np.pi / 2 + 2 * np.pi * np.arange(blades) / blades          # one edge normal straight down
        apothem = r * np.cos(np.pi / blades)
        proj = np.max([xx * np.cos(a) + yy * np.sin(a) for a in ang], axis=0)
        k = np.clip(apothem + 0.5 - proj, 0.0, 1.0)
    else:
        k = np.clip(r + 0.5 - np.hypot(xx, yy), 0.0, 1.0)
        if kind == "cat-eye":
            ox, oy = offset[0] * 2 * r, offset[1] * 2 * r
            k = np.minimum(k, np.clip(r + 0.5 - np.hypot(xx - ox, yy - oy), 0.0, 1.0))
    return (k / max(float(k.sum()), 1e-12)).astype(np.float32)


def focal_mm_from_exif(exif: bytes | None) -> float | None:
    """The real focal length an EXIF block records (FocalLength, tag 0x920A), millimetres, or None."""
    sub = _exif_ifd(exif)
    f = sub.get(0x920A) if sub is not None else None
    return float(f) if f else None


def _exif_ifd(exif: bytes | None):
    """The Exif sub-IFD of an EXIF block (a mapping of tag to value), or None when absent or unreadable."""
    if not exif:
        return None
    from PIL import Image

    try:
        tags = Image.Exif()
        tags.load(exif)
        return tags.get_ifd(0x8769)
    except Exception:  # noqa: BLE001 - unreadable EXIF is no focal length, not an error
        return None


def defocus_plane(image, diameter_px: float, *, aperture: str = "disk", work_px: float = 15.0):
    """Blur an image as a thin lens blurs a plane at one distance: the aperture's image `diameter_px` pixels
    across (the circle of confusion, :func:`aperture_kernel`), in linear light so bright points become bright
    discs.

    Large discs are applied on a reduced copy (the disc `work_px` pixels across there) and enlarged again,
    so the cost does not grow with the blur; float32, same shape.
    """
    import cv2
    import numpy as np

    image = np.asarray(image, np.float32)
    if diameter_px < 1.0:
        return image.copy()
    h, w = image.shape[:2]
    s = min(1.0, work_px / diameter_px)
    small = image if s == 1 else cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))),
                                            interpolation=cv2.INTER_AREA)
    # filter2D correlates: the kernel turned half round makes a point into the aperture's image, not its mirror
    out = cv2.filter2D(small, -1, cv2.flip(aperture_kernel(diameter_px * s, aperture), -1),
                       borderType=cv2.BORDER_REFLECT)
    if s < 1:
        out = cv2.resize(out, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.maximum(out, 0.0)
