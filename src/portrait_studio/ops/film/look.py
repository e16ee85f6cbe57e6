"""A look fitted from a reference: paired (before and after) as a smooth 3D LUT, or unpaired (a graded frame
of other content) from what the grade did where the meaning of a colour is known.

Both give a (N, N, N, 3) table on sRGB-encoded values (:class:`portrait_studio.io.lut.Lut3D`'s convention),
so any fitted look applies, blends and exports as a ``.cube`` the same way.

**Paired.** Every pixel of the "before" frame is a sample of the look. The table's offset from the identity
is the least-squares fit of those samples through trilinear interpolation, each colour the frame shows
weighted alike (a face's thousands of skin pixels do not outvote a small blue), with a penalty on the
offset's second differences that fills the colours the frame does not show by extending its neighbours'
offsets linearly.

**Unpaired.** A graded frame alone says little about what its colours were before: copying its colours
(Reinhard's, MKL or histogram transfer) copies its *content* and does worse than doing nothing. What can be
read is where the original's meaning is known: a frame whose every pixel is grey was made black-and-white
(and its tint is the grade's); its deepest shadows and brightest highlights were near neutral, so their
colour is the grade's cast there, and their level is where the grade put black and white. Each reading is
shrunk toward "no change" by how much an ungraded photo's own content varies there.
"""
from __future__ import annotations

import numpy as np

from ...core.colour import linear_to_lab
from ...core.image import LUMA_709, linear_to_srgb, srgb_to_linear
from ...io.lut import identity_table

#: Grid size of a fitted look (the .cube it exports).
FIT_SIZE = 25
#: Pixels sampled from a pair to fit on.
_SAMPLES = 120_000


def paired_table(before: np.ndarray, after: np.ndarray, *, size: int = FIT_SIZE, smooth: float = 0.3) -> np.ndarray:
    """The smooth 3D LUT that maps `before` to `after` (both sRGB-encoded (H, W, 3), the same size).

    Parameters
    ----------
    smooth : float
        Weight of the curvature penalty relative to the mean sample weight per grid node.
    """
    from scipy import sparse
    from scipy.sparse.linalg import cg

    x = np.clip(before.reshape(-1, 3), 0, 1).astype(np.float64)
    y = np.clip(after.reshape(-1, 3), 0, 1).astype(np.float64)
    if len(x) > _SAMPLES:
        pick = np.random.default_rng(0).choice(len(x), _SAMPLES, replace=False)
        x, y = x[pick], y[pick]
    n = size
    p = x * (n - 1)
    i0 = np.minimum(p.astype(np.int64), n - 2)
    f = p - i0
    rows, cols, vals = [], [], []
    idx = np.arange(len(x))
    for dr in (0, 1):
        for dg in (0, 1):
            for db in (0, 1):
                w = (f[:, 0] if dr else 1 - f[:, 0]) * (f[:, 1] if dg else 1 - f[:, 1]) * (f[:, 2] if db else 1 - f[:, 2])
                node = ((i0[:, 0] + dr) * n + i0[:, 1] + dg) * n + i0[:, 2] + db
                rows.append(idx), cols.append(node), vals.append(w)
    # each colour the frame shows counts about alike, however many pixels show it (a face is not the look)
    cell = (i0[:, 0] * n + i0[:, 1]) * n + i0[:, 2]
    count = np.bincount(cell, minlength=n ** 3)[cell]
    weight = 1.0 / np.sqrt(count)
    weight *= len(x) / weight.sum()
    a = sparse.csr_matrix((np.concatenate(vals) * np.tile(weight, 8), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(len(x), n ** 3))
    ata = (a.T @ a).tocsr()
    scale = len(x) / n ** 3
    curv = _curvature(n)
    system = (ata + smooth * scale * (curv.T @ curv) + 1e-6 * scale * sparse.identity(n ** 3)).tocsr()
    rhs = a.T @ ((y - x) * weight[:, None])
    delta = np.stack([cg(system, rhs[:, c], rtol=1e-7, maxiter=3000)[0] for c in range(3)], axis=1)
    table = identity_table(n).reshape(-1, 3) + delta
    return np.clip(table, 0, 1).reshape(n, n, n, 3).astype(np.float32)


def _curvature(n: int):
    """Second differences of a function on the n³ grid along each axis, stacked (3·n·n·(n-2) × n³): zero
    for any linear function, so the penalty extends the offset linearly beyond the samples."""
    from scipy import sparse

    d2 = sparse.diags([np.ones(n - 2), -2 * np.ones(n - 2), np.ones(n - 2)], [0, 1, 2], shape=(n - 2, n))
    eye = sparse.identity(n)
    return sparse.vstack([sparse.kron(sparse.kron(d2, eye), eye), sparse.kron(sparse.kron(eye, d2), eye),
                          sparse.kron(sparse.kron(eye, eye), d2)]).tocsr()


# -- unpaired ----------------------------------------------------------------------------------------

#: A reference is black-and-white when 99% of its pixels are within this chroma (CIE a*b*) of grey.
_MONO_CHROMA = 3.0


def unpaired_table(reference: np.ndarray, *, size: int = FIT_SIZE) -> np.ndarray:
    """The look read from a graded frame alone (sRGB-encoded (H, W, 3)) as a 3D LUT (see the module)."""
    ref = np.asarray(reference, np.float32)
    step = max(1, int(np.sqrt(ref.shape[0] * ref.shape[1] / 250_000)))
    small = ref[::step, ::step]
    lab = linear_to_lab(srgb_to_linear(small)).reshape(-1, 3)
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    grid = identity_table(size).reshape(-1, 3)
    grid_lin = srgb_to_linear(grid)
    if np.quantile(chroma, 0.99) < _MONO_CHROMA:
        return _mono(grid_lin, lab).reshape(size, size, size, 3)
    return _casts(grid, lab).reshape(size, size, size, 3)


def _mono(grid_lin: np.ndarray, lab: np.ndarray) -> np.ndarray:
    """Black-and-white: the luminance, tinted as the reference is (its mean chroma per tone)."""
    y = grid_lin @ LUMA_709
    grey = np.repeat(y[:, None], 3, axis=1)
    tint = np.median(lab[:, 1:], axis=0)
    if np.hypot(*tint) < 0.5:
        return linear_to_srgb(grey)
    # a small tint: shift a*b* by the reference's median, at the grey's own lightness (first order in Lab)
    d_lab = np.array([0.0, tint[0], tint[1]])
    jac = _lab_jacobian(grey)
    shifted = grey + np.einsum("nij,j->ni", jac, d_lab)
    return linear_to_srgb(np.clip(shifted, 0, None))


def _lab_jacobian(rgb: np.ndarray) -> np.ndarray:
    """d(linear RGB)/d(Lab) at each colour (n, 3, 3), by finite differences of Lab."""
    eps = 1e-3
    base = linear_to_lab(rgb)
    j = np.stack([(linear_to_lab(rgb + eps * np.eye(3)[k]) - base) / eps for k in range(3)], axis=2)   # dLab/dRGB
    return np.linalg.pinv(j)


def _casts(grid: np.ndarray, lab: np.ndarray) -> np.ndarray:
    """Colour grade: the cast of the deepest shadows and the brightest highlights (their colour in the
    reference), blended across the tones, each shrunk toward no change."""
    L = lab[:, 0]
    lo, hi = np.quantile(L, [0.02, 0.98])
    dark = lab[L <= lo, 1:]
    bright = lab[L >= hi, 1:]
    # the neutral part of each: the less chromatic half (a shadow or highlight of colour is content)
    def cast(ab):
        c = np.hypot(ab[:, 0], ab[:, 1])
        return np.median(ab[c <= np.median(c)], axis=0) if len(ab) else np.zeros(2)
    c_dark, c_bright = cast(dark), cast(bright)
    shrink_dark, shrink_bright = 0.6, 0.4
    g_lin = srgb_to_linear(grid)
    g_lab = linear_to_lab(g_lin)
    t = np.clip(g_lab[:, 0] / 100.0, 0, 1)[:, None]
    d_ab = (1 - t) ** 2 * shrink_dark * c_dark + t ** 2 * shrink_bright * c_bright
    d_lab = np.concatenate([np.zeros((len(grid), 1)), d_ab], axis=1)
    out = g_lin + np.einsum("nij,nj->ni", _lab_jacobian(g_lin), d_lab)
    return linear_to_srgb(np.clip(out, 0, None))
