"""The expression space: directions over the 468-point MediaPipe face mesh, each a control from -1 to 1.

Everything is measured in the frame of the pupils (the image-left pupil at (0, 0), the other at (1, 0), y
down; units of the interocular distance), so a direction means the same on any face size, and is turned back
into pixels on the face's own mesh. The directions:

- ``smile`` is learned: the mean smile of ten real people (:mod:`.smile_table`, CC BY 4.0, with its source),
  left-right symmetric, lips kept closed.
- ``smirk_left`` / ``smirk_right`` are that smile on one side of the face only (the subject's left is the
  image's right), fading across the midline.
- ``brows`` and ``eyes`` follow anatomical rules on the mesh: the frontalis lifts the brows and the forehead
  skin above them (+), the corrugator lowers the brows and draws their inner ends together (-); the levator
  lifts the upper lid (+) or lets it fall to the lower one (-), the lid's skin and lashes moving with it.
- ``gaze_x`` / ``gaze_y`` move no skin: the iris moves inside the eye (:mod:`.eyes`).
"""
from __future__ import annotations

import numpy as np

from ...analysis.regions import LEFT_BROW, LEFT_EYE, RIGHT_BROW, RIGHT_EYE

# the inner outline of the lips, corner to corner along the top, then the bottom
UPPER_INNER = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308]
LOWER_INNER = [95, 88, 178, 87, 14, 317, 402, 318, 324]
UPPER_OUTER = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291]
LOWER_OUTER = [146, 91, 181, 84, 17, 314, 405, 321, 375]
# each eye's outline split into the upper lid (corner to corner) and the lower lid (between the corners)
EYE_LIDS = [(RIGHT_EYE[:9], RIGHT_EYE[9:]), (LEFT_EYE[:9], LEFT_EYE[9:])]
BROWS = RIGHT_BROW + LEFT_BROW

BROW_RAISE = 0.10          # brow lift at --brows 1, interocular distances (about 6 mm on an adult)
BROW_LOWER = 0.06          # brow drop at --brows -1, same unit
BROW_GATHER = 0.05         # inner brow ends drawn toward the midline at --brows -1, same unit
LID_OPEN = 0.35            # upper lid lift at --eyes 1, fraction of the eye's opening where it is
LID_CLOSE = 0.55           # upper lid fall at --eyes -1, same unit (the lower lid rises 0.1): a narrowed eye,
#                            not a shut one, which would show lid skin that the photo keeps folded away
LID_CARRY = (0.04, 0.16)   # lid skin moves with the lid margin up to the first distance and not beyond the
#                            second, interocular distances: lashes are carried, not stretched
# zygomaticus major: it pulls each mouth corner toward its origin on the cheekbone (mesh points 227 and 447,
# at the side of the face level with the eyes), by a share of that distance learned with the table
ZYGOMATIC = ((61, 227), (291, 447))
CORNER_REACH = 0.35        # how far around a corner its own pull is carried (Gaussian sigma, interocular)
# the mesh reports less of a move than the pixels made: warped by the learned smile, the development faces'
# meshes found again moved 0.94 of the way at the mouth's corners, 0.8 on the upper lip, 0.6-0.9 on the
# cheeks, less on the lids (median over the pairs; 0.83 over the smile's 17 scored points). The learned smile
# was itself seen through the mesh, so the pixels of a real smile moved further than the table says: the warp
# asks for the table over this share (check: smile pattern 0.487 at 0.9, 0.502 at 0.85; corners 1.0-1.04).
MESH_FIDELITY = 0.85
SMIRK_SPREAD = 0.2         # width of the fade across the midline for a smirk, interocular distances


def frame(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(origin, rotation, scale) of the pupil frame: ``aligned = (p - origin) @ rotation.T / scale``."""
    a, b = landmarks[468, :2].astype(np.float64), landmarks[473, :2].astype(np.float64)
    if a[0] > b[0]:
        a, b = b, a
    d = b - a
    s = float(np.hypot(*d))
    rot = np.array([[d[0], d[1]], [-d[1], d[0]]]) / max(s, 1e-9)
    return a, rot, max(s, 1e-9)


def aligned(landmarks: np.ndarray) -> np.ndarray:
    """The mesh points (N, 2) in the pupil frame, interocular distances."""
    a, rot, s = frame(landmarks)
    return (landmarks[:, :2] - a) @ rot.T / s


def to_pixels(move: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """A displacement (N, 2) in the pupil frame turned into pixels of the face's image."""
    _, rot, s = frame(landmarks)
    return (move @ rot * s).astype(np.float32)


def mirror_index(shape: np.ndarray) -> np.ndarray:
    """For each point of a (near-symmetric) mesh shape in the pupil frame, its mirror image's index (a one-to-one
    matching of the points to their mirror images, the nearest overall)."""
    from scipy.optimize import linear_sum_assignment

    flipped = shape.copy()
    flipped[:, 0] = 1.0 - flipped[:, 0]
    d = np.linalg.norm(shape[:, None, :] - flipped[None, :, :], axis=2)
    return linear_sum_assignment(d)[1]


def symmetrised(move: np.ndarray, mirror: np.ndarray) -> np.ndarray:
    """The mean of a displacement and its mirror image (pupil frame)."""
    m = move[mirror].copy()
    m[:, 0] = -m[:, 0]
    return (move + m) / 2


def closed_lips(move: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """The displacement with the mouth's opening taken out: the lower lip and the jaw below it follow the
    upper lip (teeth are never asked for), and the upper lip moves as one piece with its outer edge (the
    pairs' upper lips curl up off the teeth). `shape` is the neutral mesh in the pupil frame."""
    move = move.copy()
    xo = shape[UPPER_OUTER, 0]
    order = np.argsort(xo)
    for k in (0, 1):
        move[UPPER_INNER, k] = np.interp(shape[UPPER_INNER, 0], xo[order], move[UPPER_OUTER][order, k])
    xu = shape[UPPER_INNER, 0]
    order = np.argsort(xu)
    upper_at = np.stack([np.interp(shape[LOWER_INNER, 0], xu[order], move[UPPER_INNER][order, k]) for k in (0, 1)], 1)
    opening = move[LOWER_INNER] - upper_at
    xl = np.concatenate([[shape[78, 0]], shape[LOWER_INNER, 0], [shape[308, 0]]])
    ol = np.concatenate([np.zeros((1, 2)), opening, np.zeros((1, 2))])
    order = np.argsort(xl)
    below = shape[:, 1] > np.interp(shape[:, 0], xu[np.argsort(xu)], shape[UPPER_INNER][np.argsort(xu), 1]) + 1e-6
    inside = (shape[:, 0] > xl.min()) & (shape[:, 0] < xl.max())
    # full below the lower lip's outer edge, fading to nothing at the chin (the jaw itself barely drops)
    xo = shape[LOWER_OUTER, 0]
    lip_edge = np.interp(shape[:, 0], xo[np.argsort(xo)], shape[LOWER_OUTER][np.argsort(xo), 1])
    fade = 1 - np.clip((shape[:, 1] - lip_edge) / max(shape[152, 1] - lip_edge.max(), 1e-6), 0, 1)
    out = move.copy()
    for k in (0, 1):
        out[:, k] -= np.where(below & inside, np.interp(shape[:, 0], xl[order], ol[order, k]) * fade, 0.0)
    return out


def _smoothstep(t):
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _brows(x: np.ndarray, amount: float) -> np.ndarray:
    """Brow raise (+) or frown (-) in the pupil frame, from the face's own aligned points `x`."""
    out = np.zeros_like(x)
    if amount == 0:
        return out
    brow = x[BROWS]
    d = np.linalg.norm(x[:, None, :] - brow[None], axis=2).min(1)
    above = x[:, 1] < brow[:, 1].mean()
    eye_top = min(x[EYE_LIDS[0][0], 1].min(), x[EYE_LIDS[1][0], 1].min())
    # weight: 1 on the brows, the forehead carried over a long reach (its skin slides), the lid skin below
    # over a short one, nothing from the upper lid's margin down
    w = np.where(above, np.exp(-(d / 0.45) ** 2), np.exp(-(d / 0.12) ** 2))
    w *= _smoothstep((eye_top - x[:, 1]) / 0.08)
    if amount > 0:
        out[:, 1] = -BROW_RAISE * amount * w
    else:
        a = -amount
        inner = _smoothstep(1 - np.abs(x[:, 0] - 0.5) / 0.7)
        out[:, 1] = BROW_LOWER * a * w
        out[:, 0] = BROW_GATHER * a * w * inner * np.sign(0.5 - x[:, 0])
    return out


def _lids(x: np.ndarray, amount: float) -> np.ndarray:
    """Eyes opened wider (+) or closed (-) in the pupil frame: each lid margin point moves along y by a share
    of the eye's opening where it stands; the skin beyond the margin goes with it over LID_CARRY."""
    out = np.zeros_like(x)
    if amount == 0:
        return out
    margin_idx, margin_move = [], []
    for upper, lower in EYE_LIDS:
        xu, yu = x[upper, 0], x[upper, 1]
        lower_pts = [upper[0]] + list(lower)[::-1] + [upper[-1]]     # corner, lower lid, corner
        xl, yl = x[lower_pts, 0], x[lower_pts, 1]
        ol = np.argsort(xl)
        opening_u = np.maximum(np.interp(xu, xl[ol], yl[ol]) - yu, 0.0)
        ou = np.argsort(xu)
        opening_l = np.maximum(yl - np.interp(xl, xu[ou], yu[ou]), 0.0)
        if amount > 0:
            mu, ml = -LID_OPEN * amount * opening_u, 0.08 * amount * opening_l
        else:
            mu, ml = LID_CLOSE * -amount * opening_u, -0.1 * -amount * opening_l
        margin_idx += list(upper) + lower_pts[1:-1]
        margin_move += list(mu) + list(ml[1:-1])
    margin_idx = np.array(margin_idx)
    margin_move = np.array(margin_move)
    d = np.linalg.norm(x[:, None, :] - x[margin_idx][None], axis=2)
    nearest = d.argmin(1)
    w = 1 - _smoothstep((d.min(1) - LID_CARRY[0]) / (LID_CARRY[1] - LID_CARRY[0]))
    out[:, 1] = margin_move[nearest] * w
    out[margin_idx, 1] = margin_move
    return out


def displacement(landmarks: np.ndarray, *, smile: float = 0.0, smirk_left: float = 0.0,
                 smirk_right: float = 0.0, brows: float = 0.0, eyes: float = 0.0) -> np.ndarray:
    """The move of the 468 mesh points for these controls, pixels (468, 2) of the face's image.

    Parameters
    ----------
    landmarks : ndarray, shape (478, 2 or 3)
        The face's mesh, pixels (the iris points 468-477 fix the frame).
    smile, smirk_left, smirk_right, brows, eyes : float
        Controls in [-1, 1] (see the module docstring); 0 moves nothing.
    """
    x = aligned(landmarks)[:468]
    left = _smoothstep((x[:, 0] - 0.5) / SMIRK_SPREAD + 0.5)          # the subject's left: the image's right
    amount = smile + smirk_left * left + smirk_right * (1 - left)
    move = smile_move(x) * amount[:, None] + _brows(x, brows) + _lids(x, eyes)
    return to_pixels(move, landmarks)


def smile_move(x: np.ndarray) -> np.ndarray:
    """The full smile (468, 2) for the face whose mesh in the pupil frame is `x`: the learned mean smile, its
    mouth corners drawn toward this face's own cheekbones (the zygomaticus' line) and the skin around each
    corner carried with it."""
    from .smile_table import SMILE, ZYGOMATIC_PULL

    move = SMILE.astype(np.float64)
    for corner, origin in ZYGOMATIC:
        delta = ZYGOMATIC_PULL * (x[origin] - x[corner]) - SMILE[corner]
        near = np.exp(-0.5 * (np.linalg.norm(x - x[corner], axis=1) / CORNER_REACH) ** 2)
        move = move + near[:, None] * delta
    return move / MESH_FIDELITY
