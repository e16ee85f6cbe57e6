"""Expression benchmark: neutral -> smile on the London pairs (how far the mouth moved, the smile's pattern,
identity kept), detail and the rest of the photo kept; speed; and the smile direction's learning.

The protocol follows ../shared/checks/expression.py with the project's own mesh: for each pair in
../shared/data/expressions (the same person neutral and smiling), `expression --smile 1` on the neutral
photo; the result's mesh, in the frame of the pupils, against the real smiling photo's. Baselines: the
photo left alone (pattern 0) and the average smile laid on by an affine move of the mouth alone.

    python bench/expression.py learn        # rewrite ops/expression/smile_table.py from the pairs
    python bench/expression.py time expression "12 MP"
    python bench/expression.py section
"""
from __future__ import annotations

import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from common import DATA, ROOT, SIZES, median_time, peak_rss_mb, photo_at, run_case, timing_table, main  # noqa: E402

CASES = ("expression smile", "expression all controls")
BUDGET = {case: {"1 MP": 0.100, "12 MP": 1.0} for case in CASES}
TABLE = ROOT / "src" / "portrait_studio" / "ops" / "expression" / "smile_table.py"
# the points a smile moves besides the corners, as the check scores them
PATTERN = [61, 291, 0, 37, 267, 40, 270, 50, 280, 205, 425, 116, 345, 145, 374, 159, 386]


def pairs() -> list[tuple[pathlib.Path, pathlib.Path]]:
    found = sorted((DATA / "expressions").glob("*_neutral.jpg"))
    return [(n, n.with_name(n.name.replace("_neutral", "_smiling"))) for n in found
            if n.with_name(n.name.replace("_neutral", "_smiling")).exists()]


def _meshes(paths):
    from portrait_studio import Portrait
    from portrait_studio.analysis import MediaPipeBackend

    backend = MediaPipeBackend()
    return [Portrait.read(p, backend=backend).face().landmarks for p in paths]


def learn() -> list[str]:
    """The mean smile of the development pairs, in the frame of the pupils, written as a table module."""
    from portrait_studio.ops.expression.space import ZYGOMATIC, aligned, closed_lips, mirror_index, symmetrised

    found = pairs()
    if not found:
        sys.exit(f"no expression pairs at {DATA / 'expressions'}")
    neutral, smiling = _meshes([n for n, _ in found]), _meshes([s for _, s in found])
    shapes = np.array([aligned(m) for m in neutral])
    moves = np.array([aligned(s) - aligned(n) for n, s in zip(neutral, smiling)])[:, :468]
    mean_shape = shapes.mean(0)[:468]
    mirror = mirror_index(mean_shape)
    move = closed_lips(symmetrised(moves.mean(0), mirror), mean_shape)
    # above the eyes a smile moves nothing that these pairs can tell from a nod: faded out from the lids up
    fade = np.clip((mean_shape[:, 1] + 0.65) / 0.35, 0, 1)[:, None]
    move = move * fade
    # the corners' pull toward the cheekbones, as a share of the distance (least squares over pairs and sides)
    pulls = [(m[c], s[o] - s[c]) for m, s in zip(moves, shapes) for c, o in ZYGOMATIC]
    pull = sum(d @ v for d, v in pulls) / sum(v @ v for _, v in pulls)
    rows = ",\n".join("    (" + ", ".join(f"{v:.4f}" for v in r) + ")" for r in move)
    srows = ",\n".join("    (" + ", ".join(f"{v:.4f}" for v in r) + ")" for r in mean_shape)
    TABLE.write_text(f'''"""The mean smile of ten people, learned from the Face Research Lab London Set (L. DeBruine & B. Jones,
2017, doi:10.6084/m9.figshare.5047666.v5, licensed CC BY 4.0; adapted: measured, not copied): pairs 001-010
of ../shared/data/expressions, each person photographed neutral and smiling.

Written by ``python bench/expression.py learn``: the MediaPipe mesh (468 points) of each photo in the frame
of the pupils (image-left pupil at (0, 0), the other at (1, 0), y down), the smiling minus the neutral
positions, averaged over the pairs, made left-right symmetric, the lips kept closed (the lower lip follows the
upper one: the pairs' open mouths are not learned), and faded out above the eyes. Units: interocular
distances. Do not edit by hand.
"""
import numpy as np

#: (468, 2) displacement of each mesh point for ``--smile 1``, interocular distances, pupil frame.
SMILE = np.array([
{rows}
], np.float32)

#: the mouth corners' move toward their cheekbone (mesh points 227, 447), share of the distance
ZYGOMATIC_PULL = {pull:.4f}

#: (468, 2) the mean neutral shape of the same pairs, pupil frame (for the mirror map and the regions).
MEAN_SHAPE = np.array([
{srows}
], np.float32)
''')
    return [f"wrote {TABLE} from {len(found)} pairs"]


def time_case(case: str, size: str) -> dict:
    from portrait_studio import Portrait
    from portrait_studio.core import from_srgb8
    from portrait_studio.ops.expression import expression

    p = Portrait(from_srgb8(photo_at(SIZES[size])))
    p.face()                                        # analysis cached, as in an interactive session
    kw = {"smile": 1.0} if case == "expression smile" else \
        {"smile": 0.6, "brows": 0.3, "eyes": 0.2, "gaze_x": -0.3}
    secs = median_time(lambda: expression(p, **kw), repeat=3)
    return {"case": case, "size": size, "seconds": secs, "peak_mb": peak_rss_mb()}


def _scores(neutral, result, smiling) -> tuple[float, float]:
    from portrait_studio.ops.expression.space import aligned

    want, got = aligned(smiling) - aligned(neutral), aligned(result) - aligned(neutral)
    c = [61, 291]
    reached = float((got[c] * want[c]).sum() / (want[c] ** 2).sum())
    pattern = float(1 - np.linalg.norm(got[PATTERN] - want[PATTERN]) / np.linalg.norm(want[PATTERN]))
    return reached, pattern


def quality() -> dict:
    """Corners reached and pattern (median over the pairs) for --smile 1 and for the mean smile table warped
    in as it is (no per-face corner pull, no allowance for what the mesh under-reports); detail and outside."""
    import cv2
    from portrait_studio import Portrait
    from portrait_studio.analysis import MediaPipeBackend
    from portrait_studio.ops.expression import expression
    from portrait_studio.ops.expression.smile_table import SMILE
    from portrait_studio.ops.expression.space import to_pixels
    from portrait_studio.ops.expression.warp import apply_field, build_field

    backend = MediaPipeBackend()
    rows = {"expression": [], "mean table": []}
    detail, outside = [], []
    for n, s in pairs():
        p = Portrait.read(n, backend=backend)
        face = p.face()
        pts = face.landmarks
        real = Portrait.read(s, backend=backend).face().landmarks
        out = expression(p, smile=1.0).image
        pts2d = pts[:468, :2].astype(np.float64)
        base = apply_field(p.image, build_field(pts2d, to_pixels(SMILE, pts).astype(np.float64), p.shape, face.size))
        for name, img in (("expression", out), ("mean table", base)):
            rows[name].append(_scores(pts, Portrait(img, backend=backend).face().landmarks, real))
        x, y, w, h = (int(v) for v in face.box)
        lap = [float(np.sqrt((cv2.Laplacian(cv2.cvtColor(im[y:y + h, x:x + w], cv2.COLOR_RGB2GRAY),
                                            cv2.CV_32F) ** 2).mean())) for im in (out, p.image)]
        detail.append(lap[0] / lap[1])
        m = np.ones(p.shape, bool)
        m[max(0, int(y - 0.4 * h)):y + int(1.4 * h), max(0, int(x - 0.4 * w)):x + int(1.4 * w)] = False
        outside.append(float(np.abs(out - p.image)[m].max()) if m.any() else 0.0)
    med = {k: np.median(np.array(v), 0).tolist() for k, v in rows.items()}
    return {"pairs": len(detail), **med, "detail": float(np.median(detail)), "outside": float(max(outside))}


def section() -> str:
    """This benchmark's part of BENCHMARKS.md (markdown)."""
    lines = timing_table("expression.py", CASES, BUDGET)
    if pairs():
        q = run_case("expression.py", "quality")
        e, b = q["expression"], q["mean table"]
        quality = [
            "| figure | expression --smile 1 | mean smile table warped in | photo left alone | goal |",
            "|---|---|---|---|---|",
            f"| mouth corners: share of the real smile's move (median of {q['pairs']}) | {e[0]:.2f} | {b[0]:.2f} "
            "| 0 | ≥ 0.80 |",
            f"| the smile's pattern reproduced (median) | {e[1]:.2f} | {b[1]:.2f} | 0 | ≥ 0.50 |",
            f"| face detail kept (Laplacian energy, median) | {q['detail']:.2f} | – | 1 | 0.85–1.15 |",
            f"| largest change outside the face box grown by 40% (linear light) | {q['outside']:.4f} | – | 0 | ≤ 1/255 |",
        ]
    else:
        quality = [f"Quality figures skipped: no expression pairs at {DATA / 'expressions'}."]
    return "\n".join([
        "## Expression", "",
        "`--smile 1` on the neutral photo of each London pair (../shared/data/expressions, CC BY 4.0), scored "
        "with the project's own mesh in the frame of the pupils against the person's real smiling photo (the "
        "protocol of ../shared/checks/expression.py; these pairs are also the smile's development data, so "
        "the check's figures on other faces are the ones that count; identity is measured there). Contact "
        "sheets of every control at -1, 0.5 and 1 on six faces: `python bench/expression.py sheet`.", "",
        *quality, "",
        "Speed (analysis cached: faces and mesh already computed):", "", *lines, ""])

CONTROLS = ("smile", "smirk_left", "smirk_right", "brows", "eyes", "gaze_x", "gaze_y")
SHEET_FACES = ("001", "016", "031", "046", "061", "086")
SHEET_CROP = 300             # side of a face crop at 100%, pixels


def sheet() -> list[str]:
    """One contact sheet per control: six development faces (rows), the original and the control at -1, 0.5
    and 1 (columns), face crops at 100%, written to bench/out/sheets/expression-CONTROL.png."""
    import cv2
    from portrait_studio import Portrait
    from portrait_studio.analysis import MediaPipeBackend
    from portrait_studio.core import to_srgb8
    from portrait_studio.ops.expression import expression

    out_dir = ROOT / "bench" / "out" / "sheets"
    out_dir.mkdir(parents=True, exist_ok=True)
    backend = MediaPipeBackend()
    faces = [Portrait.read(p, backend=backend) for s in SHEET_FACES
             for p in sorted((DATA / "portraits").glob(f"{s}.jpg"))]
    rows = {c: [] for c in CONTROLS}
    for p in faces:
        x, y, w, h = p.face().box
        cx, cy = int(x + w / 2), int(y + h * 0.45)
        x0 = int(np.clip(cx - SHEET_CROP // 2, 0, p.shape[1] - SHEET_CROP))
        y0 = int(np.clip(cy - SHEET_CROP // 2, 0, p.shape[0] - SHEET_CROP))
        cut = lambda im: to_srgb8(im)[y0:y0 + SHEET_CROP, x0:x0 + SHEET_CROP]
        for c in CONTROLS:
            tiles = [cut(p.image)] + [cut(expression(p, **{c: v}).image) for v in (-1.0, 0.5, 1.0)]
            gap = np.full((SHEET_CROP, 4, 3), 255, np.uint8)
            rows[c].append(np.hstack([t for tile in tiles for t in (tile, gap)][:-1]))
    written = []
    for c, items in rows.items():
        grid = np.vstack([r for item in items for r in (item, np.full((4, item.shape[1], 3), 255, np.uint8))][:-1])
        for i, label in enumerate(("original", f"{c} -1", f"{c} 0.5", f"{c} 1")):
            cv2.putText(grid, label, (i * (SHEET_CROP + 4) + 6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 0), 2)
        path = out_dir / f"expression-{c}.png"
        cv2.imwrite(str(path), grid[:, :, ::-1])
        written.append(str(path))
    return written


if __name__ == "__main__":
    main(time_case, section, learn=learn, sheet=sheet, quality=quality)
