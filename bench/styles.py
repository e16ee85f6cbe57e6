"""Styles benchmark: every built-in style on the development portraits against OpenCV's own artistic filters,
by the protocol of ../shared/checks/styles.py, and speed.

For each style (and each baseline), over six portraits (the check's choice of them): how much it changes the
picture (mean dE2000 from the photo; goal ≥ 6), whether it is a style and not a colour treatment (SSIM of its
grey image to the photo's; goal ≤ 0.60), and whether the face stays the person's (dlib's ResNet descriptor
distance to the photo's, goal ≤ 0.45, a different person ≥ 0.6; and in how many photos dlib still finds the
face). Medians over the photos. Baselines: OpenCV's stylization and pencil sketch (photo module), xphoto's oil
painting, and posterising to four levels. The identity columns need dlib (the project's `checks` extra).

    python bench/styles.py section
    python bench/styles.py quality      # the table's figures as JSON
    python bench/styles.py sheet        # bench/out/styles/overview-N.png: every style on six whole portraits
"""
from __future__ import annotations

import os
import pathlib
import sys

import cv2
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from common import (DATA, ROOT, SIZES, first_call_time, labelled_tiles, main, peak_rss_mb, photo_at,  # noqa: E402
                    run_case, timing_table)

STYLE_NAMES = ("oil", "watercolour", "pencil", "ink", "comic", "pop-art")
CASES = tuple(f"style {n}" for n in STYLE_NAMES)
#: The issue's goal is for 12 MP; a 1 MP preview costs about as much (the stroke count follows the face, not the
#: pixels), well over the design's 100 ms slider budget: no budget claimed there.
BUDGET = {case: {"12 MP": 2.0} for case in CASES}
OUT = ROOT / "bench" / "out" / "styles"
N_PHOTOS = 6


def time_case(case: str, size: str) -> dict:
    """One style's first call on a photo whose face analysis is done (the style's own guide not yet made)."""
    from portrait_studio.analysis import MediaPipeBackend
    from portrait_studio.core import from_srgb8
    from portrait_studio.ops.style import style

    name = case.split()[1]
    image = from_srgb8(photo_at(SIZES[size]))
    secs = first_call_time(image, MediaPipeBackend(), lambda p: style(p, style=name), repeat=3)
    return {"case": case, "size": size, "seconds": secs, "peak_mb": peak_rss_mb()}


def photos() -> list[pathlib.Path]:
    """The check's six portraits."""
    found = sorted((DATA / "portraits").glob("*.jpg"))
    return found[3::max(1, len(found) // N_PHOTOS)][:N_PHOTOS]


def baselines() -> dict:
    """OpenCV's filters, each a function of an sRGB uint8 RGB image."""
    def posterise(rgb):
        return ((rgb // 64) * 64 + 32).astype(np.uint8)

    def pencil(rgb):
        grey, _ = cv2.pencilSketch(rgb[:, :, ::-1].copy(), sigma_s=60, sigma_r=0.07, shade_factor=0.05)
        return np.repeat(grey[..., None], 3, 2)

    return {
        "OpenCV stylization": lambda rgb: cv2.stylization(rgb[:, :, ::-1].copy(), sigma_s=60, sigma_r=0.45)[:, :, ::-1],
        "OpenCV pencil sketch": pencil,
        "xphoto oil painting": lambda rgb: cv2.xphoto.oilPainting(rgb[:, :, ::-1].copy(), 7, 1)[:, :, ::-1],
        "posterise, 4 levels": posterise,
    }


def quality() -> dict:
    from skimage.color import deltaE_ciede2000, rgb2lab
    from skimage.metrics import structural_similarity

    from portrait_studio import Portrait
    from portrait_studio.analysis import MediaPipeBackend
    from portrait_studio.core import to_srgb8
    from portrait_studio.ops.style import style

    try:
        import dlib
        import face_recognition_models as frm
    except ImportError:
        dlib = None
    if dlib is not None:
        models = os.path.join(os.path.dirname(frm.__file__), "models")
        detector = dlib.get_frontal_face_detector()
        shape5 = dlib.shape_predictor(os.path.join(models, "shape_predictor_5_face_landmarks.dat"))
        resnet = dlib.face_recognition_model_v1(os.path.join(models, "dlib_face_recognition_resnet_model_v1.dat"))

    def embedding(rgb):
        faces = detector(rgb, 1)
        if not faces:
            return None
        f = max(faces, key=lambda r: r.width() * r.height())
        return np.array(resnet.compute_face_descriptor(rgb, shape5(rgb, f)))

    backend = MediaPipeBackend()
    methods = {n: None for n in STYLE_NAMES} | baselines()
    scores = {m: {"dE": [], "ssim": [], "id": [], "lost": 0, "n": 0} for m in methods}
    for path in photos():
        p = Portrait.read(path, backend=backend)
        rgb = to_srgb8(p.image)
        e0 = embedding(rgb) if dlib is not None else None
        lab0, grey0 = rgb2lab(rgb / 255), cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        for m, fn in methods.items():
            res = to_srgb8(style(p, style=m).image) if fn is None else fn(rgb)
            s = scores[m]
            s["n"] += 1
            s["dE"].append(float(deltaE_ciede2000(lab0, rgb2lab(res / 255)).mean()))
            s["ssim"].append(float(structural_similarity(grey0, cv2.cvtColor(res, cv2.COLOR_RGB2GRAY), data_range=255)))
            if e0 is not None:
                e1 = embedding(np.ascontiguousarray(res))
                if e1 is None:
                    s["lost"] += 1
                else:
                    s["id"].append(float(np.linalg.norm(e1 - e0)))
    rows = []
    for m, s in scores.items():
        rows.append({"method": m, "ours": m in STYLE_NAMES, "dE": float(np.median(s["dE"])),
                     "ssim": float(np.median(s["ssim"])),
                     "id": float(np.median(s["id"])) if s["id"] else None, "lost": s["lost"], "n": s["n"],
                     "identity": dlib is not None})
    return {"rows": rows}


def sheet() -> list[str]:
    """Every style on the six portraits, whole frames reduced: one sheet per three portraits."""
    from portrait_studio import Portrait
    from portrait_studio.core import to_srgb8
    from portrait_studio.ops.style import style

    OUT.mkdir(parents=True, exist_ok=True)
    rows, written = [], []
    for path in photos():
        p = Portrait.read(path)
        images = [to_srgb8(p.image)] + [to_srgb8(style(p, style=n).image) for n in STYLE_NAMES]
        rows.append(np.hstack(labelled_tiles(images, ["photo", *STYLE_NAMES], side=300)))
    for i in range(0, len(rows), 3):
        out = OUT / f"overview-{i // 3 + 1}.png"
        cv2.imwrite(str(out), np.vstack(rows[i:i + 3])[:, :, ::-1])
        written.append(str(out))
    return written


def section() -> str:
    lines = timing_table("styles.py", CASES, BUDGET)
    if photos():
        q = run_case("styles.py", "quality")["rows"]
        table = ["| method | dE2000 from the photo (≥ 6) | grey SSIM to the photo (≤ 0.60) | "
                 "identity distance (≤ 0.45) | face lost by dlib |", "|---|---|---|---|---|"]
        for r in q:
            ident = f"{r['id']:.2f}" if r["id"] is not None else ("–" if not r["identity"] else "all lost")
            lost = f"{r['lost']}/{r['n']}" if r["identity"] else "–"
            name = f"**{r['method']}**" if r["ours"] else r["method"]
            table.append(f"| {name} | {r['dE']:.1f} | {r['ssim']:.2f} | {ident} | {lost} |")
        note = "" if q[0]["identity"] else " (identity columns skipped: dlib is not installed; `pip install .[checks]`)"
    else:
        table, note = [f"Quality figures skipped: no development data at {DATA}."], ""
    return "\n".join([
        "## Styles", "",
        "Every built-in style (bold) against OpenCV's artistic filters on six development portraits, the "
        "protocol of ../shared/checks/styles.py; medians over the photos" + note + ":", "", *table, "",
        "Contact sheets: `python bench/sheets.py style-oil ...` (faces at 100%) and `python bench/styles.py "
        "sheet` (whole frames, bench/out/styles/overview-N.png).", "",
        "Speed (one style's first call on a photo whose face analysis is done; the style is drawn at a working "
        "size of 1400 px on the long side and enlarged):", "", *lines, ""])


if __name__ == "__main__":
    main(time_case, section, quality=quality, sheet=sheet)
