"""Tests of background replacement: the lens model, cover placement, backdrops, the matte and
decontamination, the light match, and the command line with its refusals."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from portrait_studio.core import lens
from portrait_studio.ops.background import light, matte, scene

# -- the lens model (core.lens) ---------------------------------------------------------------------------


def test_blur_grows_with_aperture_and_background_distance():
    f_px = lens.focal_length_px(85.0, 4032, 3024)
    d = lens.subject_distance(250.0, f_px)
    assert 1.0 < d < 3.0
    blur = lambda n, far: lens.blur_diameter_px(f_px, 85.0, n, d, d + far)  # noqa: E731
    assert blur(1.4, 3.0) > blur(2.8, 3.0) > blur(8.0, 3.0) > 0
    assert blur(2.8, 10.0) > blur(2.8, 3.0) > blur(2.8, 0.5) > 0
    assert lens.circle_of_confusion_mm(85.0, 2.8, 2.0, 2.0) == 0.0
    assert blur(2.8, 1e4) == pytest.approx(lens.blur_diameter_px(f_px, 85.0, 2.8, d, 1e9), rel=1e-3)


def test_subject_distance_from_eyes():
    f_px = lens.focal_length_px(50.0, 3000, 2000)
    near, far = lens.subject_distance(400.0, f_px), lens.subject_distance(100.0, f_px)
    assert far == pytest.approx(4 * near)


def test_focal_length_from_exif():
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0xA405] = 26
    assert lens.focal_35mm_from_exif(exif.tobytes()) == 26.0
    assert lens.focal_35mm_from_exif(None) is None
    assert lens.focal_35mm_from_exif(b"not exif") is None


def test_defocus_plane_keeps_light_and_blurs():
    img = np.zeros((200, 300, 3), np.float32)
    img[100, 150] = 100.0                                          # a bright point becomes a disc
    out = lens.defocus_plane(img, 40.0)
    assert out.sum() == pytest.approx(img.sum(), rel=0.05)
    row = out[100, :, 0]
    spread = np.nonzero(row > row.max() * 0.2)[0]
    assert 25 < spread.ptp() < 50
    assert np.array_equal(lens.defocus_plane(img, 0.5), img)


# -- the new scene ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("src_hw", [(100, 400), (400, 100), (64, 64)])
def test_place_covers_without_stretching(src_hw):
    h, w = src_hw
    yy, xx = np.mgrid[0:h, 0:w]
    r = min(h, w) / 3
    pic = np.zeros((h, w, 3), np.float32)
    pic[(yy - h / 2) ** 2 + (xx - w / 2) ** 2 < r * r] = 1.0         # a circle in the middle
    out = scene.place(pic, (240, 320))
    assert out.shape == (240, 320, 3)
    ys, xs = np.nonzero(out[..., 0] > 0.5)
    assert ys.ptp() == pytest.approx(xs.ptp(), abs=3)                # still a circle, not an ellipse


def test_place_puts_the_horizon_where_asked():
    pic = np.zeros((300, 400, 3), np.float32)
    pic[150:] = 1.0                                                  # the horizon at half height
    for target in (0.3, 0.5, 0.7):
        out = scene.place(pic, (200, 200), dst_horizon=target)
        row = np.argmax(out[:, 100, 0] > 0.5)
        assert row == pytest.approx(target * 200, abs=3)


def test_parse_colour():
    assert np.allclose(scene.parse_colour("#ffffff"), 1.0)
    assert np.allclose(scene.parse_colour("0,0,0"), 0.0)
    assert scene.parse_colour("grey")[0] == pytest.approx(0.2158, abs=1e-3)
    assert scene.parse_colour("blue-ish") is None and scene.parse_colour("300,0,0") is None


@pytest.mark.parametrize("name", list(scene.BACKDROPS))
def test_backdrops_fall_off_and_are_deterministic(name):
    a = scene.backdrop(name, (120, 160), seed=3)
    assert a.shape == (120, 160, 3) and a.dtype == np.float32 and a.min() >= 0
    assert np.array_equal(a, scene.backdrop(name, (120, 160), seed=3))
    centre, corners = a[40:56, 72:88].mean(), np.mean([a[:8, :8].mean(), a[:8, -8:].mean()])
    if scene.BACKDROPS[name][0] == "paper":                          # lit behind the subject, darker at the edges
        assert centre > corners * 1.3
    else:                                                           # mottled: brightness varies across the canvas
        assert a.std() / a.mean() > 0.1


def test_fill_in_uses_only_known_pixels():
    img = np.zeros((64, 64, 3), np.float32)
    img[:, :32] = [1, 0, 0]
    img[:, 32:] = [0, 0, 1]
    known = np.ones((64, 64), bool)
    known[20:44, 20:44] = False
    img_holed = img.copy()
    img_holed[~known] = 5.0                                          # the subject: must not leak into the fill
    out = scene.fill_in(img_holed, known)
    assert out[~known].max() <= 1.0 + 1e-5
    assert out[32, 22, 0] > out[32, 22, 2] and out[32, 41, 2] > out[32, 41, 0]


# -- matte and decontamination ----------------------------------------------------------------------------


def _strands_scene(n=256):
    """A red head with thin dark strands over a green background; the true alpha, and a coarse matte."""
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    head = ((yy - n * 0.6) ** 2 + (xx - n / 2) ** 2 < (n * 0.3) ** 2).astype(np.float32)
    strands = np.zeros((n, n), np.float32)
    for x0 in range(int(n * 0.3), int(n * 0.7), 6):                   # one-pixel strands above the head
        strands[int(n * 0.27):int(n * 0.34), x0] = 0.7
    alpha = np.maximum(head, strands)
    fg = np.zeros((n, n, 3), np.float32) + [0.5, 0.08, 0.05]
    bg = np.zeros((n, n, 3), np.float32) + [0.05, 0.4, 0.08]
    image = fg * alpha[..., None] + bg * (1 - alpha[..., None])
    import cv2
    coarse = cv2.resize(cv2.resize(head, (32, 32), interpolation=cv2.INTER_AREA), (n, n))
    return image.astype(np.float32), alpha, coarse, fg


def test_trimap_has_sure_regions_and_a_band():
    _, _, coarse, _ = _strands_scene()
    t = matte.trimap(coarse, 6)
    assert t[150, 128] == 1.0 and t[5, 5] == 0.0 and (t == 0.5).mean() > 0.02


def test_matte_is_soft_in_strands_and_solid_inside():
    image, truth, coarse, _ = _strands_scene()
    alpha, _ = matte.refine_matte(image, coarse, work_size=256)
    assert alpha.dtype == np.float32 and alpha.min() >= 0 and alpha.max() <= 1
    assert alpha[140:170, 110:146].min() > 0.98                     # the interior is solid
    assert alpha[:20].max() < 0.05                                   # far background is clear
    on_strands = alpha[(truth > 0.5) & (truth < 0.8)]
    assert on_strands.mean() > 0.3                                  # strands the coarse matte missed are found
    assert np.abs(alpha - truth).sum() < 0.5 * np.abs(coarse - truth).sum()


def test_matte_carried_to_full_resolution():
    import cv2
    image, truth, coarse, _ = _strands_scene(256)
    big = cv2.resize(image, (512, 512), interpolation=cv2.INTER_LINEAR)
    alpha, fg = matte.refine_matte(big, coarse, work_size=256)
    assert alpha.shape == (512, 512) and fg.shape == (512, 512, 3)
    assert alpha[300:330, 240:280].min() > 0.98


def test_decontamination_removes_the_old_background():
    image, truth, coarse, fg_true = _strands_scene()
    alpha, fg = matte.refine_matte(image, coarse, work_size=256)
    band = (alpha > 0.15) & (alpha < 0.85)
    assert band.sum() > 50
    spill_raw = np.abs(image[band] - fg_true[band]).mean()
    spill = np.abs(fg[band] - fg_true[band]).mean()
    assert spill < 0.6 * spill_raw


def _scarf_scene(n=256):
    """The strands scene with a scarf round the neck, on the edge of the person, of the background's own
    green (as a grey scarf before a grey wall); the scarf's mask."""
    image, truth, coarse, fg = _strands_scene(n)
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    scarf = (truth > 0.99) & (np.abs(yy - n * 0.75) < n * 0.06)
    colour = np.where(scarf[..., None], np.float32([0.05, 0.4, 0.08]), fg)
    bg = np.zeros((n, n, 3), np.float32) + [0.05, 0.4, 0.08]
    image = (colour * truth[..., None] + bg * (1 - truth[..., None])).astype(np.float32)
    return image, truth, coarse, scarf


def test_part_of_the_person_coloured_like_the_background_is_kept():
    """What the person matte is sure of stays, whatever its colour (a colour model of the background once cut
    such a scarf away): its interior solid, and no more of it lost than the matte's edge band."""
    import cv2
    image, truth, coarse, scarf = _scarf_scene()
    alpha, fg = matte.refine_matte(image, coarse, work_size=256)
    core = scarf & (cv2.erode((coarse > 0.9).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0)
    assert core.sum() > 500
    assert (alpha[core] < 0.5).mean() < 0.005 and alpha[core].mean() > 0.98
    assert np.percentile(np.abs(fg[core] - image[core]).max(-1), 99) < 0.02   # and keeps its own colour


def test_decontamination_takes_no_colour_from_the_persons_own_clothing():
    """A white necklace beside a red dress, on the matte's edge band where alpha came out a little under 1:
    such a pixel owes 5% of its colour to the old background, so it takes little from its solid neighbours
    and stays white (taking 74% of the dress's chromaticity turned a pearl necklace salmon)."""
    n = 64
    fg = np.zeros((n, n, 3), np.float32) + [0.6, 0.04, 0.05]         # the dress, solid
    fg[30:34] = [0.8, 0.8, 0.78]                                      # the necklace
    alpha = np.ones((n, n), np.float32)
    alpha[30:34] = 0.95
    out = matte._borrow_colour(fg, alpha, 6)
    chroma = lambda c: (c.max(-1) - c.min(-1)) / np.maximum(c.max(-1), 1e-6)  # noqa: E731
    assert chroma(out[30:34]).max() < 0.1                           # white stays white (the dress: 0.93)
    strand = alpha.copy()
    strand[30:34] = 0.2                                               # a faint strand takes its neighbours' colour
    assert chroma(matte._borrow_colour(fg, strand, 6)[30:34]).min() > 0.5

# -- light match ------------------------------------------------------------------------------------------


def test_scene_light_reads_warm_and_cool():
    from portrait_studio.core.colour import kelvin_to_rgb
    rng = np.random.default_rng(0)
    grey = rng.uniform(0.05, 0.6, (64, 64, 1)).astype(np.float32) * np.ones(3, np.float32)
    warm = light.scene_light(grey * kelvin_to_rgb(3000))
    cool = light.scene_light(grey * kelvin_to_rgb(10000))
    assert warm.kelvin < 6000 < 6800 < cool.kelvin


def test_match_light_adapts_toward_the_new_scene():
    from portrait_studio.core.colour import kelvin_to_rgb
    rng = np.random.default_rng(1)
    subject = rng.uniform(0.05, 0.6, (64, 64, 3)).astype(np.float32)
    alpha = np.ones((64, 64), np.float32)
    grey = rng.uniform(0.05, 0.6, (64, 64, 1)).astype(np.float32) * np.ones(3, np.float32)
    neutral = light.scene_light(grey)
    red_blue = lambda x: x[..., 0].mean() / x[..., 2].mean()      # noqa: E731
    stays = red_blue(light.match_light(subject, alpha, neutral, neutral)[0])
    for kelvin, redder in ((3000, True), (12000, False)):        # against the same subject in a neutral scene
        out, _ = light.match_light(subject, alpha, neutral, light.scene_light(grey * kelvin_to_rgb(kelvin)))
        assert (red_blue(out) > 1.2 * stays) if redder else (red_blue(out) < 0.95 * stays)
    dark = subject * 0.25                                           # an underexposed subject is brightened
    out, ev = light.match_light(dark, alpha, neutral, neutral)
    assert ev > 0.5 and out.mean() > dark.mean() * 1.4
    same, ev0 = light.match_light(subject, alpha, neutral, neutral, strength=0.0)
    assert ev0 == 0 and np.allclose(same, subject, atol=1e-5)


def test_light_wrap_touches_only_the_edges():
    alpha = np.zeros((100, 100), np.float32)
    alpha[20:80, 20:80] = 1
    fg = np.full((100, 100, 3), 0.1, np.float32)
    bg = np.full((100, 100, 3), 0.9, np.float32)
    glow = light.light_wrap(fg, alpha, bg, radius=4.0, strength=0.5)
    assert glow[20, 50, 0] > 0.1 and glow[50, 50, 0] == pytest.approx(0.0, abs=1e-3)
    assert glow[24, 50, 0] < 0.02                                   # the rim only, not the interior
    assert light.light_wrap(fg, alpha, bg, radius=4.0, strength=0.0) is None


def test_noise_level_and_grain():
    from portrait_studio.core.grain import add_grain, noise_level

    flat = np.full((256, 256, 3), 0.25, np.float32)
    mask = np.ones((256, 256), np.float32)
    assert noise_level(flat, mask) < 1e-3
    noisy = add_grain(flat.copy(), 0.02, mask, seed=1)
    assert noise_level(noisy, mask) == pytest.approx(0.02, rel=0.25)
    assert np.array_equal(noisy, add_grain(flat.copy(), 0.02, mask, seed=1))


# -- the operation on a real photo ------------------------------------------------------------------------


def test_background_on_the_astronaut(astronaut):
    from portrait_studio.ops import get_operation
    op = get_operation("background")
    out = op(astronaut, backdrop="grey-paper")
    alpha = out.extras["matte"]
    assert out.image.shape == astronaut.image.shape and alpha.shape == astronaut.shape
    face = astronaut.region("skin") > 0.5
    assert alpha[face].mean() > 0.99                                # the face is solid
    assert ((alpha > 0.1) & (alpha < 0.9)).mean() > 0.002           # soft edges exist
    calls = []
    kept = astronaut.cached(("background-matte", matte.WORK_SIZE), lambda: calls.append(1), per_image=True)
    assert not calls and kept[0] is alpha                           # kept for the next background
    relit = astronaut.replace(astronaut.image * 0.5)                # other pixels: its own foreground colours
    assert relit.cached(("background-matte", matte.WORK_SIZE), lambda: "fresh", per_image=True) == "fresh"
    cut = op(astronaut, cutout=True)
    assert np.array_equal(cut.extras["alpha"], alpha)
    keep = op(astronaut, f_number=1.4)                              # the own background, defocused
    bgmask = alpha < 0.01
    assert np.abs(np.diff(keep.image[..., 1], axis=1))[bgmask[:, 1:]].mean() < \
        np.abs(np.diff(astronaut.image[..., 1], axis=1))[bgmask[:, 1:]].mean()


def test_black_and_white_photo_stays_neutral(astronaut_rgb8, backend):
    """A black-and-white photo has no light colour to adapt: whatever the new scene's colour, the subject
    stays without colour (a warm cast had been read into it, chroma 0 -> 5) and only its exposure is matched."""
    from portrait_studio import Portrait
    from portrait_studio.core import from_srgb8, to_srgb8
    from portrait_studio.ops import get_operation
    grey = np.repeat(astronaut_rgb8.mean(-1, keepdims=True).astype(np.uint8), 3, axis=-1)
    p = Portrait(from_srgb8(grey), backend=backend)
    op = get_operation("background")
    for kw in ({"backdrop": "grey-paper"}, {"colour": "#c08040"}):
        out = op(p, **kw)
        person = out.extras["matte"] > 0.99                        # the edges show the new scene through
        rgb = to_srgb8(out.image).astype(np.int16)[person]
        assert np.percentile(rgb.max(-1) - rgb.min(-1), 99) <= 1, kw


def test_a_photo_without_a_person_is_refused(backend):
    """The person matte alone cannot tell: it calls a cat 91% person. Without a face, the photo is refused
    with what to do about it."""
    from skimage import data
    from portrait_studio import Portrait
    from portrait_studio.core import from_srgb8
    from portrait_studio.errors import InputError
    from portrait_studio.ops import get_operation
    cat = Portrait(from_srgb8(data.chelsea()), path="cat.jpg", backend=backend)
    assert (cat.coarse_matte > 0.5).mean() > 0.5
    with pytest.raises(InputError, match="cat.jpg: no person found.*; use a photo of a person"):
        get_operation("background")(cat, backdrop="grey-paper")


def test_lens_blur_grows_with_f_number_on_a_photo(astronaut):
    from portrait_studio.ops import get_operation
    op = get_operation("background")
    bg = (op(astronaut, match_light=0, grain=False).extras["matte"] < 0.01)[:, 1:]
    detail = [np.abs(np.diff(op(astronaut, f_number=n, grain=False).image[..., 1], axis=1))[bg].mean()
              for n in (1.4, 4.0, 16.0)]
    assert detail[0] < detail[1] < detail[2]


def test_background_photo_from_shared_data(shared_data, backend):
    from portrait_studio import Portrait
    from portrait_studio.ops import get_operation
    photos = sorted((shared_data / "portraits").glob("*.jpg"))
    p = Portrait.read(photos[0], backend=backend)
    out = get_operation("background")(p, image=str(photos[5]), f_number=2.0)
    assert out.image.shape == p.image.shape and np.isfinite(out.image).all()


# -- the command line -------------------------------------------------------------------------------------


def test_cli_background_outputs(photo, tmp_path):
    from test_cli import portrait
    out, m = tmp_path / "new.jpg", tmp_path / "matte.png"
    code, _, err = portrait("background", photo, "-o", out, "--backdrop", "grey-paper", "--save-matte", m)
    assert code == 0, err
    assert Image.open(out).size == (512, 512) and Image.open(m).mode in ("L", "I;16")
    cut = tmp_path / "cut.png"
    code, _, err = portrait("background", photo, "-o", cut, "--cutout")
    assert code == 0, err
    a = np.asarray(Image.open(cut))
    assert a.shape[2] == 4 and a[..., 3].min() == 0 and a[..., 3].max() == 255


def test_cli_refuses_bad_backgrounds(photo, tmp_path):
    from test_cli import assert_refused, portrait
    out = tmp_path / "o.jpg"
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    assert_refused(*portrait("background", photo, "-o", out, "--image", text), out)
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (40, 200), (10, 20, 30)).save(tiny)
    code, o, e = portrait("background", photo, "-o", out, "--image", tiny)
    assert_refused(code, o, e, out)
    assert "64 px" in e
    assert_refused(*portrait("background", photo, "-o", out, "--colour", "blue-ish"), out)
    assert_refused(*portrait("background", photo, "-o", out, "--colour", "#000000", "--backdrop", "grey-paper"), out)


def test_cli_refuses_a_photo_without_a_person(tmp_path):
    from test_cli import assert_refused, portrait
    empty = tmp_path / "wall.png"
    rng = np.random.default_rng(0)
    Image.fromarray((rng.uniform(100, 140, (256, 256, 3))).astype(np.uint8)).save(empty)
    out = tmp_path / "o.png"
    code, o, e = portrait("background", empty, "-o", out, "--backdrop", "grey-paper")
    assert_refused(code, o, e, out)
    assert "no person" in e


@pytest.fixture(scope="module")
def photo(tmp_path_factory, astronaut_rgb8):
    path = tmp_path_factory.mktemp("bg") / "astronaut.jpg"
    Image.fromarray(astronaut_rgb8).save(path, quality=95)
    return path


def test_matte_edges_closer_to_the_phone_matte_than_the_coarse_one(shared_data, backend):
    """The refined matte's contour follows the iPhone portrait-effects matte better than the coarse matte."""
    import cv2
    from portrait_studio import Portrait
    from portrait_studio.io.mattes import read_portrait_matte
    from portrait_studio.ops.background import refined_matte

    def contour_f(pred, gt, tol):
        edge = lambda m: ((m > 0.5).astype(np.uint8) - cv2.erode((m > 0.5).astype(np.uint8),  # noqa: E731
                                                                  np.ones((3, 3), np.uint8))) > 0
        ep, eg = edge(pred), edge(gt)
        disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * tol + 1, 2 * tol + 1))
        p = (ep & (cv2.dilate(eg.astype(np.uint8), disk) > 0)).sum() / max(ep.sum(), 1)
        r = (eg & (cv2.dilate(ep.astype(np.uint8), disk) > 0)).sum() / max(eg.sum(), 1)
        return 2 * p * r / max(p + r, 1e-9)

    path = shared_data / "depth" / "iphonexs_portrait_depth.jpg"
    gt = read_portrait_matte(path)
    assert gt is not None and gt.max() > 0.9
    p = Portrait.read(path, backend=backend)
    h, w = gt.shape
    alpha, _ = refined_matte(p)
    small = lambda m: cv2.resize(m, (w, h), interpolation=cv2.INTER_AREA)  # noqa: E731
    assert contour_f(small(alpha), gt, 5) > contour_f(small(p.person_matte()), gt, 5) + 0.05


def test_subject_light_reads_a_cast_and_a_clipped_subject():
    rng = np.random.default_rng(2)
    alpha = np.ones((96, 96), np.float32)
    skin = rng.uniform(0.02, 0.5, (96, 96, 1)).astype(np.float32) * np.array([1.0, 0.75, 0.6], np.float32)
    neutral = light.SceneLight(np.ones(3, np.float32), 6504.0, -2.0)
    warm, cool = light.subject_light(skin * [1.3, 1, 0.7], alpha), light.subject_light(skin * [0.7, 1, 1.3], alpha)
    assert warm.cast > cool.cast + 0.5
    m_warm, _ = light.light_transform(neutral, neutral, warm)
    assert m_warm.sum(1)[0] < m_warm.sum(1)[2]                     # a warm subject is cooled
    bright = np.clip(skin * 8.0, 0, 1)                              # highlights clipped: lower percentiles read
    seen = light.subject_light(bright, alpha)
    assert seen.ev > 0.5 and seen.sigma > light.HIGHLIGHT_LEVELS[0][2]
    _, ev = light.light_transform(neutral, neutral, seen)
    assert ev < -0.3


def test_light_match_agrees_across_resolutions_and_apertures(astronaut, astronaut_rgb8, backend, monkeypatch):
    # the subject's exposure is read at one size whatever the photo's size and the lens scale
    import cv2

    from portrait_studio import Portrait
    from portrait_studio.core import from_srgb8
    from portrait_studio.ops import get_operation
    op, seen, real = get_operation("background"), [], light.light_transform

    def spy(old, new, subject, **kw):
        seen.append(subject.ev)
        return real(old, new, subject, **kw)

    monkeypatch.setattr(light, "light_transform", spy)
    big = Portrait(from_srgb8(cv2.resize(astronaut_rgb8, (1536, 1536), interpolation=cv2.INTER_CUBIC)),
                   backend=backend)
    for p, f_number in ((astronaut, 2.8), (big, 2.8), (big, 1.0)):
        op(p, backdrop="grey-paper", f_number=f_number, grain=False)
    assert max(seen) - min(seen) < 0.1


def test_relight_to_scene_lights_the_side_the_scene_is_bright(astronaut):
    from portrait_studio.core import luminance
    scene_picture = np.full((64, 128, 3), 0.02, np.float32)
    scene_picture[:, :64] = 1.0                                     # the light is on the picture's left
    even = np.full((64, 128, 3), 0.5, np.float32)                  # the old scene: even light
    fg = astronaut.image.copy()
    assert light.relight_to_scene(fg, astronaut, even, scene_picture, strength=0.0) is fg
    same = light.relight_to_scene(fg.copy(), astronaut, even, even, strength=1.0)
    assert np.allclose(same, fg, rtol=1e-3, atol=1e-5)              # the same scene: nothing changes
    out = light.relight_to_scene(fg.copy(), astronaut, even, scene_picture, strength=1.0)
    gain = luminance(out) / np.maximum(luminance(fg), 1e-6)
    skin = astronaut.region("skin") > 0.5
    cols = np.nonzero(skin.any(axis=0))[0]
    mid = (cols[0] + cols[-1]) // 2
    assert gain[:, :mid][skin[:, :mid]].mean() > 1.1 * gain[:, mid:][skin[:, mid:]].mean()
    lit = skin & (fg.min(-1) > 0.05)                                # only the light changes, not the colour
    assert np.allclose(out[lit] / fg[lit], gain[lit][:, None], rtol=1e-3)


# -- an optional learned harmoniser (tiny models built by tests/test_models.py) ---------------------------


@pytest.fixture()
def tiny_harmoniser(tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from test_models import gain_model
    return gain_model(tmp_path / "tiny.onnx")


def test_harmoniser_changes_only_the_subject(astronaut, tiny_harmoniser):
    from portrait_studio.core import srgb_to_linear
    from portrait_studio.ops import get_operation
    from test_models import GAINS
    op = get_operation("background")
    kw = dict(backdrop="brown-canvas", light_wrap=0.0, grain=False, harmoniser=str(tiny_harmoniser))
    plain, full, half = (op(astronaut, match_light=k, **kw) for k in (0.0, 1.0, 0.5))
    alpha = plain.extras["matte"]
    assert np.array_equal(full.extras["matte"], alpha)               # the alpha is the model's to keep
    away = alpha == 0
    assert np.array_equal(full.image[away], plain.image[away])      # so is the background
    inside = (alpha > 0.99) & (plain.image.min(-1) > 0.02) & (plain.image.max(-1) < 0.5)
    gain = np.median(full.image[inside] / plain.image[inside], axis=0)
    # a gain on the sRGB values is about its 2.2th power on linear light
    expect = [float(srgb_to_linear(np.float32(0.5 * g)) / srgb_to_linear(np.float32(0.5))) for g in GAINS]
    assert gain == pytest.approx(expect, rel=0.05)
    assert np.median(half.image[inside] / plain.image[inside], axis=0) == pytest.approx(1 + (gain - 1) / 2, rel=0.01)


def test_cli_background_with_a_harmoniser(photo, tmp_path, tiny_harmoniser):
    from test_cli import assert_refused, portrait
    out, scene_picture = tmp_path / "harmonised.jpg", tmp_path / "scene.png"
    Image.fromarray(np.random.default_rng(4).integers(40, 220, (96, 128, 3), dtype=np.uint8)).save(scene_picture)
    code, _, err = portrait("background", photo, "-o", out, "--image", scene_picture, "--harmoniser", tiny_harmoniser)
    assert code == 0, err
    assert Image.open(out).size == (512, 512)
    bad = tmp_path / "bad.jpg"
    code, o, e = portrait("background", photo, "-o", bad, "--image", scene_picture,
                          "--harmoniser", tmp_path / "missing.onnx")
    assert_refused(code, o, e, bad)
    assert "missing.onnx" in e and "no such model file" in e
