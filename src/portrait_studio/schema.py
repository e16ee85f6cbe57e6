"""Operations and their parameter schema, declared once.

An operation is a plain function ``op(portrait, *, param=default, ...) -> ndarray | Portrait`` whose
keyword-only parameters carry their type, range and help in the annotation
(``Annotated[float, Field(ge=-5, le=5, description="...")]``). :func:`operation` turns that signature into
one Pydantic model, and everything else is generated from it: the CLI subcommand and its flags, recipe
validation, the JSON Schema for the REST API and web controls, and the record of what was applied.

Examples
--------
>>> from typing import Annotated
>>> from pydantic import Field
>>> @operation("brighten")
... def brighten(portrait, *, gain: Annotated[float, Field(gt=0, le=8, description="Linear gain.")] = 1.0):
...     '''Multiply the light by a gain.'''
...     return portrait.image * gain
>>> brighten.validate({"gain": 2}).gain
2.0
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import (Annotated, Any, Callable, Iterator, Literal, Mapping, NamedTuple, Sequence, get_args,
                    get_type_hints)

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator
from pydantic_core import PydanticCustomError, to_jsonable_python

from .errors import ParameterError
from .inputs import InputKind, input_kind, resolve
from .io.read import DEFAULT_MAX_PIXELS


class RunOptions(BaseModel):
    """The options of a run that are not any one operation's parameters, shared by every interface: the CLI's
    common flags are made from these fields, recipes and the Python API take the model.

    Examples
    --------
    >>> RunOptions.parse({"face": "1"}).face
    1
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    face: Annotated[int | None, Field(ge=0, description=(
        "Which face to work on, 0 = the largest (default)."))] = None
    max_pixels: Annotated[int, Field(ge=1, description=(
        "Refuse images larger than this many pixels."))] = DEFAULT_MAX_PIXELS
    seed: Annotated[int | None, Field(ge=0, le=2 ** 31 - 1, description=(
        "Seed for every operation that draws random numbers (grain, textures) and is not given its own "
        "(default: each operation's default seed, recorded with the result)."))] = None

    @classmethod
    def parse(cls, values: Mapping[str, Any] | None = None) -> "RunOptions":
        """Validated options from `values`; ParameterError naming the option and the value, as for operations."""
        try:
            return cls.model_validate(dict(values or {}))
        except ValidationError as e:
            raise ParameterError("; ".join(_describe(err) for err in e.errors())) from None

    def read(self, path, *, backend=None):
        """The Portrait in the image file at `path`, read with these options' size limit and face (analysed by
        `backend`, an :class:`~.analysis.AnalysisBackend` kept across images; default a new one)."""
        from .portrait import Portrait

        return Portrait.read(path, max_pixels=self.max_pixels, face_index=self.face, backend=backend)

    def read_frames(self, inputs):
        """The frames of `inputs` (files, folders, multi-image HEIC), read lazily with the size limit."""
        from .portrait import Frames

        return Frames.read(inputs, max_pixels=self.max_pixels)

ExtraKind = Literal["mask", "alpha", "image", "json", "lut"]


class Extra(NamedTuple):
    """A side result an operation declares: what it is (`kind`) and what it shows (`description`).

    Kinds: ``mask`` a float32 (H, W) map in [0, 1]; ``alpha`` the result's opacity, a float32 (H, W) map in
    [0, 1] that replaces the input's (declared under the name ``alpha``); ``image`` a float32 (H, W, 3)
    linear-light picture; ``json`` a dict of numbers, text and lists (measurements, a report); ``lut`` a colour
    look-up table (:class:`~portrait_studio.io.lut.Lut3D`), which the CLI exports as ``.cube``.
    """

    kind: ExtraKind
    description: str


def _extras(where: str, extras: Mapping[str, tuple[str, str]] | None) -> dict[str, Extra]:
    out = {}
    for name, spec in (extras or {}).items():
        if isinstance(spec, str) or len(spec) != 2 or spec[0] not in get_args(ExtraKind):
            raise TypeError(f"{where}: declare the side result {name!r} as (kind, description), the kind one of "
                            f"{', '.join(get_args(ExtraKind))}; got {spec!r}")
        if (name == "alpha") != (spec[0] == "alpha"):
            raise TypeError(f"{where}: the side result of kind 'alpha' is called 'alpha' (and only it)")
        out[name] = Extra(*spec)
    return out


def _check_extra(op: str, name: str, kind: str, value, shape: tuple[int, int]) -> None:
    """Refuse a side result that is not what its kind says (a fault of the operation, not of the user)."""
    if kind == "json":
        ok = isinstance(value, dict)
    elif kind == "lut":
        from .io.lut import Lut3D

        ok = isinstance(value, Lut3D)
    else:
        ok = isinstance(value, np.ndarray) and value.dtype == np.float32 and value.shape[:2] == shape \
            and value.ndim == (3 if kind == "image" else 2)
    if not ok:
        got = f"{value.dtype} {value.shape}" if isinstance(value, np.ndarray) else type(value).__name__
        raise ValueError(f"{op} returned its {kind} {name!r} as {got}, not as its kind says (see schema.Extra)")


@dataclass(frozen=True)
class Operation:
    """One operation: its name, function, parameter model and a one-line summary.

    Attributes
    ----------
    name : str
        The name used on the command line, in recipes and in the REST API (``kebab-case``).
    func : callable
        ``func(portrait, **params)`` returning the new linear image or a new Portrait.
    params : type[pydantic.BaseModel]
        The parameter schema, built from the function's keyword-only parameters.
    summary : str
        The first paragraph of the function's docstring, as one line.
    geometry_kept : bool
        Whether the output shows the same things at the same pixels (so the analysis carries over).
    extras : dict of str to Extra
        Side results the operation can return besides the image, each with its kind (see :class:`Extra`;
        declared as ``{"mask": ("mask", "what was touched")}``), kept on the result as ``Portrait.extras``
        and listed with their kinds in the JSON Schema. The CLI offers ``--save-NAME PATH`` for each
        (``--export-NAME FILE`` for a ``lut``).
    frames : bool
        The operation takes several input frames (a burst, a sequence): `func` receives a sequence of
        Portraits (possibly lazy: each frame is read when indexed) instead of one, and returns a Portrait
        built on one of them (``frames[i].replace(image)``, whose metadata the output carries), optionally
        with extras as ``(Portrait, extras)``, or an iterator of Portraits (one output per frame). The CLI
        then takes several INPUTs (files, folders, multi-image HEIC).
    progress : bool
        `func` takes a ``progress(done, total, what)`` callback (keyword ``progress``, not a parameter of
        the schema) that interfaces supply to show how long work goes on; library code never prints.
    face : bool
        The operation works on the face's detail: before it runs, a face large enough for that must be
        there (see :meth:`~portrait_studio.portrait.Portrait.face`), else it is refused with NoFaceError.
    transparent : callable, optional
        For an operation that makes the result's opacity (its ``alpha`` extra, which then replaces the
        input's): ``transparent(params)`` says whether these parameters make a transparent result, so
        that interfaces refuse an output format without alpha before any work. Other operations carry
        the input's opacity when they keep the geometry.
    exclusive : tuple of groups
        Rules between parameters: in each group at most one member may be given (a member is a parameter
        name, or a tuple of names that go together), a parameter counting as given when its value is not
        its default. Part of the parameter model, so every interface refuses a violation in validation,
        before any work, with the same message; shown in the JSON Schema as ``exclusive`` (and as
        standard ``allOf``/``not`` clauses).
    inputs : dict of str to {"image", "model"}
        The parameters declared as inputs (:data:`~portrait_studio.inputs.ImageInput`,
        :data:`~portrait_studio.inputs.ModelInput`): given as a path, an upload, an array or a Portrait, and
        resolved by :meth:`__call__` (read with the run's pixel limit) before the operation runs, so that it
        receives a Portrait or a loaded model and opens no file. Listed in the JSON Schema as ``inputs``.
    c2pa_action : str
        The C2PA action its Content Credentials record for it (``c2pa.color_adjustments``, ``c2pa.filtered``,
        ``c2pa.resized``, ``c2pa.placed``, ...; default ``c2pa.edited``), see :mod:`portrait_studio.provenance`.
    identity_changing : bool
        It changes who a face looks like (its expression, features or age), not only the light or the colour:
        its credentials say so (as pixels made by a trained model), batch and REST runs need an explicit
        ``consent: true``, and the JSON Schema shows ``identity_changing``.
    takes_model : bool
        `func` was declared as ``func(portrait, settings: SomeModel)`` and receives the validated
        :attr:`params` instance (an instance of its model) rather than keywords: the form for an operation
        whose work spreads over helper functions, which then take the one settings object (see
        :func:`operation`).
    catalogue : callable, optional
        ``catalogue()`` gives the operation's named presets (name -> one-line description), such as film's
        stocks; the CLI lists them with ``--list``, the JSON Schema under ``catalogue``.
    """

    name: str
    func: Callable[..., Any]
    params: type[BaseModel]
    summary: str
    geometry_kept: bool = True
    extras: Mapping[str, Extra] = field(default_factory=dict)
    frames: bool = False
    progress: bool = False
    face: bool = False
    transparent: Callable[[BaseModel], bool] | None = None
    exclusive: tuple[tuple[str | tuple[str, ...], ...], ...] = ()
    inputs: Mapping[str, InputKind] = field(default_factory=dict)
    takes_model: bool = False
    c2pa_action: str = "c2pa.edited"
    identity_changing: bool = False
    catalogue: Callable[[], Mapping[str, str]] | None = None

    def validate(self, values: Mapping[str, Any] | None = None, *, options: RunOptions | None = None) -> BaseModel:
        """Check parameter values against the schema; the validated model, with defaults filled in (the seed
        of a random operation from `options` when the values give none).

        Raises
        ------
        ParameterError
            One line per problem: which parameter, what is wrong, and the value given.
        """
        values = dict(values or {})
        if options is not None and options.seed is not None and "seed" in self.params.model_fields:
            values.setdefault("seed", options.seed)
        try:
            return self.params.model_validate(values)
        except ValidationError as e:
            raise ParameterError(f"{self.name}: " + "; ".join(_describe(err) for err in e.errors())) from None

    def __call__(self, portrait, *, progress: Callable[[int, int, str], None] | None = None,
                 options: RunOptions | None = None, **values):
        """Validate `values`, apply the operation, return a new Portrait with the step in its history.

        The function returns the new image, or ``(image, extras)`` with `extras` a dict of the declared side
        results, which the new Portrait carries as ``extras``. For a ``frames`` operation `portrait` is a
        sequence of Portraits and the result a Portrait (or an iterator of them, recorded as they come).
        `progress`, when given, is passed on to operations that report progress; `options` supply the seed
        (see :meth:`validate`) and the pixel limit the :attr:`inputs` are read with (default: the limit
        `portrait` was read with).
        """
        params = self.validate(values, options=options)
        given = dict(params)
        if self.inputs:
            limit = options.max_pixels if options is not None else getattr(portrait, "max_pixels", DEFAULT_MAX_PIXELS)
            photo = None if self.frames else portrait
            given.update({n: resolve(given[n], max_pixels=limit, photo=photo) for n in self.inputs
                          if given[n] is not None})
        if self.face and not self.frames:
            portrait.face(needed_by=self.name)
        hook = {"progress": progress} if self.progress and progress is not None else {}
        if self.takes_model:
            out = self.func(portrait, params.model_copy(update=given), **hook)
        else:
            out = self.func(portrait, **given, **hook)
        step = {"op": self.name, "params": params.model_dump(mode="json")}
        if self.frames and isinstance(out, Iterator):
            return (self._finish(p, step, None) for p in out)
        return self._finish(out, step, None if self.frames else portrait)

    def _finish(self, out, step: dict, portrait):
        extras = {}
        if isinstance(out, tuple):
            out, extras = out
            unknown = set(extras) - set(self.extras)
            if unknown:
                raise ValueError(f"{self.name} returned undeclared extras {sorted(unknown)}")
        if isinstance(out, np.ndarray):
            out = portrait.replace(out, step=step, geometry_kept=self.geometry_kept)
        else:                                               # built by the operation: record the step on it
            out = out.replace(out.image, step=step, geometry_kept=True)
        for name, value in extras.items():
            _check_extra(self.name, name, self.extras[name].kind, value, out.shape)
        if "alpha" in self.extras:                          # the operation made the opacity (or none)
            out.alpha = extras.get("alpha")
        out.extras = dict(extras)
        return out

    @property
    def rules(self) -> list[str]:
        """The rules between parameters (:attr:`exclusive`) in words, as validation states them."""
        return [_rule(group) for group in self.exclusive]

    def json_schema(self) -> dict:
        """The JSON Schema of the parameters (for the REST API, web controls and recipe editors)."""
        schema = self.params.model_json_schema()
        schema["title"], schema["description"] = self.name, self.summary
        if self.extras:
            schema["extras"] = {n: e._asdict() for n, e in self.extras.items()}
        if self.inputs:
            schema["inputs"] = dict(self.inputs)
        if self.identity_changing:
            schema["identity_changing"] = True
        if self.catalogue:
            schema["catalogue"] = dict(self.catalogue())
        return schema


def _describe(err: dict) -> str:
    if err["type"] == "exclusive":
        return err["msg"]
    where = ".".join(str(p) for p in err["loc"]) or "parameters"
    msg = err["msg"][0].lower() + err["msg"][1:]
    if err["type"] == "extra_forbidden":
        return f"unknown parameter {where!r}"
    return f"{where}: {msg} (got {err['input']!r})" if "input" in err else f"{where}: {msg}"


def operation(name: str, *, geometry_kept: bool = True, extras: Mapping[str, tuple[ExtraKind, str]] | None = None,
              frames: bool = False, face: bool = False, transparent: Callable[[BaseModel], bool] | None = None,
              exclusive: Sequence[Sequence[str | Sequence[str]]] = (), c2pa_action: str = "c2pa.edited",
              identity_changing: bool = False, catalogue: Callable[[], Mapping[str, str]] | None = None):
    """Decorator: make `func` an :class:`Operation` called `name` from its signature (listed for the
    interfaces in :data:`portrait_studio.ops.OPERATIONS`, not here: declaring registers nothing).

    Every parameter after the image (or, with ``frames=True``, the sequence of frames) must be
    keyword-only, annotated and defaulted; a keyword-only ``progress`` callback is not a parameter but
    the hook through which interfaces follow long work (see :class:`Operation`). An operation whose work
    spreads over helper functions declares its parameters once as a pydantic model instead, taken as the
    only parameter (``func(portrait, settings: RetouchSettings)``), and hands that one object on, so a
    control added is one field; every field needs a default.

    Examples
    --------
    >>> from pydantic import BaseModel
    >>> class Gain(BaseModel):
    ...     gain: Annotated[float, Field(gt=0, le=8, description="Linear gain.")] = 1.0
    >>> @operation("gain")
    ... def gain(portrait, settings: Gain):
    ...     "Multiply the light by a gain."
    ...     return portrait.image * settings.gain
    >>> gain.validate({"gain": 3}).gain, gain.takes_model
    (3.0, True)
    """

    def wrap(func: Callable[..., Any]) -> Operation:
        fields, settings, takes_progress = _declared(func)
        groups = _groups(func.__name__, exclusive, fields)
        config = ConfigDict(extra="forbid", json_schema_extra=_exclusive_schema(groups, fields) if groups else None)
        validators = {"exclusive": model_validator(mode="after")(_exclusive_check(groups))} if groups else {}
        if settings is None:
            model = create_model(_camel(name) + "Params", __config__=config, __validators__=validators or None,
                                 **fields)
        else:           # the declared model, made strict and given the rules (its fields and methods kept)
            model = type(_camel(name) + "Params", (settings,),
                         {"model_config": config, "__module__": settings.__module__, **validators})
        summary = " ".join((inspect.getdoc(func) or name).split("\n\n")[0].split())
        inputs = {n: kind for n, (annotation, _) in fields.items() if (kind := input_kind(annotation))}
        return Operation(name, func, model, summary, geometry_kept, _extras(func.__name__, extras), frames, takes_progress,
                         face, transparent, groups, inputs, takes_model=settings is not None,
                         c2pa_action=c2pa_action, identity_changing=identity_changing, catalogue=catalogue)

    return wrap


def _declared(func: Callable[..., Any]) -> tuple[dict, type[BaseModel] | None, bool]:
    """The parameters `func` declares, ``{name: (annotation, default)}``; the model holding them when it
    takes one (else None); and whether it takes a ``progress`` callback."""
    params = list(inspect.signature(func, eval_str=True).parameters.values())[1:]
    takes_progress = any(p.name == "progress" and p.kind is inspect.Parameter.KEYWORD_ONLY for p in params)
    params = [p for p in params if not (p.name == "progress" and p.kind is inspect.Parameter.KEYWORD_ONLY)]
    if len(params) == 1 and isinstance(p := params[0].annotation, type) and issubclass(p, BaseModel) \
            and params[0].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD:
        hints = get_type_hints(p, include_extras=True)
        required = [n for n, f in p.model_fields.items() if f.is_required()]
        if required:
            raise TypeError(f"{func.__name__}: every field of {p.__name__} needs a default ({', '.join(required)})")
        return {n: (hints[n], f.get_default()) for n, f in p.model_fields.items()}, p, takes_progress
    fields = {}
    for p in params:
        if p.kind is not inspect.Parameter.KEYWORD_ONLY or p.default is inspect.Parameter.empty \
                or p.annotation is inspect.Parameter.empty:
            raise TypeError(f"{func.__name__}: parameter {p.name!r} must be keyword-only, typed and defaulted "
                            "(or the only parameter, annotated with a pydantic model of them)")
        fields[p.name] = (p.annotation, p.default)
    return fields, None, takes_progress


def _groups(where: str, exclusive, fields: dict) -> tuple:
    """The declared exclusive groups as tuples, checked against the parameters."""
    groups = tuple(tuple(m if isinstance(m, str) else tuple(m) for m in group) for group in exclusive)
    for group in groups:
        names = [n for m in group for n in _members(m)]
        unknown = [n for n in names if n not in fields]
        if len(group) < 2 or unknown or len(set(names)) < len(names):
            raise TypeError(f"{where}: exclusive group {group!r} needs two or more members, each a parameter "
                            f"(or a tuple of them) named once" + (f"; no parameter {unknown}" if unknown else ""))
    return groups


def _members(member: str | tuple[str, ...]) -> tuple[str, ...]:
    return (member,) if isinstance(member, str) else member


def _say(names) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _rule(group: tuple) -> str:
    """An exclusive group in words: 'give at most one of a, b and c'."""
    shown = [m if isinstance(m, str) else f"any of {_say(m)}" for m in group]
    return f"give either {shown[0]} or {shown[1]}, not both" if len(shown) == 2 else f"give at most one of {_say(shown)}"


def _exclusive_check(groups: tuple):
    """The model validator that refuses two members of one group given together."""
    def check(model: BaseModel) -> BaseModel:
        fields = type(model).model_fields
        for group in groups:
            hit = [[n for n in _members(m) if getattr(model, n) != fields[n].default] for m in group]
            if sum(1 for names in hit if names) > 1:
                raise PydanticCustomError("exclusive", f"{_rule(group)} (got {_say(n for names in hit for n in names)})")
        return model
    return check


def _exclusive_schema(groups: tuple, fields: dict) -> dict:
    """The groups in the JSON Schema: as declared (``exclusive``), and as standard clauses that a JSON Schema
    validator checks (no two members present with values other than their defaults)."""
    def given(n):
        return {"not": {"const": to_jsonable_python(fields[n][1])}}

    clauses = [{"not": {"required": [a, b], "properties": {a: given(a), b: given(b)}}}
               for group in groups for i, m in enumerate(group) for other in group[i + 1:]
               for a in _members(m) for b in _members(other)]
    return {"exclusive": [[m if isinstance(m, str) else list(m) for m in g] for g in groups], "allOf": clauses}


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("_", "-").split("-"))

