"""Quality control of a generated headshot: a face found, eyes open and sharp, no clipped skin, identity kept.

The face, its mesh and its regions come from the portrait's own analysis (MediaPipe). Identity is the distance
between dlib's ResNet face descriptors (128-D, the ``generate`` extra: dlib-bin and face-recognition-models) of
the headshot and of each selfie, the smallest kept: dlib's own threshold for "the same person" is 0.6. Without
dlib the distance is not measured (None) and says so; the other checks still run.
"""
from __future__ import annotations

import functools
import importlib.util
import pathlib
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from ..core import to_srgb8

#: dlib's descriptor distance under which two faces are taken for one person.
SAME_PERSON = 0.6
#: Eye opening (lid to lid over corner to corner) under which an eye counts as closed.
EYES_OPEN = 0.12
#: Eye sharpness (RMS Laplacian inside the eyes, 8-bit grey levels, the face scaled to 256 px high) under which
#: eyes count as soft.
EYES_SHARP = 8.0
_FACE_PX = 256
#: The share of skin pixels at the top or bottom of the 8-bit range over which skin counts as clipped.
CLIPPED = 0.02
# MediaPipe mesh points: per eye (outer corner, inner corner, upper lid, lower lid)
_EYES = ((33, 133, 159, 145), (362, 263, 386, 374))


@dataclass(frozen=True)
class Report:
    """What the checks found in one picture (JSON-ready with :meth:`as_dict`).

    Attributes
    ----------
    face : bool
        A face was found.
    eyes_open : float or None
        The smaller eye's opening (lid distance over eye width); under :data:`EYES_OPEN` is closed.
    eyes_sharp : float or None
        Detail in the eyes (RMS Laplacian, grey levels, at a standard face size); under :data:`EYES_SHARP` is soft.
    clipped_skin : float or None
        The share of skin pixels clipped to black or white (any channel 0 or 255 in 8-bit sRGB).
    identity : float or None
        The smallest dlib descriptor distance to the selfies; None where it could not be measured.
    passed : bool
        Every check that ran passed (identity under `max_distance`).
    problems : list of str
        What failed, one phrase each.
    """

    face: bool
    eyes_open: float | None
    eyes_sharp: float | None
    clipped_skin: float | None
    identity: float | None
    passed: bool
    problems: tuple[str, ...]

    def as_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}


def dlib_available() -> bool:
    """Whether dlib and face-recognition-models are installed (the identity measure)."""
    return all(importlib.util.find_spec(m) is not None for m in ("dlib", "face_recognition_models"))


@functools.lru_cache(maxsize=1)
def _dlib_models():
    import dlib

    spec = importlib.util.find_spec("face_recognition_models")
    models = pathlib.Path(next(iter(spec.submodule_search_locations))) / "models"
    return (dlib.get_frontal_face_detector(),
            dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat")),
            dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat")))


def face_descriptor(portrait) -> np.ndarray | None:
    """dlib's 128-D descriptor of the portrait's face (the one its analysis chose, else dlib's own largest), or
    None without a face or without dlib."""
    if not dlib_available():
        return None
    import dlib

    detector, shape5, resnet = _dlib_models()
    rgb = np.ascontiguousarray(to_srgb8(portrait.image))
    if portrait.faces:
        x, y, w, h = portrait.face().box
        box = dlib.rectangle(int(x), int(y), int(x + w), int(y + h))
    else:
        found = detector(rgb, 1)
        if not found:
            return None
        box = max(found, key=lambda r: r.width() * r.height())
    return np.asarray(resnet.compute_face_descriptor(rgb, shape5(rgb, box)), np.float32)


def identity_distance(portrait, references: list[np.ndarray]) -> float | None:
    """The smallest descriptor distance between the portrait's face and the `references` (descriptors of the
    selfies); None where either is missing."""
    d = face_descriptor(portrait)
    refs = [r for r in references if r is not None]
    if d is None or not refs:
        return None
    return float(min(np.linalg.norm(d - r) for r in refs))


def _eye_opening(face) -> float:
    pts = face.landmarks[:, :2]
    return float(min(np.linalg.norm(pts[up] - pts[lo]) / max(np.linalg.norm(pts[a] - pts[b]), 1e-6)
                     for a, b, up, lo in _EYES))


def _eye_detail(gray: np.ndarray, eyes: np.ndarray, face_height: float) -> float:
    """RMS Laplacian (8-bit grey levels) inside the eyes, measured with the face scaled to
    :data:`_FACE_PX` high, so that the figure does not depend on the picture's resolution."""
    s = _FACE_PX / max(face_height, 1.0)
    size = (max(1, round(gray.shape[1] * s)), max(1, round(gray.shape[0] * s)))
    g = cv2.resize(gray, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    m = cv2.resize(eyes.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
    lap = cv2.Laplacian(g, cv2.CV_32F)
    return float(np.sqrt((lap * lap * m).sum() / max(m.sum(), 1e-6)))


def check(portrait, references: list[np.ndarray] = (), *, max_distance: float = SAME_PERSON) -> Report:
    """Run every check on `portrait` (see :class:`Report`), identity against the selfies' descriptors
    `references` (from :func:`face_descriptor`; none: not measured)."""
    if not portrait.faces:
        return Report(False, None, None, None, None, False, ("no face found",))
    face = portrait.face()
    problems = []
    opening = _eye_opening(face)
    if opening < EYES_OPEN:
        problems.append(f"eyes closed (opening {opening:.2f} < {EYES_OPEN})")
    srgb = to_srgb8(portrait.image)
    gray = cv2.cvtColor(srgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    regions = portrait.regions()
    eyes = regions["eyes"]
    sharp = _eye_detail(gray, eyes, face.size) if (eyes > 0.5).any() else None
    if sharp is not None and sharp < EYES_SHARP:
        problems.append(f"eyes soft (detail {sharp:.1f} < {EYES_SHARP})")
    skin = regions["skin"] > 0.5
    clipped = float(((srgb[skin] == 255) | (srgb[skin] == 0)).any(axis=1).mean()) if skin.any() else None
    if clipped is not None and clipped > CLIPPED:
        problems.append(f"clipped skin ({clipped:.1%} > {CLIPPED:.0%})")
    distance = identity_distance(portrait, list(references))
    if distance is not None and distance > max_distance:
        problems.append(f"identity not kept (distance {distance:.2f} > {max_distance})")
    return Report(True, round(opening, 3), None if sharp is None else round(sharp, 3),
                  None if clipped is None else round(clipped, 4), None if distance is None else round(distance, 3),
                  not problems, tuple(problems))
