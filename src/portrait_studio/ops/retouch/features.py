"""Eyes and teeth: sclera whitening, iris clarity and teeth whitening, gentle by design.

Changes are optical-density changes (see :mod:`.tone`) on the reduced grid: the whites of the eyes lose part
of their haemoglobin (redness) and melanin (yellowing) excess over their cleanest part and gain a little
light; the iris gains local contrast; teeth lose part of their yellow (melanin-direction) excess and gain
a little light. Only pixels brighter than the middle of their region are whitened (not lashes, gums, lips).
"""
from __future__ import annotations

import numpy as np

from ...core.masked import gaussian
from .tone import components, from_components


def _whiten(c: np.ndarray, where: np.ndarray, amount: float, *, pigment: float, lift: float) -> np.ndarray:
    """Component change that removes `pigment` of the excess over the region's cleanest tenth and adds
    `lift` of density (less density = lighter) where `where` is high."""
    sel = where > 0.5
    if amount <= 0 or sel.sum() < 10:
        return np.zeros_like(c)
    shade = c[..., 0]
    bright = (shade <= np.median(shade[sel])).astype(np.float32) * where
    clean = np.percentile(c[sel], 10, axis=0)
    change = -pigment * np.maximum(c - clean, 0.0)
    change[..., 0] = -lift
    return change * (amount * bright)[..., None]


def eye_and_teeth_change(d: np.ndarray, regions: dict[str, np.ndarray], unit: float, *, eyes: float,
                         teeth: float) -> np.ndarray:
    """Density change (H, W, 3) whitening the sclera, clearing the irises and whitening the teeth.

    Parameters
    ----------
    d : ndarray, shape (H, W, 3)
        Optical density of the reduced copy.
    regions : dict
        ``eyes``, ``irises`` and ``mouth`` masks on the same grid.
    unit : float
        Face height, pixels of this grid.
    eyes, teeth : float
        Amounts in [0, 1].
    """
    c = components(d)
    change = np.zeros_like(c)
    if eyes > 0:
        sclera = regions["eyes"] * (1.0 - np.clip(regions["irises"] * 1.5, 0, 1))
        change += _whiten(c, sclera, eyes, pigment=0.5, lift=0.12)
    if teeth > 0:
        change += _whiten(c, regions["mouth"], teeth, pigment=0.6, lift=0.1)
    delta = from_components(change)
    if eyes > 0:
        detail = d - gaussian(d, max(0.7, 0.006 * unit))
        delta -= 0.5 * eyes * regions["irises"][..., None] * detail
    return delta.astype(np.float32)
