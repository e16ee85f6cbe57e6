"""What a batch does: its inputs (files, folders, globs) and the output each one is written to."""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass

from ..errors import InputError, ParameterError
from ..io import SUPPORTED_READ, SUPPORTED_WRITE

#: The output formats ``--format`` names, and the extension each is written with.
FORMATS = {"jpg": ".jpg", "png": ".png", "tif": ".tif", "heic": ".heic", "webp": ".webp"}
#: The extension of an output whose input's format cannot be written (a raw file, a GIF) and none is asked for.
FALLBACK = ".jpg"


@dataclass(frozen=True)
class Item:
    """One image of a batch: the input file and where its result goes (both as given, not resolved)."""

    input: str
    output: str
    relative: str                   # the output's path relative to the output folder


def _images(folder: str, skip: str) -> list[str]:
    """The images under `folder` (recursively; hidden files and folders and the folder `skip` left out), sorted."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and os.path.realpath(os.path.join(root, d)) != skip)
        found += [os.path.join(root, f) for f in sorted(files)
                  if not f.startswith(".") and os.path.splitext(f)[1].lower() in SUPPORTED_READ]
    return found


def plan(inputs: list[str], outdir: str, *, fmt: str | None = None) -> list[Item]:
    """The images of `inputs` and their outputs in `outdir`, in a stable order.

    A folder is searched recursively for images (by extension, see :data:`~portrait_studio.io.SUPPORTED_READ`)
    and its images keep their paths relative to it (``in/sub/x.jpg`` -> ``OUTDIR/sub/x.jpg``); a file given
    by name, or matched by a glob pattern, lands in `outdir` itself. The output keeps the input's extension
    where that format can be written (else ``.jpg``) unless `fmt` (a key of :data:`FORMATS`) names one.

    Raises
    ------
    InputError
        An input that does not exist, a glob that matches nothing, no images at all, or two inputs that
        would be written to the same output (or an output that would replace an input).
    ParameterError
        An unknown `fmt`.
    """
    if fmt is not None and fmt not in FORMATS:
        raise ParameterError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
    skip = os.path.realpath(outdir)
    pairs: list[tuple[str, str]] = []                       # (input, relative output stem + input extension)
    for given in inputs:
        if os.path.isdir(given):
            pairs += [(f, os.path.relpath(f, given)) for f in _images(given, skip)]
        elif os.path.isfile(given):
            pairs.append((given, os.path.basename(given)))
        elif glob.has_magic(given):
            matched = sorted(f for f in glob.glob(given, recursive=True) if os.path.isfile(f)
                             and os.path.splitext(f)[1].lower() in SUPPORTED_READ)
            if not matched:
                raise InputError(given, "matches no image", "check the pattern (quote it so the shell leaves it)")
            pairs += [(f, os.path.basename(f)) for f in matched]
        else:
            raise InputError(given, "no such file or folder", "check the path")
    if not pairs:
        raise InputError(" ".join(inputs), "holds no images",
                         f"give image files ({', '.join(sorted({e.lstrip('.') for e in SUPPORTED_READ}))}) "
                         "or folders of them")
    items, seen, reals = [], {}, {os.path.realpath(f) for f, _ in pairs}
    for source, rel in pairs:
        stem, ext = os.path.splitext(rel)
        ext = FORMATS[fmt] if fmt else (ext if ext.lower() in SUPPORTED_WRITE else FALLBACK)
        rel = stem + ext
        output = os.path.join(outdir, rel)
        key = os.path.normcase(os.path.normpath(rel))
        if key in seen:
            if os.path.realpath(seen[key]) == os.path.realpath(source):
                continue                                   # the same file given twice: done once
            raise InputError(output, f"would be written for both {seen[key]} and {source}",
                             "give inputs whose names differ, or run them as separate batches")
        if os.path.realpath(output) in reals:
            raise InputError(output, "would replace an input", "write the batch to another folder (-o)")
        seen[key] = source
        items.append(Item(source, output, rel))
    return items
