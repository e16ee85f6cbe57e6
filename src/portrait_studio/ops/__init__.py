"""The operations: one registry, written out here, and one dispatcher.

Each operation module declares its function with :func:`portrait_studio.schema.operation`; this module is
the only place that lists them (:data:`OPERATIONS`, in the order interfaces show them), so adding an
operation is one import and one entry below. Nothing registers itself on import, and
:mod:`portrait_studio.schema` knows nothing of this package.

Examples
--------
>>> import numpy as np
>>> from portrait_studio import Portrait
>>> apply(Portrait(np.full((2, 2, 3), 0.25, np.float32)), "exposure", ev=1.0).image[0, 0, 0]
0.5
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from ..errors import ParameterError
from ..schema import Operation
from . import adjust, background, burst, expression, film, makeup, refocus, relight, reshape, retouch, style


def _registry(*ops: Operation) -> Mapping[str, Operation]:
    names = [op.name for op in ops]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"operations registered twice: {', '.join(twice)}")
    return MappingProxyType({op.name: op for op in ops})


#: Every operation by name, in the order interfaces list them.
OPERATIONS: Mapping[str, Operation] = _registry(adjust.exposure, adjust.resize, relight.relight, retouch.retouch,
                                               refocus.refocus, background.background, burst.burst, film.film,
                                               expression.expression, makeup.makeup,
                                               reshape.reshape, style.style)


def get_operation(name: str) -> Operation:
    """The operation called `name`.

    Raises
    ------
    ParameterError
        For a name no operation has, listing the known ones.
    """
    try:
        return OPERATIONS[name]
    except KeyError:
        raise ParameterError(f"unknown operation {name!r}; known: {', '.join(OPERATIONS)}") from None


def operations() -> dict[str, Operation]:
    """All operations by name (a copy of :data:`OPERATIONS`)."""
    return dict(OPERATIONS)


def apply(portrait, name: str, /, **params):
    """The dispatcher: apply the operation called `name` to `portrait` with `params` (validated against its
    schema first; see :meth:`~portrait_studio.schema.Operation.__call__`)."""
    return get_operation(name)(portrait, **params)


__all__ = ["OPERATIONS", "apply", "get_operation", "operations"]
