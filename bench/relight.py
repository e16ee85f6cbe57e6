"""Relighting benchmarks: Extended Yale B (relit vs real photo; light direction), albedo drift on the
development portraits, speed at 1 MP and 12 MP, and a gallery of every setup.

    python bench/relight.py time "relight (loop)" "12 MP"
    python bench/relight.py section

Yale B is research-use only and never shipped: it is used where YALE points at a local CroppedYale folder
(or /work/yale/CroppedYale exists), and its figures are skipped otherwise. Pictures go to bench/out/.
"""
from __future__ import annotations

import glob
import os
import pathlib
import re
import sys

import cv2
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from common import DATA, ROOT, SIZES, median_time, peak_rss_mb, photo_at, run_case, timing_table, main  # noqa: E402

CASES = ("relight (loop)", "relight (match-light)")
BUDGET = {c: {"1 MP": 0.100, "12 MP": 1.0} for c in CASES}
YALE = pathlib.Path(os.environ.get("YALE") or "/work/yale/CroppedYale")
YALE_PEOPLE = int(os.environ.get("YALE_PEOPLE", 10))        # yaleB01-yaleB10: the development people
OUT = ROOT / "bench" / "out"
GALLERY = ("001.jpg", "016.jpg", "041.jpg")


def time_case(case: str, size: str) -> dict:
    """Relight with the analysis (faces, geometry, the light estimate) cached, as in an interactive preview."""
    from portrait_studio import Portrait
    from portrait_studio.core import from_srgb8
    from portrait_studio.ops import get_operation
    from portrait_studio.render import relight_to_sh

    p = Portrait(from_srgb8(photo_at(SIZES[size])))
    op = get_operation("relight")
    op(p, setup="loop")                                       # analysis, geometry and estimate, once
    if case == "relight (loop)":
        secs = median_time(lambda: op(p, setup="loop"))
    else:
        sh = p.lighting().sh
        secs = median_time(lambda: relight_to_sh(p, sh))
    return {"case": case, "size": size, "seconds": secs, "peak_mb": peak_rss_mb()}


def _yale_input(path):
    """As the reference check does: pad the tight crop with its median grey, upscale 2x, grey to RGB."""
    g = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    g = np.pad(g, 60, constant_values=int(np.median(g)))
    g = cv2.resize(g, (g.shape[1] * 2, g.shape[0] * 2), interpolation=cv2.INTER_CUBIC)
    return np.repeat(g[..., None], 3, axis=2)


def _yale_output(rgb8, shape):
    g = cv2.cvtColor(rgb8, cv2.COLOR_RGB2GRAY)
    g = cv2.resize(g, (shape[1] + 120, shape[0] + 120), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255
    return g[60:60 + shape[0], 60:60 + shape[1]]


def _yale_direction(name):
    a, e = re.search(r"A([+-]\d+)E([+-]\d+)", name).groups()
    return -int(a), int(e)                                    # Yale counts azimuth toward the image's left


def yale() -> dict:
    """The reference check's protocol, in process: relit/unchanged RMSE and SSIM, direction error."""
    from skimage.metrics import structural_similarity

    from portrait_studio import Portrait
    from portrait_studio.analysis import MediaPipeBackend
    from portrait_studio.analysis.lighting import direction
    from portrait_studio.core import from_srgb8, to_srgb8
    from portrait_studio.ops import get_operation

    backend, op = MediaPipeBackend(), get_operation("relight")
    rmse_r, ssim_r, ssim_o, angles, missing = [], [], [], [], 0
    for folder in sorted(YALE.glob("yaleB*"))[:YALE_PEOPLE]:
        front = sorted(folder.glob("*_P00A+000E+00.pgm"))
        if not front:
            continue
        ref = cv2.imread(str(front[0]), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255
        h, w = ref.shape
        y, x = np.mgrid[:h, :w]
        m = ((x - w / 2) / (0.42 * w)) ** 2 + ((y - h / 2) / (0.46 * h)) ** 2 <= 1
        p = Portrait(from_srgb8(_yale_input(front[0])), backend=backend)
        for t in sorted(folder.glob("*_P00A*.pgm")):
            az, el = _yale_direction(t.name)
            if abs(az) > 70 or not 0 <= el <= 45 or "+000E+00" in t.name:
                continue
            gt = cv2.imread(str(t), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255
            out = _yale_output(to_srgb8(op(p, azimuth=az, elevation=el).image), ref.shape)

            def rmse(a):
                g = (a[m] * gt[m]).sum() / max((a[m] ** 2).sum(), 1e-9)
                return float(np.sqrt(((g * a[m] - gt[m]) ** 2).mean()))
            rmse_r.append(rmse(out) / max(rmse(ref), 1e-9))
            ssim_r.append(structural_similarity(out, gt, data_range=1.0))
            ssim_o.append(structural_similarity(ref, gt, data_range=1.0))
            q = Portrait(from_srgb8(_yale_input(t)), backend=backend)
            if not q.faces:
                missing += 1
                continue
            est = q.lighting()
            angles.append(float(np.degrees(np.arccos(np.clip(
                direction(az, el) @ direction(est.azimuth, est.elevation), -1, 1)))))
    return {"pairs": len(rmse_r), "rmse_ratio": float(np.mean(rmse_r)), "ssim_relit": float(np.mean(ssim_r)),
            "ssim_unchanged": float(np.mean(ssim_o)), "angle_median": float(np.median(angles)),
            "angle_mean": float(np.mean(angles)), "estimates": len(angles), "no_face": missing,
            "people": YALE_PEOPLE}


def drift() -> dict:
    """--match-light with the photo itself (skin ΔE2000), skin hue shift of every setup; writes the gallery."""
    from portrait_studio import Portrait
    from portrait_studio.analysis import MediaPipeBackend
    from portrait_studio.core import to_srgb8
    from portrait_studio.core.colour import delta_e, linear_to_lab
    from portrait_studio.ops.relight import SETUPS
    from portrait_studio.ops import get_operation

    backend, op = MediaPipeBackend(), get_operation("relight")
    des, hues, worst = [], [], ("", 0.0)
    OUT.mkdir(parents=True, exist_ok=True)
    for path in sorted((DATA / "portraits").glob("*.jpg")):
        p = Portrait.read(path, backend=backend)
        if not p.faces:
            continue
        skin = p.region("skin") > 0.5
        same = op(p, match_light=str(path)).image
        des.append(float(delta_e(linear_to_lab(p.image[skin]), linear_to_lab(same[skin])).mean()))

        before = linear_to_lab(p.image[skin][::7])

        def hue_shift(img):
            """Chroma-weighted mean of the per-pixel hue change, degrees (grey pixels have no hue)."""
            after = linear_to_lab(img[skin][::7])
            dh = np.degrees(np.arctan2(after[:, 2], after[:, 1]) - np.arctan2(before[:, 2], before[:, 1]))
            dh = np.abs((dh + 180) % 360 - 180)
            w = np.hypot(before[:, 1], before[:, 2])
            return float((dh * w).sum() / max(w.sum(), 1e-9))
        tiles = [to_srgb8(p.image)]
        for name in SETUPS:
            out = op(p, setup=name).image
            d = hue_shift(out)
            hues.append(d)
            if d > worst[1]:
                worst = (f"{path.name} {name}", d)
            if path.name in GALLERY:
                tiles.append(to_srgb8(out))
        if path.name in GALLERY:
            _gallery(tiles, ["original", *SETUPS], OUT / f"relight_{path.stem}.jpg")
    return {"photos": len(des), "de_mean": float(np.mean(des)), "de_max": float(np.max(des)),
            "hue_mean": float(np.mean(hues)), "hue_max": float(np.max(hues)), "hue_worst": worst[0]}


REAL_SETUPS = ("loop", "rembrandt", "butterfly")


def real_photos() -> dict:
    """The faults a photographer sees first, per setup over the development portraits (the measures of
    ../shared/checks/real_photos.py, on this project's own regions): skin saturation kept (linear-light
    chromaticity), newly clipped share of the person, hard steps in the light, and how much the light changed."""
    from portrait_studio import Portrait
    from portrait_studio.analysis import MediaPipeBackend
    from portrait_studio.core import to_srgb8
    from portrait_studio.ops import get_operation

    op, backend = get_operation("relight"), MediaPipeBackend()
    lum = lambda u8: _lin(u8) @ np.float32([0.2126, 0.7152, 0.0722])            # noqa: E731
    figures = {s: {"sat": [], "clip": [], "steps": [], "effect": []} for s in REAL_SETUPS}
    for path in sorted((DATA / "portraits").glob("*.jpg")):
        p = Portrait.read(path, backend=backend)
        before = to_srgb8(p.image)
        skin, face = p.region("skin") > 0.5, p.region("face") > 0.5
        person = (p.person_matte() > 0.5).astype(np.uint8)
        inner = cv2.erode(person, np.ones((9, 9), np.uint8)).astype(bool)
        width = float(np.ptp(p.face().landmarks[:468, 0]))
        for setup in REAL_SETUPS:
            after = to_srgb8(op(p, setup=setup).image)
            f = figures[setup]
            f["sat"].append(_saturation(after, skin) / _saturation(before, skin))
            f["clip"].append(float(((after.max(2) >= 250) & (before.max(2) < 250))[person > 0].mean()))
            change = np.log((lum(after) + 2e-3) / (lum(before) + 2e-3))
            lr = cv2.GaussianBlur(change, (0, 0), 1.0)
            grad = np.hypot(cv2.Sobel(lr, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(lr, cv2.CV_32F, 0, 1, ksize=3)) / 8
            f["steps"].append(float((grad[inner] * 0.01 * width > 0.5).mean()))
            f["effect"].append(float(np.abs(change[face] - np.median(change[face])).mean()))
    return {s: {"photos": len(f["sat"]), "sat_min": min(f["sat"]), "sat_max": max(f["sat"]),
                "clip_max": max(f["clip"]), "steps_max": max(f["steps"]), "effect_min": min(f["effect"])}
            for s, f in figures.items()}


def _lin(u8: np.ndarray) -> np.ndarray:
    x = u8.astype(np.float32) / 255
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def _saturation(u8: np.ndarray, mask: np.ndarray) -> float:
    """Median distance of linear-light chromaticity (r, g) from the white point over `mask`."""
    x = _lin(u8)[mask]
    c = x[:, :2] / (x.sum(1, keepdims=True) + 1e-6) - 1 / 3
    return float(np.median(np.hypot(c[:, 0], c[:, 1])))


def _gallery(tiles, names, path, side=360):
    row = []
    for t, n in zip(tiles, names):
        s = side / max(t.shape[:2])
        t = cv2.resize(t, (round(t.shape[1] * s), round(t.shape[0] * s)), interpolation=cv2.INTER_AREA)
        t = cv2.copyMakeBorder(t, 0, side - t.shape[0], 0, side - t.shape[1], cv2.BORDER_CONSTANT)
        for colour, width in (((0, 0, 0), 5), ((255, 255, 255), 2)):     # outlined: legible on white too
            cv2.putText(t, n, (8, side - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.7, colour, width, cv2.LINE_AA)
        row.append(t)
    grid = np.vstack([np.hstack(row[i:i + 4] + [np.zeros_like(row[0])] * (4 - len(row[i:i + 4])))
                      for i in range(0, len(row), 4)])
    cv2.imwrite(str(path), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])


def section() -> str:
    """This benchmark's part of BENCHMARKS.md (markdown)."""
    lines = timing_table("relight.py", CASES, BUDGET)
    quality = ["| figure | value | baseline | goal |", "|---|---|---|---|"]
    if glob.glob(str(YALE / "yaleB01" / "*.pgm")):
        y = run_case("relight.py", "yale")
        quality += [
            f"| Yale B: relit RMSE / unchanged RMSE, mean of {y['pairs']} pairs ({y['people']} people) | "
            f"{y['rmse_ratio']:.2f} | 1.00 (the unchanged input) | ≤ 0.60 |",
            f"| Yale B: SSIM to the real photo | {y['ssim_relit']:.3f} | {y['ssim_unchanged']:.3f} | – |",
            f"| Yale B: light direction error, median (mean) of {y['estimates']} photos | "
            f"{y['angle_median']:.1f}° ({y['angle_mean']:.1f}°) | – | ≤ 12° |",
        ]
    else:
        quality.append(f"| Yale B figures skipped: no local copy at {YALE} (set YALE) | – | – | – |")
    if (DATA / "portraits").is_dir():
        d = run_case("relight.py", "drift")
        quality += [
            f"| --match-light with the photo itself: skin ΔE2000, mean (max) of {d['photos']} portraits | "
            f"{d['de_mean']:.3f} ({d['de_max']:.3f}) | – | ≤ 1.0 |",
            f"| setups: skin hue shift per pixel (chroma-weighted), mean (max: {d['hue_worst']}) | {d['hue_mean']:.2f}° ({d['hue_max']:.2f}°) "
            f"| – | ≤ 3° |",
        ]
        r = run_case("relight.py", "real")
        for setup, v in r.items():
            quality += [
                f"| `--setup {setup}` on {v['photos']} portraits: skin saturation kept, min–max | "
                f"{v['sat_min']:.2f}–{v['sat_max']:.2f} | 1.00 | 0.95–1.05 |",
                f"| `--setup {setup}`: newly clipped, worst share of the person | {v['clip_max']:.1%} | – | ≤ 2% |",
                f"| `--setup {setup}`: hard steps in the light, worst share of the person | {v['steps_max']:.3%} | "
                f"– | ≤ 0.05% |",
                f"| `--setup {setup}`: light changed over the face (mean abs. deviation of log), min | "
                f"{v['effect_min']:.2f} | 0 (unchanged) | ≥ 0.10 |"]
        gallery = (f"Gallery of every setup on {', '.join(GALLERY)}: `bench/out/relight_*.jpg`; face crops at 100%, "
                   "before | after: `python bench/sheets.py relight-loop relight-rembrandt relight-butterfly`.")
    else:
        gallery = f"Portrait figures skipped: no development data at {DATA}."
    return "\n".join([
        "## Relight", "",
        "Yale B protocol of `../shared/checks/relight.py`: the frontal-light photo relit toward each light with "
        "|azimuth| ≤ 70°, 0 ≤ elevation ≤ 45° and compared with the real photo under it (face ellipse, one "
        "global gain); the light direction estimated on each of those photos.", "",
        *quality, "", gallery, "",
        "Speed with the analysis cached (faces, subject geometry, light estimate), as in a preview:", "",
        *lines, ""])


if __name__ == "__main__":
    main(time_case, section, yale=yale, drift=drift, real=real_photos)
