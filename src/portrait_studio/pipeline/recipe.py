"""Recipes in YAML or JSON.

A recipe is an ordered list of steps; each step names one operation and its parameters::

    steps:
      - exposure: {ev: 0.5}
      - resize: {long_edge: 2048}

A bare list of steps is accepted too, and a step with no parameters may be just the operation's name.
Every step is validated against its operation's schema before anything runs. A recipe with a step that
changes who a face looks like (an identity-changing operation) needs ``consent: true`` beside its steps.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import BaseModel

from ..errors import InputError, ParameterError
from ..ops import get_operation
from ..schema import Operation, RunOptions


@dataclass(frozen=True)
class Step:
    """One validated step: the operation and its parameters (defaults filled in)."""

    op: Operation
    params: BaseModel

    def to_dict(self) -> dict:
        return {self.op.name: self.params.model_dump(mode="json")}


def parse_recipe(doc: Any, *, source: str = "recipe", options: RunOptions | None = None) -> list[Step]:
    """Validate a recipe document (already parsed from YAML/JSON) into steps (a random step's seed, where the
    recipe gives none, from `options`).

    Raises
    ------
    ParameterError
        Naming the source, the step number (from 1) and what is wrong.
    """
    from ..provenance.consent import parse_consent, require_consent

    steps = doc.get("steps") if isinstance(doc, dict) else doc
    extra = sorted(set(doc) - {"steps", "consent"}) if isinstance(doc, dict) else []
    if extra:
        raise ParameterError(f"{source}: unknown key {extra[0]!r}; a recipe has 'steps:' (and 'consent:')")
    if not isinstance(steps, list) or not steps:
        raise ParameterError(f"{source}: a recipe is a non-empty list of steps (or a mapping with 'steps:'), "
                             "e.g. 'steps: [{exposure: {ev: 0.5}}]'")
    out = []
    for i, step in enumerate(steps, 1):
        if isinstance(step, str):
            step = {step: {}}
        if not (isinstance(step, dict) and len(step) == 1):
            raise ParameterError(f"{source}: step {i} must name one operation, like '- exposure: {{ev: 0.5}}'; "
                                 f"got {step!r}")
        (name, params), = step.items()
        if params is not None and not isinstance(params, dict):
            raise ParameterError(f"{source}: step {i} ({name}) needs its parameters as a mapping; got {params!r}")
        try:
            op = get_operation(str(name))
            if op.frames:
                raise ParameterError(f"{name} takes several frames, not one photo; run it on its own "
                                     f"(portrait {name} FRAME1 FRAME2 ...)")
            out.append(Step(op, op.validate(params or {}, options=options)))
        except ParameterError as e:
            raise ParameterError(f"{source}: step {i}: {e}") from None
    consent = parse_consent(doc.get("consent") if isinstance(doc, dict) else None, f"{source}: consent")
    require_consent([s.op for s in out], consent, source)
    return out


def load_recipe(path: str | os.PathLike, *, options: RunOptions | None = None) -> list[Step]:
    """Read and validate a recipe file (``.yaml``, ``.yml`` or ``.json``); `options` as for :func:`parse_recipe`."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise InputError(path, "no such recipe file", "check the path") from None
    except IsADirectoryError:
        raise InputError(path, "is a folder, not a recipe", "give a .yaml or .json file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(path, f"cannot be read as text ({e.__class__.__name__})", "give a YAML or JSON recipe") from None
    try:
        doc = json.loads(text) if path.lower().endswith(".json") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as e:
        where = str(e).splitlines()[0]
        raise InputError(path, f"is not valid {'JSON' if path.lower().endswith('.json') else 'YAML'} ({where})",
                         "fix the syntax") from None
    return parse_recipe(doc, source=path, options=options)


def apply_recipe(portrait, steps: list[Step], *, progress=None):
    """Apply the steps in order; the final Portrait, with every step in its history. `progress`, if given,
    is called as ``progress(n, total, name)`` as the n-th step (from 1) begins."""
    for i, step in enumerate(steps, 1):
        if progress is not None:
            progress(i, len(steps), step.op.name)
        portrait = step.op(portrait, **dict(step.params))
    return portrait
