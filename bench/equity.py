"""Equity and provenance benchmark: every single-photo operation over the development portraits grouped by
skin tone, and the cost of writing an output with its provenance.

    python bench/equity.py section     # the Markdown section for BENCHMARKS.md
    python bench/equity.py quality     # the per-group figures as JSON

Skin tone is the individual typology angle (ITA = atan((L* - 50) / b*), degrees) of the face's median skin
Lab, grouped as Del Bino et al. (light > 41°, intermediate 28-41°, tan 10-28°, brown and dark < 10°). Per
group: the mean skin ΔE2000 between each operation's result and its input over the face's skin (for a
resize, against the input resized the same way), the failures (an error from the operation) and the share
of photos whose face was found. Goal (issue 20): no group's mean skin shift above 1.0 ΔE or above 1.5× the
best group's, for operations that are not meant to change skin colour (exposure at 0 EV, resize, relight
to the photo's own light, the watermark and credentials). A studio light, retouch (tone evening) and a new background
(foreground colour matched to the scene) change skin on purpose; their shifts are shown for comparison
across groups (the same 1.5× goal), not against 1.0.
"""
from __future__ import annotations

import math
import sys
import tempfile

import cv2
import numpy as np

from common import DATA, SIZES, main, median_time, peak_rss_mb, photo_at, run_case

GROUPS = (("light", 41, 90), ("intermediate", 28, 41), ("tan", 10, 28), ("brown/dark", -90, 10))
#: operation cases: (label, operation, parameters, meant to keep skin colour)
CASES = [("exposure 0 EV", "exposure", {}, True), ("resize 512", "resize", {"long_edge": 512}, True),
         ("relight to own light", "relight", {"match_light": "SELF"}, True),
         ("relight loop", "relight", {"setup": "loop"}, False), ("retouch", "retouch", {}, False), ("background grey-paper", "background", {"backdrop": "grey-paper"}, False),
         ("watermark + credentials (written JPEG q95)", "write", {}, True)]
TIME_CASES = ("write",)
BUDGET = {"write": {"1 MP": 0.3, "12 MP": 2.0}}


def ita(lab: np.ndarray) -> float:
    """Individual typology angle (degrees) of a Lab colour."""
    return math.degrees(math.atan2(lab[0] - 50.0, lab[2]))


def group_of(angle: float) -> str:
    return next(name for name, lo, hi in GROUPS if lo <= angle < hi)


def _written(portrait):
    """The portrait as written with its provenance (JPEG q95, watermark, credentials) and read back, linear."""
    from portrait_studio import Portrait
    from portrait_studio.provenance import Provenance, write_output

    with tempfile.TemporaryDirectory() as d:
        path = write_output(f"{d}/o.jpg", portrait, provenance=Provenance())
        return Portrait.read(path).image


def _plain(portrait):
    """The portrait written the same way without watermark or credentials, read back (the baseline of the write)."""
    from portrait_studio import Portrait
    from portrait_studio.io import write_image

    with tempfile.TemporaryDirectory() as d:
        return Portrait.read(write_image(f"{d}/o.jpg", portrait.image, portrait.metadata)).image


def quality() -> dict:
    from portrait_studio import Portrait
    from portrait_studio.analysis import MediaPipeBackend
    from portrait_studio.core.colour import delta_e, linear_to_lab
    from portrait_studio.ops import get_operation

    backend = MediaPipeBackend()
    rows = {name: {"photos": 0, "faces": 0, **{c[0]: {"shifts": [], "failures": 0} for c in CASES}}
            for name, _, _ in GROUPS}
    unplaced = 0
    for path in sorted((DATA / "portraits").glob("*.jpg")):
        p = Portrait.read(path, backend=backend)
        if not p.faces:
            unplaced += 1                                   # no face: no skin to place the photo in a group by
            continue
        skin = p.region("skin") > 0.5
        lab = linear_to_lab(p.image[skin])
        g = rows[group_of(ita(np.median(lab, axis=0)))]
        g["photos"] += 1
        g["faces"] += 1
        for label, op, params, _ in CASES:
            try:
                if op == "write":
                    before, after = _plain(p), _written(p)
                else:
                    kw = {k: (str(path) if v == "SELF" else v) for k, v in params.items()}
                    out = get_operation(op)(p, **kw)
                    before, after, mask = p.image, out.image, skin
                    if out.shape != p.shape:                    # resize: against the input resized the same way
                        h, w = out.shape
                        before = cv2.resize(p.image, (w, h), interpolation=cv2.INTER_AREA)
                        mask = cv2.resize(skin.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) > 0.5
                if op == "write":
                    mask = skin
                g[label]["shifts"].append(float(delta_e(linear_to_lab(before[mask]), linear_to_lab(after[mask])).mean()))
            except Exception:                                   # noqa: BLE001 - a failure is a figure here
                g[label]["failures"] += 1
    out = {"unplaced": unplaced, "groups": {}}
    for name, r in rows.items():
        if not r["photos"]:
            continue
        out["groups"][name] = {"photos": r["photos"], "face_rate": r["faces"] / r["photos"],
                               **{c[0]: {"mean": float(np.mean(r[c[0]]["shifts"])) if r[c[0]]["shifts"] else None,
                                         "failures": r[c[0]]["failures"]} for c in CASES}}
    return out


def time_case(case: str, size: str) -> dict:
    from portrait_studio import Portrait
    from portrait_studio.core import from_srgb8
    from portrait_studio.provenance import Provenance, write_output

    p = Portrait(from_srgb8(photo_at(SIZES[size])))
    with tempfile.TemporaryDirectory() as d:
        write_output(f"{d}/warm.jpg", p)                        # the signing key made (once) before timing
        plain = median_time(lambda: write_output(f"{d}/p.jpg", p, overwrite=True,
                                                 provenance=Provenance(credentials=False, watermark=False)), repeat=3)
        full = median_time(lambda: write_output(f"{d}/o.jpg", p, overwrite=True), repeat=3)
    return {"case": case, "size": size, "seconds": full - plain, "peak_mb": peak_rss_mb(), "plain": plain}


def section() -> str:
    lines = ["## Provenance and equity", "",
             "Writing an output with its provenance (the watermark and signed C2PA credentials), beyond the plain "
             "JPEG write (q95), on a loaded 2-core machine:", "",
             "| what | size | extra time | plain write | budget | peak memory |", "|---|---|---|---|---|---|"]
    for size in SIZES:
        r = run_case("equity.py", "time", "write", size)
        lines.append(f"| watermark + credentials | {size} | {r['seconds'] * 1000:.0f} ms | {r['plain'] * 1000:.0f} ms "
                     f"| ≤ {BUDGET['write'][size] * 1000:.0f} ms | {r['peak_mb']:.0f} MB |")
    if not (DATA / "portraits").is_dir():
        return "\n".join(lines + ["", "(no development portraits: the equity figures need ../shared/data)"])
    q = run_case("equity.py", "quality")
    groups = q["groups"]
    lines += ["", "Skin ΔE2000 shift by skin-tone group (ITA of the face's skin), mean over the group's photos; failures "
              "in brackets where any. The baseline of the write is the same JPEG without watermark or credentials.", "",
              "| operation | " + " | ".join(f"{n} ({g['photos']})" for n, g in groups.items()) + " | worst / best | goal |",
              "|---|" + "---|" * (len(groups) + 2)]
    for label, _, _, keeps in CASES:
        vals = [groups[n][label]["mean"] for n in groups]
        cells = [("–" if v is None else f"{v:.2f}") + (f" ({groups[n][label]['failures']} failed)"
                                                       if groups[n][label]["failures"] else "")
                 for n, v in zip(groups, vals)]
        ok = [v for v in vals if v is not None]
        ratio = f"{max(ok) / min(ok):.2f}×" if ok and min(ok) >= 0.01 else "– (no shift)" if ok and max(ok) < 0.01 else "–"
        goal = "≤ 1.0 ΔE, ≤ 1.5×" if keeps else "≤ 1.5× (changes skin on purpose)"
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {ratio} | {goal} |")
    lines.append("| face found | " + " | ".join(f"{g['face_rate']:.0%}" for g in groups.values()) + " | – | 100% |")
    if q["unplaced"]:
        lines.append(f"\n{q['unplaced']} photo(s) without a detected face could not be placed in a group.")
    lines += ["", "Groups with fewer than 3 photos say little; the development set has 20 portraits."]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1] / "src"))
    main(time_case, section, quality=quality)
