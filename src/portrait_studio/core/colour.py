"""Colour science the operations share: CIE Lab, ΔE2000, colour temperature and chromatic adaptation.

Thin, typed wrappers over colour-science for the one image convention (linear-light RGB with sRGB / Rec. 709
primaries and D65 white, see :mod:`portrait_studio.core.image`), so no operation converts colour its own way.
"""
from __future__ import annotations

import numpy as np

# colour-science is imported inside the functions that use it: importing it costs about 0.7 s, which every
# command would otherwise pay at start-up.

#: Linear sRGB to CIE XYZ (D65), as IEC 61966-2-1 gives it (colour-science's sRGB matrix), and back.
RGB_TO_XYZ = np.array([[0.4124, 0.3576, 0.1805],
                       [0.2126, 0.7152, 0.0722],
                       [0.0193, 0.1192, 0.9505]])
XYZ_TO_RGB = np.linalg.inv(RGB_TO_XYZ)
#: The working space's white point (CIE 1931 xy of D65).
D65_XY = np.array([0.3127, 0.3290])


def linear_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIE L*a*b* (D65, L* in [0, 100]) of linear-light RGB, any shape (..., 3), as float32.

    Examples
    --------
    >>> import numpy as np
    >>> linear_to_lab(np.ones(3, np.float32)).round(1).tolist()
    [100.0, 0.0, 0.0]
    """
    import colour

    xyz = np.asarray(rgb, np.float64) @ RGB_TO_XYZ.T
    return colour.XYZ_to_Lab(xyz, D65_XY).astype(np.float32)


def delta_e(lab_a: np.ndarray, lab_b: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference between two Lab arrays of the same shape (..., 3); ≈ 1 is just noticeable."""
    import colour

    return np.asarray(colour.delta_E(np.asarray(lab_a, np.float64), np.asarray(lab_b, np.float64),
                                     method="CIE 2000"), np.float32)


def rgb_to_xy(rgb: np.ndarray) -> np.ndarray:
    """CIE 1931 chromaticity (x, y) of linear RGB (..., 3); black maps to the D65 white."""
    xyz = np.asarray(rgb, np.float64) @ RGB_TO_XYZ.T
    s = xyz.sum(axis=-1, keepdims=True)
    return np.where(s > 1e-12, xyz[..., :2] / np.maximum(s, 1e-12), D65_XY)


def cct(rgb: np.ndarray) -> float:
    """Correlated colour temperature in kelvin of one linear RGB colour (e.g. a light or a grey's mean).

    Uses Ohno (2013) on the colour's CIE 1960 uv chromaticity, clipped to [1000, 40000] K.
    """
    import colour

    uv = colour.xy_to_UCS_uv(rgb_to_xy(np.asarray(rgb, np.float64).reshape(3)))
    k = colour.uv_to_CCT(uv, method="Ohno 2013")[0]
    return float(np.clip(k, 1000.0, 40000.0))


def kelvin_to_xy(kelvin: float) -> np.ndarray:
    """Chromaticity (x, y) of a light of `kelvin` (1000–40000 K): the Planckian locus below 4000 K, the CIE
    daylight locus from 4000 K up (so 6504 K is D65, the working white), blended smoothly between."""
    import colour

    k = float(np.clip(kelvin, 1000.0, 40000.0))
    planck = colour.temperature.CCT_to_xy_Kang2002(min(max(k, 1667.0), 25000.0))
    daylight = colour.temperature.CCT_to_xy_CIE_D(min(max(k, 4000.0), 25000.0))
    t = float(np.clip((k - 3500.0) / 1000.0, 0.0, 1.0))
    return (1 - t) * np.asarray(planck) + t * np.asarray(daylight)


def kelvin_to_rgb(kelvin: float) -> np.ndarray:
    """Linear RGB of a light of colour temperature `kelvin`, scaled to luminance 1, float32 (3,).

    6504 K gives (1, 1, 1) within 0.2%; lower temperatures are warmer (more red), higher bluer.

    Examples
    --------
    >>> kelvin_to_rgb(3200)[0] > 1 > kelvin_to_rgb(3200)[2]
    True
    """
    x, y = kelvin_to_xy(kelvin)
    rgb = XYZ_TO_RGB @ np.array([x / y, 1.0, (1 - x - y) / y])
    return np.maximum(rgb / (RGB_TO_XYZ[1] @ rgb), 0.0).astype(np.float32)


def adaptation_matrix(source_xy, target_xy, *, method: str = "CAT16") -> np.ndarray:
    """3×3 matrix that adapts linear RGB seen under white `source_xy` to appear under white `target_xy`.

    Apply it as ``image @ M.T``. `method` is any colour-science chromatic adaptation transform
    (``"CAT16"``, ``"CAT02"``, ``"Bradford"``, ``"Von Kries"``).
    """
    import colour

    src = colour.xy_to_XYZ(np.asarray(source_xy, np.float64))
    dst = colour.xy_to_XYZ(np.asarray(target_xy, np.float64))
    cat = colour.adaptation.matrix_chromatic_adaptation_VonKries(src, dst, transform=method)
    return (XYZ_TO_RGB @ cat @ RGB_TO_XYZ).astype(np.float32)


def adapt(image: np.ndarray, source_xy, target_xy, *, method: str = "CAT16") -> np.ndarray:
    """Chromatically adapt a linear RGB image from white `source_xy` to white `target_xy` (see
    :func:`adaptation_matrix`), float32, same shape."""
    return (np.asarray(image, np.float32) @ adaptation_matrix(source_xy, target_xy, method=method).T
            ).astype(np.float32)


#: A photo is black-and-white when 99% of its pixels have channels within this much of each other, in
#: square-root light (about 2.5 levels of 255 at mid-grey: a JPEG's chroma rounding, not a colour).
_MONOCHROME_SPREAD = 0.01


def is_monochrome(image: np.ndarray) -> bool:
    """Whether a linear RGB image is black-and-white (R = G = B up to encoding noise): such a photo has no
    light colour to read or adapt, and an edit should leave it without colour."""
    x = np.sqrt(np.clip(np.asarray(image, np.float32), 0.0, 1.0)).reshape(-1, 3)
    step = max(1, x.shape[0] // 65536)                       # a sample is enough to tell
    spread = np.ptp(x[::step], axis=1)
    return bool(np.percentile(spread, 99) <= _MONOCHROME_SPREAD)


def achromatic(matrix: np.ndarray) -> np.ndarray:
    """The colourless part of a 3×3 linear-RGB transform: the same gain on every channel, the one it gives
    a neutral grey's luminance (for a black-and-white image, which it must leave black-and-white)."""
    m = np.asarray(matrix, np.float64)
    gain = float(RGB_TO_XYZ[1] @ m @ np.ones(3))
    return (np.eye(3) * gain).astype(np.float32)
