"""Head pose from the 3-D face mesh.

Angles are in degrees in the camera frame (x to the image's right, y up, z toward the camera):

- **yaw** > 0: the face turns toward the image's right (the subject's left);
- **pitch** > 0: the face tilts up;
- **roll** > 0: the head leans counter-clockwise as the viewer sees it (the subject's left eye rises).

Mirroring an image left-right negates yaw and roll and keeps pitch.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Symmetric mesh points (subject's right side, subject's left side): outer and inner eye corners,
# mouth corners, cheek bones at the face outline. The subject's left side is on the image's right.
_PAIRS = np.array([(33, 263), (133, 362), (61, 291), (234, 454), (127, 356)])
_FOREHEAD, _CHIN = 10, 152
# The forehead-to-chin line leans back from the true vertical of a frontal face: measured on the
# frontal studio photos of the London set (10 people looking into a camera at eye level), the raw angle
# reads this many degrees on average; it is subtracted so that such a face reads 0.
_PITCH_BIAS_DEG = -3.8


@dataclass(frozen=True)
class Pose:
    """Head pose in degrees (see the module docstring for the signs)."""

    yaw: float
    pitch: float
    roll: float


def camera_frame(landmarks: np.ndarray) -> np.ndarray:
    """Mesh points ``(x, y_down, z_away)`` in pixels to the camera frame (x right, y up, z toward the camera)."""
    return np.asarray(landmarks, np.float64) * np.array([1.0, -1.0, -1.0])


def head_axes(landmarks: np.ndarray) -> np.ndarray:
    """Rotation (3, 3) whose columns are the head's right, up and forward unit axes in the camera frame."""
    p = camera_frame(landmarks)
    right = (p[_PAIRS[:, 1]] - p[_PAIRS[:, 0]]).sum(0)
    right /= np.linalg.norm(right)
    up = p[_FOREHEAD] - p[_CHIN]
    up -= (up @ right) * right
    up /= np.linalg.norm(up)
    forward = np.cross(right, up)
    return np.stack([right, up, forward], axis=1)


def head_pose(landmarks: np.ndarray) -> Pose:
    """Yaw, pitch and roll in degrees of a (478, 3) face mesh in pixels (see the module docstring)."""
    right, _, forward = head_axes(landmarks).T
    yaw = np.degrees(np.arctan2(forward[0], forward[2]))
    pitch = np.degrees(np.arctan2(forward[1], np.hypot(forward[0], forward[2]))) - _PITCH_BIAS_DEG
    roll = np.degrees(np.arctan2(right[1], right[0]))
    return Pose(round(float(yaw), 2), round(float(pitch), 2), round(float(roll), 2))
