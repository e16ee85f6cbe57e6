"""Beauty benchmark: lipstick against a flat colour overlay, teeth whitening, and the speed of makeup, reshape
and retouch --teeth.

The protocol follows ../shared/checks/beauty.py with the project's own mesh (the figures are computed as in
tests/test_beauty.py): `makeup --lips "#9e1b32" --lip-finish matte` on the development portraits, scored in
linear-light chromaticity (hue error, saturation against the lipstick's), fine texture kept (log-luminance
high-pass, after / before) and the skin in a ring around the mouth (ΔE2000); the baseline is the lipstick's
colour laid over the mesh's lips at 70% in sRGB, as a sticker. Teeth: the London smiles' teeth yellowed in
linear light (blue −20%), then `retouch --teeth 1` with the skin work off.

    python bench/beauty.py time "makeup all" "12 MP"
    python bench/beauty.py quality
    python bench/beauty.py section
"""
from __future__ import annotations

import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from common import DATA, ROOT, SIZES, main, median_time, peak_rss_mb, photo_at, run_case, timing_table  # noqa: E402

CASES = ("makeup lips", "makeup all", "reshape all", "retouch teeth")
BUDGET = {case: {"1 MP": 0.100, "12 MP": 1.0} for case in CASES}
LIPSTICK = "#9e1b32"
PARAMS = {
    "makeup lips": ("makeup", {"lips": LIPSTICK, "lip_finish": "matte"}),
    "makeup all": ("makeup", {"lips": LIPSTICK, "lip_finish": "gloss", "blush": "#e0707a", "eyeshadow": "#6b4a3a",
                              "brows": "#3a2a20"}),
    "reshape all": ("reshape", {"slim": 0.5, "jaw": 0.5, "eye_size": 0.5, "nose": 0.5}),
    "retouch teeth": ("retouch", {"teeth": 1.0, "blemishes": 0.0, "redness": 0.0, "evenness": 0.0,
                                  "under_eye": 0.0, "shine": 0.0, "stray_hairs": False}),
}


def _figures():
    sys.path.insert(0, str(ROOT / "tests"))
    from test_beauty import lipstick_figures, teeth_figures  # the check's protocol, written once

    return lipstick_figures, teeth_figures


def time_case(case: str, size: str) -> dict:
    from portrait_studio import Portrait
    from portrait_studio.core import from_srgb8
    from portrait_studio.ops import get_operation

    p = Portrait(from_srgb8(photo_at(SIZES[size])))
    p.face()                                        # analysis cached, as in an interactive session
    op, kw = PARAMS[case]
    secs = median_time(lambda: get_operation(op)(p, **kw), repeat=3)
    return {"case": case, "size": size, "seconds": secs, "peak_mb": peak_rss_mb()}


def _sticker(image: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """The baseline: the lipstick's colour over the mesh's lips at 70%, in sRGB, edges feathered a pixel."""
    import cv2
    from portrait_studio.analysis.regions import LIPS_INNER, LIPS_OUTER
    from portrait_studio.core import linear_to_srgb, srgb_to_linear

    m = np.zeros(image.shape[:2], np.float32)
    cv2.fillPoly(m, [np.round(pts[LIPS_OUTER]).astype(np.int32)], 1.0)
    cv2.fillPoly(m, [np.round(pts[LIPS_INNER]).astype(np.int32)], 0.0)
    m = cv2.GaussianBlur(m, (0, 0), 1.0)[..., None] * 0.7
    colour = np.array([int(LIPSTICK[i:i + 2], 16) for i in (1, 3, 5)], np.float32) / 255
    srgb = linear_to_srgb(np.clip(image, 0, 1))
    return srgb_to_linear(srgb * (1 - m) + colour * m).astype(np.float32)


def quality() -> dict:
    from portrait_studio import Portrait
    from portrait_studio.analysis import MediaPipeBackend
    from portrait_studio.ops import get_operation

    lipstick_figures, teeth_figures = _figures()
    backend = MediaPipeBackend()
    rows = {"makeup": [], "sticker": []}
    for path in sorted((DATA / "portraits").glob("*.jpg")):
        p = Portrait.read(path, backend=backend)
        if not p.faces:
            continue
        pts = p.face().landmarks[:, :2]
        out = get_operation("makeup")(p, **PARAMS["makeup lips"][1]).image
        rows["makeup"].append(lipstick_figures(p.image, out, pts))
        rows["sticker"].append(lipstick_figures(p.image, _sticker(p.image, pts), pts))
    med = {k: {f: float(np.median([r[f] for r in v])) for f in v[0]} | {"ring_max": max(r["ring"] for r in v)}
           for k, v in rows.items()}
    teeth = []
    for path in sorted((DATA / "expressions").glob("*_smiling.jpg")):
        p = Portrait.read(path, backend=backend)
        f = teeth_figures(p)
        if f is None:                                # the mouth closed: no teeth to score
            continue
        teeth.append({k: f[k] for k in ("b_cut", "lift", "clipped", "lips")})
    t = {k: float(np.median([r[k] for r in teeth])) for k in teeth[0]} if teeth else {}
    if teeth:
        t.update(clipped_max=max(r["clipped"] for r in teeth), lips_max=max(r["lips"] for r in teeth))
    return {"faces": len(rows["makeup"]), "smiles": len(teeth), **med, "teeth": t}


def section() -> str:
    """This benchmark's part of BENCHMARKS.md (markdown)."""
    lines = timing_table("beauty.py", CASES, BUDGET)
    if sorted((DATA / "portraits").glob("*.jpg")):
        q = run_case("beauty.py", "quality")
        m, s, t = q["makeup"], q["sticker"], q["teeth"]
        quality = [
            f"| lipstick figure (medians of {q['faces']} portraits) | makeup --lip-finish matte | flat overlay at 70% "
            "| goal |", "|---|---|---|---|",
            f"| hue error, degrees (linear-light chromaticity) | {m['hue']:.1f} | {s['hue']:.1f} | ≤ 10 |",
            f"| saturation, share of the lipstick's | {m['sat']:.2f} | {s['sat']:.2f} | 0.75–1.25 |",
            f"| fine texture kept (log-luminance high-pass, after / before) | {m['texture']:.2f} | {s['texture']:.2f} "
            "| 0.85–1.15 |",
            f"| skin around the mouth, ΔE2000 (largest) | {m['ring_max']:.2f} | {s['ring_max']:.2f} | ≤ 1 |",
        ]
        if t:
            quality += [
                "", f"| teeth figure (`retouch --teeth 1`, skin work off, {q['smiles']} London smiles) | value | goal |",
                "|---|---|---|",
                f"| added yellowness removed (median) | {t['b_cut']:.0%} | ≥ 50% |",
                f"| lightness change, L* (median) | {t['lift']:+.1f} | 0 to +8 |",
                f"| newly clipped teeth pixels (largest) | {t['clipped_max']:.1%} | ≤ 1% |",
                f"| lips, ΔE2000 (largest) | {t['lips_max']:.2f} | ≤ 1 |",
            ]
    else:
        quality = [f"Quality figures skipped: no development portraits at {DATA / 'portraits'}."]
    return "\n".join([
        "## Beauty (makeup, reshape, retouch --teeth)", "",
        "`makeup --lips \"#9e1b32\" --lip-finish matte` on the development portraits against the same colour laid "
        "over the mesh's lips as a flat overlay; teeth yellowed in linear light and whitened by `retouch --teeth 1` "
        "(the protocol of ../shared/checks/beauty.py, scored with the project's own mesh and without the "
        "output's watermark, which alone moves the lips by 0.6–1.0 ΔE2000 in the check). Contact sheets of every "
        "control on six faces: `python bench/sheets.py makeup-lips-matte makeup-lips-gloss makeup-eyes-cheeks "
        "makeup-reference retouch-teeth-eyes reshape-slim-jaw reshape-eyes-nose`.", "",
        *quality, "",
        "Speed (analysis cached: faces and mesh already computed):", "", *lines, ""])


if __name__ == "__main__":
    main(time_case, section, quality=quality)
