"""Film benchmark: looks from a reference against real film CLUTs, grain against Newson et al.'s exact
Boolean model, a contact sheet of every stock, speed.

Looks (the protocol of ../shared/checks/film.py, run through the library): each Hald CLUT of
../shared/data/luts is applied to two development portraits A and B (600×600); the look is fitted from A's
graded frame alone (unpaired) or with A (paired) and applied to B; mean dE2000 against B graded by the CLUT,
beside leaving B unchanged; the paired look's 25³ table applied by colour-science against ours.

Grain: the exact model (discs of radius r placed by a Poisson process of intensity -ln(1-u)/(πr²), seen
through a Gaussian pixel footprint, estimated per pixel by Monte Carlo as Newson et al. do, with the discs
rasterised 8x finer than the pixels) against ours, on flat grey frames: the pixel standard deviation and the
neighbour correlation at each grey level, and the time per megapixel.

    python bench/film.py section
    python bench/film.py sheet        # bench/out/film/stocks.png: every stock on three portraits
"""
from __future__ import annotations

import pathlib
import sys
import time

import cv2
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from common import (DATA, ROOT, SIZES, labelled_tiles, main, median_time, peak_rss_mb, photo_at,  # noqa: E402
                    run_case, timing_table)

CASES = ("film portra-like, grain and halation",)
BUDGET = {CASES[0]: {"1 MP": 0.100, "12 MP": 1.0}}
OUT = ROOT / "bench" / "out" / "film"
SHEET_PHOTOS = ("006", "031", "086")


def time_case(case: str, size: str) -> dict:
    from portrait_studio import Portrait
    from portrait_studio.core import from_srgb8
    from portrait_studio.ops.film import film

    p = Portrait(from_srgb8(photo_at(SIZES[size])))
    secs = median_time(lambda: film(p, stock="portra-like"), repeat=3)
    return {"case": case, "size": size, "seconds": secs, "peak_mb": peak_rss_mb()}


# -- looks --------------------------------------------------------------------------------------------

def looks() -> dict:
    import colour
    from PIL import Image

    from portrait_studio.core.colour import delta_e, linear_to_lab
    from portrait_studio.core.image import srgb_to_linear
    from portrait_studio.io.lut import apply_table, read_lut
    from portrait_studio.ops.film.look import paired_table, unpaired_table

    def de(a, b):                       # sRGB-encoded float images
        return float(delta_e(linear_to_lab(srgb_to_linear(a)), linear_to_lab(srgb_to_linear(b))).mean())

    photos = sorted((DATA / "portraits").glob("*.jpg"))
    luts = [p for p in sorted((DATA / "luts").glob("*.png"))]
    rng = np.random.default_rng(3)
    rows = []
    for path in luts:
        lut = read_lut(path)
        a_p, b_p = rng.choice(photos, 2, replace=False)
        a, b = (np.asarray(Image.open(p).convert("RGB").resize((600, 600)), np.float32) / 255 for p in (a_p, b_p))
        a_look, b_look = lut.apply(a), lut.apply(b)
        unchanged = de(b, b_look)
        un = de(apply_table(unpaired_table(a_look), b), b_look)
        table = paired_table(a, a_look)
        ours = apply_table(table, b)
        via = np.clip(colour.LUT3D(table.astype(np.float64)).apply(b.astype(np.float64)), 0, 1).astype(np.float32)
        rows.append({"look": path.stem, "unchanged": unchanged, "unpaired": un, "paired": de(ours, b_look),
                     "cube": de(via, ours), "curves": de(_best_curves(b, b_look), b_look)})
    return {"rows": rows}


def _best_curves(before: np.ndarray, after: np.ndarray, bins: int = 256) -> np.ndarray:
    """The ceiling of a tone-curve-and-cast look: `before` through the three per-channel curves that come
    closest to `after` in the least-squares sense (each curve the mean graded value of a channel level), fitted
    knowing the answer. No look read from an unpaired frame by per-channel curves can do better."""
    out = np.empty_like(before)
    for c in range(3):
        idx = np.clip((before[..., c] * (bins - 1) + 0.5).astype(int), 0, bins - 1)
        total = np.bincount(idx.ravel(), after[..., c].ravel(), bins)
        count = np.bincount(idx.ravel(), minlength=bins)
        have = count > 0
        curve = np.interp(np.arange(bins), np.nonzero(have)[0], total[have] / count[have])
        out[..., c] = curve[idx]
    return out


# -- grain --------------------------------------------------------------------------------------------

def exact_grain(u: float, radius: float, size: int, *, sigma: float, samples: int = 256, seed: int = 0) -> np.ndarray:
    """Newson et al.'s Boolean grain on a flat `size`² frame of grey level `u`: discs of `radius` pixels,
    each pixel the mean coverage of `samples` points drawn from its Gaussian footprint (Monte Carlo)."""
    rng = np.random.default_rng(seed)
    fine = 8
    lam = -np.log1p(-u) / (np.pi * radius ** 2)
    margin = 2 * radius + 4 * sigma
    span = size + 2 * margin
    n = rng.poisson(lam * span ** 2)
    centres = rng.uniform(-margin, size + margin, (n, 2))
    side = int(np.ceil(span * fine))
    cover = np.zeros((side, side), np.uint8)
    for cx, cy in (centres + margin) * fine:
        cv2.circle(cover, (int(round(cx)), int(round(cy))), max(1, int(round(radius * fine))), 1, -1)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    acc = np.zeros((size, size), np.float32)
    for _ in range(samples):
        dy, dx = rng.normal(0, sigma, (2, size, size)).astype(np.float32)
        iy = np.clip(((ys + dy + margin) * fine).astype(np.int32), 0, side - 1)
        ix = np.clip(((xs + dx + margin) * fine).astype(np.int32), 0, side - 1)
        acc += cover[iy, ix]
    return acc / samples


def grain_stats() -> dict:
    from portrait_studio.ops.film import grain as grains

    size, rows = 192, []
    for radius in (0.5, 1.5):
        model = grains.GrainModel(np.linspace(0, 1, 65), grains.boolean_std(np.linspace(0, 1, 65), radius),
                                  grains.correlation_sigma(radius))
        for u in (0.1, 0.3, 0.5, 0.7, 0.9):
            t = time.perf_counter()
            ex = exact_grain(u, radius, size, sigma=grains.PIXEL_SIGMA)
            t_exact = (time.perf_counter() - t) / (size * size / 1e6)
            flat = np.full((size, size, 3), u, np.float32)
            ours = grains.add_grain(flat, model, amount=1.0, seed=1)[..., 0]
            big = np.full((1024, 1024, 3), u, np.float32)
            t_ours = median_time(lambda: grains.add_grain(big, model, amount=1.0, seed=1), repeat=3) / (1024 * 1024 / 1e6)

            def corr(x):
                x = x - x.mean()
                return float((x[:, 1:] * x[:, :-1]).mean() / x.var())
            rows.append({"radius": radius, "u": u, "exact_std": float(ex.std()), "ours_std": float(ours.std()),
                         "exact_mean": float(ex.mean()), "exact_corr": corr(ex), "ours_corr": corr(ours),
                         "t_exact": t_exact, "t_ours": t_ours})
    return {"rows": rows}


# -- contact sheet ------------------------------------------------------------------------------------

def sheet() -> list[str]:
    from portrait_studio import Portrait
    from portrait_studio.core import to_srgb8
    from portrait_studio.ops.film import film
    from portrait_studio.ops.film.stocks import STOCKS

    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    for stem in SHEET_PHOTOS:
        path = DATA / "portraits" / f"{stem}.jpg"
        p = Portrait.read(path)
        tiles = labelled_tiles([to_srgb8(p.image)] + [to_srgb8(film(p, stock=name).image) for name in STOCKS],
                               ["original", *STOCKS], side=360)
        rows.append(np.hstack(tiles[:5]))
        rows.append(np.hstack(tiles[5:] + [np.zeros_like(tiles[0])] * (10 - len(tiles))))
    out = OUT / "stocks.png"
    cv2.imwrite(str(out), np.vstack(rows)[:, :, ::-1])
    # one face at 100%, every stock with its grain: the grain's scale and colour at full resolution
    p = Portrait.read(DATA / "portraits" / f"{SHEET_PHOTOS[0]}.jpg")
    x, y, bw, bh = p.face().box
    crop = (slice(int(y + 0.3 * bh), int(y + 0.3 * bh) + 200), slice(int(x + 0.2 * bw), int(x + 0.2 * bw) + 200))
    tiles = [to_srgb8(p.image)[crop]] + [to_srgb8(film(p, stock=name).image)[crop] for name in STOCKS]
    out2 = OUT / "grain-100pct.png"
    cv2.imwrite(str(out2), np.vstack([np.hstack(tiles[:3]), np.hstack(tiles[3:6]), np.hstack(tiles[6:9])])[:, :, ::-1])
    return [str(out), str(out2)]


def section() -> str:
    lines = timing_table("film.py", CASES, BUDGET)
    if (DATA / "luts").is_dir():
        q = run_case("film.py", "looks")["rows"]
        look = ["| look | unchanged | ours unpaired | best per-channel curves (oracle) | ours paired | "
                "exported .cube vs ours |", "|---|---|---|---|---|---|"]
        look += [f"| {r['look']} | {r['unchanged']:.2f} | {r['unpaired']:.2f} | {r['curves']:.2f} | {r['paired']:.2f} | "
                 f"{r['cube']:.2f} |" for r in q]
        ratio = float(np.median([r["unpaired"] / r["unchanged"] for r in q]))
        ceiling = float(np.median([r["curves"] / r["unchanged"] for r in q]))
        look += [f"| **mean** | {np.mean([r['unchanged'] for r in q]):.2f} | {np.mean([r['unpaired'] for r in q]):.2f} "
                 f"(median ratio to unchanged {ratio:.2f}, goal ≤ 0.50) | {np.mean([r['curves'] for r in q]):.2f} "
                 f"(median ratio {ceiling:.2f}) | {np.mean([r['paired'] for r in q]):.2f} "
                 f"(goal ≤ 1.0) | {np.mean([r['cube'] for r in q]):.2f} (goal ≤ 0.5) |", "",
                 "The oracle column is the ceiling of any look made of per-channel tone curves (casts, contrast, "
                 "black and white points), fitted on B knowing B's graded frame: an unpaired reference cannot tell "
                 "more than that family without knowing what its own frame looked like before."]
    else:
        look = [f"Look figures skipped: no development data at {DATA}."]
    g = run_case("film.py", "grain")["rows"]
    grain = ["| grain radius (px) | grey level | std exact | std ours | neighbour corr. exact | ours | "
             "exact ms/MP | ours ms/MP |", "|---|---|---|---|---|---|---|---|"]
    grain += [f"| {r['radius']} | {r['u']} | {r['exact_std']:.4f} | {r['ours_std']:.4f} | {r['exact_corr']:.2f} | "
              f"{r['ours_corr']:.2f} | {r['t_exact'] * 1000:.0f} | {r['t_ours'] * 1000:.1f} |" for r in g]
    speed = float(np.median([r["t_exact"] / r["t_ours"] for r in g]))
    return "\n".join([
        "## Film", "",
        "Looks from a reference against real film CLUTs (RawTherapee's Hald CLUTs in ../shared/data/luts), "
        "fitted on portrait A, applied to portrait B; mean dE2000 to B graded by the CLUT:", "", *look, "",
        "Grain against Newson et al.'s exact Boolean model (Monte Carlo, 256 samples per pixel, pixel footprint "
        "σ = 0.29 px) on flat frames:", "", *grain, "",
        f"Median speed-up over the exact model: {speed:.0f}x. Contact sheet of every stock on three portraits: "
        "`python bench/film.py sheet` (bench/out/film/stocks.png, grain at 100%: grain-100pct.png).", "",
        "Speed (built-in stock with grain, halation and bloom):", "", *lines, ""])


if __name__ == "__main__":
    main(time_case, section, looks=looks, grain=grain_stats, sheet=sheet)
