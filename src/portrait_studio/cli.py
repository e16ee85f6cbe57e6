"""The ``portrait`` command line. Operation subcommands and their flags come from the operation schemas.

Exit status: 0 on success, 2 for anything the user can fix (a bad file or parameter, no face), 1 for an
internal error. Errors are one line on stderr; ``--debug`` shows the traceback.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import textwrap
import types
import typing
from typing import Any, Literal, get_args, get_origin

from pydantic.fields import FieldInfo

from . import __version__
from .errors import PortraitError
from .inputs import input_kind
from .schema import RunOptions

PROG = "portrait"


# -- flags from a schema -------------------------------------------------------------------------------

def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _unwrap(annotation):
    """``X | None`` and ``Optional[X]`` to X."""
    if get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _help(field: FieldInfo) -> str:
    bounds = []
    for m in field.metadata:
        for attr, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            if getattr(m, attr, None) is not None:
                bounds.append(f"{sign} {getattr(m, attr)}")
    text = field.description or ""
    extra = ", ".join(bounds + [f"default {field.default!r}" if field.default is not None else "default: none"])
    return _literal(f"{text} ({extra})" if text else extra)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _literal(text: str) -> str:
    """Help text as argparse prints it: its % signs escaped (argparse %-formats help strings)."""
    return text.replace("%", "%%")


def add_schema_flags(parser: argparse.ArgumentParser, model, rules=(), *, title: str = "operation parameters",
                     skip=()) -> list[str]:
    """One flag per schema field (but those in `skip`); only the flags a user gives are passed on, so defaults
    live in the schema. `rules` between the parameters (see :attr:`~.schema.Operation.rules`) are said above
    the flags. The fields that got a flag."""
    group = parser.add_argument_group(title, _literal(_sentence("; ".join(rules))) or None)
    names = [name for name in model.model_fields if name not in skip]
    for name in names:
        field = model.model_fields[name]
        kind = _unwrap(field.annotation)
        kw: dict[str, Any] = {"dest": name, "default": argparse.SUPPRESS, "help": _help(field)}
        if input_kind(field.annotation):             # a file the runner reads (see portrait_studio.inputs)
            kw["metavar"] = {"image": "PATH", "model": "MODEL", "lut": "LUT"}[input_kind(field.annotation)]
        elif kind is bool:
            kw["action"] = argparse.BooleanOptionalAction
        elif get_origin(kind) is Literal:
            kw["choices"] = [str(c) for c in get_args(kind)]
        elif kind in (int, float, str):
            kw["type"] = kind
            kw["metavar"] = {int: "N", float: "X", str: "TEXT"}[kind]
        group.add_argument(_flag(name), **kw)
    return names


def add_extra_flags(parser: argparse.ArgumentParser, extras) -> None:
    """``--save-NAME PATH`` for each side result an operation declares (see :class:`~.schema.Operation`);
    ``--export-NAME FILE`` for a look-up table."""
    group = parser.add_argument_group("side results")
    for name, extra in extras.items():
        verb = "export" if extra.kind == "lut" else "save"
        group.add_argument(_flag(f"{verb}_{name}"), dest="save_" + name, metavar="FILE" if extra.kind == "lut" else "PATH",
                           default=None,
                           help=_literal(f"also write the {name} ({extra.description}) {_SAVED_AS[extra.kind]}"))


#: How the CLI writes a side result of each kind (see :class:`~.schema.Extra`).
_SAVED_AS = {"mask": "as a grey .png or 16-bit .tif", "alpha": "as a grey .png or 16-bit .tif",
             "image": "as an image (.png, .tif, .jpg, ...)", "json": "as a .json file",
             "lut": "as a .cube file (sRGB-encoded in and out; Resolve, Premiere, Lightroom)"}


class _Catalogue(argparse.Action):
    """``--list``: print an operation's named presets (its catalogue) and exit, whatever else is given."""

    def __init__(self, option_strings, dest, catalogue=None, **kw):
        self.catalogue = catalogue
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kw)

    def __call__(self, parser, namespace, values, option_string=None):
        items = self.catalogue()
        width = max(map(len, items), default=0)
        sys.stdout.write("".join(f"{name:{width}s}  {text}\n" for name, text in items.items()))
        parser.exit(0)


# -- the parser ------------------------------------------------------------------------------------

class _Formatter(argparse.HelpFormatter):
    """Help whose description keeps its paragraphs, each wrapped, and its example command lines as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        fill = super()._fill_text
        return "\n\n".join(textwrap.indent(par, indent) if par.startswith(PROG + " ") else fill(par, width, indent)
                             for par in text.split("\n\n"))


def _description(func) -> str:
    """An operation's docstring for its --help: the prose before the first numpydoc section, and the example
    command lines of its Examples section."""
    import inspect

    doc = inspect.getdoc(func) or ""
    sections = re.split(r"\n\n(?=\w[\w ]*\n-{3,}\n)", doc)
    text = [" ".join(par.split()) for par in sections[0].split("\n\n")]
    for section in sections[1:]:
        head, _, body = section.partition("\n")
        lines = [line for line in body.splitlines() if line.startswith(PROG + " ")]
        if head.strip() == "Examples" and lines:
            text.append("\n".join(lines))
    return "\n\n".join(text)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (like every other error), pointing to --help."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{PROG}: error: {message}; see '{self.prog} --help'\n")


def _integer(what: str, low: int, high: int | None = None):
    """An argparse type: an integer from `low` to `high` (or more), described as `what` when refused."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{value} is not {what}")
        return value
    return parse


def _common(*, seed: bool = False) -> argparse.ArgumentParser:
    """The common options: the run options (:class:`~.schema.RunOptions`; the seed only where `seed`, as
    commands whose operations declare their own seed have it among their parameters) and --debug."""
    p = argparse.ArgumentParser(add_help=False)
    names = add_schema_flags(p, RunOptions, title="common options", skip=() if seed else ("seed",))
    p.set_defaults(run_options=names)
    p.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    return p


def run_options(args) -> RunOptions:
    """The run options the command line gave (validated as the Python API validates them)."""
    return RunOptions.parse({n: getattr(args, n) for n in args.run_options if hasattr(args, n)})


def _output(required: bool = True, *, folder: bool = False) -> argparse.ArgumentParser:
    """The output flags; with `folder`, -o names a folder of results (and --overwrite is implied, not shown)."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("output")
    g.add_argument("-o", "--output", required=required, metavar="OUTDIR" if folder else "OUT",
                   help="the folder for the results and their manifest batch.jsonl" if folder
                   else "where to write the result (.jpg, .png, .tif, .heic, .webp)")
    g.add_argument("--overwrite", action="store_true",
                   help=argparse.SUPPRESS if folder else "replace OUT if it exists")
    g.add_argument("--quality", type=_integer("a quality from 1 to 100", 1, 100), default=95, metavar="Q",
                   help="JPEG/HEIC/WebP quality 1-100 (default 95)")
    g.add_argument("--strip-private", action="store_true", help=argparse.SUPPRESS)   # the default now; kept working
    g = p.add_argument_group("provenance", "Every output carries signed C2PA Content Credentials (where c2pa-python is "
                             "installed: the provenance extra), an invisible watermark, and no private metadata.")
    g.add_argument("--no-credentials", action="store_true", help="write no Content Credentials")
    g.add_argument("--no-watermark", action="store_true", help="leave the invisible watermark out")
    g.add_argument("--keep-private", action="store_true",
                   help="keep GPS position, serial numbers, owner and device names and XMP in the output's metadata")
    g.add_argument("--sign-key", metavar="KEY.pem", help=f"sign with this private key (else ${_ENV_KEY}, the config "
                   "file, or a key made once on this machine)")
    g.add_argument("--sign-cert", metavar="CHAIN.pem", help=f"the certificate chain of --sign-key (else ${_ENV_CERT})")
    return p


_ENV_KEY, _ENV_CERT = "PORTRAIT_SIGN_KEY", "PORTRAIT_SIGN_CERT"


def provenance_of(args):
    """What the outputs of a command carry (see :class:`~portrait_studio.provenance.Provenance`)."""
    from .provenance import Provenance

    return Provenance(credentials=False if args.no_credentials else None, watermark=not args.no_watermark,
                      keep_private=args.keep_private, sign_key=args.sign_key, sign_cert=args.sign_cert)


def build_parser() -> argparse.ArgumentParser:
    from .ops import operations

    parser = _Parser(prog=PROG, description="portrait-studio: a local-first AI portrait studio.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common, output = _common(), _output()

    p = sub.add_parser("analyze", parents=[common], help="find faces, mesh, pose; print or draw them",
                       description="Analyse a portrait: faces (largest first) with their 478-point mesh and head "
                                   "pose, in pixels of the upright image.")
    p.add_argument("input", metavar="INPUT")
    p.add_argument("--json", action="store_true", help="print the analysis as JSON")
    p.add_argument("--overlay", metavar="OUT.png", help="draw mesh, regions and person matte over the photo")
    p.add_argument("--overwrite", action="store_true", help="replace the overlay file if it exists")

    sub.add_parser("ops", help="list the operations and their parameters",
                   description="List the operations; with --json, their parameter schemas.").add_argument(
        "--json", action="store_true", help="print the JSON Schema of every operation")

    p = sub.add_parser("run", parents=[_common(seed=True), output], help="apply a recipe (YAML or JSON) to a photo",
                       description="Apply a recipe: an ordered list of operations with parameters.")
    p.add_argument("recipe", metavar="RECIPE")
    p.add_argument("input", metavar="INPUT")

    p = sub.add_parser("batch", parents=[_common(seed=True), _output(folder=True)],
                       help="a whole shoot through a recipe: resumable, on every core or a Ray cluster",
                       description="Run a recipe on many photos, as 'portrait run' does on each, on every core or "
                                   "on a Ray cluster. OUTDIR/batch.jsonl records every image; running the same "
                                   "command again makes only what is missing, failed or made with another recipe. "
                                   "Exit status 0 when every image is made, 3 when some failed.")
    p.add_argument("recipe", metavar="RECIPE")
    p.add_argument("inputs", metavar="INPUT", nargs="+",
                   help="image files, folders (searched recursively; outputs keep the paths below them) or globs")
    p.add_argument("--workers", type=_integer("a positive number of workers", 1), metavar="N",
                   help="worker processes (default: every core; with --ray, every CPU of the cluster)")
    p.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="run on Ray (the ray extra): 'local' (the default with no ADDRESS; then give --ray after "
                        "the inputs) starts one on this machine, 'auto' or HOST:PORT joins a running cluster, whose "
                        "workers read and write the paths on storage they share")
    from .batch import FORMATS

    p.add_argument("--format", choices=list(FORMATS),
                   help="the outputs' format (default: the input's, or jpg where that cannot be written)")

    p = sub.add_parser("demo", parents=[common], help="the studio's main job on a photo (the astronaut by default)",
                       description="Run the studio on a photo, or on scikit-image's astronaut portrait, and write "
                                   "the results to a folder.")
    p.add_argument("input", metavar="PHOTO", nargs="?", help="a photo (default: skimage.data.astronaut())")
    p.add_argument("-o", "--output", metavar="FOLDER", default="out", help="folder for the results (default ./out)")

    p = sub.add_parser("verify", help="what a file's Content Credentials and watermark say",
                       description="Read a file's Content Credentials (history, signer, whether the signature and the "
                                   "pixels still match) and look for the studio's watermark in its pixels.")
    p.add_argument("input", metavar="FILE")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--debug", action="store_true", help="show the full traceback on errors")

    p = sub.add_parser("serve", help="the web studio and REST API (needs the serve extra)",
                       description="Serve the web studio at / and the REST API at /v1 (documented at /docs), both "
                                   "generated from the operations' schemas. Binds to 127.0.0.1 unless told otherwise.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=_integer("a port from 1 to 65535", 1, 65535), default=8000, help="port (default 8000)")
    from .server.work import Limits

    limits = Limits()
    p.add_argument("--max-pixels", type=_integer("a positive number of pixels", 1), default=limits.max_pixels,
                   metavar="N", help=f"refuse pictures larger than this (default {limits.max_pixels})")
    p.add_argument("--max-upload-mb", type=_integer("a positive number of MB", 1), metavar="MB",
                   default=limits.max_upload_bytes // 2 ** 20,
                   help=f"refuse request bodies larger than this (default {limits.max_upload_bytes // 2 ** 20})")
    p.add_argument("--workers", type=_integer("a positive number of workers", 1), default=limits.workers, metavar="N",
                   help=f"operations run at once (default {limits.workers}; each holds its images in memory)")
    p.add_argument("--queue", type=_integer("a positive queue length", 1), default=limits.queue, metavar="N",
                   help=f"work waiting or running at once before requests are refused with 429 (default {limits.queue})")

    from .generate.cli import add_commands as add_generate_commands

    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    add_generate_commands(sub, output=output, debug=debug)

    for name, op in operations().items():
        p = sub.add_parser(name, parents=[common, output], help=_literal(op.summary),
                           description=_literal(_description(op.func)), formatter_class=_Formatter)
        if op.frames:
            p.add_argument("input", metavar="INPUT", nargs="+",
                           help="the frames: image files, folders of them, or a multi-image HEIC")
        else:
            p.add_argument("input", metavar="INPUT")
        add_schema_flags(p, op.params, op.rules)
        add_extra_flags(p, op.extras)
        if op.catalogue:
            p.add_argument("--list", action=_Catalogue, catalogue=op.catalogue,
                           help="list the named presets with a line on each, and exit")
        p.set_defaults(operation=name)
    return parser


# -- commands ---------------------------------------------------------------------------------------

def _read(args):
    return args.options.read(args.input)


def _check_outputs(args, images, masks=(), frames=(), *, alpha: bool = False, documents=(), luts=()) -> None:
    """Refuse, before any work, an output that could not be written (unknown format, missing folder, a folder,
    an existing file without --overwrite, a format without transparency for `alpha` work) or that two outputs
    share, so a refusal never comes after the work or leaves some outputs written. Side results (`masks`) are
    .png or .tif, JSON side results (`documents`) .json. `frames` are inputs read as the work goes, which no
    output may replace, even with --overwrite."""
    import os
    import pathlib

    from .errors import InputError
    from .io import check_output
    from .io.write import _check_target

    inputs, seen = {os.path.realpath(f) for f in frames}, set()
    for path in [*images, *masks, *documents, *luts]:
        real = os.path.realpath(path)
        if real in inputs:
            raise InputError(path, "is one of the input frames, which are read as the work goes",
                             "write the results to other files")
        if real in seen:
            raise InputError(path, "is given for two outputs", "give each output its own file name")
        seen.add(real)
    for path in images:
        check_output(path, overwrite=args.overwrite, alpha=alpha)
    for path in masks:
        check_output(path, overwrite=args.overwrite, mask=True)
    for path in documents:
        if not str(path).lower().endswith(".json"):
            raise InputError(path, "is not a .json file name", "write this side result as .json")
        _check_target(pathlib.Path(path), args.overwrite)
    for path in luts:
        if not str(path).lower().endswith(".cube"):
            raise InputError(path, "is not a .cube file name", "export the look-up table as .cube")
        _check_target(pathlib.Path(path), args.overwrite)


def _write(args, portrait, extras: dict[str, str] | None = None, path: str | None = None, *, status=None,
           kinds: dict[str, str] | None = None) -> None:
    """Write the result (with its transparency, if any) and the asked-for extras (name -> path, written as
    their `kinds` say), saying so on `status` (a :class:`_Status`); transparency the output format cannot
    hold gets a note on stderr."""
    from .io import holds_alpha, write_image, write_mask
    from .provenance import write_output

    status = status or _Status(quiet=True)
    path = path or args.output
    status.stage(f"writing {path}")
    if portrait.alpha is not None and not holds_alpha(path):
        status.note(f"{path}: JPEG has no transparency; the transparent parts are flattened over white (write .png, "
                    ".tif, .webp or .heic to keep them)")
    path = write_output(path, portrait, provenance=provenance_of(args), overwrite=args.overwrite,
                        quality=args.quality, note=status.note_once)
    status.say(f"wrote {path}")
    for name, target in (extras or {}).items():
        value, kind = portrait.extras[name], kinds[name]
        if kind == "image":
            write_image(target, value, portrait.metadata, overwrite=args.overwrite, strip_private=True)
        elif kind == "json":
            _write_json(target, value)
        elif kind == "lut":
            from .io.lut import write_cube

            write_cube(target, value, overwrite=args.overwrite)
        else:
            write_mask(target, value, overwrite=args.overwrite)
        status.say(f"wrote {target}")


def _write_json(path: str, value: dict) -> None:
    """A JSON side result, written whole or not at all (a temporary file, then renamed)."""
    import pathlib

    from .io.write import _replacing

    with _replacing(pathlib.Path(path)) as tmp:
        tmp.write_text(json.dumps(value, indent=2), encoding="utf-8")


def _summary(portrait) -> str:
    d = portrait.describe()
    im = d["image"]
    lines = [f"{portrait.path}: {im['width']}×{im['height']} px, {im['profile']}"]
    lines += [f"  note: {n}" for n in im.get("notes", [])]
    if not portrait.faces:
        lines.append("  no face found")
    for i, f in enumerate(portrait.faces):
        x, y, w, h = f.box
        p = f.pose
        lines.append(f"  face {i}: box {x:.0f},{y:.0f} {w:.0f}×{h:.0f} px, score {f.score:.2f}, "
                     f"yaw {p.yaw:+.0f}°, pitch {p.pitch:+.0f}°, roll {p.roll:+.0f}°, "
                     f"eyes {f.interocular:.0f} px apart")
    return "\n".join(lines)


def cmd_analyze(args) -> None:
    if args.overlay:
        _check_outputs(args, [args.overlay])
    with _Status() as status:
        status.stage(f"reading {args.input}")
        portrait = _read(args)
        status.stage("analysing")
        if args.options.face is not None:
            portrait.face()                        # refuse a face index that does not exist
        if args.overlay:
            from .io import write_image
            from .overlay import draw_overlay

            write_image(args.overlay, draw_overlay(portrait), portrait.metadata, overwrite=args.overwrite,
                        strip_private=True)
        text = json.dumps(portrait.describe()) if args.json else _summary(portrait)
    print(text)
    if args.overlay and not args.json:
        print(f"wrote {args.overlay}")


def cmd_ops(args) -> None:
    from .ops import operations

    ops = operations()
    if args.json:
        print(json.dumps({name: op.json_schema() for name, op in ops.items()}, indent=2))
        return
    width = max(60, shutil.get_terminal_size().columns - 1)
    for name, op in ops.items():
        flags = " ".join(f"{_flag(n)}" for n in op.params.model_fields)
        print(textwrap.fill(op.summary, width, initial_indent=f"{name:12s} ", subsequent_indent=" " * 13))
        print(textwrap.fill(flags, width, initial_indent=" " * 13, subsequent_indent=" " * 13,
                            break_on_hyphens=False))


def cmd_run(args) -> None:
    from .pipeline import load_recipe

    steps = load_recipe(args.recipe, options=args.options)   # the whole recipe validated before reading the photo
    with _Status() as status:
        run_recipe(args, steps, args.input, args.output, status=status)


def run_recipe(args, steps, source: str, output: str, *, status, backend=None):
    """Read `source`, apply the recipe's `steps` and write `output`, as the command line gives them (`args`: the
    run options and the output flags): the one path from a photo to its file that ``portrait run`` and every
    image of ``portrait batch`` take. `status` is a :class:`_Status` (or an object with its methods); `backend`
    the analysis models to keep across images (default: new ones). Returns the written Portrait."""
    from .pipeline import apply_recipe

    made = [s.op.transparent(s.params) for s in steps if "alpha" in s.op.extras and s.op.transparent]
    _check_outputs(args, [output], alpha=bool(made and made[-1]))
    status.stage(f"reading {source}")
    portrait = args.options.read(source, backend=backend)
    _check_size(args, portrait, output, kept=all(s.op.geometry_kept for s in steps))
    status.stage(args.recipe)
    result = apply_recipe(portrait, steps, progress=status)
    _write(args, result, path=output, status=status)
    return result


def cmd_operation(args) -> None:
    from .ops import get_operation

    op = get_operation(args.operation)
    fields = op.params.model_fields
    params = op.validate({k: v for k, v in vars(args).items() if k in fields}, options=args.options)
    extras = {n: getattr(args, "save_" + n) for n in op.extras if getattr(args, "save_" + n, None)}
    written_as = {n: "mask" if op.extras[n].kind == "alpha" else op.extras[n].kind for n in extras}
    sides = {kind: [extras[n] for n in extras if written_as[n] == kind] for kind in ("mask", "image", "json", "lut")}
    transparent = bool(op.transparent and op.transparent(params))
    if "alpha" in extras and op.transparent and not transparent:
        _made_none(op, ["alpha"])
    with _Status() as status:
        status.stage(f"reading {' '.join(args.input) if op.frames else args.input}")
        if op.frames:
            source = args.options.read_frames(args.input)
            numbered = _numbered(args.output)
            outputs = [numbered(i) for i in range(len(source))] if numbered else [args.output]
            _check_outputs(args, outputs + sides["image"], sides["mask"], frames=[s.path for s in source.sources],
                           alpha=transparent, documents=sides["json"], luts=sides["lut"])
        else:
            numbered = None
            _check_outputs(args, [args.output, *sides["image"]], sides["mask"], alpha=transparent,
                           documents=sides["json"], luts=sides["lut"])
            source = _read(args)
            _check_size(args, source, args.output, kept=op.geometry_kept)
            if op.face:
                status.stage("finding the face")
                source.face(needed_by=op.name)         # refused here, before the work, when none will do
        status.stage(op.name)
        result = op(source, progress=status if op.progress else None, options=args.options, **dict(params))
        if not hasattr(result, "image"):                  # several outputs, one per input frame
            if not numbered:
                from .errors import ParameterError

                raise ParameterError(f"{op.name} makes one picture per frame here; give a numbered output "
                                     "such as -o out/frame-%04d.png")
            for i, frame in enumerate(result):
                _write(args, frame, path=numbered(i), status=status)
                status.stage(op.name)
            return
        missing = [n for n in extras if n not in result.extras]
        if missing:
            _made_none(op, missing)
        _write(args, result, extras, path=numbered(0) if numbered else None, status=status,   # one picture: the first
               kinds={n: op.extras[n].kind for n in extras})


def _made_none(op, names) -> typing.NoReturn:
    from .errors import ParameterError

    raise ParameterError(f"{op.name} makes no {', '.join(f'{n} ({op.extras[n].description})' for n in names)} with these "
                         f"parameters; see 'portrait {op.name} --help'")


def _check_size(args, portrait, output: str, *, kept: bool) -> None:
    """Refuse, before the work, a picture of the input's size that the output format cannot hold, where the
    work keeps the size (`kept`)."""
    if kept:
        from .io import check_output

        check_output(output, overwrite=args.overwrite, size=portrait.shape[::-1])


def _numbered(output: str):
    """For an output name with a printf-style number (``frame-%04d.png``), the name of frame i; else None."""
    if not re.search(r"%0?\d*d", output):
        return None
    return lambda i: re.sub(r"%0?\d*d", lambda m: m.group(0) % i, output, count=1)


class _Status:
    """What long work is doing, as one line on a terminal's stderr: the stage, the count the work reports
    (as a ``progress(done, total, what)`` callback), and the seconds so far.

    The line appears once the work has taken `after` seconds (quick commands print nothing), is redrawn
    every `every` seconds by a thread, and is cleared when the work ends or before anything else is printed
    (:meth:`say`, :meth:`note`). Where stderr is not a terminal (or with `quiet`) it draws nothing.
    """

    def __init__(self, *, quiet: bool = False, after: float = 1.5, every: float = 0.5):
        import threading
        import time

        self.stream = sys.stderr if not quiet and sys.stderr.isatty() else None
        self.after, self.every, self.clock = after, every, time.monotonic
        self.start, self.base, self.text, self.shown = self.clock(), "", "", False
        self._lock, self._stop = threading.Lock(), threading.Event()
        self._thread = threading.Thread(target=self._tick, daemon=True) if self.stream else None

    def __enter__(self) -> "_Status":
        if self._thread:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
        with self._lock:
            self._clear()

    def stage(self, text: str) -> None:
        """What the work does now."""
        with self._lock:
            self.base = self.text = text
            self._draw()

    def __call__(self, done: int, total: int, what: str) -> None:
        """How far the stage has come, as the work reports it."""
        with self._lock:
            self.text = f"{self.base}: {done}/{total} {what}"
            self._draw()

    def say(self, line: str) -> None:
        """A line on stdout (the status line cleared first; the next tick redraws it)."""
        with self._lock:
            self._clear()
            print(line, flush=True)

    def note(self, line: str) -> None:
        """A one-line note on stderr, whether or not it is a terminal."""
        with self._lock:
            self._clear()
            print(f"{PROG}: note: {line}", file=sys.stderr, flush=True)

    def note_once(self, line: str) -> None:
        """:meth:`note`, unless the same line was said already."""
        said = self.__dict__.setdefault("_said", set())
        if line not in said:
            said.add(line)
            self.note(line)

    def _tick(self) -> None:
        while not self._stop.wait(self.every):
            with self._lock:
                self._draw()

    def _draw(self) -> None:
        elapsed = self.clock() - self.start
        if self.stream and self.text and elapsed >= self.after:
            self.stream.write(f"\r{PROG}: {self.text} ({elapsed:.0f} s)\033[K")
            self.stream.flush()
            self.shown = True

    def _clear(self) -> None:
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.shown = False


def cmd_batch(args) -> int:
    import os

    from .batch import plan, run_batch
    from .batch.run import import_ray
    from .errors import InputError
    from .pipeline import load_recipe

    steps = load_recipe(args.recipe, options=args.options)   # everything refused here is refused before any work
    if os.path.exists(args.output) and not os.path.isdir(args.output):
        raise InputError(args.output, "is a file, not a folder", "give a folder for the results (-o OUTDIR)")
    items = plan(args.inputs, args.output, fmt=args.format)
    if args.ray is not None:
        import_ray()
    batch_only = {"command", "recipe", "inputs", "output", "workers", "ray", "format", "debug", "run_options",
                  "overwrite", "options"}
    settings = {"options": args.options.model_dump(mode="json"),
                **{k: v for k, v in sorted(vars(args).items()) if k not in batch_only}}

    with _Status(after=0.0) as status:
        def progress(done: int, total: int, summary) -> None:
            made = done - summary.skipped
            elapsed = status.clock() - status.start
            rate = made / elapsed * 60 if made and elapsed > 0 else 0.0
            left = f", about {_duration((total - done) / rate * 60)} left" if rate else ""
            status.stage(f"batch: {done}/{total} images, {rate:.1f}/min{left}")

        summary = run_batch(items, args.output, args=args, steps=steps, settings=settings, workers=args.workers,
                            ray=args.ray, progress=progress)
    failed = len(summary.failed)
    print(f"{PROG} batch: {summary.total} images: {summary.ok} made, {summary.skipped} already done, {failed} failed "
          f"in {_duration(summary.seconds)}" + (f" on {summary.workers} workers" if summary.workers else "")
          + f"; recorded in {os.path.join(args.output, 'batch.jsonl')}", flush=True)
    for record in summary.failed[:20]:
        print(f"{PROG}: failed: {record['error']}", file=sys.stderr)
    if failed > 20:
        print(f"{PROG}: ... and {failed - 20} more failed (see batch.jsonl)", file=sys.stderr)
    return 3 if failed else 0


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def cmd_demo(args) -> None:
    import os

    from .demo import run_demo
    from .errors import InputError

    if os.path.exists(args.output) and not os.path.isdir(args.output):
        raise InputError(args.output, "is a file, not a folder", "give a folder for the results (-o FOLDER)")

    for line in run_demo(args.input, args.output, max_pixels=args.options.max_pixels, face_index=args.options.face):
        print(line)


def cmd_verify(args) -> None:
    from .provenance import verify

    report = verify(args.input)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    c, w = report["credentials"], report["watermark"]
    lines = [f"{args.input}:"]
    if c["present"]:
        lines.append(f"  credentials: {'valid' if c['valid'] else 'NOT VALID (the file was changed after signing)'}, "
                     f"signed by {c['signer']}{'' if c.get('trusted') else ' (not on a trust list)'}")
        for i in c["ingredients"]:
            lines.append(f"  from: {i['title']} ({i['relationship']}, {i['hash']})")
        for a in c["actions"]:
            params = ", ".join(f"{k}={v}" for k, v in (a["parameters"] or {}).items())
            lines.append(f"  {a['action']}" + (f": {a['operation']} {params}" if a["operation"] else ""))
    else:
        lines.append("  credentials: none")
    lines += [f"  problem: {p}" for p in c["problems"]]
    lines.append(f"  watermark: {'found, payload ' + w['payload'] if w['found'] else 'none found'}")
    print("\n".join(lines))


def cmd_serve(args) -> None:
    import dataclasses

    from .server import serve
    from .server.work import Limits

    limits = dataclasses.replace(Limits(), max_pixels=args.max_pixels, max_upload_bytes=args.max_upload_mb * 2 ** 20,
                                 workers=args.workers, queue=args.queue)
    serve(host=args.host, port=args.port, limits=limits,
          announce=lambda url: print(f"portrait studio at {url} (REST API at {url}v1, documented at {url}docs); "
                                     "Ctrl-C stops it", flush=True))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .generate.cli import HANDLERS as generate_handlers

    handler = {"analyze": cmd_analyze, "ops": cmd_ops, "run": cmd_run, "batch": cmd_batch, "demo": cmd_demo,
               "serve": cmd_serve, "verify": cmd_verify, **generate_handlers}.get(args.command, cmd_operation)
    try:
        if hasattr(args, "run_options"):
            args.options = run_options(args)        # refused here, before any work, as a bad parameter is
        code = handler(args)
    except PortraitError as e:
        if getattr(args, "debug", False):
            raise
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - the last line of defence: one line, not a traceback
        if getattr(args, "debug", False):
            raise
        print(f"{PROG}: internal error: {e.__class__.__name__}: {e} (run again with --debug for the "
              "traceback, and please report it)", file=sys.stderr)
        return 1
    return code or 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
