"""The skin map: where retouching may act.

Face skin comes from the mesh regions (the oval without eyes, brows, lips and mouth); a colour model of this
subject's own skin, fitted on those pixels, extends it to neck, ears, shoulders and arms inside the person
matte, and removes what lies on the face but is not skin (hair strands, glasses, nostrils, beard).
Skin is also smooth at the scale of hair: where the fine detail is several times that of the face's own
skin (hair, stubble, fabric), it is not skin. The colour model is a Gaussian in the skin's own colour coordinates, the (shading, melanin, haemoglobin)
amounts of optical density (see :mod:`.tone`; cheap, and it separates skin from lips, hair and clothes by
pigment), with the shading spread widened, since light and shadow change it much more than the pigments.
"""
from __future__ import annotations

import cv2
import numpy as np

from .tone import components, density


def fit_skin_colour(col: np.ndarray, face_skin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and inverse covariance of the skin's colour, robustly fitted on the surest face skin.

    Parameters
    ----------
    col : ndarray, shape (H, W, 3)
        (shading, melanin, haemoglobin) amounts of the image (or of a reduced copy).
    face_skin : ndarray, shape (H, W)
        The mesh's face-skin mask in [0, 1].
    """
    px = col[face_skin > 0.9].T.astype(np.float64)              # (3, N): one row per coordinate
    if px.shape[1] < 50:
        px = col[face_skin > 0.2].T.astype(np.float64)
    if px.shape[1] < 10:
        return np.array([1.5, 0.5, 0.3]), np.diag([1.0, 1 / 0.04, 1 / 0.04])
    keep = np.ones(px.shape[1], bool)
    floor = np.diag([0.01, 0.0004, 0.0004])
    for _ in range(2):                     # drop outliers (hair, specks, shadows) and refit
        mean, cov = mean_cov(px, keep)
        inv = np.linalg.inv(cov + floor)
        keep = _mahalanobis2((px - mean[:, None]).T, inv) < 9.0
    cov = mean_cov(px, keep)[1] * np.array([[2.0, 1.4, 1.4], [1.4, 1, 1], [1.4, 1, 1]]) + floor * 2
    return mean, np.linalg.inv(cov)


def mean_cov(px: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (as ``np.cov``) of the columns of `px` (k, N) where `keep` (N,), by sums (no copy
    of the kept columns), in `px`'s precision."""
    w = keep.astype(px.dtype)
    n = w.sum()
    mean = px @ w / n
    return mean, ((px * w) @ px.T - n * np.outer(mean, mean)) / max(n - 1.0, 1.0)


def skin_likelihood(col: np.ndarray, mean: np.ndarray, inv_cov: np.ndarray, *, inner: float = 2.5,
                    outer: float = 4.0) -> np.ndarray:
    """How skin-like each pixel's colour is: 1 within `inner` Mahalanobis units of the model, 0 beyond
    `outer`, linear between; float32 (H, W)."""
    return _ramp(_distance(col, mean, inv_cov), inner, outer)


def _mahalanobis2(d: np.ndarray, inv_cov: np.ndarray) -> np.ndarray:
    """Squared Mahalanobis lengths of rows `d` (N, 3) (an einsum, but several times faster)."""
    q = (d @ inv_cov) * d
    return q[:, 0] + q[:, 1] + q[:, 2]


def _distance(col: np.ndarray, mean: np.ndarray, inv_cov: np.ndarray) -> np.ndarray:
    """Mahalanobis distance of each pixel's colour (H, W, 3) from the skin model, float32 (H, W)."""
    d = col.reshape(-1, 3).astype(np.float32) - mean.astype(np.float32)
    return np.sqrt(_mahalanobis2(d, inv_cov.astype(np.float32))).reshape(col.shape[:2])


def _ramp(dist: np.ndarray, inner: float, outer: float) -> np.ndarray:
    """1 within `inner`, 0 beyond `outer`, linear between; float32."""
    return np.clip((outer - dist) / (outer - inner), 0.0, 1.0).astype(np.float32)


def skin_map(work: np.ndarray, regions: dict[str, np.ndarray], matte: np.ndarray, unit: float, *,
             d: np.ndarray | None = None) -> np.ndarray:
    """The soft skin map of a (reduced) crop, float32 (H, W) in [0, 1].

    Parameters
    ----------
    work : ndarray, shape (H, W, 3)
        Linear RGB of the crop.
    regions : dict
        The face's ``skin``, ``eyes``, ``brows``, ``lips``, ``mouth`` masks on the same grid.
    matte : ndarray, shape (H, W)
        The person matte on the same grid.
    unit : float
        The face's height in pixels of this grid (sizes are fractions of it).
    d : ndarray, shape (H, W, 3), optional
        The optical density of `work` (:func:`.tone.density`), if the caller has it.

    Returns
    -------
    ndarray
        1 on skin, 0 on eyes, brows, lips, mouth, hair, nostrils, clothes and background.
    """
    col = components(density(work) if d is None else d)
    face_skin = regions["skin"]
    mean, inv = fit_skin_colour(col, face_skin)
    dist = _distance(col, mean, inv)
    like = _ramp(dist, 2.0, 3.0)
    # on the face the colour test is lenient (spots and blotches are redder than the model, and must stay
    # in); elsewhere the colour decides, inside the person
    lenient = _ramp(dist, 4.0, 7.0)
    # and skin is smooth: hair, stubble and fabric have much more fine detail than the face's own skin
    shade = col[..., 0]
    fine = shade - cv2.GaussianBlur(shade, (0, 0), max(0.5, 0.006 * unit))
    busy = np.sqrt(cv2.GaussianBlur(fine * fine, (0, 0), max(0.5, 0.015 * unit)))
    ref = float(np.median(busy[face_skin > 0.9])) if (face_skin > 0.9).any() else float(np.median(busy))
    # (shiny skin has much more fine contrast than matte skin, so the face itself is allowed twice as much)
    like = like * np.clip((3.0 * ref - busy) / (1.5 * ref + 1e-6), 0.0, 1.0)
    lenient = lenient * np.clip((6.0 * ref - busy) / (3.0 * ref + 1e-6), 0.0, 1.0)
    # nostrils and deep shadows: over 2 units of density (7x less light) darker than the mean skin
    dark = np.clip((mean[0] + 2.0 * np.sqrt(3.0) - col[..., 0]) / 0.5, 0.0, 1.0)
    body = like * np.clip(matte, 0, 1)
    skin = np.maximum(face_skin * lenient * dark, body)
    # close small holes (spots, pores, a blotch redder than the model) at 3% of the face height, then
    # drop specks (skin-coloured bits of hair or background)
    k = max(3, int(round(0.03 * unit)) | 1)
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    skin = cv2.morphologyEx(cv2.morphologyEx(skin, cv2.MORPH_CLOSE, disk), cv2.MORPH_OPEN, disk)
    # never the features: eyes, brows, lips, mouth, grown by 2% of the face height
    g = max(3, int(round(0.04 * unit)) | 1)
    features = np.maximum(np.maximum(regions["eyes"], regions["brows"]), np.maximum(regions["lips"], regions["mouth"]))
    features = cv2.dilate((features > 0.05).astype(np.float32),
                          cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (g, g)))
    skin = skin * (1.0 - features) * dark
    sigma = 0.004 * unit
    if sigma > 0.4:
        skin = cv2.GaussianBlur(skin, (0, 0), sigma)
    return np.clip(skin, 0.0, 1.0).astype(np.float32)
