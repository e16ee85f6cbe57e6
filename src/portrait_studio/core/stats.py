"""Robust statistics shared by the layers."""
from __future__ import annotations

import numpy as np

#: The median absolute deviation of normally distributed values times this is their standard deviation.
MAD_TO_SIGMA = 1.4826


def robust_sigma(x: np.ndarray, *, axis: int | None = None, centre: bool = True) -> np.ndarray | float:
    """Robust standard deviation: :data:`MAD_TO_SIGMA` times the median absolute deviation of `x` from its
    median (from 0 with ``centre=False``, for residuals and differences), over `axis` (all values by default).

    Examples
    --------
    >>> float(robust_sigma(np.array([-1.0, 0.0, 1.0, 100.0])))     # the outlier barely counts
    1.4826
    """
    x = np.asarray(x)
    if centre:
        x = x - np.median(x, axis=axis, keepdims=True)
    return MAD_TO_SIGMA * np.median(np.abs(x), axis=axis)
