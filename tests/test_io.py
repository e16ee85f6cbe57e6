"""Image io: round trips, metadata, orientation, ICC conversion, odd modes and every kind of bad file."""
from __future__ import annotations

import os
import struct
import zlib

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms, ImageOps

from portrait_studio.core import from_srgb8, linear_to_srgb, srgb_to_linear
from portrait_studio.errors import InputError, ParameterError
from portrait_studio.io import Metadata, read_image, write_image
from portrait_studio.io import icc as icc_mod
from portrait_studio.io import write as write_mod

SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       b'<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6"/></rdf:RDF></x:xmpmeta>')


# ---------------------------------------------------------------------------------------------- helpers
def _icc(name: str, primaries, *, gamma: float | None = None) -> bytes:
    """A minimal v2 matrix/TRC RGB profile: D65 primaries adapted to D50 (Bradford); sRGB curve or a gamma."""
    xy = np.array(primaries + [(0.3127, 0.3290)])
    xyz = np.stack([xy[:, 0] / xy[:, 1], np.ones(4), (1 - xy.sum(1)) / xy[:, 1]], axis=1)
    m = xyz[:3].T * np.linalg.solve(xyz[:3].T, xyz[3])          # RGB -> XYZ (D65)
    b = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]])
    d50, d65 = np.array([0.96422, 1, 0.82521]), np.array([0.95047, 1, 1.08883])
    m = np.linalg.inv(b) @ np.diag((b @ d50) / (b @ d65)) @ b @ m

    def s15(*v):
        return b"".join(struct.pack(">i", round(x * 65536)) for x in v)

    trc = (b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256)) if gamma else
           b"para" + bytes(4) + struct.pack(">HH", 3, 0) + s15(2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045))
    text = name.encode() + b"\0"
    tags = {b"desc": b"desc" + bytes(4) + struct.pack(">I", len(text)) + text + bytes(79),
            b"wtpt": b"XYZ " + bytes(4) + s15(*d50),
            **{k: b"XYZ " + bytes(4) + s15(*m[:, i]) for i, k in enumerate([b"rXYZ", b"gXYZ", b"bXYZ"])},
            b"rTRC": trc, b"gTRC": trc, b"bTRC": trc}
    table, data, offset = b"", b"", 128 + 4 + 12 * len(tags)
    for sig, body in tags.items():
        body += bytes(-len(body) % 4)
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = (struct.pack(">I4sI4s4s4s", size, b"none", 0x02100000, b"mntr", b"RGB ", b"XYZ ") + bytes(12)
              + b"acsp" + bytes(24) + s15(*d50) + bytes(52))
    return header + struct.pack(">I", len(tags)) + table + data


P3_ICC = _icc("Display P3", [(0.680, 0.320), (0.265, 0.690), (0.150, 0.060)])
ADOBE_ICC = _icc("Adobe RGB (1998)", [(0.64, 0.33), (0.21, 0.71), (0.15, 0.06)], gamma=563 / 256)


def _exif(orientation: int = 6) -> Image.Exif:
    exif = Image.Exif()
    exif.update({271: "Canon", 272: "EOS R5", 306: "2024:05:01 12:00:00", 33432: "(c) Ann", 0x013B: "Ann",
                 0x0112: orientation})
    exif.get_ifd(0x8769).update({0xA431: "BODY123", 0xA435: "LENS456", 0x829D: 2.8})
    exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 22.0, 12.0)})
    return exif


@pytest.fixture()
def small(astronaut_rgb8) -> np.ndarray:
    """A 64×48 (H×W) crop of the astronaut, 8-bit sRGB."""
    return np.ascontiguousarray(astronaut_rgb8[40:104, 200:248])


def _raises(path, **kwargs) -> str:
    with pytest.raises(InputError) as info:
        read_image(path, **kwargs)
    msg = str(info.value)
    assert msg.startswith(str(path)) and "\n" not in msg
    return msg


# ---------------------------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("ext,depth,tol", [("png", 8, 1e-6), ("png", 16, 1e-6), ("tif", 8, 1e-6), ("tif", 16, 1e-6),
                                          ("jpg", 8, 0.08), ("webp", 8, 0.1), ("heic", 8, 0.12)])
def test_round_trip_carries_pixels_and_metadata(tmp_path, small, ext, depth, tol):
    image = from_srgb8(small)
    meta = Metadata("JPEG", 8, "sRGB", exif=_exif().tobytes(), xmp=XMP)
    out = write_image(tmp_path / f"out.{ext}", image, meta, bit_depth=depth)
    back, m = read_image(out)
    assert back.shape == image.shape and back.dtype == np.float32
    assert np.abs(linear_to_srgb(back) - linear_to_srgb(image)).max() <= tol + 1e-5
    assert m.bit_depth == depth and m.icc and icc_mod.description(m.icc) == "sRGB built-in"
    assert abs(np.mean(back - image)) < 0.01 and not any("orientation" in n for n in m.notes)
    exif = Image.Exif()
    exif.load(m.exif)
    assert (exif[271], exif[272], exif[306]) == ("Canon", "EOS R5", "2024:05:01 12:00:00")
    assert exif.get(0x0112, 1) == 1
    assert b'tiff:Orientation="1"' in m.xmp and b"adobe:ns:meta" in m.xmp


@pytest.mark.parametrize("ext", ["png", "tif"])
def test_16_bit_precision_kept(tmp_path, ext):
    codes = np.random.default_rng(0).integers(0, 65536, (48, 64, 3), dtype=np.uint16)
    codes[0, :3] = [0, 65535, 1]
    out = write_image(tmp_path / f"x.{ext}", srgb_to_linear(codes / 65535), bit_depth=16)
    raw = tifffile.imread(out) if ext == "tif" else cv2.imread(str(out), cv2.IMREAD_UNCHANGED)[..., ::-1]
    assert raw.dtype == np.uint16 and np.abs(raw.astype(int) - codes).max() <= 2
    back, meta = read_image(out)
    assert meta.bit_depth == 16
    assert np.abs(linear_to_srgb(back) * 65535 - codes).max() <= 2


def test_strip_private(tmp_path, small):
    meta = Metadata("JPEG", 8, "sRGB", exif=_exif().tobytes(), xmp=XMP)
    _, m = read_image(write_image(tmp_path / "p.jpg", from_srgb8(small), meta, strip_private=True))
    exif = Image.Exif()
    exif.load(m.exif)
    sub = exif.get_ifd(0x8769)
    assert exif[271] == "Canon" and exif[33432] == "(c) Ann" and 0x829D in sub
    assert 0x8825 not in exif and not exif.get_ifd(0x8825) and 0x013B not in exif
    assert 0xA431 not in sub and 0xA435 not in sub and m.xmp is None
    # without strip_private the same fields survive
    _, m = read_image(write_image(tmp_path / "k.jpg", from_srgb8(small), meta))
    exif.load(m.exif)
    assert exif.get_ifd(0x8825) and exif.get_ifd(0x8769)[0xA431] == "BODY123"


def test_tiff_carries_baseline_tags(tmp_path, small):
    out = write_image(tmp_path / "t.tiff", from_srgb8(small), Metadata("JPEG", 8, "sRGB", exif=_exif().tobytes()))
    with tifffile.TiffFile(out) as tif:
        tags = {t.code: t.value for t in tif.pages[0].tags}
    assert tags[271] == "Canon" and tags[272] == "EOS R5" and tags[33432] == "(c) Ann"
    assert tags[306] == "2024:05:01 12:00:00" and tags[258] == (16, 16, 16)
    assert icc_mod.description(tags[34675]) == "sRGB built-in"


# ---------------------------------------------------------------------------------------------- orientation
@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_applied(tmp_path, small, orientation):
    png = tmp_path / "o.png"
    Image.fromarray(small).save(png, exif=_exif(orientation).tobytes())
    with Image.open(png) as im:
        upright = from_srgb8(np.asarray(ImageOps.exif_transpose(im).convert("RGB")))
    image, meta = read_image(png)
    np.testing.assert_array_equal(image, upright)
    assert (f"EXIF orientation {orientation} applied" in meta.notes) == (orientation > 1)
    tif = tmp_path / "o.tif"                                  # 16-bit TIFF, read by tifffile
    tifffile.imwrite(tif, small.astype(np.uint16) * 257, photometric="rgb", extratags=[(274, "H", 1, orientation)])
    image, meta = read_image(tif)
    assert meta.bit_depth == 16
    np.testing.assert_allclose(image, upright, atol=1e-6)


# ---------------------------------------------------------------------------------------------- colour
def test_srgb_tagged_equals_untagged(tmp_path, small):
    Image.fromarray(small).save(tmp_path / "t.png", icc_profile=SRGB_ICC)
    Image.fromarray(small).save(tmp_path / "u.png")
    tagged, mt = read_image(tmp_path / "t.png")
    untagged, mu = read_image(tmp_path / "u.png")
    assert np.abs(tagged - untagged).max() < 1e-3
    assert mt.profile == "sRGB built-in" and mu.profile == "sRGB (untagged, assumed)"


@pytest.mark.parametrize("profile,name,red", [(P3_ICC, "Display P3", (1.2249, -0.0421, -0.0196)),
                                              (ADOBE_ICC, "Adobe RGB (1998)", (1.3982, 0.0, 0.0))])
def test_wide_gamut_profiles_convert(tmp_path, profile, name, red):
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[:4, :, 0] = 255
    rgb[4:] = 128
    Image.fromarray(rgb).save(tmp_path / "w.png", icc_profile=profile)
    image, meta = read_image(tmp_path / "w.png")
    assert meta.profile == name and meta.icc == profile
    np.testing.assert_allclose(image[0, 0], red, atol=2e-3)
    grey = srgb_to_linear(128 / 255) if profile is P3_ICC else (128 / 255) ** (563 / 256)
    np.testing.assert_allclose(image[7, 7], [grey] * 3, atol=1e-3)


def test_wide_gamut_16_bit_keeps_precision(tmp_path):
    codes = np.linspace(0, 65535, 48 * 64 * 3).astype(np.uint16).reshape(48, 64, 3)
    tifffile.imwrite(tmp_path / "p3.tif", codes, photometric="rgb", iccprofile=P3_ICC)
    image, _ = read_image(tmp_path / "p3.tif")
    m = icc_mod.XYZ_D50_TO_SRGB @ np.stack([icc_mod._xyz(icc_mod._tags(P3_ICC)[k]) for k in
                                            (b"rXYZ", b"gXYZ", b"bXYZ")], axis=1)
    np.testing.assert_allclose(image, srgb_to_linear(codes / 65535) @ m.T, atol=1e-5)


def test_lut_profiles_fall_back_to_littlecms(tmp_path, small, monkeypatch):
    monkeypatch.setattr(icc_mod, "decoder", lambda data: None)
    Image.fromarray(small).save(tmp_path / "t.png", icc_profile=SRGB_ICC)
    image, meta = read_image(tmp_path / "t.png")
    assert np.abs(linear_to_srgb(image) - small / 255).max() <= 2 / 255
    assert any("LittleCMS" in n for n in meta.notes)


def test_cmyk_jpeg(tmp_path):
    Image.new("CMYK", (64, 48), (0, 255, 255, 0)).save(tmp_path / "c.jpg", quality=95)
    image, meta = read_image(tmp_path / "c.jpg")
    assert image.shape == (48, 64, 3) and meta.format == "JPEG"
    np.testing.assert_allclose(image.mean((0, 1)), [1, 0, 0], atol=0.03)
    assert any("CMYK" in n for n in meta.notes)


# ---------------------------------------------------------------------------------------------- modes
def test_grey_8_and_16(tmp_path):
    Image.fromarray(np.full((48, 64), 100, np.uint8)).save(tmp_path / "g8.png")
    Image.fromarray(np.full((48, 64), 12345, np.uint16)).save(tmp_path / "g16.png")
    tifffile.imwrite(tmp_path / "g16.tif", np.full((48, 64), 54321, np.uint16))
    for name, v, depth in [("g8.png", 100 / 255, 8), ("g16.png", 12345 / 65535, 16), ("g16.tif", 54321 / 65535, 16)]:
        image, meta = read_image(tmp_path / name)
        assert image.shape == (48, 64, 3) and meta.bit_depth == depth
        np.testing.assert_allclose(image, srgb_to_linear(v), atol=1e-4)


def _transparent(tmp_path, small, mode):
    """`small` saved as a PNG with transparency of `mode` (RGBA, LA, a palette or RGB with a tRNS entry):
    the path, the colour, the alpha expected (float in [0, 1])."""
    im = Image.fromarray(small).convert("L" if mode == "LA" else "RGB")
    if mode in ("P", "tRNS"):                             # one transparent entry: the palette's 0, or a colour
        im = im.convert("P", palette=Image.Palette.ADAPTIVE, colors=16) if mode == "P" else im.quantize(16).convert("RGB")
        key = 0 if mode == "P" else im.getpixel((0, 0))
        im.save(tmp_path / "a.png", transparency=key)
        colour = np.asarray(im.convert("RGB"))
        alpha = np.asarray(im if mode == "P" else im.convert("RGB")) != key
        alpha = (alpha if mode == "P" else alpha.any(-1)).astype(np.float32)
        return tmp_path / "a.png", colour, alpha
    alpha = np.tile(np.linspace(0, 255, im.size[0]).round().astype(np.uint8), (im.size[1], 1))
    colour = np.asarray(im.convert("RGB"))
    im.putalpha(Image.fromarray(alpha))
    im.save(tmp_path / "a.png")
    return tmp_path / "a.png", colour, alpha / np.float32(255)


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "tRNS"])
def test_alpha_read_or_dropped(tmp_path, small, mode):
    path, colour, alpha = _transparent(tmp_path, small, mode)
    image, meta = read_image(path)
    assert "alpha channel ignored" in meta.notes
    np.testing.assert_array_equal(image, from_srgb8(colour))
    image, meta, opacity = read_image(path, alpha=True)
    assert "alpha channel ignored" not in meta.notes
    np.testing.assert_array_equal(image, from_srgb8(colour))     # the colour as stored, hidden parts too
    assert opacity.dtype == np.float32 and opacity.shape == image.shape[:2]
    np.testing.assert_allclose(opacity, alpha, atol=1e-6)
    assert read_image(tmp_path / "a.png", alpha=True)[2] is not None
    Image.fromarray(small).save(tmp_path / "opaque.png")
    assert read_image(tmp_path / "opaque.png", alpha=True)[2] is None


def test_alpha_of_16_bit_png_and_tiff_kept(tmp_path, small):
    """16-bit RGBA through OpenCV and tifffile; a TIFF's associated (premultiplied) alpha is divided out; the
    opacity turns upright with the image."""
    rgb16 = small.astype(np.uint16) * 257
    alpha = np.tile(np.linspace(0, 65535, small.shape[1]).round().astype(np.uint16), (small.shape[0], 1))
    cv2.imwrite(str(tmp_path / "a.png"), np.dstack([rgb16[..., ::-1], alpha]))
    image, _, opacity = read_image(tmp_path / "a.png", alpha=True)
    np.testing.assert_allclose(opacity, alpha / 65535, atol=1e-6)
    np.testing.assert_allclose(image, srgb_to_linear(rgb16 / 65535), atol=1e-5)
    premultiplied = np.round(rgb16 * (alpha[..., None] / 65535)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "a.tif", np.dstack([premultiplied, alpha]), photometric="rgb", extrasamples=["assocalpha"])
    image, _, opacity = read_image(tmp_path / "a.tif", alpha=True)
    seen = alpha > 4000                                    # where the colour survived the premultiplication
    np.testing.assert_allclose(linear_to_srgb(image)[seen], (rgb16 / 65535)[seen], atol=2e-3)
    exif = Image.Exif()
    exif[0x0112] = 6                                       # stored turned: the tag turns it back
    rgba = Image.fromarray(np.dstack([small, (alpha // 257).astype(np.uint8)]))
    rgba.save(tmp_path / "turned.png", exif=exif)
    image, _, opacity = read_image(tmp_path / "turned.png", alpha=True)
    assert image.shape[:2] == opacity.shape == (small.shape[1], small.shape[0])
    np.testing.assert_allclose(opacity, np.rot90(alpha / 65535, -1), atol=1 / 255)


def test_palette(tmp_path, small):
    pal = Image.fromarray(small).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    pal.save(tmp_path / "p.png")
    image, _ = read_image(tmp_path / "p.png")
    np.testing.assert_array_equal(image, from_srgb8(np.asarray(pal.convert("RGB"))))


@pytest.mark.parametrize("ext", ["gif", "webp", "tif"])
def test_first_frame_of_many(tmp_path, ext):
    frames = [Image.new("RGB", (64, 48), c) for c in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
    frames[0].save(tmp_path / f"m.{ext}", save_all=True, append_images=frames[1:], lossless=True)
    image, meta = read_image(tmp_path / f"m.{ext}")
    np.testing.assert_allclose(image.mean((0, 1)), [1, 0, 0], atol=0.02)
    assert "frame 1 of 3 used" in meta.notes


def test_heic_10_bit(tmp_path):
    import pillow_heif

    codes = np.tile(np.linspace(0, 65535, 64), (48, 1))[..., None].repeat(3, 2).astype(np.uint16)
    pillow_heif.from_bytes("RGB;16", (64, 48), codes.tobytes()).save(tmp_path / "t.heic", quality=-1)
    image, meta = read_image(tmp_path / "t.heic")
    assert meta.format == "HEIF" and meta.bit_depth == 10
    assert np.abs(linear_to_srgb(image) - codes / 65535).mean() < 0.01


def _tiny_dng(path, orientation=6):
    """A 48×32 flat-grey Bayer DNG (12-bit, RGGB, identity colour matrix) written with tifffile."""
    tags = [(50706, "B", 4, (1, 4, 0, 0)), (50708, "s", 0, "Test Cam"), (271, "s", 0, "Test"),
            (272, "s", 0, "Cam"), (274, "H", 1, orientation), (33421, "H", 2, (2, 2)),
            (33422, "B", 4, (0, 1, 1, 2)), (50717, "I", 1, 4095),
            (50721, "2i", 9, (1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1)),
            (50728, "2I", 3, (1, 1, 1, 1, 1, 1)), (50778, "H", 1, 21)]
    tifffile.imwrite(path, np.full((32, 48), 1000, np.uint16), photometric=32803, extratags=tags, metadata=None)
    return path


@pytest.mark.parametrize("name", ["tiny.dng", "tiny.bin"])        # by extension, or when Pillow gives up
def test_camera_raw(tmp_path, name):
    image, meta = read_image(_tiny_dng(tmp_path / name))
    assert image.shape == (48, 32, 3) and meta.format == "RAW" and meta.bit_depth == 12
    np.testing.assert_allclose(image, 1000 / 4095, atol=0.01)
    assert "camera orientation applied" in meta.notes
    exif = Image.Exif()
    exif.load(meta.exif)
    assert exif[271] == "Test" and exif[272] == "Cam"
    out = write_image(tmp_path / "raw.tif", image, meta)
    assert read_image(out)[1].bit_depth == 16


# ---------------------------------------------------------------------------------------------- bad input
def test_bad_files_refused(tmp_path, astronaut_rgb8):
    assert "no such file" in _raises(tmp_path / "missing.jpg")
    assert "is a folder" in _raises(tmp_path)
    (tmp_path / "empty.jpg").touch()
    assert "empty (0 bytes)" in _raises(tmp_path / "empty.jpg")
    (tmp_path / "text.png").write_text("hello, not a picture\n" * 10)
    assert "not a readable image" in _raises(tmp_path / "text.png")
    (tmp_path / "text.dng").write_text("hello, not a raw file\n" * 10)
    assert "RAW" in _raises(tmp_path / "text.dng")
    Image.fromarray(astronaut_rgb8).save(tmp_path / "full.jpg")
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[:len(data) // 2])
    assert "truncated or corrupt" in _raises(tmp_path / "cut.jpg")
    assert "0.262 megapixels exceeds the limit of 0.1 megapixels" in _raises(tmp_path / "full.jpg",
                                                                             max_pixels=100_000)


def test_decompression_bomb_refused_from_header(tmp_path):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b""))
    msg = _raises(bomb)
    assert "3600 megapixels exceeds the limit of 178 megapixels" in msg and "--max-pixels" in msg
    assert "3600 megapixels" in _raises(bomb, max_pixels=1000)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path, small):
    Image.fromarray(small).save(tmp_path / "locked.png")
    (tmp_path / "locked.png").chmod(0)
    try:
        assert "permission denied" in _raises(tmp_path / "locked.png")
    finally:
        (tmp_path / "locked.png").chmod(0o644)


# ---------------------------------------------------------------------------------------------- writing safely
def test_write_refusals(tmp_path, small):
    image = from_srgb8(small)
    with pytest.raises(InputError, match="unknown output format .bmp"):
        write_image(tmp_path / "x.bmp", image)
    with pytest.raises(InputError, match="does not exist; create it first"):
        write_image(tmp_path / "nope" / "x.png", image)
    with pytest.raises(ParameterError, match="bit_depth=16"):
        write_image(tmp_path / "x.jpg", image, bit_depth=16)
    out = write_image(tmp_path / "x.png", image)
    before = out.read_bytes()
    with pytest.raises(InputError, match="already exists; pass --overwrite"):
        write_image(out, image * 0.5)
    assert out.read_bytes() == before
    assert write_image(out, image * 0.5, overwrite=True) == out and out.read_bytes() != before


@pytest.mark.parametrize("error,expected", [(RuntimeError("boom"), RuntimeError),
                                            (OSError(28, "No space left on device"), InputError)])
def test_failed_write_leaves_nothing(tmp_path, small, monkeypatch, error, expected):
    def broken(tmp, *args, **kwargs):
        tmp.write_bytes(b"partial")
        raise error

    monkeypatch.setitem(write_mod._WRITERS, "PNG", broken)
    (tmp_path / "x.png").write_bytes(b"old")
    with pytest.raises(expected):
        write_image(tmp_path / "x.png", from_srgb8(small), overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.png"] and (tmp_path / "x.png").read_bytes() == b"old"


def test_write_mask_is_linear_grey_and_refuses_overwrite(tmp_path):
    import cv2

    from portrait_studio.io import write_mask

    mask = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    path = write_mask(tmp_path / "m.png", mask)
    grey = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert grey.shape == (8, 8) and grey.dtype == np.uint8
    np.testing.assert_allclose(grey / 255.0, mask, atol=0.5 / 255)
    with pytest.raises(InputError, match="already exists"):
        write_mask(path, mask)
    tif = write_mask(tmp_path / "m.tif", mask)
    import tifffile
    np.testing.assert_allclose(tifffile.imread(tif) / 65535.0, mask, atol=1e-5)


@pytest.mark.parametrize("ext", [".png", ".tif", ".webp"])
def test_write_alpha_round_trip(tmp_path, ext):
    from PIL import Image

    img = np.full((6, 7, 3), 0.2, np.float32)
    alpha = np.zeros((6, 7), np.float32)
    alpha[:, 3:] = 1.0
    path = write_image(tmp_path / f"cut{ext}", img, alpha=alpha)
    with Image.open(path) as im:
        rgba = np.asarray(im.convert("RGBA"))
    assert (rgba[:, :3, 3] == 0).all() and (rgba[:, 3:, 3] == 255).all()


def test_jpeg_flattens_alpha_over_white(tmp_path):
    """JPEG has no alpha: the transparent parts become white, never the colour hidden under them."""
    img = np.zeros((16, 16, 3), np.float32)
    img[..., 0] = 0.8                                     # red everywhere, hidden where transparent
    alpha = np.zeros((16, 16), np.float32)
    alpha[:, 8:], alpha[:, 4:8] = 1.0, 0.5
    path = write_image(tmp_path / "flat.jpg", img, alpha=alpha)
    out, _ = read_image(path)
    np.testing.assert_allclose(out[2:-2, :2], 1.0, atol=0.03)                  # white, not red
    np.testing.assert_allclose(out[2:-2, -2:].mean((0, 1)), [0.8, 0, 0], atol=0.03)
    np.testing.assert_allclose(out[2:-2, 5:7].mean((0, 1)), [0.9, 0.5, 0.5], atol=0.04)   # half over white, linear
    assert not write_mod.holds_alpha(path) and write_mod.holds_alpha(tmp_path / "x.webp")


def test_output_checked_before_the_work(tmp_path):
    from portrait_studio.io import check_output

    with pytest.raises(InputError, match="JPEG cannot hold the transparency"):
        check_output(tmp_path / "cut.jpg", alpha=True)
    assert check_output(tmp_path / "cut.png", alpha=True) == tmp_path / "cut.png"
    with pytest.raises(InputError, match="more than WEBP allows"):
        check_output(tmp_path / "big.webp", size=(20000, 100))
    check_output(tmp_path / "big.png", size=(20000, 100))
    assert not list(tmp_path.iterdir())
