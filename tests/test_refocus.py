"""Tests of refocus: the shaped apertures and the signed circle of confusion (core.lens), the layered renderer
against an exact thin-lens reference on a small two-layer scene, the depth sources (a depth file, the iPhone
files, the estimate), focus by name, highlights and grain, and the command line with its refusals."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

from portrait_studio import InputError, ParameterError, Portrait
from portrait_studio.core import from_srgb8, lens, linear_to_srgb
from portrait_studio.ops import get_operation
from portrait_studio.ops.refocus import depth as depth_
from portrait_studio.ops.refocus.render import layer_radii, memberships, render_layers

refocus = get_operation("refocus")


# -- the optics (core.lens) ----------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", ["disk", "blades:5", "blades:8", "cat-eye"])
def test_aperture_kernels_are_normalised_and_shaped(shape):
    k = lens.aperture_kernel(21.0, shape, offset=(0.35, 0.0))
    assert k.sum() == pytest.approx(1.0, abs=1e-5) and k.shape[0] == k.shape[1] and k.shape[0] % 2 == 1
    area = (k > 0.5 * k.max()).sum()
    disk = (lens.aperture_kernel(21.0) > 0).sum()
    assert area <= disk + 2                                      # a polygon or a cut disc lies within the circle
    if shape == "cat-eye":
        assert area < 0.8 * disk


def test_aperture_names_are_checked():
    assert lens.parse_aperture("blades:7") == ("blades", 7)
    for bad in ("blades:2", "blades:x", "square", "blades:17"):
        with pytest.raises(ValueError):
            lens.parse_aperture(bad)


def test_signed_circle_of_confusion():
    d = np.array([1.0, 1.5, 6.0], np.float32)
    c = lens.signed_coc_mm(85.0, 2.0, 1.5, d)
    assert c[0] < 0 and c[1] == pytest.approx(0.0, abs=1e-6) and c[2] > 0
    assert abs(float(c[2])) == pytest.approx(lens.circle_of_confusion_mm(85.0, 2.0, 1.5, 6.0), rel=1e-5)


# -- the renderer against an exact thin lens ------------------------------------------------------------------

def _shift(img, dx, dy):
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _exact(back, front, alpha, r_back, r_front, samples=96):
    """Every aperture sample a pinhole view; the front layer composited over the back one."""
    rng = np.random.default_rng(1)
    acc = np.zeros_like(back)
    for _ in range(samples):
        rad, t = np.sqrt(rng.uniform()), rng.uniform(0, 2 * np.pi)
        u = np.array([rad * np.cos(t), rad * np.sin(t)])
        a = _shift(alpha, *(r_front * u))[..., None]
        acc += _shift(front, *(r_front * u)) * a + _shift(back, *(r_back * u)) * (1 - a)
    return acc / samples


def _naive(flat, radius):
    out = np.empty_like(flat)
    for r in np.unique(radius):
        sel = radius == r
        out[sel] = lens.defocus_plane(flat, 2 * abs(float(r)), work_px=1e9)[sel]
    return out


@pytest.fixture(scope="module")
def scene():
    """A textured backdrop and a textured disc before it, 160 px, its outline anti-aliased."""
    rng = np.random.default_rng(0)
    n = 160
    back = cv2.GaussianBlur(rng.uniform(0.02, 0.6, (n, n, 3)).astype(np.float32), (0, 0), 2.0)
    back[::23] = 0.8                                             # stripes: detail for the hidden part to miss
    front = cv2.GaussianBlur(rng.uniform(0.3, 0.9, (n, n, 3)).astype(np.float32), (0, 0), 1.5) * [1.0, 0.6, 0.4]
    yy, xx = np.mgrid[0:n, 0:n]
    alpha = cv2.GaussianBlur(((yy - 80) ** 2 + (xx - 75) ** 2 < 45 ** 2).astype(np.float32), (0, 0), 0.7)
    return back, front.astype(np.float32), alpha


def _psnr(a, b, m):
    return 10 * np.log10(1.0 / max(float(((linear_to_srgb(a) - linear_to_srgb(b)) ** 2)[m].mean()), 1e-12))


@pytest.mark.parametrize("r_back, r_front, better", [(6.0, 0.0, 5.0), (0.0, -7.0, 3.0)])
def test_layered_rendering_beats_the_naive_blur_at_the_outline(scene, r_back, r_front, better):
    """dB gained at the outline over the naive per-pixel blur (the random stripes hidden behind a blurred
    front disc cannot be guessed: less to gain there; on real photos ../shared/checks/refocus.py sees +12)."""
    back, front, alpha = scene
    flat = front * alpha[..., None] + back * (1 - alpha[..., None])
    hard = np.where(alpha > 0.5, 1.5, 6.0).astype(np.float32)
    ref = _exact(back, front, alpha, r_back, r_front)
    surfaces = depth_.split_outlines(hard, linear_to_srgb(flat))
    radius = lambda d: np.where(d < 3, r_front, r_back).astype(np.float32)   # noqa: E731
    ours = render_layers(flat, radius(surfaces.front), behind=radius(surfaces.back), mix=surfaces.mix)
    naive = _naive(flat, radius(hard))
    k = np.ones((21, 21), np.uint8)
    band = (cv2.dilate((alpha > 0.5).astype(np.uint8), k) - cv2.erode((alpha > 0.5).astype(np.uint8), k)) > 0
    band[:10], band[-10:], band[:, :10], band[:, -10:] = False, False, False, False
    gain = _psnr(ours, ref, band) - _psnr(naive, ref, band)
    assert gain > better, gain


def test_a_sharp_subject_keeps_its_pixels_and_the_background_does_not_bleed_in(scene):
    back, front, alpha = scene
    flat = front * alpha[..., None] + back * (1 - alpha[..., None])
    hard = np.where(alpha > 0.5, 1.5, 6.0).astype(np.float32)
    s = depth_.split_outlines(hard, linear_to_srgb(flat))
    r = lambda d: np.where(d < 3, 0.0, 8.0).astype(np.float32)   # noqa: E731
    out = render_layers(flat, r(s.front), behind=r(s.back), mix=s.mix)
    inside = cv2.erode((alpha > 0.99).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    assert np.abs(out - flat)[inside].max() < 1e-4
    far = cv2.dilate((alpha > 0.01).astype(np.uint8), np.ones((41, 41), np.uint8)) == 0
    assert np.abs(out - flat)[far].mean() > 0.01                # the background is blurred


def test_layers_cut_the_radius_range_and_share_every_pixel():
    r = np.linspace(-30, 60, 5000, dtype=np.float32).reshape(50, 100)
    radii = layer_radii(r)
    assert radii[0] >= 60 - 1e-3 and radii[-1] <= -30 + 1e-3 and np.all(np.diff(radii) < 0)
    total = sum(memberships(r, radii))
    assert np.allclose(total, 1.0, atol=1e-5)
    two = np.where(np.arange(100) < 50, 0.0, 7.5).astype(np.float32)[None].repeat(4, 0)
    assert list(layer_radii(two)) == [7.5, 0.0]                # few distinct radii: they are the layers


# -- the operation -------------------------------------------------------------------------------------------

def _sharpness(img, mask):
    g = cv2.cvtColor((linear_to_srgb(img) * 255).astype(np.float32), cv2.COLOR_RGB2GRAY)
    lap = cv2.Laplacian(g, cv2.CV_32F)
    return float(np.sqrt((lap[mask] ** 2).mean()))


def test_the_face_stays_sharp_and_the_background_blurs(astronaut):
    out = refocus(astronaut, f_number=1.4)
    face = astronaut.region("skin") > 0.5
    corner = np.zeros(astronaut.shape, bool)
    corner[:60, -120:] = True                                   # the flag and the sky behind, far from him
    kf = _sharpness(out.image, face) / _sharpness(astronaut.image, face)
    kb = _sharpness(out.image, corner) / _sharpness(astronaut.image, corner)
    assert kf > 0.9 and kb < 0.6, (kf, kb)
    assert out.extras["depth"].shape == astronaut.shape and 0 <= out.extras["depth"].min() <= out.extras["depth"].max() <= 1
    # the same call again gives the same picture (the grain is seeded), a deeper focus another
    assert np.array_equal(out.image, refocus(astronaut, f_number=1.4).image)
    far = refocus(astronaut, f_number=1.4, focus_distance=20.0)
    assert _sharpness(far.image, face) < 0.8 * _sharpness(astronaut.image, face)


def test_focus_on_an_eye_and_on_a_point(astronaut):
    left = refocus(astronaut, f_number=2.0, focus="left-eye").image
    right = refocus(astronaut, f_number=2.0, focus="right-eye").image
    point = refocus(astronaut, f_number=2.0, focus="0.9,0.1").image
    assert left.shape == right.shape == point.shape
    face = astronaut.region("face") > 0.5
    assert _sharpness(point, face) < _sharpness(left, face)      # focused on the background: the face softens


def test_highlights_glow_and_grain_comes_back():
    rng = np.random.default_rng(3)
    img = np.full((120, 160, 3), 0.2, np.float32) + rng.normal(0, 0.01, (120, 160, 3)).astype(np.float32)
    img[60, 80] = 1.0                                           # a clipped point light
    depth = np.full((120, 160), 5.0, np.float32)
    p = Portrait(img)
    kw = dict(depth=Portrait(np.repeat(depth[..., None], 3, -1)), focal_length=85.0, sensor_width=36.0,
              f_number=1.4, focus_distance=1.0)
    glow = refocus(p, highlights=1.0, grain=0.0, **kw).image
    dull = refocus(p, highlights=0.0, grain=0.0, **kw).image
    assert glow[60, 80].mean() - 0.2 > 3 * (dull[60, 80].mean() - 0.2) > 0      # the disc glows above the grey
    flat = refocus(p, highlights=0.0, grain=0.0, **kw).image
    grainy = refocus(p, highlights=0.0, grain=1.0, **kw).image
    assert np.std(grainy[20:40, 20:40]) > 3 * np.std(flat[20:40, 20:40])


def test_apertures_change_the_bokeh():
    img = np.zeros((101, 101, 3), np.float32)
    img[50, 50] = 50.0
    depth = Portrait(np.full((101, 101, 3), 5.0, np.float32))
    kw = dict(depth=depth, focal_length=85.0, sensor_width=36.0, f_number=1.4, focus_distance=1.0,
              highlights=0.0, grain=0.0)
    disk = refocus(Portrait(img), bokeh="disk", **kw).image[..., 0]
    hexagon = refocus(Portrait(img), bokeh="blades:6", **kw).image[..., 0]
    assert not np.allclose(disk, hexagon, atol=1e-4)
    assert disk.sum() == pytest.approx(hexagon.sum(), rel=0.05)
    # the cat's eye: a disc at the centre, cut towards the corners
    img[50, 50], img[12, 12] = 0.0, 50.0
    disk = refocus(Portrait(img), bokeh="disk", **kw).image[..., 0]
    cat = refocus(Portrait(img), bokeh="cat-eye", **kw).image[..., 0]
    yy, xx = np.mgrid[0:30, 0:30]
    centre = lambda im: np.array([(im[:30, :30] * yy).sum(), (im[:30, :30] * xx).sum()]) / im[:30, :30].sum()  # noqa: E731
    assert np.all(centre(cat) - centre(disk) > 0.5)            # cut on the outer side: the light leans inwards


def test_bad_parameters_are_refused(astronaut):
    for kw, msg in [({"bokeh": "square"}, "bokeh"), ({"focus": "nose"}, "focus"), ({"focus": "1.5,0.2"}, "focus"),
                    ({"depth_near": 1.0}, "depth-far"), ({"focus": "face", "focus_distance": 2.0}, "not both"),
                    ({"sensor_width": 36.0}, "focal-length")]:
        p = Portrait(np.full((64, 64, 3), 0.3, np.float32), metadata=None)
        with pytest.raises(ParameterError, match=msg):
            refocus(p, **kw)


def test_a_depth_map_of_another_shape_or_none_at_all_is_refused():
    p = Portrait(np.full((64, 96, 3), 0.3, np.float32))
    with pytest.raises(InputError, match="aspect ratio"):
        refocus(p, depth=Portrait(np.full((64, 64, 3), 0.5, np.float32)))
    with pytest.raises(InputError, match="no depth map stored and no face"):
        refocus(p)


# -- depth files and the command line ------------------------------------------------------------------------

def test_cli_with_a_depth_file(tmp_path, astronaut_rgb8):
    from test_cli import assert_refused, portrait
    small = cv2.resize(astronaut_rgb8, (256, 256), interpolation=cv2.INTER_AREA)
    src, dpath = tmp_path / "in.png", tmp_path / "d.tif"
    Image.fromarray(small).save(src)
    depth = np.full((256, 256), 6.0, np.float32)
    depth[40:200, 60:200] = 1.5
    tifffile.imwrite(dpath, depth)
    out, saved = tmp_path / "out.png", tmp_path / "depth.png"
    code, _, err = portrait("refocus", src, "-o", out, "--depth", dpath, "--focal-length", 85, "--sensor-width", 36,
                            "--f-number", 2, "--focus-distance", 1.5, "--save-depth", saved, "--no-watermark")
    assert code == 0, err
    res = np.asarray(Image.open(out)).astype(float)
    assert res.shape == (256, 256, 3)
    assert np.abs(res[60:180, 80:180] - small[60:180, 80:180]).mean() < 2.0       # in focus: kept
    assert np.abs(res[220:, :40] - small[220:, :40]).mean() > 3.0                  # 6 m away at f/2: blurred
    d = np.asarray(Image.open(saved))
    assert d[100, 100] > d[10, 10]                                 # the saved map: near is bright
    # an 8-bit disparity map with its range gives the same picture as the float file
    disp8 = np.where(depth < 3, 255, 0).astype(np.uint8)
    Image.fromarray(disp8).save(tmp_path / "disp.png")
    out2 = tmp_path / "out2.png"
    code, _, err = portrait("refocus", src, "-o", out2, "--depth", tmp_path / "disp.png", "--depth-kind", "disparity",
                            "--depth-near", 1.5, "--depth-far", 6.0, "--focal-length", 85, "--sensor-width", 36,
                            "--f-number", 2, "--focus-distance", 1.5, "--no-watermark")
    assert code == 0, err          # (unmarked: the mark follows the inputs, here two different depth files)
    assert np.abs(np.asarray(Image.open(out2)).astype(float) - res).mean() < 1.0
    # refusals: a missing depth file, a depth map of another shape
    assert_refused(*portrait("refocus", src, "-o", tmp_path / "x.png", "--depth", tmp_path / "none.tif"),
                   tmp_path / "x.png")
    tifffile.imwrite(tmp_path / "wide.tif", np.ones((100, 300), np.float32))
    code, o, e = portrait("refocus", src, "-o", tmp_path / "x.png", "--depth", tmp_path / "wide.tif")
    assert_refused(code, o, e, tmp_path / "x.png")
    assert "aspect" in e


# -- the iPhone files ----------------------------------------------------------------------------------------

def test_iphone_depth_is_read(shared_data):
    from portrait_studio.io.depth import read_depth

    files = sorted((shared_data / "depth").glob("*"))
    if not files:
        pytest.skip("no phone depth files")
    for f in files:
        d = read_depth(f)
        assert d is not None, f
        assert 0.1 < float(np.percentile(d.depth, 5)) < float(np.percentile(d.depth, 95)) < 10.0
        assert d.matte is not None and d.matte.max() > 0.9


def test_iphone_portrait_refocused_from_its_own_depth(shared_data):
    path = shared_data / "depth" / "iphone14_portrait_depth.heic"
    if not path.exists():
        pytest.skip("no iPhone HEIC")
    p = Portrait.read(path)
    stored = p.stored_depth()
    out = refocus(p, f_number=1.4)
    h, w = p.shape
    matte = cv2.resize(stored.matte, (w, h)) > 0.5
    rows = np.nonzero(matte.any(axis=1))[0]
    head = matte.copy()
    head[rows[0] + (rows[-1] - rows[0]) // 4:] = False                # the top of the person: the head
    far = cv2.resize(stored.depth, (w, h)) > 1.6
    far &= cv2.dilate(matte.astype(np.uint8), np.ones((61, 61), np.uint8)) == 0
    kf = _sharpness(out.image, head) / _sharpness(p.image, head)
    kb = _sharpness(out.image, far) / _sharpness(p.image, far)
    assert kf > 0.9 and kb < 0.5, (kf, kb)


# -- Google's depth formats, written here as the cameras write them ----------------------------------------

def _app1(payload: bytes) -> bytes:
    return b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload


def _with_segments(jpeg: bytes, *segments: bytes) -> bytes:
    return jpeg[:2] + b"".join(segments) + jpeg[2:]                     # right after the start of image


def _photo_and_depth(tmp_path):
    """A 64 x 48 photo, and a depth ramp from 1 m (left) to 4 m (right) coded RangeInverse in a 16-bit PNG."""
    rgb = np.full((48, 64, 3), 128, np.uint8)
    Image.fromarray(rgb).save(tmp_path / "plain.jpg", quality=90)
    metres = np.tile(np.linspace(1.0, 4.0, 32, dtype=np.float64), (24, 1))
    near, far = 1.0, 4.0
    codes = (far * (metres - near) / (metres * (far - near)) * 65535 + 0.5).astype(np.uint16)   # RangeInverse
    png = tmp_path / "depth.png"
    Image.fromarray(codes).save(png)
    return (tmp_path / "plain.jpg").read_bytes(), png.read_bytes(), metres


def test_google_gdepth_split_over_extended_xmp_segments_is_read(tmp_path):
    import base64

    from portrait_studio.io.depth import read_depth

    jpeg, png, metres = _photo_and_depth(tmp_path)
    guid = b"0123456789ABCDEF0123456789ABCDEF"
    main = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            b'<rdf:Description xmlns:GDepth="http://ns.google.com/photos/1.0/depthmap/" '
            b'xmlns:xmpNote="http://ns.adobe.com/xmp/note/" GDepth:Format="RangeInverse" GDepth:Near="1.0" '
            b'GDepth:Far="4.0" GDepth:Mime="image/png" xmpNote:HasExtendedXMP="' + guid + b'"/></rdf:RDF></x:xmpmeta>')
    ext = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           b'<rdf:Description xmlns:GDepth="http://ns.google.com/photos/1.0/depthmap/" GDepth:Data="'
           + base64.b64encode(png) + b'"/></rdf:RDF></x:xmpmeta>')
    chunk = 120                                         # small parts, several segments, given out of order
    parts = [_app1(b"http://ns.adobe.com/xmp/extension/\x00" + guid + len(ext).to_bytes(4, "big")
                   + off.to_bytes(4, "big") + ext[off:off + chunk]) for off in range(0, len(ext), chunk)]
    assert len(parts) > 2
    path = tmp_path / "pixel.jpg"
    path.write_bytes(_with_segments(jpeg, _app1(b"http://ns.adobe.com/xap/1.0/\x00" + main), *parts[::-1]))
    d = read_depth(path)
    assert d is not None and d.source == "Google GDepth"
    np.testing.assert_allclose(d.depth, metres, rtol=2e-3)
    p = Portrait.read(path)
    assert p.shape == (48, 64)                          # the photo itself reads as before
    shown = refocus(p, f_number=2.0, focus_distance=1.0).extras["depth"]       # refocus uses it: near on the left
    assert shown[:, :8].mean() > shown[:, -8:].mean() + 0.3


def test_android_dynamic_depth_item_after_the_primary_image_is_read(tmp_path):
    from portrait_studio.io.depth import read_depth

    jpeg, png, metres = _photo_and_depth(tmp_path)
    confidence = b"\x89PNG not a depth map" * 3
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           b'<rdf:Description xmlns:Device="http://ns.google.com/photos/dd/1.0/device/" '
           b'xmlns:Container="http://ns.google.com/photos/dd/1.0/container/" '
           b'xmlns:Item="http://ns.google.com/photos/dd/1.0/item/" '
           b'xmlns:DepthMap="http://ns.google.com/photos/dd/1.0/depthmap/">'
           b'<Device:Cameras><rdf:Seq><rdf:li><Camera:DepthMap xmlns:Camera="http://ns.google.com/photos/dd/1.0/camera/">'
           b'<rdf:Description DepthMap:Format="RangeInverse" DepthMap:Near="1.0" DepthMap:Far="4.0" '
           b'DepthMap:Units="Meters" DepthMap:DepthURI="android/depthmap" DepthMap:ConfidenceURI="android/confidencemap"/>'
           b'</Camera:DepthMap></rdf:li></rdf:Seq></Device:Cameras>'
           b'<Device:Container><Container:Directory><rdf:Seq>'
           b'<rdf:li><Container:Item Item:Mime="image/jpeg" Item:Semantic="Primary"/></rdf:li>'
           b'<rdf:li><Container:Item Item:Mime="image/png" Item:Semantic="Depth" Item:Length="'
           + str(len(png)).encode() + b'" Item:DataURI="android/depthmap"/></rdf:li>'
           b'<rdf:li><Container:Item Item:Mime="image/png" Item:Semantic="Confidence" Item:Length="'
           + str(len(confidence)).encode() + b'" Item:Padding="3" Item:DataURI="android/confidencemap"/></rdf:li>'
           b'</rdf:Seq></Container:Directory></Device:Container></rdf:Description></rdf:RDF></x:xmpmeta>')
    path = tmp_path / "android.jpg"
    path.write_bytes(_with_segments(jpeg, _app1(b"http://ns.adobe.com/xap/1.0/\x00" + xmp)) + png + b"\0\0\0"
                     + confidence)
    d = read_depth(path)
    assert d is not None and d.source == "Dynamic Depth"
    np.testing.assert_allclose(d.depth, metres, rtol=2e-3)
    path.write_bytes(path.read_bytes()[:-200])          # cut short: the items no longer add up, nothing is read
    assert read_depth(path) is None or not np.allclose(read_depth(path).depth, metres, rtol=2e-3)


def test_no_bright_fringe_along_a_white_garment(shared_data):
    # 041: a white top before a wooden wall. Its outline's unmixed colours are as bright as the top but are not
    # the photo's highlights: boosted as lights, they drew a jagged white fringe over the blurred wall
    path = shared_data / "portraits" / "041.jpg"
    if not path.exists():
        pytest.skip("no portrait 041")
    p = Portrait.read(path)
    x, y, w, h = p.face().box
    below = (slice(int(y + 0.9 * h), int(y + 1.4 * h)), slice(int(x - 0.4 * w), int(x + w)))   # chin to shoulder
    glow = refocus(p, f_number=1.4, grain=0.0).image[below]
    dull = refocus(p, f_number=1.4, grain=0.0, highlights=0.0).image[below]
    assert np.abs(glow - dull).max() < 0.05


def test_a_depth_array_in_memory_is_metres():
    d = np.full((20, 30), 6.0, np.float32)
    d[5:15, 5:15] = 1.5
    got, absolute = depth_.from_file(Portrait(np.repeat(d[..., None], 3, -1)), (20, 30), kind="depth", near=None,
                                     far=None)
    assert absolute and np.allclose(got, d)
