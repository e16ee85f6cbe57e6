"""Contact sheets: face crops at 100% over the development portraits, before beside after, one case at a time.

    python bench/sheets.py                     # every case
    python bench/sheets.py relight-loop retouch  # some of them

Writes ``bench/out/sheets/CASE-N.png`` (four portraits a sheet: two pairs a row, each pair the original
crop and the result at the photo's own pixels, not resampled). They are for looking at, face by face: colour
casts, seams, halos, fringes, flat patches, lost parts of the person. The README's before/after pictures
are cut from them (``python bench/sheets.py readme``). Needs ../shared/data/portraits (or DATA=folder).
"""
from __future__ import annotations

import pathlib
import sys

import cv2
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from common import DATA, ROOT  # noqa: E402

OUT = ROOT / "bench" / "out" / "sheets"
CROP = 440                  # side of a crop at 100%, pixels (about 1.4 face widths on the 1000 px portraits)
PER_SHEET = 4
#: A cut-out is shown over this colour (sRGB), so that a lost part of the person or a fringe shows.
CUTOUT_GROUND = (40, 110, 190)
#: case -> (operation, parameters); "scene" stands for the painted-out development photo used as a scene
CASES = {
    "relight-loop": ("relight", {"setup": "loop"}),
    "relight-rembrandt": ("relight", {"setup": "rembrandt"}),
    "relight-butterfly": ("relight", {"setup": "butterfly"}),
    "background-grey-paper": ("background", {"backdrop": "grey-paper"}),
    "background-scene": ("background", {"image": "scene", "f_number": 2.0}),
    "background-cutout": ("background", {"cutout": True}),
    "retouch": ("retouch", {}),
    "film-portra-like": ("film", {"stock": "portra-like"}),
    "film-velvia-like": ("film", {"stock": "velvia-like"}),
    "film-vision3-500t-like": ("film", {"stock": "vision3-500t-like"}),
    "film-tri-x-like": ("film", {"stock": "tri-x-like"}),
    "expression-smile": ("expression", {"smile": 1.0}),
    "expression-mix": ("expression", {"smile": 0.6, "brows": 0.3, "eyes": 0.2, "gaze_x": -0.3}),
    # the photo against itself with the invisible watermark (portrait_studio.provenance.watermark), as written
    "watermark": ("watermark", {}),
    "refocus-f1.4": ("refocus", {"f_number": 1.4}),
    # beauty: every control of makeup and reshape, and retouch's teeth, eyes and under-eye with the skin work off
    "makeup-lips-matte": ("makeup", {"lips": "#9e1b32", "lip_finish": "matte"}),
    "makeup-lips-gloss": ("makeup", {"lips": "#c2185b", "lip_finish": "gloss", "lip_opacity": 0.8}),
    "makeup-eyes-cheeks": ("makeup", {"lips": "#b0585e", "blush": "#e0707a", "eyeshadow": "#6b4a3a",
                                      "brows": "#3a2a20"}),
    "makeup-reference": ("makeup", {"reference": "portrait:041"}),
    "retouch-teeth-eyes": ("retouch", {"teeth": 1.0, "eyes": 1.0, "under_eye": 1.0, "blemishes": 0.0, "redness": 0.0,
                                       "evenness": 0.0, "shine": 0.0, "stray_hairs": False}),
    "reshape-slim-jaw": ("reshape", {"slim": 1.0, "jaw": 1.0}),
    "reshape-eyes-nose": ("reshape", {"eye_size": 1.0, "nose": 1.0}),
    "style-oil": ("style", {"style": "oil"}),
    "style-watercolour": ("style", {"style": "watercolour"}),
    "style-pencil": ("style", {"style": "pencil"}),
    "style-ink": ("style", {"style": "ink"}),
    "style-comic": ("style", {"style": "comic"}),
    "style-pop-art": ("style", {"style": "pop-art"}),
}
#: cases shown on some portraits only (stems): the beauty cases on six faces of different skin tones
BEAUTY_FACES = ["001", "006", "021", "036", "041", "071"]
FACES = {name: BEAUTY_FACES for name, (op, _) in CASES.items() if op in ("makeup", "reshape")
         or name == "retouch-teeth-eyes"}
#: README pictures: (case, portrait stem, crop side in pixels or None for the whole photo); "burst" is a synthetic
#: burst of that portrait (bench/burst.py's protocol)
README = [("relight-rembrandt", "031", 760), ("retouch", "086", CROP), ("background-grey-paper", "016", None),
          ("burst", "056", CROP)]


def _crop_box(portrait, side: int | None = CROP) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of a `side`-sized square around the face, inside the photo (None: the whole photo)."""
    h, w = portrait.shape
    if side is None:
        return 0, 0, w, h
    x, y, bw, bh = portrait.face().box
    side = min(side, h, w)
    cx, cy = x + bw / 2, y + bh / 2 + 0.1 * bh                # a little below the centre: chin and neck
    x0 = int(np.clip(cx - side / 2, 0, w - side))
    y0 = int(np.clip(cy - side / 2, 0, h - side))
    return x0, y0, x0 + side, y0 + side


def _after(portrait, name: str, params: dict, scene_path: str) -> np.ndarray:
    """The result of one case as sRGB uint8 (h, w, 3), a cut-out laid over CUTOUT_GROUND."""
    from portrait_studio.core import to_srgb8
    from portrait_studio.ops import get_operation

    op_name, kw = CASES[name]
    if op_name == "watermark":
        from portrait_studio.provenance import watermark

        return watermark.embed(to_srgb8(portrait.image), watermark.payload_for(portrait.origin.sha256, ()))
    kw = {k: (scene_path if v == "scene" else str(DATA / "portraits" / f"{v[9:]}.jpg")
              if isinstance(v, str) and v.startswith("portrait:") else v) for k, v in {**kw, **params}.items()}
    out = get_operation(op_name)(portrait, **kw)
    rgb = to_srgb8(out.image[..., :3])
    if "alpha" in out.extras:                                   # a cut-out: its opacity is a side result
        a = np.clip(out.extras["alpha"][..., None], 0, 1)
        rgb = (rgb * a + np.float32(CUTOUT_GROUND) * (1 - a) + 0.5).astype(np.uint8)
    return rgb


def sheets(names: list[str]) -> list[str]:
    """Write the contact sheets of `names` (all cases when empty); the paths written."""
    from portrait_studio import Portrait
    from portrait_studio.analysis import MediaPipeBackend
    from portrait_studio.core import to_srgb8
    from portrait_studio.io import write_image
    from portrait_studio.ops.background import scene

    photos = sorted((DATA / "portraits").glob("*.jpg"))
    if not photos:
        sys.exit(f"no development portraits at {DATA / 'portraits'}")
    OUT.mkdir(parents=True, exist_ok=True)
    backend = MediaPipeBackend()
    plate = Portrait.read(photos[6], backend=backend)
    scene_path = str(OUT / "scene.png")
    write_image(scene_path, scene.painted_out(plate.image, plate.person_matte(), grow=0.04), overwrite=True)
    pairs: dict[str, list[np.ndarray]] = {n: [] for n in names or CASES}
    for path in photos:
        p = Portrait.read(path, backend=backend)
        if not p.faces:
            continue
        x0, y0, x1, y1 = _crop_box(p)
        before = to_srgb8(p.image)[y0:y1, x0:x1]
        for name in pairs:
            if name in FACES and path.stem not in FACES[name]:
                continue
            after = _after(p, name, {}, scene_path)[y0:y1, x0:x1]
            pair = np.hstack([before, np.full((before.shape[0], 4, 3), 255, np.uint8), after])
            cv2.putText(pair, path.stem, (6, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 0), 2)
            pairs[name].append(pair)
    written = []
    for name, items in pairs.items():
        for i in range(0, len(items), PER_SHEET):
            group = [cv2.resize(t, (2 * CROP + 4, CROP), interpolation=cv2.INTER_NEAREST) if t.shape[0] != CROP
                     else t for t in items[i:i + PER_SHEET]]
            group += [np.zeros_like(group[0])] * (-len(group) % 2)
            rows = [np.hstack([a, np.full((CROP, 8, 3), 255, np.uint8), b]) for a, b in zip(group[::2], group[1::2])]
            sheet = OUT / f"{name}-{i // PER_SHEET + 1}.png"
            cv2.imwrite(str(sheet), np.vstack(rows)[:, :, ::-1])
            written.append(str(sheet))
    return written


def readme() -> list[str]:
    """The README's before/after pictures (docs/images/CASE.jpg), small JPEGs cut like the sheets."""
    from portrait_studio import Portrait
    from portrait_studio.core import to_srgb8

    folder = ROOT / "docs" / "images"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, stem, side in README:
        p = Portrait.read(DATA / "portraits" / f"{stem}.jpg")
        x0, y0, x1, y1 = _crop_box(p, side)
        before, after = (_burst(p) if name == "burst" else (to_srgb8(p.image), _after(p, name, {}, "")))
        pair = np.hstack([before[y0:y1, x0:x1], np.full((y1 - y0, 4, 3), 255, np.uint8), after[y0:y1, x0:x1]])
        pair = cv2.resize(pair, (pair.shape[1] * 300 // pair.shape[0], 300), interpolation=cv2.INTER_AREA)
        path = folder / f"{name}.jpg"
        cv2.imwrite(str(path), pair[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])
        written.append(str(path))
    return written


def _burst(portrait) -> tuple[np.ndarray, np.ndarray]:
    """(the noisiest frame's reference, the merge) of a synthetic handheld burst of `portrait`, sRGB uint8."""
    import burst as bench_burst
    from portrait_studio.core import to_srgb8

    frames = bench_burst.make_burst(to_srgb8(portrait.image), "high", np.random.default_rng(0))
    return frames[bench_burst.REF], bench_burst.merge_u8(frames)


if __name__ == "__main__":
    args = sys.argv[1:]
    print("\n".join(readme() if args == ["readme"] else sheets(args)))
