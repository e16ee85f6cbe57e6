"""The image convention and the sRGB conversions."""
import numpy as np
import pytest

from portrait_studio.core import as_image, from_srgb8, linear_to_srgb, luminance, srgb_to_linear, to_srgb8


def test_srgb_curve_known_values():
    assert srgb_to_linear(np.array([0.0, 0.04045, 0.5, 1.0])) == pytest.approx([0, 0.04045 / 12.92, 0.2140, 1],
                                                                               abs=1e-4)
    x = np.linspace(0, 1, 1001, dtype=np.float32)
    assert np.abs(linear_to_srgb(srgb_to_linear(x)) - x).max() < 1e-5


def test_8bit_round_trip_is_exact_and_encoding_is_nearest():
    codes = np.arange(256, dtype=np.uint8)[None, :, None].repeat(3, axis=2)
    assert (to_srgb8(from_srgb8(codes)) == codes).all()
    lin = np.random.default_rng(0).random((64, 64, 3), dtype=np.float32)
    exact = linear_to_srgb(lin) * 255
    assert np.abs(to_srgb8(lin).astype(np.float32) - exact).max() <= 0.55


def test_out_of_range_values_clip_on_encoding():
    assert to_srgb8(np.array([[[-0.5, 1.7, 0.0]]], np.float32)).tolist() == [[[0, 255, 0]]]


def test_from_srgb8_any_layout():
    g = np.array([[0, 255]], np.uint8)
    assert from_srgb8(g).shape == (1, 2) and from_srgb8(g)[0, 1] == 1.0
    assert from_srgb8(np.zeros((2, 2, 5), np.uint8)).shape == (2, 2, 5)
    with pytest.raises(ValueError, match="expects uint8"):
        from_srgb8(np.zeros((2, 2, 3), np.uint16))


def test_luminance_weights():
    assert luminance(np.ones((1, 1, 3), np.float32))[0, 0] == pytest.approx(1.0)
    assert luminance(np.array([[[0, 1, 0]]], np.float32))[0, 0] == pytest.approx(0.7152)


@pytest.mark.parametrize("bad, message", [
    (np.zeros((4, 4)), r"shape \(H, W, 3\), got \(4, 4\)"),
    (np.zeros((4, 4, 4)), r"got \(4, 4, 4\)"),
    (np.zeros((4, 4, 3), np.uint8), "floating point linear light, got uint8"),
])
def test_as_image_names_the_problem(bad, message):
    with pytest.raises(ValueError, match=message):
        as_image(bad)


def test_colour_temperature_round_trip_and_adaptation():
    from portrait_studio.core.colour import D65_XY, adapt, cct, delta_e, kelvin_to_rgb, kelvin_to_xy, linear_to_lab

    for k in (2700, 3200, 4500, 5600, 6504, 9000):
        assert abs(cct(kelvin_to_rgb(k)) - k) < 0.02 * k
    np.testing.assert_allclose(kelvin_to_rgb(6504), 1.0, atol=0.003)
    warm = kelvin_to_rgb(3200)
    assert warm[0] > 1.0 > warm[2]
    neutral = adapt(warm[None, None], kelvin_to_xy(3200), D65_XY)[0, 0]
    np.testing.assert_allclose(neutral, 1.0, atol=0.003)
    a = linear_to_lab(np.array([0.4, 0.3, 0.2], np.float32))
    assert delta_e(a, a) == 0 and 0.5 < delta_e(a, linear_to_lab(np.array([0.4, 0.31, 0.2]))) < 3


def test_robust_sigma_matches_normal_spread_and_ignores_outliers():
    from portrait_studio.core.stats import robust_sigma

    x = np.random.default_rng(0).normal(3.0, 2.0, (4, 20000))
    assert np.allclose(robust_sigma(x, axis=1), 2.0, rtol=0.03)
    x[:, :2000] = 1e6                                   # 10% gross outliers
    assert np.all(robust_sigma(x, axis=1) < 2.6)
    # centre=False measures the spread around 0 (residuals): a shifted sample reads wider
    assert robust_sigma(np.full(9, 5.0)) == 0.0 and robust_sigma(np.full(9, 5.0), centre=False) > 7


# -- shared machinery below the operations: lens, masked blurs, guided filter ----------------------------

def test_the_camera_of_a_portrait():
    from PIL import Image

    from portrait_studio.core import lens

    cam = lens.camera(4032, 3024, interocular_px=300.0)
    assert cam.focal_35mm == lens.DEFAULT_FOCAL_35MM
    assert cam.focal_px == lens.focal_length_px(50.0, 4032, 3024)
    assert cam.subject_m == lens.subject_distance(300.0, cam.focal_px)
    assert cam.blur_px(2.0, cam.subject_m) == 0.0                               # focused on the eyes
    assert cam.blur_px(2.0, 5.0) > cam.blur_px(4.0, 5.0) > 0
    assert cam.blur_px(2.0, 5.0, focus_m=5.0) == 0.0
    # a turned head shows its eyes closer together: the distance is not overestimated (up to 60 degrees)
    turned = lens.camera(4032, 3024, interocular_px=300.0 * np.cos(np.radians(40)), yaw=-40.0)
    assert turned.subject_m == pytest.approx(cam.subject_m)
    assert lens.camera(4032, 3024, interocular_px=150.0, yaw=80.0).subject_m == pytest.approx(cam.subject_m)
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0xA405] = 26
    assert lens.camera(4032, 3024, interocular_px=300.0, exif=exif.tobytes()).focal_35mm == 26.0
    assert lens.camera(4032, 3024, interocular_px=300.0, exif=exif.tobytes(), focal_35mm=85.0).focal_35mm == 85.0


def test_exact_masked_blur_is_the_normalised_convolution():
    import cv2

    from portrait_studio.core.masked import masked_gaussian

    rng = np.random.default_rng(1)
    x = rng.random((80, 90, 3), np.float32)
    w = (rng.random((80, 90)) > 0.5).astype(np.float32)
    sigma = 9.0                                                    # wide: the fast path would approximate
    ref = cv2.GaussianBlur(x * w[..., None], (0, 0), sigma) / cv2.GaussianBlur(w, (0, 0), sigma)[..., None]
    assert np.abs(masked_gaussian(x, w, sigma, exact=True) - ref).max() < 1e-5
    assert np.abs(masked_gaussian(x, w, sigma) - ref).max() < 0.05


def test_guided_filter_is_opencvs():
    import cv2

    from portrait_studio.core.guided import guided_filter

    rng = np.random.default_rng(2)
    guide = cv2.GaussianBlur(rng.integers(0, 256, (60, 70, 3)).astype(np.uint8), (0, 0), 2)
    guide[:, 35:] //= 3                                            # an edge the filter must keep
    src = (rng.random((60, 70)) > 0.3).astype(np.float32)
    src[:, 35:] = 0
    ours = guided_filter(guide, src, 5, 1e-3 * 255 ** 2)
    assert ours.dtype == np.float32 and ours.shape == src.shape
    assert np.abs(ours - cv2.ximgproc.guidedFilter(guide, src, 5, 1e-3 * 255 ** 2)).max() < 1e-4


def test_work_small_grid_round_trips_smooth_fields_and_points():
    from portrait_studio.core.grid import Grid

    yy, xx = np.mgrid[0:300, 0:400].astype(np.float32)
    smooth = np.sin(xx / 60) + np.cos(yy / 45)                      # far coarser than the grid's pixels
    g = Grid((40, 20, 360, 280), 0.25)
    assert g.size == (80, 65) and not g.full
    small = g.take(smooth)
    assert small.shape == (65, 80)
    back = g.enlarge(small)
    assert back.shape == (260, 320)
    inner = np.s_[8:-8, 8:-8]                                       # (the border extrapolates)
    assert np.abs(back - smooth[20:280, 40:360])[inner].max() < 0.01
    pts = np.float32([[100.0, 50.0, 4.0], [300.5, 200.25, 8.0]])
    assert np.allclose(g.to_full(g.from_full(pts)), pts, atol=1e-4)
    assert np.allclose(g.from_full(pts)[:, 2], pts[:, 2] * 0.25)
    # onto another grid inside it: the same as enlarging and reducing again
    inner_grid = Grid((100, 60, 300, 200), 0.5)
    direct = g.sub(small, inner_grid)
    assert direct.shape == (70, 100)
    assert np.abs(direct - inner_grid.take(smooth))[4:-4, 4:-4].max() < 0.02
    whole = Grid.whole(smooth.shape, 1.0)
    assert whole.full and whole.take(smooth) is not None and whole.enlarge(smooth) is smooth
    with pytest.raises(ValueError, match="non-empty box and a scale"):
        Grid((10, 10, 10, 20), 0.5)
