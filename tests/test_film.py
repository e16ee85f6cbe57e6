"""film: stocks, grain, LUT io, fitted looks, the CLI."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from portrait_studio import Portrait
from portrait_studio.core import from_srgb8
from portrait_studio.core.colour import delta_e, linear_to_lab
from portrait_studio.core.image import linear_to_srgb, srgb_to_linear
from portrait_studio.errors import InputError, ParameterError
from portrait_studio.io.lut import Lut3D, apply_table, identity_table, read_lut, write_cube
from portrait_studio.ops.film import film
from portrait_studio.ops.film import grain as grains
from portrait_studio.ops.film.look import paired_table, unpaired_table
from portrait_studio.ops.film.stocks import STOCKS


def _mean_de(a_lin, b_lin) -> float:
    return float(delta_e(linear_to_lab(a_lin[::4, ::4]), linear_to_lab(b_lin[::4, ::4])).mean())


def _look(enc: np.ndarray) -> np.ndarray:
    """A smooth colour grade on sRGB-encoded values: warm, contrasty, a little desaturated, lifted blacks."""
    y = enc @ np.float32([0.3, 0.59, 0.11])
    out = 0.85 * enc + 0.15 * y[..., None]
    out = 0.04 + 0.92 * (out + 0.12 * np.sin(np.pi * (out - 0.5)) / np.pi)
    return np.clip(out * np.float32([1.05, 1.0, 0.9]), 0, 1).astype(np.float32)


def test_every_stock_renders_a_grey_ramp_monotone_and_black_and_white_stocks_neutral():
    ramp = np.repeat(np.linspace(0, 1.2, 256, dtype=np.float32)[None, :, None], 3, axis=2).repeat(8, axis=0)
    for name, stock in STOCKS.items():
        out = film(Portrait(ramp), stock=name, grain=0, halation=0).image
        y = out[4] @ np.float32([0.2126, 0.7152, 0.0722])
        assert np.all(np.diff(y) >= -1e-6), name
        assert y[-1] - y[0] > 0.6, name                        # the ramp keeps its range
        if stock.monochrome:
            assert np.abs(out - out[..., :1]).max() < 1e-6, name


def test_strength_zero_leaves_the_photo_and_the_cube_is_the_identity(astronaut):
    out = film(astronaut, stock="velvia-like", strength=0, grain=0, halation=0)
    enc = linear_to_srgb(astronaut.image)
    assert np.abs(linear_to_srgb(out.image) - enc).max() < 1e-5
    assert np.abs(out.extras["cube"].table - identity_table(33)).max() < 1e-6


def test_stocks_differ_and_keep_the_face(astronaut):
    a = film(astronaut, stock="portra-like", grain=0).image
    b = film(astronaut, stock="velvia-like", grain=0).image
    assert 1.0 < _mean_de(a, astronaut.image) < 12 and _mean_de(a, b) > 2.0
    assert np.isfinite(a).all() and a.min() >= 0


def test_grain_is_seeded_per_layer_and_stronger_in_the_mid_tones():
    flat = np.full((256, 256, 3), 0.18, np.float32)
    a = film(Portrait(flat), stock="portra-like", halation=0, seed=1).image
    b = film(Portrait(flat), stock="portra-like", halation=0, seed=1).image
    c = film(Portrait(flat), stock="portra-like", halation=0, seed=2).image
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    enc = linear_to_srgb(a)
    assert 0.004 < enc.std() < 0.05
    assert abs(np.corrcoef(enc[..., 0].ravel(), enc[..., 2].ravel())[0, 1]) < 0.5      # layers of their own
    std = grains.boolean_std(np.array([0.05, 0.5, 0.95]), 0.3)
    assert std[1] > 2 * std[0] and std[1] > 2 * std[2]


def test_grain_is_resolution_independent():
    # the same frame at 4x the linear size, reduced back by area, shows the grain of the small render
    small = np.full((128, 128, 3), 0.5, np.float32)
    big = np.full((512, 512, 3), 0.5, np.float32)
    model_s = grains.stock_model(radius_um=30.0, shape=small.shape[:2])
    model_b = grains.stock_model(radius_um=30.0, shape=big.shape[:2])
    gs = grains.add_grain(small, model_s, amount=1, seed=0) - 0.5
    gb = grains.add_grain(big, model_b, amount=1, seed=0) - 0.5
    reduced = gb.reshape(128, 4, 128, 4, 3).mean(axis=(1, 3))
    assert 0.7 < reduced.std() / gs.std() < 1.4
    assert gb.std() > 1.5 * gs.std()                                  # per pixel, the big render is grainier


@pytest.mark.parametrize("radius", [0.2, 0.5, 1.5, 4.0])
def test_grain_noise_correlates_neighbours_as_the_model_does(radius):
    # below a pixel a sampled Gaussian is nearly a delta: the kernel must still give the model's correlation
    sigma = grains.correlation_sigma(radius)
    f = grains.noise((384, 384), sigma, count=3, seed=0)
    assert f.shape == (384, 384, 3) and abs(f.std() - 1) < 0.03
    x = f - f.mean((0, 1))
    rho = float((x[:, 1:] * x[:, :-1]).mean() / x.var())
    assert abs(rho - np.exp(-1 / (4 * sigma ** 2))) < 0.03
    assert abs(np.corrcoef(f[..., 0].ravel(), f[..., 1].ravel())[0, 1]) < 0.02      # layers independent


def test_boolean_std_matches_a_monte_carlo_of_the_disc_model():
    rng = np.random.default_rng(0)
    r, u, size = 2.0, 0.4, 400
    lam = -np.log(1 - u) / (np.pi * r * r)
    n = rng.poisson(lam * (size + 4 * r) ** 2)
    centres = rng.uniform(-2 * r, size + 2 * r, (n, 2))
    yy, xx = np.mgrid[0:size * 4, 0:size * 4] / 4.0                    # 4x supersampled coverage
    cover = np.zeros(yy.shape, bool)
    import cv2

    img = np.zeros((size * 4, size * 4), np.uint8)
    for cx, cy in centres:
        cv2.circle(img, (int(round(cx * 4)), int(round(cy * 4))), int(round(r * 4)), 1, -1)
    cover = img.astype(np.float32)
    pix = cv2.GaussianBlur(cover, (0, 0), grains.PIXEL_SIGMA * 4)[::4, ::4][10:-10, 10:-10]
    assert abs(pix.mean() - u) < 0.03
    assert abs(pix.std() / grains.boolean_std(np.array([u]), r)[0] - 1) < 0.15


def test_hald_and_cube_read_write_and_apply_like_colour_science(tmp_path):
    import colour
    from PIL import Image

    n = 16                                                   # a level-4 Hald CLUT: 64 x 64, a 16^3 cube
    table = _look(identity_table(n))
    hald = (table.transpose(2, 1, 0, 3).reshape(64, 64, 3) * 255 + 0.5).astype(np.uint8)
    Image.fromarray(hald).save(tmp_path / "h.png")
    lut = read_lut(tmp_path / "h.png")
    assert lut.size == n and np.abs(lut.table - table).max() < 1 / 255
    write_cube(tmp_path / "h.cube", lut)
    back = read_lut(tmp_path / "h.cube")
    assert np.abs(back.table - lut.table).max() < 1e-5
    x = np.random.default_rng(0).random((64, 64, 3)).astype(np.float32)
    ref = colour.LUT3D(lut.table.astype(np.float64)).apply(x.astype(np.float64))
    assert np.abs(apply_table(lut.table, x) - ref).max() < 2e-3
    with pytest.raises(InputError, match="not a Hald CLUT"):
        Image.fromarray(np.zeros((60, 64, 3), np.uint8)).save(tmp_path / "bad.png")
        read_lut(tmp_path / "bad.png")
    with pytest.raises(InputError, match="does not exist"):
        read_lut(tmp_path / "missing.cube")


def test_paired_look_reproduces_the_grade_on_another_photo(astronaut_rgb8):
    enc = astronaut_rgb8.astype(np.float32) / 255
    a, b = enc[:, :256], enc[:, 256:]                        # two halves: fit on one, apply to the other
    table = paired_table(a, _look(a))
    out = srgb_to_linear(apply_table(table, b))
    assert _mean_de(out, srgb_to_linear(_look(b))) < 1.0 < _mean_de(srgb_to_linear(b), srgb_to_linear(_look(b)))


def test_unpaired_black_and_white_reference_makes_black_and_white(astronaut):
    grey = astronaut.image @ np.float32([0.2126, 0.7152, 0.0722])
    bw_ref = np.repeat(grey[..., None], 3, axis=2)
    out = film(astronaut, reference=bw_ref[::-1], grain=0).image   # another picture, black-and-white
    assert np.abs(out - out[..., 1:2]).max() < 0.01
    ungraded = unpaired_table(linear_to_srgb(astronaut.image))      # an ungraded frame: little change
    assert np.abs(ungraded - identity_table(ungraded.shape[0])).mean() < 0.03


def test_lut_parameter_and_errors(astronaut):
    table = _look(identity_table(17))
    out = film(astronaut, lut=Lut3D(table), grain=0)
    assert _mean_de(out.image, srgb_to_linear(_look(linear_to_srgb(astronaut.image)))) < 0.6
    with pytest.raises(ParameterError, match="reference"):
        film(astronaut, reference_before=astronaut.image)
    with pytest.raises(ParameterError, match="at most one"):
        film(astronaut, stock="hp5-like", lut=Lut3D(table))
    with pytest.raises(InputError, match="different picture"):
        film(astronaut, reference=astronaut.image, reference_before=astronaut.image[:100])


def test_cli_end_to_end(tmp_path, astronaut_rgb8):
    import colour
    from PIL import Image

    src, out, cube = tmp_path / "in.png", tmp_path / "out.png", tmp_path / "look.cube"
    Image.fromarray(astronaut_rgb8).save(src)
    cli = [sys.executable, "-m", "portrait_studio"]
    p = subprocess.run([*cli, "film", src, "-o", out, "--stock", "ektar-like", "--grain", "0", "--halation", "0",
                        "--export-cube", cube], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    ours = np.asarray(Image.open(out), np.float64) / 255
    via = np.clip(colour.read_LUT(str(cube)).apply(astronaut_rgb8 / 255.0), 0, 1)
    assert _mean_de(srgb_to_linear(ours.astype(np.float32)), srgb_to_linear(via.astype(np.float32))) < 0.5
    p = subprocess.run([*cli, "film", "--list"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and "tri-x-like" in p.stdout and len(p.stdout.splitlines()) == len(STOCKS)
    p = subprocess.run([*cli, "film", src, "-o", tmp_path / "x.png", "--lut", tmp_path / "none.cube"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 2 and "none.cube" in p.stderr and "Traceback" not in p.stderr
    p = subprocess.run([*cli, "film", src, "-o", tmp_path / "y.png", "--export-cube", tmp_path / "look.txt"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 2 and ".cube" in p.stderr and not (tmp_path / "y.png").exists()


def test_paired_on_a_real_film_lut(shared_data):
    from PIL import Image

    photos = sorted((shared_data / "portraits").glob("*.jpg"))[:2]
    lut = read_lut(shared_data / "luts" / "Fuji_Superia_400_2.png")
    a, b = (np.asarray(Image.open(p).convert("RGB").resize((400, 400)), np.float32) / 255 for p in photos)
    table = paired_table(a, lut.apply(a))
    got, want = srgb_to_linear(apply_table(table, b)), srgb_to_linear(lut.apply(b))
    assert _mean_de(got, want) < 0.5 * _mean_de(srgb_to_linear(b), want), (_mean_de(got, want), _mean_de(srgb_to_linear(b), want))
