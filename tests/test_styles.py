"""style: the flow and stroke machinery on synthetic pictures, every style on the astronaut (a style, not a
colour treatment; the face still found where it was), a style from a reference, the CLI."""
from __future__ import annotations

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from portrait_studio import Portrait
from portrait_studio.cli import main
from portrait_studio.core.colour import delta_e, linear_to_lab
from portrait_studio.core.image import linear_to_srgb, luminance, srgb_to_linear
from portrait_studio.core.masked import gaussian
from portrait_studio.errors import ParameterError
from portrait_studio.ops.style import STYLES, field, graphic, reference, style


def _guide(grey: np.ndarray, *, detail: float = 0.45, unit: float = 100.0) -> field.Guide:
    tangent, coherence = field.flow(grey, sigma=2.0)
    return field.Guide(np.repeat(grey[..., None], 3, 2), grey, unit, np.full(grey.shape, detail, np.float32),
                       np.ones(grey.shape, np.float32), tangent, coherence, 0)


def _scene(size: int = 256) -> np.ndarray:
    """A face-less picture: a warm disc on a cool gradient with a few stripes (linear light)."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    img = np.dstack([0.2 + 0.3 * x, 0.25 + 0.2 * y, 0.5 - 0.2 * x])
    disc = ((x - 0.55) ** 2 + (y - 0.45) ** 2) < 0.09
    img[disc] = (0.7, 0.4, 0.25)
    img[(np.sin(40 * x) > 0.9) & ~disc] *= 0.5
    return srgb_to_linear(img.astype(np.float32))


def _grey_ssim(a_lin: np.ndarray, b_lin: np.ndarray) -> float:
    a, b = (np.round(linear_to_srgb(luminance(i)) * 255) for i in (a_lin, b_lin))
    return float(structural_similarity(a, b, data_range=255))


def _mean_de(a_lin, b_lin) -> float:
    return float(delta_e(linear_to_lab(a_lin[::2, ::2]), linear_to_lab(b_lin[::2, ::2])).mean())


# -- machinery ---------------------------------------------------------------------------------------------

def test_flow_runs_along_stripes_and_turns_to_the_prior_where_flat():
    y, x = np.mgrid[0:96, 0:96].astype(np.float32)
    vertical = (0.5 + 0.4 * np.sin(x / 3)).astype(np.float32)            # stripes running up and down
    t, c = field.flow(vertical, sigma=3.0)
    assert np.abs(t[20:-20, 20:-20, 1]).min() > 0.95 and c[20:-20, 20:-20].mean() > 0.8
    t, c = field.flow(np.full((64, 64), 0.5, np.float32), sigma=3.0)      # nothing to follow: the prior
    a = np.deg2rad(field.PRIOR_ANGLE)
    assert np.allclose(np.abs(t[32, 32]), [np.cos(a), np.sin(a)], atol=1e-3)


def test_smear_keeps_what_runs_along_the_flow_and_averages_across_it():
    x = np.mgrid[0:64, 0:64][1].astype(np.float32)
    stripes = (x % 8 < 4).astype(np.float32)                              # vertical stripes
    along = np.dstack([np.zeros_like(x), np.ones_like(x)]).astype(np.float32)
    across = np.dstack([np.ones_like(x), np.zeros_like(x)]).astype(np.float32)
    assert np.abs(field.smear(stripes, along, 6.0)[8:-8, 8:-8] - stripes[8:-8, 8:-8]).max() < 1e-5
    assert field.smear(stripes, across, 8.0, steps=8)[8:-8, 8:-8].std() < 0.15


def test_sizes_follow_the_detail_map():
    g = _guide(np.full((32, 32), 0.5, np.float32))
    for detail, want in [(0.0, 0.1), (field.DETAIL_FACE, 0.04), (1.0, 0.02)]:
        g2 = field.Guide(g.srgb, g.grey, g.unit, np.full((32, 32), detail, np.float32), g.person, g.tangent,
                         g.coherence, 0)
        assert g2.size(0.1, 0.04, 0.02)[0, 0] == pytest.approx(want * g.unit)


def test_halftone_prints_the_darkness_asked_for():
    g = _guide(np.full((200, 200), 0.5, np.float32))
    for darkness in (0.1, 0.25, 0.4):                                   # the styles print at most 0.4
        cover = graphic.halftone(g, np.full((200, 200), darkness, np.float32), 0.1)
        assert cover.mean() == pytest.approx(darkness, abs=0.05)


def test_every_style_works_without_a_face_at_any_size_and_is_seeded():
    small, large = _scene(160), _scene(320)
    for name in STYLES:
        a = style(Portrait(small), style=name).image
        assert a.shape == small.shape and a.dtype == np.float32 and np.isfinite(a).all(), name
        b = style(Portrait(large), style=name).image
        # resolution-independent: the large one reduced looks like the small one (sizes follow the frame):
        # seen at the scale of a few strokes, measured 0.5-2 ΔE apart, where the style is 4.5-41 from the photo
        reduced = b.reshape(160, 2, 160, 2, 3).mean((1, 3))
        assert _mean_de(gaussian(reduced, 2), gaussian(a, 2)) < 3, name
    a, b, c = (style(Portrait(small), style="oil", seed=s).image for s in (1, 1, 2))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_strength_blends_toward_the_photo():
    img = _scene(128)
    assert np.abs(style(Portrait(img), style="comic", strength=0).image - img).max() < 1e-6
    full = style(Portrait(img), style="comic").image
    half = style(Portrait(img), style="comic", strength=0.5).image
    assert np.allclose(half, 0.5 * (img + full), atol=1e-5)


def test_unknown_style_is_refused_naming_the_choices():
    with pytest.raises(ParameterError, match="oil.*pop-art"):
        style(Portrait(_scene(64)), style="cubism")


# -- a style from a picture ----------------------------------------------------------------------------------

def _painting(size: int, stripe: float) -> np.ndarray:
    """A blue-and-gold 'painting' of diagonal strokes `stripe` px wide (linear light)."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    band = np.floor((x + y) / stripe)
    shade = rng.random(int(band.max()) + 2)[band.astype(int)]
    blue, gold = np.float32([0.1, 0.25, 0.75]), np.float32([0.85, 0.65, 0.2])
    enc = np.where((shade > 0.7)[..., None], gold, blue) * (0.6 + 0.4 * shade[..., None])
    return srgb_to_linear(enc.astype(np.float32))


def test_reference_brings_its_palette_and_stroke_size_not_its_content():
    photo = _scene(192)
    fine, coarse = reference.measure(_painting(384, 3)), reference.measure(_painting(384, 24))
    assert coarse.stroke > fine.stroke
    ref = _painting(256, 8)
    plain = style(Portrait(photo), style="oil").image
    took = style(Portrait(photo), style="oil", reference=ref).image
    lab_ref, lab_took, lab_plain = (linear_to_lab(i).reshape(-1, 3).mean(0) for i in (ref, took, plain))
    # the colours move toward the painting's (blue-gold: b* far from the photo's)
    assert np.linalg.norm(lab_took[1:] - lab_ref[1:]) < 0.6 * np.linalg.norm(lab_plain[1:] - lab_ref[1:])
    # the layout stays the photo's: its broad light and shade follow the photo's, not the painting's
    def broad(i):
        return gaussian(luminance(i[:192, :192]), 4).ravel()

    assert np.corrcoef(broad(took), broad(photo))[0, 1] > 0.8
    assert abs(np.corrcoef(broad(took), broad(ref))[0, 1]) < 0.3


# -- every style on a real face ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def astronaut_styles(astronaut_rgb8, backend):
    from portrait_studio.core import from_srgb8

    photo = Portrait(from_srgb8(astronaut_rgb8), path="astronaut", backend=backend)
    face = photo.face()
    return photo, face, {n: style(photo, style=n).image for n in STYLES}


@pytest.mark.parametrize("name", list(STYLES))
def test_a_style_changes_the_picture_and_keeps_the_face(name, astronaut_styles, backend):
    photo, face, outs = astronaut_styles
    out = outs[name]
    # a style, not a colour treatment: the check's figures (ΔE2000 >= 6, grey SSIM <= 0.60), with margin
    assert _mean_de(out, photo.image) > 6.5, name
    assert _grey_ssim(out, photo.image) < 0.58, name
    # the face is still found, its mesh where it was (a face the detector finds and places alike is the
    # person's features in their place; measured 0.8-1.7% of the face height for these styles)
    again = Portrait(out, backend=backend).faces
    assert again, f"{name}: the face is lost"
    moved = np.linalg.norm(again[0].landmarks[:468, :2] - face.landmarks[:468, :2], axis=1).mean() / face.size
    assert moved < 0.04, (name, moved)


# -- the command line ------------------------------------------------------------------------------------------

def test_cli_end_to_end_and_refusals(tmp_path, astronaut_rgb8, capsys):
    from PIL import Image

    src, out = tmp_path / "in.png", tmp_path / "out.png"
    Image.fromarray(astronaut_rgb8[::2, ::2]).save(src)
    Image.fromarray((linear_to_srgb(_painting(128, 6)) * 255).astype(np.uint8)).save(tmp_path / "ref.png")
    assert main(["style", str(src), "-o", str(out), "--style", "watercolour", "--strength", "0.8",
                 "--reference", str(tmp_path / "ref.png"), "--seed", "3"]) == 0
    assert Image.open(out).size == (256, 256)
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main(["style", str(src), "-o", str(tmp_path / "bad.png"), "--style", "cubism"])
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and "pop-art" in err[0] and "watercolour" in err[0]
    assert not (tmp_path / "bad.png").exists()
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main(["style", "--list"])
    assert e.value.code == 0 and capsys.readouterr().out.count("\n") == len(STYLES)
