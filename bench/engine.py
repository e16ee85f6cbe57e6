"""Engine benchmarks: io and analysis speed at 1 MP and 12 MP, and analysis quality on real photos.

Run one timing case in its own process (so peak memory is that case's):
    python bench/engine.py time analysis "12 MP"
or everything through bench/run.py.
"""
from __future__ import annotations

import json
import pathlib
import sys
import tempfile

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from common import DATA, SIZES, median_time, peak_rss_mb, photo_at  # noqa: E402

CASES = ("read JPEG", "write JPEG", "analysis")


def time_case(case: str, size: str) -> dict:
    from portrait_studio import Portrait
    from portrait_studio.analysis import MediaPipeBackend
    from portrait_studio.core import from_srgb8
    from portrait_studio.io import read_image, write_image

    rgb8 = photo_at(SIZES[size])
    image = from_srgb8(rgb8)
    folder = pathlib.Path(tempfile.mkdtemp())
    jpeg = folder / "in.jpg"
    write_image(jpeg, image)
    if case == "read JPEG":
        secs = median_time(lambda: read_image(jpeg))
    elif case == "write JPEG":
        secs = median_time(lambda: write_image(folder / "out.jpg", image, overwrite=True))
    else:
        backend = MediaPipeBackend()

        def analyse():
            p = Portrait(image, backend=backend)
            assert p.faces, "no face in the benchmark photo"
            p.coarse_matte
        secs = median_time(analyse, repeat=7)
    return {"case": case, "size": size, "seconds": secs, "peak_mb": peak_rss_mb()}


def quality() -> dict:
    """Faces found on the development portraits; pupil error on the London set (hand-placed pupils)."""
    from portrait_studio.analysis import MediaPipeBackend, find_faces
    from portrait_studio.io import read_image

    backend = MediaPipeBackend()
    portraits = sorted((DATA / "portraits").glob("*.jpg"))
    found = sum(bool(find_faces(read_image(p)[0], backend)) for p in portraits)
    nme = []
    for tem in sorted((DATA / "expressions").glob("*_neutral.tem")):
        gt = np.loadtxt(tem, skiprows=1, max_rows=2)
        faces = find_faces(read_image(tem.with_suffix(".jpg"))[0], backend)
        if not faces:
            nme.append(1.0)
            continue
        p = faces[0].pupils
        d = min(np.linalg.norm(p - gt, axis=1).mean(), np.linalg.norm(p[::-1] - gt, axis=1).mean())
        nme.append(d / np.linalg.norm(gt[0] - gt[1]))
    return {"faces_found": found, "portraits": len(portraits),
            "pupil_nme_median": float(np.median(nme)) if nme else None,
            "pupil_nme_max": float(np.max(nme)) if nme else None, "london_faces": len(nme)}


if __name__ == "__main__":
    if sys.argv[1] == "time":
        print(json.dumps(time_case(sys.argv[2], sys.argv[3])))
    else:
        print(json.dumps(quality()))
