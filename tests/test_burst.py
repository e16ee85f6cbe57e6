"""burst: alignment accuracy, merge quality, no ghosting, sequences, bad input, and the command line."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

from portrait_studio import InputError, ParameterError, Portrait
from portrait_studio.core import from_srgb8, to_srgb8
from portrait_studio.ops.burst import burst, merge_frames
from portrait_studio.ops.burst.align import align_copy, estimate_motion
from portrait_studio.ops.burst.noise import fit_noise
from portrait_studio.portrait import Frames

from test_cli import assert_refused, portrait


def _psnr(a8, b8, mask=None) -> float:
    d = (a8.astype(np.float64) - b8.astype(np.float64)) ** 2
    d = d[8:-8, 8:-8] if mask is None else d[mask]
    return 10 * np.log10(255 ** 2 / d.mean())


@pytest.fixture(scope="module")
def clean(astronaut_rgb8) -> np.ndarray:
    """The astronaut at 320×320, linear light."""
    return from_srgb8(cv2.resize(astronaut_rgb8, (320, 320), interpolation=cv2.INTER_AREA))


def _shake(image, dx, dy, angle=0.0):
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    m[:, 2] += (dx, dy)
    return cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT), m


def _noisy(image, rng, a=0.006, b=0.0005):
    return np.maximum(image + np.sqrt(a * np.maximum(image, 0) + b) * rng.standard_normal(image.shape), 0
                      ).astype(np.float32)


def _burst(clean, n=6, seed=1, moving=None, ref=2):
    """n noisy frames with sub-pixel shake and ±0.4° roll; frames 4 and 5 show a patch moved by 8 px."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n):
        img = clean
        if moving is not None and i in (4, 5):
            y0, y1, x0, x1 = moving
            img = clean.copy()
            img[y0:y1, x0 + 8:x1 + 8] = clean[y0:y1, x0:x1]
        if i != ref:
            img, _ = _shake(img, *rng.uniform(-2.5, 2.5, 2), angle=rng.uniform(-0.4, 0.4))
        frames.append(_noisy(img, rng))
    return frames


@pytest.mark.parametrize("dx, dy, angle, size", [(0.3, -0.7, 0.0, 320), (2.6, 1.2, 0.0, 320), (-1.45, 0.35, 0.4, 320),
                                                 (1.7, -2.3, -0.3, 1100)])
def test_known_subpixel_motion_recovered(clean, dx, dy, angle, size):
    """Sub-pixel shifts and small rolls are recovered to 0.1 px, also when found on a reduced copy."""
    rng = np.random.default_rng(3)
    if size != clean.shape[0]:
        clean = cv2.resize(clean, (size, size), interpolation=cv2.INTER_CUBIC)
    moved, m = _shake(clean, dx, dy, angle)
    ref_g, s = align_copy(_noisy(clean, rng, 0.002, 0.0002))
    img_g, _ = align_copy(_noisy(moved, rng, 0.002, 0.0002))
    motion = estimate_motion(ref_g, img_g, s)
    h, w = clean.shape[:2]
    # the true motion: where each reference pixel is found in the moved frame
    y, x = np.mgrid[:h, :w].astype(np.float32)
    true = np.dstack([m[0, 0] * x + m[0, 1] * y + m[0, 2] - x, m[1, 0] * x + m[1, 1] * y + m[1, 2] - y])
    err = np.linalg.norm(motion.displacement((h, w)) - true, axis=2)[16:-16, 16:-16]
    assert np.median(err) < 0.1, np.median(err)
    assert abs(motion.rotation_deg + angle) < 0.1


def test_flat_frames_do_not_drift():
    rng = np.random.default_rng(0)
    frames = [_noisy(np.full((120, 160, 3), 0.18, np.float32), rng) for _ in range(4)]
    out, report = merge_frames(frames, 0)
    for motion in report.motions.values():
        assert np.abs(motion.displacement((120, 160))).max() < 1.0
    assert out.std() < np.std(frames[0]) / 2 and abs(out.mean() - 0.18) < 0.01


def test_noise_model_recovered():
    rng = np.random.default_rng(5)
    level = np.repeat(np.linspace(0.0, 0.5, 64, dtype=np.float32)[None], 4000, axis=0)
    a, b = 0.01, 0.0004
    diff = np.sqrt(2 * (a * level + b)) * rng.standard_normal(level.shape).astype(np.float32)
    model = fit_noise(level, diff)
    assert model.gain == pytest.approx(a, rel=0.1) and model.floor == pytest.approx(b, rel=0.3)


def test_merge_gains_psnr_and_keeps_metadata(clean):
    frames = _burst(clean)
    ps = [Portrait(f, path=f"f{i}") for i, f in enumerate(frames)]
    out = burst(ps, reference=2)
    truth = to_srgb8(clean)
    single = _psnr(to_srgb8(frames[2]), truth)
    merged = _psnr(to_srgb8(out.image), truth)
    assert merged > single + 3.5, (single, merged)
    assert out.path == "f2" and out.history[-1]["op"] == "burst" and out.history[-1]["params"]["reference"] == 2
    assert out.extras["coverage"].shape == clean.shape[:2] and out.extras["coverage"].min() > 0.5


def test_moving_patch_does_not_ghost(clean):
    box = (140, 220, 120, 200)
    frames = _burst(clean, moving=box)
    out, report = merge_frames(frames, 2)
    mask = np.zeros(clean.shape[:2], bool)
    mask[box[0]:box[1], box[2]:box[3] + 8] = True
    truth = to_srgb8(clean)
    mean = np.mean([frames[i] if i == 2 else cv2.warpAffine(
        f, estimate_affine(frames[2], f), clean.shape[1::-1], flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        for i, f in enumerate(frames)], axis=0)
    ours, naive, ref = (_psnr(to_srgb8(x), truth, mask) for x in (out, mean, frames[2]))
    assert ours > naive + 3 and ours > ref + 3, (ours, naive, ref)


def estimate_affine(ref, img):
    rg, s = align_copy(ref)
    ig, _ = align_copy(img)
    return estimate_motion(rg, ig, s, local=False).matrix


def test_sliding_window_one_output_per_frame(clean):
    small = cv2.resize(clean, (96, 96), interpolation=cv2.INTER_AREA)
    frames = [Portrait(f, path=f"f{i}") for i, f in enumerate(_burst(small, n=5))]
    calls = []
    outs = list(burst(frames, window=3, progress=lambda d, t, w: calls.append((d, t))))
    assert len(outs) == 5 and [o.path for o in outs] == [f"f{i}" for i in range(5)]
    assert all(o.image.shape == small.shape for o in outs) and calls[-1] == (5, 5)
    assert np.std(outs[0].image - small) < np.std(frames[0].image - small)


def test_bad_bursts_refused(clean, tmp_path):
    with pytest.raises(InputError, match="f0: is a single frame"):
        burst([Portrait(clean, path="f0")])
    with pytest.raises(ParameterError, match="reference 5 asked for but the burst has 2 frames"):
        burst([Portrait(clean), Portrait(clean)], reference=5)
    a, b, bad = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "bad.jpg"
    Image.fromarray(to_srgb8(clean)).save(a)
    Image.fromarray(to_srgb8(clean[:200])).save(b)
    bad.write_bytes(b"not an image at all")
    with pytest.raises(InputError, match=r"b\.png: frame is 320×200 px but the first frame .*a\.png\) is 320×320"):
        Frames.read([a, b])
    with pytest.raises(InputError, match=r"bad\.jpg: not a readable image"):
        Frames.read([a, bad])


@pytest.fixture(scope="module")
def frame_files(tmp_path_factory, clean):
    folder = tmp_path_factory.mktemp("burst")
    small = cv2.resize(clean, (160, 160), interpolation=cv2.INTER_AREA)
    for i, f in enumerate(_burst(small, n=4)):
        Image.fromarray(to_srgb8(f)).save(folder / f"frame-{i}.jpg", quality=95)
    return sorted(folder.glob("*.jpg"))


def test_cli_burst_end_to_end(frame_files, tmp_path):
    out = tmp_path / "merged.tif"
    code, stdout, err = portrait("burst", *frame_files, "-o", out, "--reference", "1", "--save-coverage",
                                 tmp_path / "cov.png")
    assert code == 0, err
    im = tifffile.imread(out)
    assert im.shape == (160, 160, 3) and im.dtype == np.uint16
    assert (tmp_path / "cov.png").exists()
    code, stdout, err = portrait("burst", frame_files[0].parent, "-o", tmp_path / "folder.jpg")
    assert code == 0, err
    seq = tmp_path / "seq"
    seq.mkdir()
    code, stdout, err = portrait("burst", *frame_files, "-o", seq / "f-%03d.png", "--window", "3")
    assert code == 0, err
    assert sorted(p.name for p in seq.iterdir()) == [f"f-{i:03d}.png" for i in range(4)]
    code, stdout, err = portrait("burst", *frame_files, "-o", tmp_path / "one-%02d.png")
    assert code == 0, err
    assert (tmp_path / "one-00.png").exists() and not (tmp_path / "one-%02d.png").exists()


def test_cli_bad_bursts(frame_files, tmp_path):
    out = tmp_path / "o.png"
    assert_refused(*portrait("burst", frame_files[0], "-o", out), out)
    code, o, e = portrait("burst", frame_files[0], "-o", out)
    assert "frame-0.jpg: is a single frame" in e
    other = tmp_path / "other.png"
    Image.new("RGB", (100, 160)).save(other)
    code, o, e = portrait("burst", *frame_files, other, "-o", out)
    assert_refused(code, o, e, out)
    assert "other.png: frame is 100×160 px" in e
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(frame_files[1].read_bytes()[:300])
    code, o, e = portrait("burst", frame_files[0], broken, "-o", out)
    assert_refused(code, o, e, out)
    assert "broken.jpg" in e
    code, o, e = portrait("burst", *frame_files, "-o", out, "--window", "3")
    assert_refused(code, o, e, out)
    assert "numbered output" in e


def test_multi_image_heic_is_a_burst(tmp_path, clean):
    import pillow_heif

    small = to_srgb8(cv2.resize(clean, (64, 48), interpolation=cv2.INTER_AREA))
    heif = pillow_heif.from_bytes("RGB", (64, 48), small.tobytes())
    heif.add_frombytes("RGB", (64, 48), small[:, ::-1].copy().tobytes())
    path = tmp_path / "burst.heic"
    heif.save(path, quality=90)
    frames = Frames.read([path])
    assert frames.names() == [f"{path}[0]", f"{path}[1]"]
    assert frames[1].image.shape == (48, 64, 3)
    assert np.abs(frames[1].image[:, ::-1] - frames[0].image).mean() < 0.02


def test_recipe_refuses_a_frames_operation():
    from portrait_studio.pipeline.recipe import parse_recipe

    with pytest.raises(ParameterError, match="burst takes several frames"):
        parse_recipe({"steps": [{"burst": {}}]})


def test_frames_operation_schema():
    from portrait_studio.schema import operation

    @operation("pick-last", frames=True)
    def pick_last(frames, *, gain: float = 1.0, progress=None):
        """Keep the last frame, scaled."""
        if progress:
            progress(1, 1, "done")
        return frames[-1].replace(frames[-1].image * gain)

    assert pick_last.frames and pick_last.progress and set(pick_last.params.model_fields) == {"gain"}
    frames = [Portrait(np.full((4, 4, 3), v, np.float32), path=f"f{v}") for v in (0.1, 0.2)]
    seen = []
    out = pick_last(frames, gain=2.0, progress=lambda *a: seen.append(a))
    assert out.path == "f0.2" and float(out.image[0, 0, 0]) == pytest.approx(0.4)
    assert out.history == ({"op": "pick-last", "params": {"gain": 2.0}},) and seen == [(1, 1, "done")]
    with pytest.raises(ParameterError, match="unknown parameter 'progress'"):
        pick_last.validate({"progress": 1})
