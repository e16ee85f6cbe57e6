"""Generation benchmark: a tiny random Stable-Diffusion-class pipeline (no real weights exist here) through the real
loading and generation code: import and load time, seconds per denoising step at 64² on all threads and on one, and
the memory settings the backend chooses at 1024² for this pipeline and for pipelines of real sizes.

    python bench/generate.py speed        # one run's figures, in its own process, as JSON
    python bench/generate.py section      # this benchmark's part of BENCHMARKS.md

The tiny pipeline's figures measure the machinery (loading a diffusers folder, the scheduler loop, the writer), not
what a real model costs: a real SD 1.5 step on a CPU takes seconds, not milliseconds.
"""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from common import ROOT, main, median_time, peak_rss_mb, run_case  # noqa: E402

GB = 2 ** 30
#: Real pipelines' weights in memory (float16 on CUDA, float32 on the CPU), for the memory plans.
REAL = {"SD 1.5 class": {"cuda": 2.0 * GB, "cpu": 4.1 * GB}, "SDXL class": {"cuda": 6.9 * GB, "cpu": 13.8 * GB}}
GPUS = (4, 8, 12, 24)


def speed() -> dict:
    t = time.perf_counter()
    from portrait_studio.generate import Choices, backend, generate, load_pipeline
    import torch

    backend.require()
    imported = time.perf_counter() - t
    from portrait_studio.generate.tiny import tiny_pipeline

    with tempfile.TemporaryDirectory() as tmp:
        folder = tiny_pipeline(pathlib.Path(tmp) / "tiny", seed=0)
        first = time.perf_counter()
        gen = load_pipeline(folder)
        first = time.perf_counter() - first
        load = median_time(lambda: load_pipeline(folder), repeat=3, warmup=0)
        out = {"import": imported, "first_load": first, "load": load, "weights_mb": gen.weights_bytes / 2 ** 20,
               "device": gen.device, "threads": torch.get_num_threads()}
        for threads in (torch.get_num_threads(), 1):
            torch.set_num_threads(threads)
            steps, rest = [], []
            for _ in range(4):                          # the first a warm-up
                marks = [time.perf_counter()]
                generate(gen, "a studio portrait", Choices(style="corporate"), seed=1, steps=10, size=(64, 64),
                         progress=lambda *_: marks.append(time.perf_counter()))
                end = time.perf_counter()
                each = sorted(b - a for a, b in zip(marks[1:], marks[2:]))     # step 2 to 10, each alone
                steps.append(each[len(each) // 2])
                rest.append(end - marks[0] - (marks[-1] - marks[1]) - each[len(each) // 2])
            out[f"step_{threads}"] = sorted(steps[1:])[1]
            out[f"fixed_{threads}"] = sorted(rest[1:])[1]
        plan = gen.prepare(1024, 1024)
        out["plan_1024"] = {"attention_slicing": plan.attention_slicing, "vae_tiling": plan.vae_tiling,
                            "offload": plan.offload, "reason": plan.reason}
        out["free_gb"] = (backend.free_memory(torch, "cpu") or 0) / GB
    out["peak_mb"] = peak_rss_mb()
    return out


def _cli_seconds() -> float:
    """The whole `portrait generate` command on the tiny pipeline, 2 steps at 64² (a fresh process)."""
    code = ("import pathlib, sys, tempfile, subprocess, time\n"
            "from portrait_studio.generate.tiny import tiny_pipeline\n"
            "d = pathlib.Path(tempfile.mkdtemp()); tiny_pipeline(d / 't', seed=0)\n"
            "t = time.perf_counter()\n"
            "subprocess.run([sys.executable, '-m', 'portrait_studio', 'generate', 'a portrait', '-o', str(d / 'o.png'),"
            " '--model', str(d / 't'), '--seed', '1', '--steps', '2', '--size', '64'], check=True, capture_output=True)\n"
            "print(time.perf_counter() - t)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return float(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                check=True).stdout.strip().splitlines()[-1])


def section() -> str:
    head = ["## generate: portraits from text (tiny pipeline)", ""]
    try:
        import diffusers  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        return "\n".join(head + ["Skipped: needs the generate extra (pip install 'portrait-studio[generate]').", ""])
    from portrait_studio.generate import plan_memory

    r = run_case("generate.py", "speed")
    cli = _cli_seconds()
    plans = ["| pipeline | device, memory | attention slicing | VAE tiling | CPU offload |", "|---|---|---|---|---|"]

    def row(name, device, weights, free, label):
        p = plan_memory(width=1024, height=1024, device=device, weights_bytes=int(weights), free_bytes=int(free))
        plans.append(f"| {name} | {device}, {label} | {'yes' if p.attention_slicing else 'no'} | "
                     f"{'yes' if p.vae_tiling else 'no'} | {p.offload} |")
    plan = r["plan_1024"]
    plans.append(f"| tiny ({r['weights_mb']:.1f} MB), this machine | cpu, {r['free_gb']:.0f} GB free | "
                 f"{'yes' if plan['attention_slicing'] else 'no'} | {'yes' if plan['vae_tiling'] else 'no'} | "
                 f"{plan['offload']} |")
    for name, w in REAL.items():
        row(name, "cpu", w["cpu"], r["free_gb"] * GB, f"{r['free_gb']:.0f} GB free")
        for gb in GPUS:
            row(name, "cuda", w["cuda"], gb * GB * 0.95, f"a {gb} GB card")
    return "\n".join(head + [
        "A tiny randomly initialised Stable-Diffusion-class pipeline (the tests' own, "
        f"{r['weights_mb']:.1f} MB of weights) through `portrait_studio.generate`: the real loading, scheduler loop "
        "and writing code, not a real model's cost.", "",
        "| figure | value |", "|---|---|",
        f"| import torch + diffusers + transformers | {r['import']:.1f} s |",
        f"| load the diffusers folder: first / again (median of 3) | {r['first_load']:.2f} s / {r['load']:.2f} s |",
        f"| one denoising step at 64² (median of steps 2-10), {r['threads']} threads | "
        f"{r['step_' + str(r['threads'])] * 1000:.1f} ms |",
        f"| one denoising step at 64² (median of steps 2-10), 1 thread | {r['step_1'] * 1000:.1f} ms |",
        f"| the rest of a run at 64² (prompt encoding, first step's set-up, VAE decode), 1 thread | "
        f"{r['fixed_1'] * 1000:.0f} ms |",
        f"| the whole `portrait generate` command, 2 steps at 64² | {cli:.1f} s |",
        f"| peak memory of the timing process | {r['peak_mb']:.0f} MB |", "",
        "Memory settings chosen at 1024² (`plan_memory`; weights float32 on the CPU, float16 on CUDA; the GPU's "
        "free memory taken as 95% of its size):", "",
        *plans, "",
        f"Measured with a load average of {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores. On a tiny model "
        "torch's threads spin against each other on busy cores (compare the two step times); a real model's large "
        "matrix products use them well.", ""])


if __name__ == "__main__":
    main(lambda case, size: {}, section, speed=speed)
