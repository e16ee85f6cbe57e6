"""The batch manifest, ``OUTDIR/batch.jsonl``: one JSON line per image per run, appended, never rewritten.

Each line records ``input`` and ``output`` (absolute paths), ``status`` (``ok``, ``failed`` or ``skipped``:
done by an earlier run with the same recipe), ``error`` (the one-line reason of a failure, else null),
``seconds`` (the image's own time, reading to writing), ``recipe`` (:func:`recipe_hash`), ``qc`` (the figures
the result reports: its size, and the JSON side results of the last step) and ``notes`` (what the write
said, e.g. transparency flattened), and ``at`` (UTC time, to the millisecond). The last line for an input is its state: a run
redoes an image unless that line is ``ok``/``skipped`` with the same recipe and output, and the output exists.

A line is written whole with one ``write`` on a file opened for appending and synced, after the image's
output has been renamed into place (see :func:`portrait_studio.io.write_image`): a run killed at any moment
leaves at worst an output without its line (redone by the next run) and a cut last line (ignored).
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from typing import Any

from ..errors import InputError
from ..io.write import is_temporary

NAME = "batch.jsonl"


def recipe_hash(steps, settings: dict[str, Any] | None = None) -> str:
    """A short hash (16 hex digits) of the validated recipe `steps` (defaults filled in, so the same recipe
    written differently hashes the same) and the `settings` that change the output (run options, write
    options); a batch redoes the images whose recorded hash differs."""
    doc = {"steps": [s.to_dict() for s in steps], "settings": settings or {}}
    text = json.dumps(doc, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read(outdir: str) -> dict[str, dict]:
    """The last record for each input (by absolute path) in `outdir`'s manifest; {} when there is none.
    Lines that do not parse (a line cut by a kill) are ignored."""
    last: dict[str, dict] = {}
    try:
        with open(os.path.join(outdir, NAME), encoding="utf-8") as f:
            for line in f:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and isinstance(record.get("input"), str):
                    last[record["input"]] = record
    except FileNotFoundError:
        pass
    return last


def is_done(record: dict | None, *, output: str, recipe: str) -> bool:
    """Whether `record` (the last for an input) says its `output` is made with `recipe` and it still exists."""
    return (record is not None and record.get("status") in ("ok", "skipped") and record.get("recipe") == recipe
            and record.get("output") == output and os.path.isfile(output))


def remove_temporaries(outdir: str) -> list[str]:
    """Remove the temporary files a killed run left in `outdir` (its writers' half-written files); their paths."""
    removed = []
    for root, _, files in os.walk(outdir):
        for name in files:
            if is_temporary(name):
                path = os.path.join(root, name)
                try:
                    os.unlink(path)
                    removed.append(path)
                except FileNotFoundError:
                    pass
    return removed


class Writer:
    """Appends records to `outdir`'s manifest, each one line written whole and synced (a context manager); holds
    a lock on it, so a second batch into the same folder is refused (InputError) rather than mixed in."""

    def __init__(self, outdir: str):
        import fcntl

        path = os.path.join(outdir, NAME)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:                                            # one batch at a time in a folder (released when it ends)
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._fd)
            raise InputError(path, "is in use by another batch running into the same folder",
                             "wait for it to end, or give this one another output folder") from None
        size = os.fstat(self._fd).st_size
        if size:                                        # a line cut by a kill: end it, so the next one stands alone
            with open(path, "rb") as f:
                f.seek(size - 1)
                if f.read(1) != b"\n":
                    os.write(self._fd, b"\n")

    def append(self, record: dict) -> None:
        now = time.time()
        record = {**record, "at": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"}
        os.write(self._fd, (json.dumps(record, default=str) + "\n").encode())
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
