"""Engine benchmarks: io and analysis speed at 1 MP and 12 MP, and analysis quality on real photos.

Run one timing case in its own process (so peak memory is that case's):
    python bench/engine.py time analysis "12 MP"
print this benchmark's section of BENCHMARKS.md with ``python bench/engine.py section``, or everything
through bench/run.py.
"""
from __future__ import annotations

import pathlib
import sys
import tempfile

import cv2
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from common import DATA, SIZES, median_time, peak_rss_mb, photo_at, run_case, timing_table, main  # noqa: E402

CASES = ("read JPEG", "write JPEG", "analysis", "regions + normals")
BUDGET = {"analysis": {"1 MP": 0.150, "12 MP": 0.150}}


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
    elif case == "regions + normals":
        from portrait_studio.analysis import face_normals, region_masks
        face = Portrait(image).face()
        secs = median_time(lambda: (region_masks(face, image.shape), face_normals(face, image.shape)))
    else:
        backend = MediaPipeBackend()

        def analyse():
            p = Portrait(image, backend=backend)
            assert p.faces, "no face in the benchmark photo"
            p.coarse_matte
        secs = median_time(analyse, repeat=7)
    return {"case": case, "size": size, "seconds": secs, "peak_mb": peak_rss_mb()}


def quality() -> dict:
    """Faces found on the development portraits (as they are, scaled to 5% of a 12 MP frame's height, and
    rolled by ±45°); pupil error on the London set (hand-placed pupils)."""
    from portrait_studio.analysis import MediaPipeBackend, find_faces
    from portrait_studio.core import from_srgb8
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
    small = rolled = 0
    for p in portraits:
        rgb8 = cv2.imread(str(p))[:, :, ::-1]
        face_h = find_faces(from_srgb8(np.ascontiguousarray(rgb8)), backend)
        if not face_h:
            continue
        s = 0.05 * 3024 / face_h[0].box[3]                     # the face 5% of a 12 MP frame's height
        canvas = np.full((3024, 4032, 3), 110, np.uint8)
        tile = cv2.resize(rgb8, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        canvas[1500:1500 + tile.shape[0], 2500:2500 + tile.shape[1]] = tile[:1524, :1532]
        small += bool(find_faces(from_srgb8(canvas), backend))
        h, w = rgb8.shape[:2]
        for angle in (45, -45):
            m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
            turned = cv2.warpAffine(rgb8, m, (w, h), borderMode=cv2.BORDER_REFLECT)
            rolled += bool(find_faces(from_srgb8(turned), backend))
    return {"faces_found": found, "portraits": len(portraits), "small_found": small, "rolled_found": rolled,
            "pupil_nme_median": float(np.median(nme)) if nme else None,
            "pupil_nme_max": float(np.max(nme)) if nme else None, "london_faces": len(nme)}


def section() -> str:
    """This benchmark's part of BENCHMARKS.md (markdown)."""
    lines = timing_table("engine.py", CASES, BUDGET)
    if (DATA / "portraits").is_dir():
        q = run_case("engine.py", "quality")
        quality = [
            "| figure | value | goal |", "|---|---|---|",
            f"| faces found on the development portraits | {q['faces_found']}/{q['portraits']} | ≥ 95% |",
            f"| faces 5% of the frame high in a 12 MP frame, found | {q['small_found']}/{q['portraits']} | ≥ 95% |",
            f"| heads rolled by ±45°, found | {q['rolled_found']}/{2 * q['portraits']} | ≥ 95% |",
            f"| pupil error (iris centre vs hand-placed pupil, / inter-ocular distance), median of "
            f"{q['london_faces']} London-set faces | {q['pupil_nme_median']:.4f} | ≤ 0.03 |",
            f"| pupil error, worst face | {q['pupil_nme_max']:.4f} | – |",
        ]
    else:
        quality = [f"Quality figures skipped: no development data at {DATA}."]
    return "\n".join([
        "## Engine: speed", "",
        "Decoding excluded from analysis; analysis = faces, 478-point mesh, head pose and coarse person matte, "
        "models warm; regions + normals = the eight soft region masks and the normal map at full resolution "
        "(first ask).", "", *lines, "",
        "## Engine: analysis quality", "", *quality, ""])


if __name__ == "__main__":
    main(time_case, section, quality=quality)
