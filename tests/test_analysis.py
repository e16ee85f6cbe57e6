"""Analysis on real photographs: faces, mesh, pose, regions, normals, person matte."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from portrait_studio import NoFaceError, Portrait
from portrait_studio.analysis import REGIONS, find_faces, head_pose
from portrait_studio.analysis.regions import (FACE_OVAL, LEFT_EYE, LIPS_INNER, RIGHT_EYE,
                                              mesh_triangles, vertex_normals)
from portrait_studio.core import from_srgb8


def test_astronaut_face_found_with_mesh_inside_box(astronaut):
    faces = astronaut.faces
    assert len(faces) == 1
    f = faces[0]
    assert f.landmarks.shape == (478, 3) and f.landmarks.dtype == np.float32
    x, y, w, h = f.box
    assert 150 < x < 250 and 50 < y < 130 and 70 < w < 160 and 90 < h < 180     # her face, upper middle
    inside = ((f.landmarks[:, 0] >= x - 1) & (f.landmarks[:, 0] <= x + w + 1)
              & (f.landmarks[:, 1] >= y - 1) & (f.landmarks[:, 1] <= y + h + 1))
    assert inside.all()
    assert 0.5 < f.score <= 1
    # the iris centres sit inside the eye outlines, the subject's right eye on the image's left
    r, l = f.pupils
    assert r[0] < l[0]
    for centre, outline in ((r, RIGHT_EYE), (l, LEFT_EYE)):
        poly = f.landmarks[outline, :2].astype(np.float32)
        assert cv2.pointPolygonTest(poly, tuple(map(float, centre)), False) > 0


def test_pose_mirrors_with_the_image(astronaut_rgb8, backend):
    """Mirroring negates yaw and roll and keeps pitch (the head is tilted by 15 degrees to give roll a sign)."""
    m = cv2.getRotationMatrix2D((256, 256), 15, 1.0)
    tilted = cv2.warpAffine(astronaut_rgb8, m, (512, 512), borderMode=cv2.BORDER_REFLECT)
    a = find_faces(from_srgb8(tilted), backend)[0].pose
    b = find_faces(from_srgb8(np.ascontiguousarray(tilted[:, ::-1])), backend)[0].pose
    assert a.roll > 10 and b.roll < -10
    assert abs(a.roll + b.roll) < 3 and abs(a.yaw + b.yaw) < 3 and abs(a.pitch - b.pitch) < 3


def test_pose_signs_on_a_turned_mesh(astronaut):
    """Rotating the mesh itself by known angles gives those angles back, with the documented signs."""
    pts = astronaut.face().landmarks.astype(np.float64)
    base = head_pose(pts)
    c = pts.mean(0)

    def turned(yaw=0.0, roll=0.0):
        # in the mesh's own axes (x right, y down, z away from the camera)
        a, r = np.radians(yaw), np.radians(roll)
        ry = np.array([[np.cos(a), 0, -np.sin(a)], [0, 1, 0], [np.sin(a), 0, np.cos(a)]])
        rz = np.array([[np.cos(r), np.sin(r), 0], [-np.sin(r), np.cos(r), 0], [0, 0, 1]])
        return (pts - c) @ (rz @ ry).T + c

    assert head_pose(turned(yaw=20)).yaw == pytest.approx(base.yaw + 20, abs=2)
    assert head_pose(turned(roll=15)).roll == pytest.approx(base.roll + 15, abs=2)


def test_faces_found_small_and_rolled(astronaut_rgb8, backend):
    """A face 7% of the frame high in a 12 MP frame, and a head rolled by 40 degrees, are both found."""
    canvas = np.full((3024, 4032, 3), 120, np.uint8)
    small = cv2.resize(astronaut_rgb8, (800, 800), interpolation=cv2.INTER_AREA)   # her face: ~7% of 3024
    canvas[2000:2800, 3000:3800] = small
    faces = find_faces(from_srgb8(canvas), backend)
    assert len(faces) == 1 and 3000 < faces[0].box[0] < 3800 and 0.05 < faces[0].box[3] / 3024 < 0.1
    m = cv2.getRotationMatrix2D((256, 256), 40, 1.0)
    rolled = cv2.warpAffine(astronaut_rgb8, m, (512, 512), borderMode=cv2.BORDER_REFLECT)
    faces = find_faces(from_srgb8(rolled), backend)
    assert faces and faces[0].pose.roll == pytest.approx(find_faces(from_srgb8(astronaut_rgb8), backend)[0].pose.roll + 40, abs=8)


def test_no_face_is_a_clear_error(backend):
    rng = np.random.default_rng(0)
    p = Portrait(rng.random((200, 300, 3), dtype=np.float32) * 0.2 + 0.3, path="noise.png", backend=backend)
    assert p.faces == []
    with pytest.raises(NoFaceError, match=r"^noise\.png: no face found"):
        p.face()


def test_face_index_out_of_range(astronaut):
    with pytest.raises(NoFaceError, match="face 3 asked for but 1 found"):
        astronaut.face(3)


def test_regions_soft_full_resolution_and_disjoint(astronaut):
    regions = astronaut.regions()
    assert set(regions) == set(REGIONS)
    f = astronaut.face()
    pts = f.landmarks[:, :2]
    for name, m in regions.items():
        assert m.shape == astronaut.shape and m.dtype == np.float32
        assert 0 <= m.min() and m.max() <= 1 and m.max() > 0.9, name
    skin = regions["skin"]
    # no eye, iris or lip pixel is skin
    for other in ("eyes", "irises", "lips", "mouth", "brows"):
        assert (skin[regions[other] > 0.5] < 0.1).all(), other
    # soft edges: values strictly between 0 and 1 exist along the face outline
    assert ((skin > 0.05) & (skin < 0.95)).sum() > 50
    # lips lie between the outer and inner lip lines
    x, y = np.round((pts[0] + pts[13]) / 2).astype(int)        # between the upper lip's outer and inner lines
    assert regions["lips"][y, x] > 0.5 and regions["skin"][y, x] < 0.1
    assert set(LIPS_INNER).isdisjoint(FACE_OVAL)


def test_regions_agree_across_resolutions(astronaut_rgb8, backend):
    """Masks are resolution independent: the 2x image's mask, reduced, matches the 1x mask."""
    p1 = Portrait(from_srgb8(astronaut_rgb8), backend=backend)
    big = cv2.resize(astronaut_rgb8, (1024, 1024), interpolation=cv2.INTER_CUBIC)
    p2 = Portrait(from_srgb8(big), backend=backend)
    a = p1.regions()["skin"]
    b = cv2.resize(p2.regions()["skin"], (512, 512), interpolation=cv2.INTER_AREA)
    assert np.abs(a - b).mean() < 0.01


def test_normals_unit_and_facing_the_camera(astronaut):
    n = astronaut.normals()
    face = astronaut.region("face") > 0.99
    length = np.linalg.norm(n[face], axis=1)
    assert np.allclose(length[length > 0], 1, atol=5e-3) and (length > 0.5).mean() > 0.99
    assert (n[face][:, 2] > 0).mean() > 0.98                       # z toward the camera
    f = astronaut.face()
    x, y, w, h = f.box
    left = n[int(y + 0.45 * h), int(x + 0.1 * w)]                  # left of the image: normal points left
    right = n[int(y + 0.45 * h), int(x + 0.9 * w)]
    assert left[0] < -0.2 and right[0] > 0.2
    top = n[int(y + 0.08 * h), int(x + 0.5 * w)]                   # forehead leans back, chin forward
    chin = n[int(y + 0.95 * h), int(x + 0.5 * w)]
    assert top[1] > 0.05 and chin[1] < top[1] - 0.3
    assert (n[~(astronaut.regions()["face"] > 0)] == 0).all()


def test_mesh_triangles_and_vertex_normals(astronaut):
    t = mesh_triangles()
    assert 850 <= len(t) <= 950 and t.max() == 467
    vn = vertex_normals(astronaut.face().landmarks)
    assert vn.shape == (468, 3) and np.allclose(np.linalg.norm(vn, axis=1), 1, atol=1e-5)


def test_person_matte(astronaut):
    coarse = astronaut.coarse_matte
    matte = astronaut.person_matte()
    assert matte.shape == astronaut.shape and matte.dtype == np.float32
    assert coarse.shape[0] <= matte.shape[0]
    f = astronaut.face()
    cx, cy = (int(v) for v in f.landmarks[1, :2])          # nose tip: the person
    assert matte[cy, cx] > 0.9
    assert matte[10, 500] < 0.2                            # the top-right corner: the background


def test_region_masks_made_one_at_a_time(astronaut):
    skin = astronaut.region("skin")
    assert astronaut.region("skin") is skin
    assert astronaut.regions()["skin"] is skin
    with pytest.raises(ValueError, match=r"unknown face regions \['ears'\]"):
        astronaut.region("ears")


def test_analysis_is_cached_and_shared(astronaut, monkeypatch):
    faces = astronaut.faces
    calls = []
    monkeypatch.setattr("portrait_studio.portrait.find_faces", lambda *a, **k: calls.append(1) or [])
    assert astronaut.faces is faces
    brighter = astronaut.replace(astronaut.image * 2)
    assert brighter.faces is faces and not calls
    smaller = Portrait(astronaut.image[::2, ::2], backend=astronaut.backend)
    assert smaller.faces == [] and calls                   # a new image analyses afresh


def test_cached_results_per_geometry_or_per_image(astronaut):
    made = []
    make = lambda: made.append(1) or len(made)                          # noqa: E731
    assert astronaut.cached("shape-only", make) == 1 and astronaut.cached("shape-only", make) == 1
    assert astronaut.cached("pixels", make, per_image=True) == 2
    brighter = astronaut.replace(astronaut.image * 2)
    assert brighter.cached("shape-only", make) == 1                      # the geometry is handed on
    assert brighter.cached("pixels", make, per_image=True) == 3          # what the pixels give is not
    assert brighter.lighting() is not astronaut.lighting()


def test_real_portraits_faces_and_pupils(shared_data, backend):
    """On the development photos: faces on the portraits, pupils on the London set (hand-placed)."""
    from portrait_studio.io import read_image

    found = 0
    paths = sorted((shared_data / "portraits").glob("*.jpg"))
    for path in paths:
        found += bool(find_faces(read_image(path)[0], backend))
    assert found >= 0.95 * len(paths)
    errors = []
    for tem in sorted((shared_data / "expressions").glob("*_neutral.tem"))[:5]:
        gt = np.loadtxt(tem, skiprows=1, max_rows=2)
        face = find_faces(read_image(tem.with_suffix(".jpg"))[0], backend)[0]
        d = min(np.linalg.norm(face.pupils - gt, axis=1).mean(), np.linalg.norm(face.pupils[::-1] - gt, axis=1).mean())
        errors.append(d / np.linalg.norm(gt[0] - gt[1]))
    assert np.median(errors) < 0.03
    # a turned head (021.jpg looks toward the image's right) and its mirror image
    rgb = (read_image(shared_data / "portraits" / "021.jpg")[0])
    a, b = find_faces(rgb, backend)[0].pose, find_faces(np.ascontiguousarray(rgb[:, ::-1]), backend)[0].pose
    assert a.yaw > 15 and b.yaw < -15 and abs(a.yaw + b.yaw) < 4


def test_models_released_with_the_portrait(astronaut_rgb8):
    """A process reading photo after photo (the library, ``portrait`` called in-process) does not keep every
    photo's MediaPipe graphs: they are closed when the Portrait that made them is collected."""
    import gc

    import mediapipe as mp

    def live():
        gc.collect()
        return sum(isinstance(o, mp.solutions.face_mesh.FaceMesh) and getattr(o, "_graph", None) is not None
                   for o in gc.get_objects())
    before = live()
    for _ in range(2):
        p = Portrait(from_srgb8(astronaut_rgb8))
        assert p.face().landmarks.shape[0] >= 468
        del p
    assert live() == before
