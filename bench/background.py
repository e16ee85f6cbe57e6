"""Background replacement benchmarks: harmonisation, matte quality, colour spill, speed, and a gallery.

    python bench/background.py time "matte cached" "12 MP"   # one timing case in its own process
    python bench/background.py section                       # this benchmark's part of BENCHMARKS.md
    python bench/background.py gallery                       # five subjects on three backgrounds, bench/out/

Quality figures need ../shared/data (or DATA=folder): portraits/ for harmonisation and spill, depth/ for the
iPhone portrait-effects mattes. PORTRAIT_HARMONISER=model.onnx (or a registered name) adds the harmonisation
figure of that learned harmoniser (``--harmoniser``).
"""
from __future__ import annotations

import os
import pathlib
import sys
import tempfile

import cv2
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from common import DATA, ROOT, SIZES, first_call_time, median_time, peak_rss_mb, photo_at, run_case, timing_table, main  # noqa: E402

CASES = ("matte cached", "first call")
BUDGET = {"matte cached": {"1 MP": 0.150, "12 MP": 2.0}, "first call": {"12 MP": 2.0}}
OUT = ROOT / "bench" / "out"
RELIGHT = 0.5                     # the --relight strength measured against harmonisation
HARMONISER = os.environ.get("PORTRAIT_HARMONISER")   # a learned harmoniser to measure (optional)


def time_case(case: str, size: str) -> dict:
    from portrait_studio import Portrait
    from portrait_studio.core import from_srgb8
    from portrait_studio.ops import get_operation

    op = get_operation("background")
    image = from_srgb8(photo_at(SIZES[size]))
    warm = Portrait(image)
    op(warm, backdrop="grey-paper")                              # models, numba and caches warm
    if case == "matte cached":
        secs = median_time(lambda: op(warm, backdrop="grey-paper"), repeat=5)
    else:                                                         # analysis cached, the matte is not
        secs = first_call_time(image, warm.backend, lambda p: op(p, backdrop="grey-paper"))
    return {"case": case, "size": size, "seconds": secs, "peak_mb": peak_rss_mb()}


# -- harmonisation (the protocol of ../shared/checks/background.py, in-process) ------------------------------

def _lin(u8):
    x = u8.astype(np.float32) / 255
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def _srgb(x):
    x = np.clip(x, 0, 1)
    return (np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055) * 255 + 0.5).astype(np.uint8)


def _painted_out(photo, a):
    h, w = a.shape
    hole = (a > 0.2).astype(np.uint8)
    k = max(3, int(0.03 * w)) | 1
    hole = cv2.dilate(hole, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    s = 256 / max(h, w)
    small = cv2.resize(photo, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    small_hole = cv2.resize(hole, small.shape[1::-1], interpolation=cv2.INTER_NEAREST)
    filled = cv2.resize(cv2.inpaint(small, small_hole, 5, cv2.INPAINT_TELEA), (w, h), interpolation=cv2.INTER_CUBIC)
    return np.where(hole[..., None] > 0, filled, photo)


def harmonisation(n: int = 20) -> dict:
    """Foreground MSE after / before over the development portraits (every one, not only the check's 8)."""
    import mediapipe as mp

    from portrait_studio import Portrait
    from portrait_studio.core import from_srgb8, to_srgb8
    from portrait_studio.ops import get_operation

    op = get_operation("background")
    seg = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)
    rng = np.random.default_rng(5)
    tmp = pathlib.Path(tempfile.mkdtemp())
    ratios, plain, relit, learned, psnr = [], [], [], [], []
    runs = [(1.0, 0.0, None, ratios), (0.0, 0.0, None, plain), (1.0, RELIGHT, None, relit)]
    runs += [(1.0, 0.0, HARMONISER, learned)] if HARMONISER else []
    for f in sorted((DATA / "portraits").glob("*.jpg"))[:n]:
        photo = cv2.imread(str(f))[:, :, ::-1].copy()
        a = seg.process(photo).segmentation_mask.astype(np.float32)
        t, tint = rng.choice([-1, 1]) * rng.uniform(0.08, 0.18), rng.uniform(-0.06, 0.06)
        ev = rng.choice([-1, 1]) * rng.uniform(0.3, 0.6)
        gains = np.array([1 + t, 1 + tint, 1 - t], np.float32) * 2 ** ev
        L = _lin(photo)
        comp = _srgb(L * (1 - a[..., None]) + np.clip(L * gains, 0, 1) * a[..., None])
        plate = tmp / "plate.png"
        cv2.imwrite(str(plate), _painted_out(photo, a)[:, :, ::-1])
        m = a > 0.5
        before = ((comp[m].astype(float) - photo[m]) ** 2).mean()
        p = Portrait(from_srgb8(comp))
        for match, relight, model, store in runs:
            res = to_srgb8(op(p, image=str(plate), match_light=match, relight=relight, harmoniser=model).image)
            after = ((res[m].astype(float) - photo[m]) ** 2).mean()
            store.append(after / before)
            if store is ratios:
                psnr.append((10 * np.log10(255 ** 2 / before), 10 * np.log10(255 ** 2 / after)))
    return {"ratio": float(np.mean(ratios)), "ratio_unmatched": float(np.mean(plain)),
            "ratio_relit": float(np.mean(relit)), "n": len(ratios),
            "ratio_learned": float(np.mean(learned)) if learned else None,
            "psnr_before": float(np.mean([p[0] for p in psnr])), "psnr_after": float(np.mean([p[1] for p in psnr]))}


# -- mattes against the iPhone portrait-effects mattes ------------------------------------------------------

def boundary_f(pred: np.ndarray, gt: np.ndarray, tol: int) -> float:
    """F-score of the 0.5-contours of two mattes, a contour pixel counting when the other's lies within `tol` px."""
    def edge(m):
        b = (m > 0.5).astype(np.uint8)
        return (b - cv2.erode(b, np.ones((3, 3), np.uint8))) > 0
    ep, eg = edge(pred), edge(gt)
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * tol + 1, 2 * tol + 1))
    near_g = cv2.dilate(eg.astype(np.uint8), disk) > 0
    near_p = cv2.dilate(ep.astype(np.uint8), disk) > 0
    precision = (ep & near_g).sum() / max(ep.sum(), 1)
    recall = (eg & near_p).sum() / max(eg.sum(), 1)
    return float(2 * precision * recall / max(precision + recall, 1e-9))


def _scores(pred, gt, tol):
    iou = float(((pred > 0.5) & (gt > 0.5)).sum() / max(((pred > 0.5) | (gt > 0.5)).sum(), 1))
    sad = float(np.abs(pred - gt).sum() / 1000.0)
    return {"iou": iou, "sad": sad, "f": boundary_f(pred, gt, tol),
            "f_fine": boundary_f(pred, gt, max(1, tol // 2))}


def matte_quality() -> dict:
    """Coarse vs refined matte against the phone's matte (at the phone matte's size), and the synthetic check:
    each phone photo cut out with its own matte, composited over four known backgrounds, recovered."""
    from portrait_studio import Portrait
    from portrait_studio.io.mattes import read_portrait_matte
    from portrait_studio.ops.background import refined_matte, scene

    rows, synth = [], []
    backs = [("grey-paper", None), ("green-canvas", None), ("brown-canvas", None)]
    for f in sorted((DATA / "depth").glob("*")):
        gt = read_portrait_matte(f)
        if gt is None:
            continue
        p = Portrait.read(f)
        h, w = gt.shape
        tol = max(2, round(0.005 * np.hypot(h, w)))
        small = lambda m: cv2.resize(m, (w, h), interpolation=cv2.INTER_AREA)  # noqa: E731
        alpha, _ = refined_matte(p)
        rows.append({"coarse": _scores(small(p.person_matte()), gt, tol), "refined": _scores(small(alpha), gt, tol)})
        # synthetic: the photo (at the matte's size) as foreground, the phone's matte as the true alpha
        fg = cv2.resize(p.image, (w, h), interpolation=cv2.INTER_AREA)
        photos = sorted((DATA / "portraits").glob("*.jpg"))
        plate = _plate(photos[6]) if photos else None
        for name, _ in backs + ([("photo", None)] if plate is not None else []):
            bg = scene.place(plate, (h, w)) if name == "photo" else scene.backdrop(name, (h, w), seed=1)
            comp = fg * gt[..., None] + bg * (1 - gt[..., None])
            q = Portrait(comp.astype(np.float32), backend=p.backend)
            a, _ = refined_matte(q)
            synth.append({"coarse": float(np.abs(q.person_matte() - gt).sum() / 1000.0),
                          "refined": float(np.abs(a - gt).sum() / 1000.0)})
    mean = lambda k, which: float(np.mean([r[which][k] for r in rows]))  # noqa: E731
    keys = ("iou", "sad", "f", "f_fine")
    return {"n": len(rows), **{f"{w}_{k}": mean(k, w) for w in ("coarse", "refined") for k in keys},
            "synth_n": len(synth), "synth_coarse": float(np.mean([s["coarse"] for s in synth])),
            "synth_refined": float(np.mean([s["refined"] for s in synth]))}


def _plate(path: pathlib.Path) -> np.ndarray:
    """A development portrait with its person painted out (linear), for use as a background."""
    from portrait_studio import Portrait
    from portrait_studio.ops.background import scene

    p = Portrait.read(path)
    return scene.painted_out(p.image, p.person_matte(), grow=0.04)


# -- colour spill -----------------------------------------------------------------------------------------

def spill() -> dict:
    """Mean ΔE2000 between the edge band's foreground colour and the subject's interior colour nearby, with
    and without decontamination, on the development portraits."""
    from portrait_studio import Portrait
    from portrait_studio.core.colour import delta_e, linear_to_lab
    from portrait_studio.ops.background import refined_matte

    with_d, without, chroma_d, chroma_raw = [], [], [], []
    for f in sorted((DATA / "portraits").glob("*.jpg")):
        p = Portrait.read(f)
        alpha, fg = refined_matte(p)
        band = (alpha > 0.1) & (alpha < 0.9)
        if band.sum() < 100:
            continue
        inside = (alpha > 0.98).astype(np.float32)
        sigma = 0.02 * np.hypot(*alpha.shape)
        norm = cv2.GaussianBlur(inside, (0, 0), sigma)
        near = cv2.GaussianBlur(p.image * inside[..., None], (0, 0), sigma) / np.maximum(norm, 1e-6)[..., None]
        ok = band & (norm > 0.05)
        ref = linear_to_lab(near[ok])
        lab_d, lab_raw = linear_to_lab(np.clip(fg[ok], 0, None)), linear_to_lab(p.image[ok])
        with_d.append(float(delta_e(lab_d, ref).mean()))
        without.append(float(delta_e(lab_raw, ref).mean()))
        chroma_d.append(float(np.hypot(*(lab_d - ref)[:, 1:].T).mean()))
        chroma_raw.append(float(np.hypot(*(lab_raw - ref)[:, 1:].T).mean()))
    return {"n": len(with_d), "decontaminated": float(np.mean(with_d)), "raw": float(np.mean(without)),
            "chroma_decontaminated": float(np.mean(chroma_d)), "chroma_raw": float(np.mean(chroma_raw))}


# -- the gallery ------------------------------------------------------------------------------------------

def gallery() -> list[str]:
    """Five development portraits on three backgrounds (a painted-out photo, paper, canvas), one sheet."""
    from portrait_studio import Portrait
    from portrait_studio.core import to_srgb8
    from portrait_studio.io import write_image
    from portrait_studio.ops import get_operation

    OUT.mkdir(parents=True, exist_ok=True)
    op = get_operation("background")
    photos = sorted((DATA / "portraits").glob("*.jpg"))
    subjects = [photos[i] for i in (0, 3, 8, 13, 17) if i < len(photos)]
    plate = OUT / "background_plate.png"
    write_image(plate, _plate(photos[6]), overwrite=True)
    settings = [("photo", {"image": str(plate), "f_number": 2.0}), ("grey paper", {"backdrop": "grey-paper"}),
                ("canvas", {"backdrop": "brown-canvas", "f_number": 4.0})]
    rows, written = [], []
    for f in subjects:
        p = Portrait.read(f)
        tiles = [cv2.resize(to_srgb8(p.image), (320, 320), interpolation=cv2.INTER_AREA)]
        for name, kw in settings:
            out = op(p, **kw)
            path = OUT / f"background_{f.stem}_{name.replace(' ', '-')}.jpg"
            write_image(path, out.image, overwrite=True)
            written.append(str(path))
            tiles.append(cv2.resize(to_srgb8(out.image), (320, 320), interpolation=cv2.INTER_AREA))
        rows.append(np.hstack(tiles))
    sheet = OUT / "background_gallery.png"
    cv2.imwrite(str(sheet), np.vstack(rows)[:, :, ::-1])
    return [str(sheet), *written]


def section() -> str:
    """This benchmark's part of BENCHMARKS.md (markdown)."""
    lines = timing_table("background.py", CASES, BUDGET)
    quality = []
    if (DATA / "portraits").is_dir():
        h = run_case("background.py", "harmonisation")
        s = run_case("background.py", "spill")
        quality += [
            "| figure | value | baseline | goal |", "|---|---|---|---|",
            f"| harmonisation: foreground MSE / composite's MSE, {h['n']} portraits (check protocol) | "
            f"{h['ratio']:.2f} | {h['ratio_unmatched']:.2f} without light match | ≤ 0.40 |",
            f"| harmonisation with `--relight {RELIGHT}` (relit for the change from the old scene to the new) | "
            f"{h['ratio_relit']:.2f} | {h['ratio']:.2f} without | not worse |",
            f"| harmonisation with a learned harmoniser (`--harmoniser`, set by PORTRAIT_HARMONISER) | "
            + (f"{h['ratio_learned']:.2f} ({pathlib.Path(HARMONISER).name}) | {h['ratio']:.2f} statistical | ≤ 0.40 |"
               if HARMONISER else "no model installed | – | ≤ 0.40 |"),
            f"| harmonisation: foreground PSNR, composite → result | {h['psnr_before']:.1f} → "
            f"{h['psnr_after']:.1f} dB | – | – |",
            f"| spill: chroma difference (Δa*b*) edge band vs nearby interior, {s['n']} portraits | "
            f"{s['chroma_decontaminated']:.2f} | {s['chroma_raw']:.2f} not decontaminated | ≤ half |",
            f"| spill: ΔE2000 (lightness included) edge band vs nearby interior | {s['decontaminated']:.2f} | "
            f"{s['raw']:.2f} not decontaminated | – |",
        ]
    if (DATA / "depth").is_dir():
        m = run_case("background.py", "matte")
        quality += [
            f"| matte vs iPhone portrait-effects matte ({m['n']} photos): IoU | {m['refined_iou']:.3f} | "
            f"{m['coarse_iou']:.3f} coarse | – |",
            f"| matte: SAD (thousands) | {m['refined_sad']:.1f} | {m['coarse_sad']:.1f} coarse | – |",
            f"| matte: boundary F-score (tolerance 0.5% of the diagonal) | {m['refined_f']:.3f} | "
            f"{m['coarse_f']:.3f} coarse | ≥ coarse + 0.1 |",
            f"| matte: boundary F-score (tolerance 0.25% of the diagonal) | {m['refined_f_fine']:.3f} | "
            f"{m['coarse_f_fine']:.3f} coarse | ≥ coarse + 0.1 |",
            f"| synthetic composite-and-recover ({m['synth_n']} composites): SAD (thousands) | "
            f"{m['synth_refined']:.1f} | {m['synth_coarse']:.1f} coarse | ≤ half |",
        ]
    if not quality:
        quality = [f"Quality figures skipped: no development data at {DATA}."]
    return "\n".join([
        "## Background: speed", "",
        "`background --backdrop grey-paper`; *matte cached*: the refined matte kept with the portrait's analysis "
        "(a second background tried on the same photo, the interactive case); *first call*: faces and coarse "
        "matte cached, the matte refined.", "", *lines, "",
        "## Background: quality", "", *quality, "",
        "The gallery (`python bench/background.py gallery`) is written to bench/out/background_gallery.png.", ""])


if __name__ == "__main__":
    main(time_case, section, gallery=gallery, harmonisation=harmonisation, matte=matte_quality,
         spill=spill)
