"""A picture of the analysis: person matte, face regions, mesh, irises, boxes and pose over the photo."""
from __future__ import annotations

import cv2
import numpy as np

from .core import from_srgb8, to_srgb8

# sRGB colours (0-255) of the regions
_REGION_COLOURS = {"skin": (255, 170, 60), "brows": (150, 90, 40), "eyes": (40, 220, 255),
                   "irises": (60, 255, 90), "lips": (255, 60, 200), "mouth": (230, 30, 30),
                   "nose": (255, 240, 60)}
_MATTE_COLOUR = np.array([70, 110, 255], np.float32)


def draw_overlay(portrait) -> np.ndarray:
    """The photo with its analysis drawn on it, as a linear-light image ready for :func:`write_image`.

    The person matte tints the subject blue; face regions are tinted by kind; the mesh is drawn in thin
    white lines, the irises as green circles; each face gets its box and its index, yaw, pitch and roll.
    """
    import mediapipe as mp

    rgb = to_srgb8(portrait.image).astype(np.float32)
    m = portrait.person_matte()[..., None] * 0.3
    rgb = rgb * (1 - m) + _MATTE_COLOUR * m
    for i in range(len(portrait.faces)):
        for name, mask in portrait.regions(i).items():
            if name in _REGION_COLOURS:
                a = mask[..., None] * 0.35
                rgb = rgb * (1 - a) + np.array(_REGION_COLOURS[name], np.float32) * a
    out = np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
    h, w = portrait.shape
    for i, face in enumerate(portrait.faces):
        pts = face.landmarks[:, :2]
        thick = max(1, round(face.size / 400))
        lines = np.array([(pts[a], pts[b]) for a, b in mp.solutions.face_mesh_connections.FACEMESH_TESSELATION])
        mesh = out.copy()
        cv2.polylines(mesh, np.round(lines * 4).astype(np.int32), False, (255, 255, 255), thick, cv2.LINE_AA, 2)
        out = cv2.addWeighted(out, 0.55, mesh, 0.45, 0)
        for c in (468, 473):
            r = np.linalg.norm(face.landmarks[c + 1:c + 5, :2] - pts[c], axis=1).mean()
            cv2.circle(out, tuple(np.round(pts[c] * 4).astype(int)), int(round(r * 4)), (60, 255, 90), thick,
                       cv2.LINE_AA, 2)
        x, y, bw, bh = (int(round(v)) for v in face.box)
        cv2.rectangle(out, (x, y), (x + bw, y + bh), (60, 255, 90), max(1, thick * 2), cv2.LINE_AA)
        p = face.pose
        label = f"{i}: yaw {p.yaw:+.0f} pitch {p.pitch:+.0f} roll {p.roll:+.0f}"
        scale = max(0.4, min(w, h) / 1400)
        cv2.putText(out, label, (x, max(12, y - 8)), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 4 * thick, cv2.LINE_AA)
        cv2.putText(out, label, (x, max(12, y - 8)), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return from_srgb8(out)
