"""Film grain: the statistics of Newson et al.'s Boolean model, synthesised as correlated noise.

Physical model (Newson, Delon, Galerne, "A Stochastic Film Grain Model for Resolution-Independent Rendering",
2017): a layer of grey level u in [0, 1] is covered by discs of radius r whose centres form a Poisson process
of intensity λ = -ln(1 - u) / (π r²), and a pixel is the coverage seen through a Gaussian filter of
standard deviation σ (the pixel's footprint). The coverage's covariance at distance d is exact:
``C(d) = (1 - u)² (exp(λ A(d)) - 1)`` with A(d) the overlap of two discs, so the pixel's grain standard
deviation at each grey level is one radial integral (:func:`boolean_std`). Rather than render discs (costly:
the exact model is a Monte Carlo per pixel), the grain here is Gaussian noise with that standard deviation
per grey level and a correlation length matched to the disc overlap and the filter. Grain size is given on
the frame (a fraction of its diagonal), so a 1 MP preview shows finer, weaker grain per pixel exactly as
the 12 MP export does once reduced to 1 MP.

A reference's grain (:func:`measure`) is read in its flat regions: the amplitude of the fine band against
brightness, and the band's correlation length from its spectrum, both converted to the frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...core.grain import normal_noise
from ...core.image import luminance
from ...core.masked import gaussian

#: A 35 mm frame's diagonal in micrometres: grain radii of stocks are given on it.
FRAME_DIAGONAL_UM = 43_270.0
#: Standard deviation of a pixel's footprint in pixels (Newson et al.'s Gaussian filter), that of a pixel-wide
#: box (1/√12), so that a frame rendered large and reduced by averaging pixels shows the grain of a small render.
PIXEL_SIGMA = 0.29
#: Grey levels at which the model's standard deviation is tabulated.
_LEVELS = 65


@dataclass(frozen=True)
class GrainModel:
    """Grain to add to a picture of a given size.

    Attributes
    ----------
    levels : ndarray (L,)
        Grey levels (display value) at which `std` is given, ascending in [0, 1].
    std : ndarray (L,)
        Grain standard deviation (display units) at each level, for a unit amount.
    sigma_px : float
        Correlation length of the grain in pixels of this picture (the Gaussian the noise is filtered with).
    layers : (3,) floats
        Relative amount per layer; a black-and-white stock has one layer (`mono`).
    mono : bool
    """

    levels: np.ndarray
    std: np.ndarray
    sigma_px: float
    layers: tuple = (1.0, 1.0, 1.0)
    mono: bool = False


def disc_overlap(d: np.ndarray, r: float) -> np.ndarray:
    """Area shared by two discs of radius `r` whose centres are `d` apart."""
    d = np.minimum(np.asarray(d, np.float64), 2 * r)
    return 2 * r * r * np.arccos(d / (2 * r)) - d / 2 * np.sqrt(np.maximum(4 * r * r - d * d, 0.0))


def boolean_std(levels: np.ndarray, radius_px: float, sigma_px: float = PIXEL_SIGMA) -> np.ndarray:
    """Exact standard deviation of a pixel of the Boolean grain model at each grey level.

    Parameters
    ----------
    levels : array
        Grey levels u in [0, 1] (the mean coverage).
    radius_px : float
        Grain radius in pixels.
    sigma_px : float
        Standard deviation of the pixel's Gaussian footprint, in pixels.
    """
    u = np.clip(np.asarray(levels, np.float64), 0.0, 1.0 - 1e-6)
    r = max(float(radius_px), 1e-6)
    d = np.linspace(0.0, 2 * r, 256)
    lam = -np.log1p(-u)[:, None] / (np.pi * r * r)
    cov = (1 - u[:, None]) ** 2 * np.expm1(lam * disc_overlap(d, r)[None, :])
    s2 = 2 * sigma_px ** 2                           # the footprint twice: a Gaussian of variance 2σ² per axis
    weight = np.exp(-d * d / (2 * s2)) / (2 * np.pi * s2) * 2 * np.pi * d
    return np.sqrt(np.maximum(np.trapz(cov * weight[None, :], d, axis=1), 0.0))


def correlation_sigma(radius_px: float, sigma_px: float = PIXEL_SIGMA) -> float:
    """Standard deviation (pixels) of the Gaussian that white noise is filtered with so that its correlation
    matches the Boolean model's: the disc overlap's second moment (r²/2 per axis) plus the footprint's."""
    return float(np.sqrt(radius_px ** 2 / 4 + sigma_px ** 2))


def correlation_kernel(sigma_px: float) -> np.ndarray:
    """A 1D kernel (unit sum of squares) whose separable filtering of white noise gives unit-variance noise
    correlated as continuous Gaussian filtering with `sigma_px` would: the same correlation between
    neighbouring pixels, exp(-1 / (4 σ²)). Below a pixel a sampled Gaussian of the same σ is nearly a
    delta and would correlate neighbours too little, so its σ is raised until the correlations agree."""
    target = np.exp(-1.0 / (4.0 * max(sigma_px, 1e-3) ** 2))

    def kernel(s):                                   # (taps below 1/1000 of the centre's left out)
        half = int(np.sqrt(2 * np.log(1000.0)) * s)
        x = np.arange(-half, half + 1, dtype=np.float64)
        k = np.exp(-x * x / (2 * s * s))
        return k / np.sqrt((k * k).sum())

    def lag1(s):
        k = kernel(s)
        return float((k[1:] * k[:-1]).sum())

    lo, hi = 1e-3, max(sigma_px, 1e-3) * 2 + 1
    for _ in range(40):                              # the neighbour correlation grows with σ: bisection
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if lag1(mid) < target else (lo, mid)
    return kernel((lo + hi) / 2).astype(np.float32)


def stock_model(*, radius_um: float, shape: tuple[int, int], layers=(1.0, 1.0, 1.0), mono: bool = False,
                tone: str = "negative") -> GrainModel:
    """The grain of a stock whose grains have radius `radius_um` on a 35 mm frame, for a picture of `shape`.

    `tone` "slide" weights the grain toward the shadows (dense parts of a reversal film), "negative" leaves
    the Boolean model's own mid-tone peak.
    """
    diag = float(np.hypot(*shape))
    r_px = radius_um / FRAME_DIAGONAL_UM * diag
    levels = np.linspace(0.0, 1.0, _LEVELS)
    std = boolean_std(levels, r_px)
    if tone == "slide":
        std = std * np.clip(1.6 - 1.2 * levels, 0.4, 1.6)
    return GrainModel(levels, std.astype(np.float32), correlation_sigma(r_px), tuple(layers), mono)


def noise(shape: tuple[int, int], sigma_px: float, *, count: int, seed: int) -> np.ndarray:
    """`count` fields (H, W, count) of unit-variance Gaussian noise correlated over `sigma_px` pixels.

    Coarse grain is drawn on a reduced grid and enlarged (the same spectrum for a fraction of the draws).
    """
    import cv2

    h, w = shape
    step = max(1, int(sigma_px / 1.2))
    hs, ws = -(-h // step), -(-w // step)
    k = correlation_kernel(sigma_px / step)
    f = normal_noise((hs, ws, count), rng=np.random.default_rng(seed))
    if len(k) > 1:
        f = cv2.sepFilter2D(f, -1, k, k, borderType=cv2.BORDER_REFLECT).reshape(hs, ws, count)
    if step > 1:
        f = cv2.resize(f, (ws * step, hs * step), interpolation=cv2.INTER_LINEAR).reshape(hs * step, ws * step, count)
        f = f[:h, :w] * np.float32(1.0 / max(float(f[::7, ::7].std()), 1e-6))
    return f


def add_grain(values: np.ndarray, model: GrainModel, *, amount: float, seed: int) -> np.ndarray:
    """Display values (H, W, 3) in [0, 1] with grain: per layer, noise scaled by the model's standard
    deviation at the layer's own value (one field for a black-and-white stock)."""
    import cv2

    if amount <= 0:
        return values
    h, w = values.shape[:2]
    field = noise((h, w), model.sigma_px, count=1 if model.mono else 3, seed=seed)
    # the standard deviation at each value, per layer: the model's table on 256 levels, looked up by OpenCV
    std = np.interp(np.linspace(0, 1, 256), model.levels, model.std)[:, None] * np.asarray(model.layers)
    table = (std * amount).astype(np.float32).reshape(256, 1, 3)
    sd = cv2.LUT(cv2.convertScaleAbs(values, alpha=255.0), table)
    sd *= field
    sd += values
    return np.clip(sd, 0.0, 1.0, out=sd)


def measure(encoded: np.ndarray, *, shape: tuple[int, int]) -> GrainModel | None:
    """The grain of a reference picture (sRGB-encoded (H, W, 3)), resynthesised for a picture of `shape`:
    the fine band's standard deviation against brightness and its correlation length, measured where the
    picture is flat (little coarse detail), converted through the frame diagonal. None where no flat region
    exists to measure in.
    """
    y = luminance(np.asarray(encoded, np.float32))
    band = y - gaussian(y, 1.5)
    detail = np.abs(gaussian(y, 1.5) - gaussian(y, 6.0))
    flat = detail < np.quantile(detail, 0.3)
    if flat.sum() < 2000:
        return None
    levels = np.linspace(0.0, 1.0, _LEVELS)
    edges = np.linspace(0.0, 1.0, 9)
    centres, stds = [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = flat & (y >= lo) & (y < hi)
        if m.sum() > 500:
            centres.append((lo + hi) / 2)
            stds.append(1.4826 * np.median(np.abs(band[m] - np.median(band[m]))))
    if not centres:
        return None
    # correlation length: the band's lag-1 correlation gives σ of the Gaussian correlated noise
    b = np.where(flat, band, 0.0)
    rho = float((b[:, 1:] * b[:, :-1]).sum() / max((b * b).sum(), 1e-12))
    sigma_ref = float(np.sqrt(-1 / (4 * np.log(np.clip(rho, 0.01, 0.95))))) if rho > 0.01 else 0.3
    # amplitude at the band -> full grain (the 1.5 px high-pass keeps part of the variance of correlated noise)
    keep = 1 - 1 / np.sqrt(1 + (1.5 / max(sigma_ref, 0.3)) ** 2)
    std = np.interp(levels, centres, np.asarray(stds) / np.sqrt(max(keep, 0.05)))
    # to the target frame: correlation length scales with the diagonal, and averaging over a larger pixel
    # lowers the amplitude by the ratio of correlation lengths (2D white-noise averaging)
    scale = float(np.hypot(*shape) / np.hypot(*encoded.shape[:2]))
    sigma_t = sigma_ref * scale
    std = std * min(1.0, sigma_ref / max(sigma_t, 1e-6)) if scale < 1 else std
    return GrainModel(levels, std.astype(np.float32), max(sigma_t, 0.3), (1.0, 1.0, 1.0), False)
