"""portrait batch: planning, the manifest, local and Ray runs equal to `portrait run`, kill -9 and resume."""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from portrait_studio import cli
from portrait_studio.batch import manifest, plan
from portrait_studio.errors import InputError, ParameterError

RECIPE = "steps:\n  - resize: {long_edge: 256}\n  - retouch: {}\n"


def portrait(*args) -> int:
    return cli.main([str(a) for a in args])


def pixels(path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image is not None, path
    return image


@pytest.fixture(scope="module")
def shoot(tmp_path_factory, astronaut_rgb8):
    """A shoot: the astronaut as JPEG and (mirrored) PNG in a sub-folder, a faceless picture, a truncated JPEG,
    and a text file that is not an image; and the recipe."""
    root = tmp_path_factory.mktemp("shoot")
    src = root / "in"
    (src / "sub").mkdir(parents=True)
    bgr = cv2.cvtColor(astronaut_rgb8, cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(src / "astro.jpg"), bgr)
    cv2.imwrite(str(src / "sub" / "mirror.png"), bgr[:, ::-1])
    noise = np.random.default_rng(0).integers(0, 255, (200, 300, 3), dtype=np.uint8)
    cv2.imwrite(str(src / "noface.jpg"), cv2.GaussianBlur(noise, (0, 0), 8))
    data = (src / "astro.jpg").read_bytes()
    (src / "broken.jpg").write_bytes(data[: len(data) // 3])
    (src / "notes.txt").write_text("not an image")
    recipe = root / "recipe.yaml"
    recipe.write_text(RECIPE)
    return root


def records(outdir) -> list[dict]:
    return [json.loads(line) for line in (outdir / "batch.jsonl").read_text().splitlines()]


def last_status(outdir) -> dict[str, str]:
    return {os.path.relpath(r["input"], outdir.parent / "in"): r["status"] for r in records(outdir)}


# -- planning -----------------------------------------------------------------------------------------

def test_plan_mirrors_folders_and_lands_named_files_at_the_top(shoot, tmp_path):
    src = shoot / "in"
    items = plan([str(src)], str(tmp_path / "out"))
    assert sorted(i.relative for i in items) == ["astro.jpg", "broken.jpg", "noface.jpg", os.path.join("sub", "mirror.png")]
    items = plan([str(src / "sub" / "mirror.png"), str(src / "a*.jpg")], str(tmp_path / "out"), fmt="webp")
    assert [i.relative for i in items] == ["mirror.webp", "astro.webp"]
    assert [i.output for i in plan([str(src / "sub")], str(tmp_path / "o"))] == [str(tmp_path / "o" / "mirror.png")]


def test_plan_refuses_what_would_clash_or_is_missing(shoot, tmp_path):
    src = shoot / "in"
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "astro.png").write_bytes((src / "sub" / "mirror.png").read_bytes())
    with pytest.raises(InputError, match="would be written for both"):
        plan([str(src / "astro.jpg"), str(tmp_path / "other")], str(tmp_path / "out"), fmt="png")
    assert len(plan([str(src), str(src / "astro.jpg")], str(tmp_path / "out"))) == 4     # the same file once
    with pytest.raises(InputError, match="no such file"):
        plan([str(src / "nothere.jpg")], str(tmp_path))
    with pytest.raises(InputError, match="matches no image"):
        plan([str(src / "*.gif")], str(tmp_path))
    with pytest.raises(InputError, match="would replace an input"):
        plan([str(src / "sub")], str(src / "sub"))
    with pytest.raises(ParameterError, match="--format"):
        plan([str(src)], str(tmp_path), fmt="bmp")


def test_plan_leaves_out_an_output_folder_inside_the_input(shoot, tmp_path):
    src = tmp_path / "in"
    (src / "out").mkdir(parents=True)
    (src / "a.jpg").write_bytes((shoot / "in" / "astro.jpg").read_bytes())
    (src / "out" / "a.jpg").write_bytes(b"an earlier result")
    assert [i.relative for i in plan([str(src)], str(src / "out"), fmt="png")] == ["a.png"]


# -- the manifest -------------------------------------------------------------------------------------

def test_recipe_hash_follows_the_validated_steps_not_their_spelling():
    from portrait_studio.pipeline import parse_recipe

    a = parse_recipe([{"exposure": {"ev": 0.5}}])
    b = parse_recipe({"steps": [{"exposure": {"ev": 0.50}}]})
    c = parse_recipe([{"exposure": {"ev": 0.6}}])
    assert manifest.recipe_hash(a) == manifest.recipe_hash(b) != manifest.recipe_hash(c)
    assert manifest.recipe_hash(a, {"quality": 95}) != manifest.recipe_hash(a, {"quality": 80})


def test_a_cut_last_line_is_ignored_and_ended(tmp_path):
    (tmp_path / "batch.jsonl").write_text('{"input": "/a", "status": "ok"}\n{"input": "/b", "sta')
    assert list(manifest.read(str(tmp_path))) == ["/a"]
    with manifest.Writer(str(tmp_path)) as w:
        w.append({"input": "/c", "status": "failed"})
    assert list(manifest.read(str(tmp_path))) == ["/a", "/c"]


def test_temporaries_of_a_killed_write_are_removed(tmp_path):
    from portrait_studio.io.write import is_temporary

    (tmp_path / "sub").mkdir()
    for name in (".x.0123456789ab.tmp.jpg", "sub/.y.z.abcdef012345.tmp.png", "x.jpg", ".hidden.jpg"):
        (tmp_path / name).write_bytes(b"")
    assert is_temporary(".x.0123456789ab.tmp.jpg") and not is_temporary("x.tmp.jpg")
    assert len(manifest.remove_temporaries(str(tmp_path))) == 2
    assert sorted(os.listdir(tmp_path)) == [".hidden.jpg", "sub", "x.jpg"]


# -- local runs ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def local_run(shoot):
    """The shoot through the recipe on two local workers, once: (exit status, output folder)."""
    out = shoot / "out"
    return portrait("batch", shoot / "recipe.yaml", shoot / "in", "-o", out, "--workers", "2"), out


def test_batch_makes_what_portrait_run_makes_and_records_the_failures(shoot, local_run, tmp_path):
    code, out = local_run
    assert code == 3                                            # some failed
    assert sorted(os.path.relpath(os.path.join(r, f), out) for r, _, fs in os.walk(out) for f in fs) == \
        ["astro.jpg", "batch.jsonl", os.path.join("sub", "mirror.png")]
    status = {os.path.basename(r["input"]): r for r in records(out)}
    assert {n: r["status"] for n, r in status.items()} == {"astro.jpg": "ok", "mirror.png": "ok",
                                                           "noface.jpg": "failed", "broken.jpg": "failed"}
    assert "no face found" in status["noface.jpg"]["error"] and "\n" not in status["broken.jpg"]["error"]
    assert "truncated or corrupt" in status["broken.jpg"]["error"]
    assert status["astro.jpg"]["qc"] == {"width": 256, "height": 256} and status["astro.jpg"]["seconds"] > 0
    for rel in ("astro.jpg", os.path.join("sub", "mirror.png")):
        alone = tmp_path / os.path.basename(rel)
        assert portrait("run", shoot / "recipe.yaml", shoot / "in" / rel, "-o", alone) == 0
        np.testing.assert_array_equal(pixels(out / rel), pixels(alone))


def test_running_again_redoes_only_the_failed_and_a_changed_recipe_redoes_all(shoot, local_run, tmp_path):
    code, first = local_run
    out = tmp_path / "out"
    for root, _, files in os.walk(first):                       # a copy, to leave the module's run as it was
        for f in files:
            target = out / os.path.relpath(os.path.join(root, f), first)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(open(os.path.join(root, f), "rb").read())
    lines = (out / "batch.jsonl").read_text().replace(str(first), str(out))
    (out / "batch.jsonl").write_text(lines)
    mtime = (out / "astro.jpg").stat().st_mtime_ns
    assert portrait("batch", shoot / "recipe.yaml", shoot / "in", "-o", out, "--workers", "1") == 3
    new = records(out)[-4:]
    assert sorted(r["status"] for r in new) == ["failed", "failed", "skipped", "skipped"]
    assert (out / "astro.jpg").stat().st_mtime_ns == mtime
    recipe = tmp_path / "changed.yaml"
    recipe.write_text(RECIPE.replace("256", "200"))
    assert portrait("batch", recipe, shoot / "in" / "astro.jpg", "-o", out, "--workers", "1") == 0
    assert records(out)[-1]["status"] == "ok" and records(out)[-1]["recipe"] != new[0]["recipe"]
    assert pixels(out / "astro.jpg").shape == (200, 200, 3)


def test_batch_takes_every_option_portrait_run_takes():
    """Every image is written by run_recipe with the batch's options, as `portrait run` writes with its own: a flag
    run gains (a run option, an output flag) must reach batch too, or its images would be made without it."""
    def dests(command):
        sub = next(a for a in cli.build_parser()._actions if a.dest == "command").choices[command]
        return {a.dest for a in sub._actions}

    assert dests("run") - {"input"} <= dests("batch")


def test_usage_errors_exit_2_before_any_work(shoot, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    assert portrait("batch", shoot / "recipe.yaml", shoot / "in" / "nothere.jpg", "-o", out) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps:\n  - exposure: {ev: 99}\n")
    assert portrait("batch", bad, shoot / "in", "-o", out) == 2
    monkeypatch.setitem(sys.modules, "ray", None)              # Ray not installed
    assert portrait("batch", shoot / "recipe.yaml", shoot / "in", "-o", out, "--ray") == 2
    err = capsys.readouterr().err
    assert "nothere.jpg: no such file" in err and "exposure" in err and "pip install 'portrait-studio[ray]'" in err
    assert "Traceback" not in err and not out.exists()


def test_a_run_killed_part_way_resumes_without_losing_or_half_writing(shoot, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(6):
        (src / f"p{i}.jpg").write_bytes((shoot / "in" / "astro.jpg").read_bytes())
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    cmd = [sys.executable, "-m", "portrait_studio", "batch", str(shoot / "recipe.yaml"), str(src), "-o", str(out),
           "--workers", "2"]
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    t0 = time.time()
    while p.poll() is None and len(list(out.glob("p*.jpg"))) < 2 and time.time() - t0 < 120:
        time.sleep(0.02)
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    before = {f.name: f.stat().st_mtime_ns for f in out.glob("p*.jpg")}
    assert 2 <= len(before) < 6, "killed part-way"
    for f in before:
        assert pixels(out / f).shape == (256, 256, 3)          # every output there decodes whole
    done = subprocess.run(cmd[:-1] + ["1"], env=env, capture_output=True, text=True, timeout=300)   # resumed alone
    assert done.returncode == 0, done.stderr
    assert sorted(os.listdir(out)) == ["batch.jsonl"] + [f"p{i}.jpg" for i in range(6)]   # no temporary files
    redone = [f for f, t in before.items() if (out / f).stat().st_mtime_ns != t]
    assert len(redone) <= 2                                     # at most one a worker: written, not yet recorded
    assert all(r["status"] in ("ok", "skipped") for r in records(out)[-6:])


# -- Ray ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    import logging

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    yield ray
    ray.shutdown()


def test_ray_gives_what_local_mode_gives(shoot, local_run, ray_local, tmp_path):
    code, local = local_run
    out = tmp_path / "ray"
    assert portrait("batch", shoot / "recipe.yaml", shoot / "in" / "astro.jpg", shoot / "in" / "sub",
                    shoot / "in" / "broken.jpg", "-o", out, "--ray") == 3
    assert {os.path.basename(r["input"]): r["status"] for r in records(out)} == \
        {"astro.jpg": "ok", "mirror.png": "ok", "broken.jpg": "failed"}
    np.testing.assert_array_equal(pixels(out / "astro.jpg"), pixels(local / "astro.jpg"))
    np.testing.assert_array_equal(pixels(out / "mirror.png"), pixels(local / "sub" / "mirror.png"))


def test_a_progress_bar_on_a_terminal_only_and_a_summary_at_the_end(shoot, tmp_path, monkeypatch, capsys):
    recipe = tmp_path / "quick.yaml"
    recipe.write_text("steps: [{resize: {long_edge: 64}}]\n")
    term = io.StringIO()
    term.isatty = lambda: True                                  # a terminal's stderr
    monkeypatch.setattr(sys, "stderr", term)
    args = ("batch", recipe, shoot / "in" / "astro.jpg", shoot / "in" / "sub", "--workers", "1")
    assert portrait(*args, "-o", tmp_path / "a") == 0
    text = term.getvalue()
    assert "portrait: batch: 2/2 images, " in text and "/min" in text and text.endswith("\r\033[K")
    assert "2 images: 2 made, 0 already done, 0 failed" in capsys.readouterr().out
    plain = io.StringIO()
    monkeypatch.setattr(sys, "stderr", plain)
    assert portrait(*args, "-o", tmp_path / "b") == 0
    assert plain.getvalue() == ""


def test_a_second_batch_into_the_same_folder_is_refused(tmp_path):
    with manifest.Writer(str(tmp_path)):
        with pytest.raises(InputError, match="in use by another batch"):
            manifest.Writer(str(tmp_path))
    manifest.Writer(str(tmp_path)).close()                      # free again once the first has ended
