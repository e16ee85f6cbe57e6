"""expression: the space's directions, the fold-free warp confined to the face, the eyes, the CLI."""
from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from portrait_studio import Portrait
from portrait_studio.errors import ParameterError
from portrait_studio.ops import get_operation
from portrait_studio.ops.expression import expression
from portrait_studio.ops.expression import space, warp
from portrait_studio.ops.expression.eyes import gaze_shift
from portrait_studio.ops.expression.smile_table import MEAN_SHAPE, SMILE


def _corners_up(before: np.ndarray, after: np.ndarray) -> float:
    """How far the mouth corners rose in the pupil frame (interocular distances, + = up)."""
    return float(-(space.aligned(after)[[61, 291], 1] - space.aligned(before)[[61, 291], 1]).mean())


def _laplacian_energy(image: np.ndarray, box) -> float:
    x0, y0, x1, y1 = box
    g = cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY)
    return float(np.sqrt((cv2.Laplacian(g, cv2.CV_32F) ** 2).mean()))


def test_the_learned_smile_is_symmetric_lifts_the_corners_and_keeps_the_lips_closed():
    mirror = space.mirror_index(MEAN_SHAPE)
    assert np.array_equal(mirror[mirror], np.arange(468))                   # a one-to-one mirror map
    assert SMILE[61, 1] < -0.05 and SMILE[291, 1] < -0.05                    # corners up (y down)
    assert SMILE[61, 0] < -0.03 and SMILE[291, 0] > 0.03                     # and outward
    # closed lips: the lower lip's inner edge moves with the upper lip's (the pairs' open mouths not learned)
    assert np.abs(SMILE[14] - SMILE[13]).max() < 1e-3
    assert np.abs(SMILE[10]).max() < 1e-3 and np.abs(SMILE[151]).max() < 2e-3     # next to nothing on the forehead


def test_controls_move_what_they_say(astronaut):
    pts = astronaut.face().landmarks
    x = space.aligned(pts)[:468]
    assert np.abs(space.displacement(pts)).max() == 0
    brows_up = space.aligned(np.vstack([pts[:468, :2] + space.displacement(pts, brows=1), pts[468:, :2]]))
    assert (brows_up[space.BROWS, 1] - x[space.BROWS, 1]).mean() < -0.08       # raised ~0.1 interocular
    assert np.abs(space.displacement(pts, brows=1)[[13, 14, 61, 291]]).max() == 0   # the mouth stays
    frown = space.displacement(pts, brows=-1)
    assert frown[space.BROWS, 1].mean() > 0                                  # lowered
    lids = space.displacement(pts, eyes=1)
    assert lids[159, 1] < 0 and abs(lids[133, 1]) < 0.2                      # upper lid up, corners still
    right = space.displacement(pts, smirk_left=1)                            # the subject's left = image right
    assert right[291, 1] < -1 and abs(right[61, 1]) < 0.1 * abs(right[291, 1])


def test_no_control_leaves_the_photo_unchanged(astronaut):
    out = expression(astronaut)
    assert np.array_equal(out.image, astronaut.image)


def test_a_smile_lifts_the_corners_keeps_detail_and_touches_nothing_outside_the_face(astronaut, backend):
    out = expression(astronaut, smile=1.0)
    face = astronaut.face()
    again = Portrait(out.image, backend=backend).face().landmarks
    assert _corners_up(face.landmarks, again) > 0.04                 # the mesh found again on the result
    x, y, w, h = face.box
    box = (int(x), int(y), int(x + w), int(y + h))
    kept = _laplacian_energy(out.image, box) / _laplacian_energy(astronaut.image, box)
    assert 0.9 < kept < 1.1
    outside = np.ones(astronaut.shape, bool)
    outside[max(0, int(y - 0.4 * h)):int(y + 1.4 * h), max(0, int(x - 0.4 * w)):int(x + 1.4 * w)] = False
    assert np.array_equal(out.image[outside], astronaut.image[outside])
    info = out.extras["info"]
    assert info["warp_scaled"] == 1.0                           # no fold to avoid
    assert info["mouth_open"] and "no teeth are added" in info["stopped_short"][0]   # she smiles with teeth
    assert out.extras["mesh"].shape == astronaut.image.shape


def test_the_warp_never_folds_and_says_when_it_stopped_short():
    pts = MEAN_SHAPE * 200 + 300
    face_size = float(np.ptp(pts[:, 1]))
    move = np.zeros_like(pts)
    move[61] = (150.0, 0.0)                      # the corner thrown far across the mouth: a fold if done
    field = warp.build_field(pts.astype(np.float64), move, (900, 900), face_size)
    assert field.scaled < 1
    assert warp._min_jacobian(np.dstack([field.dx, field.dy]), field.scale, field.scale) >= warp.MIN_JACOBIAN - 1e-6
    # a smooth move of the mouth's corner and the skin around it lands where it was sent
    near = np.exp(-0.5 * (np.linalg.norm(pts - pts[61], axis=1) / 60.0) ** 2)[:, None]
    gentle = near * np.float32([6.0, -4.0])
    small = warp.build_field(pts.astype(np.float64), gentle, (900, 900), face_size)
    assert small.scaled == 1.0
    assert np.allclose(-small.at(pts[[61]] + gentle[[61]])[0], (6.0, -4.0), atol=0.3)


def test_gaze_moves_the_iris_inside_the_eye_and_fills_the_white(astronaut):
    pts = astronaut.face().landmarks
    out = expression(astronaut, gaze_x=1.0)
    r = float(np.linalg.norm(pts[469, :2] - pts[468, :2]))
    shift, _ = gaze_shift(pts, gaze_x=1.0, gaze_y=0.0)
    assert shift[0] > 0.3 * r and shift[1] == 0
    # the iris is dark: where it was (its image-left edge) is lighter now, where it went darker
    c = pts[468, :2]
    lum = lambda im, p: float(im[int(p[1]) - 1:int(p[1]) + 2, int(p[0]) - 1:int(p[0]) + 2].mean())
    left_edge, new_edge = c - (0.7 * r, 0), c + (0.7 * r + shift[0], 0)
    assert lum(out.image, left_edge) > lum(astronaut.image, left_edge)
    assert lum(out.image, new_edge) < lum(astronaut.image, new_edge)
    # nothing changes away from the eyes
    mouth = astronaut.region("lips") > 0
    assert np.array_equal(out.image[mouth], astronaut.image[mouth])
    far = gaze_shift(pts * np.float32([1, 1, 1]), gaze_x=1.0, gaze_y=0.0)
    assert far[0][0] <= max(abs(pts[33, 0] - pts[133, 0]), 1.0)


def test_the_operation_is_declared_identity_changing():
    op = get_operation("expression")
    assert op.identity_changing and op.json_schema()["identity_changing"] is True
    assert not get_operation("exposure").identity_changing
    with pytest.raises(ParameterError, match="smile"):
        op.validate({"smile": 1.5})


def test_on_a_real_pair_the_smile_goes_the_persons_way(shared_data, backend):
    neutral = shared_data / "expressions" / "001_neutral.jpg"
    smiling = shared_data / "expressions" / "001_smiling.jpg"
    if not neutral.exists():
        pytest.skip("no expression pairs")
    p = Portrait.read(neutral, backend=backend)
    real = Portrait.read(smiling, backend=backend).face().landmarks
    got = Portrait(expression(p, smile=1.0).image, backend=backend).face().landmarks
    want = space.aligned(real)[[61, 291]] - space.aligned(p.face().landmarks)[[61, 291]]
    moved = space.aligned(got)[[61, 291]] - space.aligned(p.face().landmarks)[[61, 291]]
    reached = float((moved * want).sum() / (want * want).sum())
    assert reached > 0.7                                    # measured 1.04 (the check: median 1.0 over 10 pairs)


def test_cli_end_to_end(tmp_path, astronaut_rgb8):
    from PIL import Image

    src, out, mesh, info = (tmp_path / n for n in ("in.png", "out.png", "mesh.png", "info.json"))
    Image.fromarray(astronaut_rgb8).save(src)
    cli = [sys.executable, "-m", "portrait_studio"]
    p = subprocess.run([*cli, "expression", src, "-o", out, "--smile", "0.6", "--brows", "0.3", "--eyes", "0.2",
                        "--gaze-x", "-0.3", "--save-mesh", mesh, "--save-info", info],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert Image.open(out).size == (512, 512) and Image.open(mesh).size == (512, 512)
    assert json.loads(info.read_text())["controls"]["smile"] == 0.6
    p = subprocess.run([*cli, "expression", src, "-o", tmp_path / "x.png", "--gaze-y", "3"], capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 2 and "gaze_y" in p.stderr and "Traceback" not in p.stderr
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(blank)
    p = subprocess.run([*cli, "expression", blank, "-o", tmp_path / "none.png", "--smile", "1"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 2 and "no face" in p.stderr and not (tmp_path / "none.png").exists()
