"""The command line of generation: ``portrait generate``, ``portrait models`` and ``portrait headshots``.

:func:`add_commands` adds their parsers to the ``portrait`` parser; :data:`HANDLERS` maps each to its function.
Nothing here imports torch: a missing model or a bad size is refused before the extra is loaded.
"""
from __future__ import annotations

import argparse
import json
import secrets

from .prompt import FRAMINGS, SETUP_NAMES, STYLES

SEED_MAX = 2 ** 31 - 1


def _number(kind, what: str, low: float, high: float):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {kind.__name__} value: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is not {what}")
        return value
    return parse


def _model_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--model", required=True, metavar="PATH",
                   help="a diffusers folder, a .safetensors checkpoint, or a pipeline's name in your Hugging Face "
                        "cache (org/name); nothing is downloaded (see 'portrait models')")
    g.add_argument("--device", metavar="DEVICE", help="cuda, mps or cpu (default: a GPU when there is one)")
    g.add_argument("--steps", type=_number(int, "a number of steps from 1 to 500", 1, 500), default=30, metavar="N",
                   help="denoising steps (default 30)")
    g.add_argument("--size", metavar="N|WxH", help="pixels, multiples of 8 (default: the model's own size, "
                   "e.g. 512 or 1024)")
    g.add_argument("--guidance", type=_number(float, "a guidance scale from 0 to 30", 0, 30), metavar="X",
                   help="how closely to follow the prompt (default: the pipeline's, e.g. 7.5)")
    g.add_argument("--seed", type=_number(int, f"a seed from 0 to {SEED_MAX}", 0, SEED_MAX), metavar="N",
                   help="the same seed, model and settings give the same picture (default: a new one, printed "
                        "and recorded)")


def _choice_flags(p: argparse.ArgumentParser, *, style: bool = True) -> None:
    g = p.add_argument_group("prompt builder", "Structured choices composed into the prompt and the negative "
                             "prompt, and recorded in the output's metadata and Content Credentials.")
    if style:
        g.add_argument("--style", choices=list(STYLES), help="the look of the picture")
    g.add_argument("--background", metavar="TEXT", help="e.g. 'grey paper', office, outdoor, or any short description")
    g.add_argument("--mood", metavar="TEXT", help="e.g. calm, confident, friendly, or any short description")
    g.add_argument("--lighting", choices=list(SETUP_NAMES), help="a studio setup (the names relight uses)")
    g.add_argument("--lens", type=_number(float, "a focal length from 14 to 800 mm", 14, 800), metavar="MM",
                   help="focal length, mm (e.g. 85)")
    g.add_argument("--aperture", type=_number(float, "an f-number from 0.95 to 32", 0.95, 32), metavar="F",
                   help="f-number (e.g. 1.8: a shallow depth of field)")
    g.add_argument("--framing", choices=list(FRAMINGS), help="how much of the person shows")


def add_commands(sub, *, output, debug) -> None:
    """Add ``generate``, ``models`` and ``headshots`` to the subparsers `sub` (`output`: the output flags' parent
    parser, `debug`: a parent with --debug)."""
    from ..cli import _Formatter, _output

    p = sub.add_parser("generate", parents=[debug, output], formatter_class=_Formatter,
                       help="a portrait from a description, through a diffusion model you have (generate extra)",
                       description="Generate a portrait from a description through a local diffusion model (Stable "
                                   "Diffusion 1.5/SDXL-class or FLUX-class), on a GPU when there is one, else on the "
                                   "CPU. The output carries the prompt and choices in its metadata, Content "
                                   "Credentials saying a trained model made it, and the watermark.\n\n"
                                   "portrait generate \"a woman in her forties\" -o out.png --model ~/models/sd15 "
                                   "--style corporate --background 'grey paper' --mood calm --seed 7")
    p.add_argument("prompt", metavar="PROMPT", help="what the portrait shows")
    _model_flags(p)
    _choice_flags(p)

    p = sub.add_parser("models", parents=[debug], help="the diffusion models this machine has and what each can do",
                       description="List the diffusion pipelines found in the Hugging Face cache and in the given "
                                   "folders, and what each can do here.")
    p.add_argument("folders", metavar="FOLDER", nargs="*", help="more folders to look in (a pipeline, or a folder "
                   "of pipelines and checkpoints)")
    p.add_argument("--json", action="store_true", help="print the list as JSON")

    folder = _output()                               # its own copy: -o is a folder here
    for action in folder._actions:
        if action.dest == "output":
            action.metavar, action.help = "DIR", "the folder for the headshots (STYLE.png each) and report.json"
        elif action.dest == "overwrite":
            action.help = "replace headshots and report.json already in DIR"
    p = sub.add_parser("headshots", parents=[debug, folder], formatter_class=_Formatter,
                       help="headshots in several styles that keep a person's identity, from their selfies",
                       description="Make headshots of the person in SELFIES through an identity adapter you have "
                                   "(IP-Adapter class), one per style, each checked: a face found, eyes open and "
                                   "sharp, no clipped skin, and the face-embedding distance to the selfies; one "
                                   "that fails is made again with the next seed.\n\n"
                                   "portrait headshots me1.jpg me2.jpg -o shots --styles corporate,outdoor "
                                   "--model ~/models/sd15 --adapter ~/models/ip-adapter")
    p.add_argument("selfies", metavar="SELFIE", nargs="+", help="photos of the person (one face each)")
    p.add_argument("--styles", default="corporate", metavar="S1,S2",
                   help=f"comma-separated styles, one headshot each (of {', '.join(STYLES)}; default corporate)")
    p.add_argument("--adapter", required=True, metavar="PATH",
                   help="the IP-Adapter: its weights file (with image_encoder/ beside it) or its folder")
    p.add_argument("--prompt", default="a professional headshot of the person", metavar="TEXT",
                   help="the description every headshot starts from")
    p.add_argument("--adapter-scale", type=_number(float, "a scale from 0 to 2", 0, 2), default=0.7, metavar="X",
                   help="how strongly the selfies steer the picture (default 0.7)")
    p.add_argument("--tries", type=_number(int, "a number of tries from 1 to 20", 1, 20), default=3, metavar="N",
                   help="makes per style before giving up on one that fails its checks (default 3)")
    p.add_argument("--max-distance", type=_number(float, "a distance from 0 to 2", 0, 2), default=None, metavar="D",
                   help="the largest face-embedding distance to the selfies that passes (default 0.6 with dlib's "
                        "descriptor)")
    p.add_argument("--then", metavar="RECIPE", help="a recipe of the studio's own operations (retouch, relight, film, "
                   "background...) run on each headshot before it is written")
    _model_flags(p)
    _choice_flags(p, style=False)


def _choices(args):
    from .prompt import Choices

    return Choices(style=getattr(args, "style", None), background=args.background, mood=args.mood,
                   lighting=args.lighting, lens_mm=args.lens, aperture=args.aperture, framing=args.framing)


def _load(args, status):
    """The size asked for, checked, and the model, found (both before torch is imported) and loaded."""
    from .backend import find_model, load_pipeline, parse_size

    size = parse_size(args.size) if args.size else None
    source = find_model(args.model)
    status.stage(f"loading {source.name}")
    gen = load_pipeline(source, device=args.device)
    return gen, size


def cmd_generate(args) -> None:
    from ..cli import _check_outputs, _Status, _write
    from . import generate

    choices = _choices(args)
    _check_outputs(args, [args.output])
    seed = args.seed if args.seed is not None else secrets.randbelow(SEED_MAX + 1)
    with _Status() as status:
        gen, size = _load(args, status)
        if size is not None:
            from ..io import check_output

            check_output(args.output, overwrite=args.overwrite, size=size)
        status.stage(f"generating on {gen.device}")
        result = generate(gen, args.prompt, choices, seed=seed, steps=args.steps, size=size, guidance=args.guidance,
                          progress=status)
        _write(args, result, status=status)
        if args.seed is None:
            status.say(f"seed {seed} (give --seed {seed} to make it again)")


def cmd_models(args) -> None:
    from .backend import list_models

    found = list_models(args.folders)          # a folder that does not exist is refused (InputError, exit 2)
    if args.json:
        print(json.dumps([{"name": m.name, "path": str(m.path), "kind": m.kind, "pipeline": m.pipeline,
                           "can": m.capabilities()} for m in found], indent=2))
        return
    if not found:
        from .backend import hf_cache

        print(f"no diffusion models found (looked in {hf_cache()}"
              f"{' and ' + ', '.join(args.folders) if args.folders else ''}); give a folder with 'portrait models FOLDER'")
        return
    for m in found:
        print(f"{m.name}  ({m.pipeline}, {m.kind})  {m.path}\n    can: {', '.join(m.capabilities())}")


def cmd_headshots(args) -> int:
    """``portrait headshots``: see :func:`portrait_studio.generate.cli.add_commands`."""
    import os
    import pathlib

    from ..cli import _check_outputs, _Status, _write, _write_json
    from ..errors import InputError
    from ..io.write import _check_target
    from ..schema import RunOptions
    from .backend import find_model, load_pipeline, parse_size
    from .headshots import load_adapter, make_headshots, parse_styles
    from .qc import SAME_PERSON, dlib_available

    styles = parse_styles(args.styles)
    choices = _choices(args)
    size = parse_size(args.size) if args.size else None
    folder = pathlib.Path(args.output)
    if folder.exists() and not folder.is_dir():
        raise InputError(folder, "is a file, not a folder", "give a folder for the headshots (-o DIR)")
    if not folder.parent.is_dir():
        raise InputError(folder, f"folder {folder.parent} does not exist", "create it first")
    outputs = [folder / f"{s}.png" for s in styles]
    report_path = folder / "report.json"
    if folder.is_dir():
        _check_outputs(args, [str(p) for p in outputs], frames=args.selfies)     # a selfie is never overwritten
        _check_target(report_path, args.overwrite)
    options = RunOptions()
    then = None
    if args.then:
        from ..pipeline import load_recipe

        then = load_recipe(args.then, options=options)
    source = find_model(args.model)
    selfies = []
    for path in args.selfies:
        p = options.read(path)
        p.face(needed_by="headshots")                  # a selfie without a usable face is refused here
        selfies.append(p)
    seed = args.seed if args.seed is not None else secrets.randbelow(SEED_MAX + 1)
    max_distance = args.max_distance if args.max_distance is not None else SAME_PERSON
    with _Status() as status:
        if not dlib_available():
            status.note("identity is not measured: it needs dlib's face descriptor, part of the generate extra "
                        "(pip install 'portrait-studio[generate]')")
        status.stage(f"loading {source.name}")
        gen = load_pipeline(source, device=args.device)
        name = load_adapter(gen, args.adapter, scale=args.adapter_scale)
        shots = make_headshots(gen, selfies, styles, text=args.prompt, choices=choices, seed=seed, steps=args.steps,
                               size=size, guidance=args.guidance, tries=args.tries, max_distance=max_distance,
                               adapter_name=name, adapter_scale=args.adapter_scale, then=then, progress=status,
                               stage=status.stage)
        folder.mkdir(exist_ok=True)
        records = []
        for shot, path in zip(shots, outputs):
            _write(args, shot.portrait, path=str(path), status=status)
            records.append({"style": shot.style, "file": path.name, "seed": shot.seed, "passed": shot.report.passed,
                            "report": shot.report.as_dict(), "tries": shot.tries})
        _write_json(str(report_path), {"selfies": [os.path.basename(p) for p in args.selfies], "model": gen.source.name,
                                         "adapter": name, "max_distance": max_distance, "headshots": records})
    failed = [r for r in records if not r["passed"]]
    for r in records:
        rep = r["report"]
        said = "passed" if r["passed"] else "FAILED: " + "; ".join(rep["problems"])
        ident = f", identity {rep['identity']}" if rep["identity"] is not None else ""
        print(f"{r['file']}: {said} (seed {r['seed']}, {len(r['tries'])} tries{ident})")
    print(f"report: {report_path}")
    return 3 if failed else 0


HANDLERS = {"generate": cmd_generate, "models": cmd_models, "headshots": cmd_headshots}
