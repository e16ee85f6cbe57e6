"""3D colour look-up tables in and out: Hald CLUT images (PNG/TIFF) and ``.cube`` files (Iridas/Resolve).

A :class:`Lut3D` maps **sRGB-encoded** RGB in [0, 1] to sRGB-encoded RGB, sampled on an N×N×N grid and
interpolated trilinearly, the convention of Resolve, Premiere, Lightroom and colour-science's ``LUT3D``
(whose ``apply`` gives the same values as :meth:`Lut3D.apply`). Reading and writing ``.cube`` goes through
colour-science's LUT io; Hald images are decoded here (a level-L Hald image is L³×L³ pixels holding an L²
cube, red varying fastest).
"""
from __future__ import annotations

import os
import pathlib
from dataclasses import dataclass

import numpy as np

from ..errors import InputError

#: File extensions read as a look-up table.
LUT_EXTENSIONS = (".cube", ".png", ".tif", ".tiff")


@dataclass(frozen=True, eq=False)
class Lut3D:
    """A 3D LUT on sRGB-encoded values.

    Attributes
    ----------
    table : ndarray, shape (N, N, N, 3), float32
        Output RGB (sRGB-encoded, nominally [0, 1]) at the grid point ``table[r, g, b]``, the inputs at
        ``i / (N - 1)``.
    name : str
        What the table is (a file name, a stock), written as the ``.cube`` title.
    """

    table: np.ndarray
    name: str = "look"

    @property
    def size(self) -> int:
        return self.table.shape[0]

    def apply(self, encoded: np.ndarray) -> np.ndarray:
        """Trilinear interpolation of the table at sRGB-encoded RGB (..., 3), clipped to [0, 1] first; float32."""
        return apply_table(self.table, encoded)


def identity_table(size: int) -> np.ndarray:
    """The identity LUT's table: (size, size, size, 3) float32, ``table[r, g, b] = (r, g, b) / (size - 1)``."""
    x = np.linspace(0.0, 1.0, size, dtype=np.float32)
    return np.stack(np.meshgrid(x, x, x, indexing="ij"), axis=-1)


def apply_table(table: np.ndarray, encoded: np.ndarray) -> np.ndarray:
    """Trilinear interpolation of a (N, N, N, 3) `table` (indexed [r, g, b]) at encoded RGB (..., 3), clipped
    to [0, 1] first; float32.

    The table's blue slices are laid side by side as one (N, N·N) picture, and OpenCV's bilinear remap reads
    the two slices around each pixel's blue (positions at 1/32 of a grid cell, OpenCV's fixed point), which
    are then mixed: about 40x faster than gathering the eight corners in NumPy.
    """
    import cv2

    n = table.shape[0]
    shape = encoded.shape
    x = np.clip(np.asarray(encoded, np.float32).reshape(-1, 3), 0.0, 1.0) * np.float32(n - 1)
    rows = max(1, min(4096, x.shape[0]))
    x = np.concatenate([x, np.zeros(((-x.shape[0]) % rows, 3), np.float32)]).reshape(-1, rows, 3)
    # tiles[r, b * n + g] = table[r, g, b]
    tiles = np.ascontiguousarray(table.astype(np.float32).transpose(0, 2, 1, 3).reshape(n, n * n, 3))
    b0 = np.minimum(np.floor(x[..., 2]), n - 2)
    fb = (x[..., 2] - b0)[..., None]
    ys, xs = x[..., 0], x[..., 1] + b0 * n
    lo = cv2.remap(tiles, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    hi = cv2.remap(tiles, xs + np.float32(n), ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    out = lo + fb * (hi - lo)
    return out.reshape(-1, 3)[:int(np.prod(shape[:-1]))].reshape(shape)


def read_lut(path: str | os.PathLike) -> Lut3D:
    """The 3D LUT in a ``.cube`` file or a Hald CLUT image (PNG or TIFF, 8 or 16 bit).

    Raises
    ------
    InputError
        A missing or unreadable file, a file that is not a 3D LUT, or a Hald image of the wrong shape.
    """
    p = pathlib.Path(path)
    if not p.is_file():
        raise InputError(p, "does not exist" if not p.exists() else "is not a file", "give a .cube file or a Hald CLUT image")
    ext = p.suffix.lower()
    if ext == ".cube":
        import colour

        try:
            lut = colour.read_LUT(str(p))
        except Exception as e:  # noqa: BLE001 - colour-science raises many kinds on a bad file
            raise InputError(p, f"is not a readable .cube file ({e})", "export the LUT again as a 3D .cube") from None
        if not isinstance(lut, colour.LUT3D):
            raise InputError(p, f"holds a {type(lut).__name__}, not a 3D LUT", "give a 3D .cube (LUT_3D_SIZE)")
        lo, hi = np.asarray(lut.domain[0], float), np.asarray(lut.domain[1], float)
        if not (np.allclose(lo, 0) and np.allclose(hi, 1)):
            raise InputError(p, f"has the input domain {lo.tolist()}..{hi.tolist()}, not 0..1",
                             "export it for display-referred (sRGB) input, domain 0 to 1")
        return Lut3D(np.asarray(lut.table, np.float32), name=p.stem)
    if ext in (".png", ".tif", ".tiff"):
        return Lut3D(_hald_table(p), name=p.stem)
    raise InputError(p, f"has the extension {ext or '(none)'!r}", "give a .cube file or a Hald CLUT (.png, .tif)")


def _hald_table(p: pathlib.Path) -> np.ndarray:
    import cv2

    im = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
    if im is None:
        raise InputError(p, "cannot be read as an image", "give a Hald CLUT saved as PNG or TIFF")
    if im.ndim == 2:
        im = np.repeat(im[..., None], 3, axis=2)
    scale = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(im.dtype, 1.0)
    rgb = im[..., :3][..., ::-1].astype(np.float32) / np.float32(scale)
    h, w = rgb.shape[:2]
    level = round(h ** (1 / 3))
    if h != w or level ** 3 != h or level < 2:
        raise InputError(p, f"is {w}×{h} pixels, not a Hald CLUT (a level-L Hald image is L³×L³, e.g. 512×512)",
                         "give a Hald CLUT image or a .cube file")
    n = level * level
    return np.ascontiguousarray(rgb.reshape(n, n, n, 3).transpose(2, 1, 0, 3))   # [b][g][r] -> [r][g][b]


def write_cube(path: str | os.PathLike, lut: Lut3D, *, overwrite: bool = False) -> pathlib.Path:
    """Write `lut` as a 3D ``.cube`` (Iridas/Resolve; sRGB-encoded in and out), whole or not at all."""
    import colour

    from .write import _check_target, _replacing

    p = pathlib.Path(path)
    if p.suffix.lower() != ".cube":
        raise InputError(p, "is not a .cube file name", "write the LUT as .cube")
    _check_target(p, overwrite)
    table = np.clip(np.asarray(lut.table, np.float64), 0.0, 1.0)
    with _replacing(p) as tmp:
        colour.write_LUT(colour.LUT3D(table, name=lut.name), str(tmp), decimals=6, method="Iridas Cube")
    return p
