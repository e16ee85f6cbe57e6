"""Refocus benchmarks: layered scenes against an exact thin-lens reference, the iPhone files, speed, a gallery.

    python bench/refocus.py time "depth cached" "12 MP"   # one timing case in its own process
    python bench/refocus.py section                       # this benchmark's part of BENCHMARKS.md
    python bench/refocus.py gallery                       # the phone files refocused, bench/out/refocus/

Quality figures need ../shared/data (or DATA=folder): portraits/ for the layered scenes (the protocol of
../shared/checks/refocus.py, in-process, REFOCUS_SCENES scenes with REFOCUS_SAMPLES aperture samples), depth/
for the iPhone files.
"""
from __future__ import annotations

import os
import pathlib
import sys

import cv2
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from common import DATA, ROOT, SIZES, first_call_time, median_time, peak_rss_mb, photo_at, run_case, timing_table, main  # noqa: E402

CASES = ("depth cached", "first call")
BUDGET = {"depth cached": {"1 MP": 0.150, "12 MP": 2.0}, "first call": {"12 MP": 2.0}}
OUT = ROOT / "bench" / "out" / "refocus"
F, SENSOR, S_SUBJ, D_BG = 85.0, 36.0, 1.5, 6.0                 # the check's camera and scene, metres
N_SCENES = int(os.environ.get("REFOCUS_SCENES", 6))
SAMPLES = int(os.environ.get("REFOCUS_SAMPLES", 200))
SETUPS = [(5.6, S_SUBJ, "subject sharp f/5.6"), (2.0, S_SUBJ, "subject sharp f/2"), (2.8, D_BG, "background sharp f/2.8")]


def _blur_80px_f_number(width: int) -> float:
    """The f-number at which the background 6 m away blurs into an 80 px disc on a 12 MP frame (the same
    f-number at 1 MP, where the disc is smaller in proportion)."""
    c80 = 80.0 * SENSOR / 4032                                  # mm on the sensor
    return F * F / (c80 * (S_SUBJ * 1000 - F)) * (D_BG - S_SUBJ) / D_BG


def _scene_depth(portrait) -> np.ndarray:
    """The person at 1.5 m before a backdrop at 6 m, from the person matte (hard), metres."""
    return np.where(portrait.person_matte() > 0.5, S_SUBJ, D_BG).astype(np.float32)


def time_case(case: str, size: str) -> dict:
    from portrait_studio import Portrait
    from portrait_studio.core import from_srgb8
    from portrait_studio.ops import get_operation

    op = get_operation("refocus")
    image = from_srgb8(photo_at(SIZES[size]))
    warm = Portrait(image)
    depth = Portrait(np.repeat(_scene_depth(warm)[..., None], 3, -1))
    kw = dict(depth=depth, focal_length=F, sensor_width=SENSOR, f_number=_blur_80px_f_number(image.shape[1]),
              focus_distance=S_SUBJ)
    op(warm, **kw)                                              # models and caches warm
    if case == "depth cached":
        secs = median_time(lambda: op(warm, **kw), repeat=5)
    else:                                                         # analysis cached, the depth is not
        secs = first_call_time(image, warm.backend, lambda p: op(p, **kw))
    return {"case": case, "size": size, "seconds": secs, "peak_mb": peak_rss_mb()}


# -- the layered scenes (the protocol of ../shared/checks/refocus.py) -----------------------------------------

def _lin(u8):
    x = u8.astype(np.float32) / 255
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


def _srgb(x):
    x = np.clip(x, 0, 1)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)


def _coc_px(n, s, d, w):
    return F * F / (n * (s * 1000 - F)) * (d - s) / d / 2 * w / SENSOR


def _shift(img, dx, dy):
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _exact(layers):
    rng = np.random.default_rng(0)
    acc = np.zeros_like(layers[0][0])
    for _ in range(SAMPLES):
        r, t = np.sqrt(rng.uniform()), rng.uniform(0, 2 * np.pi)
        u = np.array([r * np.cos(t), r * np.sin(t)])
        img = None
        for rgb, a, c in layers:
            rs, as_ = _shift(rgb, *(c * u)), _shift(a, *(c * u))[..., None]
            img = rs if img is None else rs * as_ + img * (1 - as_)
        acc += img
    return acc / SAMPLES


def _disk(r):
    r = max(abs(r), 0.5)
    k = int(np.ceil(r))
    y, x = np.mgrid[-k:k + 1, -k:k + 1]
    m = ((x * x + y * y) <= r * r).astype(np.float32)
    return m / m.sum()


def scenes() -> dict:
    """Edge-band and whole-frame PSNR (sRGB) against the exact render, ours and the naive per-pixel blur."""
    import mediapipe as mp

    from portrait_studio import Portrait
    from portrait_studio.ops import get_operation

    op = get_operation("refocus")
    seg = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)
    photos = sorted((DATA / "portraits").glob("*.jpg"))
    half, w = len(photos) // 2, 800
    res = {name: {"ours": [], "naive": [], "ours_band": [], "naive_band": []} for *_, name in SETUPS}
    for i in range(min(N_SCENES, half)):
        subj = cv2.resize(cv2.imread(str(photos[i]))[:, :, ::-1], (w, w), interpolation=cv2.INTER_AREA).copy()
        bg = cv2.resize(cv2.imread(str(photos[half + i]))[:, :, ::-1], (w, w), interpolation=cv2.INTER_AREA).copy()
        a = cv2.GaussianBlur((seg.process(subj).segmentation_mask > 0.5).astype(np.float32), (0, 0), 0.7)
        ls, lb = _lin(subj), _lin(bg)
        flat8 = (_srgb(ls * a[..., None] + lb * (1 - a[..., None])) * 255 + 0.5).astype(np.uint8)
        flat = _lin(flat8)
        depth = np.where(a > 0.5, S_SUBJ, D_BG).astype(np.float32)
        p = Portrait(flat)
        dp = Portrait(np.repeat(depth[..., None], 3, -1))
        for n, s, name in SETUPS:
            cb, cs = _coc_px(n, s, D_BG, w), _coc_px(n, s, S_SUBJ, w)
            ref = _srgb(_exact([(lb, np.ones_like(a), cb), (ls, a, cs)]))
            naive = np.empty_like(flat)
            for d, c in ((S_SUBJ, cs), (D_BG, cb)):
                sel = depth == d
                naive[sel] = cv2.filter2D(flat, -1, _disk(c))[sel]
            out = op(p, depth=dp, focal_length=F, sensor_width=SENSOR, f_number=n, focus_distance=s).image
            ours = np.round(_srgb(out) * 255) / 255
            m_all = np.zeros(a.shape, bool)
            m_all[16:-16, 16:-16] = True
            width = int(2 * max(abs(cb), abs(cs)))
            k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1, 2 * width + 1))
            hard = (a > 0.5).astype(np.uint8)
            band = (cv2.dilate(hard, k) - cv2.erode(hard, k)).astype(bool) & m_all
            psnr = lambda x, m: float(10 * np.log10(1 / max(((x - ref) ** 2)[m].mean(), 1e-12)))  # noqa: E731
            r = res[name]
            r["ours"].append(psnr(ours, m_all)), r["naive"].append(psnr(_srgb(naive), m_all))
            r["ours_band"].append(psnr(ours, band)), r["naive_band"].append(psnr(_srgb(naive), band))
    return {name: {k: float(np.mean(v)) for k, v in r.items()} | {"n": len(r["ours"])} for name, r in res.items()}


# -- the iPhone files ----------------------------------------------------------------------------------------

def _sharpness(gray, m):
    lap = cv2.Laplacian(gray.astype(np.float32), cv2.CV_32F)
    return float(np.sqrt((lap[m] ** 2).mean()))


def phones() -> dict:
    """Each phone file at f/1.4 from its own depth: detail kept on the head (the top quarter of the phone's
    person matte; and in the check's face box when MediaPipe finds a face) and on the far background."""
    from portrait_studio import Portrait
    from portrait_studio.core import to_srgb8
    from portrait_studio.ops import get_operation

    import mediapipe as mp

    op = get_operation("refocus")
    det = mp.solutions.face_detection.FaceDetection(model_selection=1)
    rows = {}
    for f in sorted((DATA / "depth").glob("*")):
        p = Portrait.read(f)
        stored = p.stored_depth()
        if stored is None:
            continue
        out = op(p, f_number=1.4)
        g0 = cv2.cvtColor(to_srgb8(p.image), cv2.COLOR_RGB2GRAY)
        g1 = cv2.cvtColor(to_srgb8(out.image), cv2.COLOR_RGB2GRAY)
        h, w = p.shape
        matte = cv2.resize(stored.matte, (w, h)) > 0.5
        r = np.nonzero(matte.any(axis=1))[0]
        head = matte.copy()
        head[r[0] + (r[-1] - r[0]) // 4:] = False
        far = (cv2.resize(stored.depth, (w, h)) > np.percentile(stored.depth, 80)) & (
            cv2.dilate(matte.astype(np.uint8), np.ones((61, 61), np.uint8)) == 0)
        row = {"head": _sharpness(g1, head) / _sharpness(g0, head), "far": _sharpness(g1, far) / _sharpness(g0, far),
               "face": None, "source": stored.source}
        small = cv2.resize(to_srgb8(p.image), (512, round(512 * h / w)))
        found = det.process(small).detections
        if found:
            bb = found[0].location_data.relative_bounding_box
            face = np.zeros((h, w), bool)
            face[int((bb.ymin + 0.2 * bb.height) * h):int((bb.ymin + 0.8 * bb.height) * h),
                 int((bb.xmin + 0.2 * bb.width) * w):int((bb.xmin + 0.8 * bb.width) * w)] = True
            row["face"] = _sharpness(g1, face) / _sharpness(g0, face)
        rows[f.name] = row
    return rows


def gallery() -> list[str]:
    """Each phone file: the photo | f/1.4 on the face | f/2.8 on the background | the depth used."""
    from portrait_studio import Portrait
    from portrait_studio.core import to_srgb8
    from portrait_studio.ops import get_operation

    op = get_operation("refocus")
    OUT.mkdir(parents=True, exist_ok=True)
    written = []
    for f in sorted((DATA / "depth").glob("*")):
        p = Portrait.read(f)
        near = op(p, f_number=1.4)
        far = op(p, f_number=2.8, focus_distance=float(np.percentile(p.stored_depth().depth, 95)))
        depth = np.repeat(near.extras["depth"][..., None], 3, -1)
        tiles = [to_srgb8(p.image), to_srgb8(near.image), to_srgb8(far.image), (depth * 255).astype(np.uint8)]
        s = 600 / p.shape[0]
        row = np.hstack([cv2.resize(t, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) for t in tiles])
        path = OUT / f"{f.stem}.png"
        cv2.imwrite(str(path), row[:, :, ::-1])
        written.append(str(path))
    return written


def section() -> str:
    """This benchmark's part of BENCHMARKS.md (markdown)."""
    lines = timing_table("refocus.py", CASES, BUDGET)
    quality = []
    if (DATA / "portraits").is_dir():
        q = run_case("refocus.py", "scenes")
        quality += ["| setup (layered scenes, exact thin-lens reference) | edge band PSNR | naive | whole PSNR | "
                    "naive | goal |", "|---|---|---|---|---|---|"]
        for name, r in q.items():
            quality.append(f"| {name} ({r['n']} scenes) | {r['ours_band']:.1f} dB | {r['naive_band']:.1f} dB | "
                           f"{r['ours']:.1f} dB | {r['naive']:.1f} dB | band ≥ naive + 7, whole ≥ naive + 6 |")
    if (DATA / "depth").is_dir():
        ph = run_case("refocus.py", "phones")
        quality += ["", "| phone file, f/1.4 from its own depth | head detail kept | check's face box | far "
                    "background detail | goal |", "|---|---|---|---|---|"]
        for name, r in ph.items():
            face = f"{r['face']:.2f}" if r["face"] is not None else "no face found"
            quality.append(f"| {name} ({r['source']}) | {r['head']:.2f} | {face} | {r['far']:.2f} | "
                           "face ≥ 0.9, far ≤ 0.5 |")
    if not quality:
        quality = [f"Quality figures skipped: no development data at {DATA}."]
    return "\n".join([
        "## Refocus: speed", "",
        "`refocus --depth` (the person 1.5 m, a backdrop 6 m, 85 mm on 36 mm, the f-number that blurs the backdrop "
        "into an 80 px disc at 12 MP); *depth cached*: the depth's outlines and the surfaces' colours kept with "
        "the portrait (a second aperture or focus on the same photo); *first call*: analysis cached only.", "",
        *lines, "",
        "## Refocus: quality", "",
        "Layered scenes: the protocol of ../shared/checks/refocus.py in-process (a portrait's subject 1.5 m before "
        f"another photo 6 m away; {SAMPLES} aperture samples per reference). Phone files: Laplacian energy kept "
        "on the head (the top quarter of the phone's person matte) and on the far background (the farthest fifth "
        "of the stored depth, away from the person); the check's own face box where MediaPipe finds a face.", "",
        *quality,
    ])


if __name__ == "__main__":
    main(time_case, section, scenes=scenes, phones=phones, gallery=gallery)
