"""expression's warp: the shared fold-free warp (:mod:`portrait_studio.core.warp`) held still on a ring around
the face (the oval pushed out by :data:`RING`), so hair and background stay where they are."""
from __future__ import annotations

import numpy as np

from ...analysis.regions import FACE_OVAL
from ...core import warp as _warp
from ...core.warp import MIN_JACOBIAN, Field, _min_jacobian, apply_field

RING = 1.3                 # the still ring: the face oval pushed out from its centre by this factor


def build_field(points: np.ndarray, move: np.ndarray, shape: tuple[int, ...], face_size: float) -> Field:
    """The backward map that carries the 468-point mesh `points` (N, 2) by `move` (N, 2), image pixels, still
    on and beyond the ring around the face oval (see :func:`portrait_studio.core.warp.build_field`)."""
    oval = points[FACE_OVAL]
    centre = oval.mean(0)
    return _warp.build_field(points, move, shape, face_size, ring=centre + (oval - centre) * RING)


__all__ = ["MIN_JACOBIAN", "RING", "Field", "_min_jacobian", "apply_field", "build_field"]
