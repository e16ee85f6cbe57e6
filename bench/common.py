"""Helpers shared by the benchmarks: test photos at a given size, timing, peak memory, data location."""
from __future__ import annotations

import json
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import time

import cv2
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = pathlib.Path(os.environ.get("DATA") or ROOT.parent / "shared" / "data")
SIZES = {"1 MP": (1152, 864), "12 MP": (4032, 3024)}


def photo_at(size: tuple[int, int]) -> np.ndarray:
    """A real portrait (the astronaut, or the first development portrait when present) at (w, h), uint8 sRGB."""
    first = sorted((DATA / "portraits").glob("*.jpg"))
    if first:
        rgb = cv2.imread(str(first[0]))[:, :, ::-1]
    else:
        from skimage import data
        rgb = data.astronaut()
    w, h = size
    s = max(w / rgb.shape[1], h / rgb.shape[0])                  # cover, then centre-crop: no stretching
    big = cv2.resize(rgb, (round(rgb.shape[1] * s), round(rgb.shape[0] * s)), interpolation=cv2.INTER_CUBIC)
    y, x = (big.shape[0] - h) // 2, (big.shape[1] - w) // 2
    return np.ascontiguousarray(big[y:y + h, x:x + w])


def labelled_tiles(images, labels, *, side: int) -> list[np.ndarray]:
    """sRGB uint8 pictures of one shape reduced to `side` pixels on the long side, each with its label written
    in its corner (for overview sheets)."""
    h, w = images[0].shape[:2]
    s = side / max(h, w)
    tiles = [cv2.resize(t, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA) for t in images]
    for t, label in zip(tiles, labels):
        cv2.putText(t, label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 0), 1)
    return tiles


def median_time(fn, *, repeat: int = 5, warmup: int = 1) -> float:
    """Median wall time of fn() in seconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def first_call_time(image: np.ndarray, backend, call, *, repeat: int = 3) -> float:
    """Median seconds of `call(portrait)` on fresh Portraits of `image` whose analysis (faces, mesh, coarse
    matte) is already done with `backend` and nothing else is kept: an operation's first call on a photo."""
    from portrait_studio import Portrait

    def fresh():
        p = Portrait(image, backend=backend)
        p.faces, p.coarse_matte
        return p
    ps = [fresh() for _ in range(repeat + 1)]
    return median_time(lambda: call(ps.pop()), repeat=repeat)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_case(script: str, *args: str) -> dict:
    """Run ``python bench/SCRIPT ARGS`` in a fresh process; the JSON object on its last stdout line."""
    out = subprocess.run([sys.executable, str(pathlib.Path(__file__).with_name(script)), *args],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def timing_table(script: str, cases, budget: dict | None = None) -> list[str]:
    """Markdown rows for every case at every size, each timed in its own process by ``SCRIPT time CASE SIZE``.

    `budget` maps a case to ``{size: seconds}``.
    """
    lines = ["| operation | size | median time | budget | peak memory |", "|---|---|---|---|---|"]
    for case in cases:
        for size in SIZES:
            r = run_case(script, "time", case, size)
            b = (budget or {}).get(case, {}).get(size)
            lines.append(f"| {case} | {size} | {r['seconds'] * 1000:.0f} ms | "
                         f"{f'≤ {b * 1000:.0f} ms' if b else '–'} | {r['peak_mb']:.0f} MB |")
    return lines


def main(time_case, section, **commands) -> None:
    """The command line every benchmark script shares: ``time CASE SIZE`` prints one timing as JSON,
    ``section`` prints the script's Markdown section, and ``NAME`` runs ``commands[NAME]()`` and prints its
    result (JSON for a dict, else as text)."""
    cmd = sys.argv[1] if len(sys.argv) > 1 else "section"
    if cmd == "time":
        print(json.dumps(time_case(sys.argv[2], sys.argv[3])))
    elif cmd == "section":
        print(section())
    elif cmd in commands:
        result = commands[cmd]()
        print(json.dumps(result) if isinstance(result, dict) else "\n".join(map(str, result)))
    else:
        sys.exit(f"usage: {sys.argv[0]} time CASE SIZE | section | {' | '.join(commands)}")
