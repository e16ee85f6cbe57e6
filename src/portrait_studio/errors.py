"""The errors a user can cause and fix. Each message names what was wrong and what to do about it."""
from __future__ import annotations

import os


def first_line(e: BaseException, limit: int = 200) -> str:
    """The first line of `e`'s message (at most `limit` characters), or its type's name when it has none: how a
    library's own error is quoted inside one of ours."""
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:limit]


class PortraitError(Exception):
    """Base class: a problem with the user's input, parameters or environment (not a bug).

    Interfaces show ``str(error)`` as one line and exit with status 2.
    """


class InputError(PortraitError):
    """A file that cannot be used: missing, unreadable, broken, too large, or of the wrong kind.

    Parameters
    ----------
    path : str or os.PathLike
        The file the problem is about; it starts the message.
    problem : str
        What is wrong with it.
    fix : str
        What the user can do about it.
    """

    def __init__(self, path: str | os.PathLike, problem: str, fix: str):
        self.path, self.problem, self.fix = os.fspath(path), problem, fix
        super().__init__(f"{self.path}: {problem}; {fix}")


class TooLargeError(InputError):
    """An image (or upload) larger than the run's pixel limit, refused before it is decoded."""


class NoFaceError(PortraitError):
    """An operation needs a face and none was found (or the requested face index does not exist)."""


class ParameterError(PortraitError):
    """An operation or recipe parameter is out of its documented range or of the wrong type."""


class MissingDependencyError(PortraitError):
    """An optional backend was asked for but its package is not installed; the message says what to install."""
