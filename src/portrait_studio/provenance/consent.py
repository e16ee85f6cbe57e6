"""Consent: operations that change who a face looks like run in batch and over REST only when asked with
``consent: true`` (see :attr:`~portrait_studio.schema.Operation.identity_changing`)."""
from __future__ import annotations

from typing import Any, Iterable

from ..errors import ParameterError


def parse_consent(value: Any, where: str = "consent") -> bool:
    """A consent flag as given in a recipe or a request: true/false (also "true"/"false" text)."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ParameterError(f"{where}: must be true or false (got {value!r})")


def require_consent(ops: Iterable, consent: bool, where: str = "recipe") -> None:
    """Refuse identity-changing operations among `ops` (Operations) without `consent`.

    Raises
    ------
    ParameterError
        Naming the operations and how to give consent.
    """
    changing = list(dict.fromkeys(op.name for op in ops if getattr(op, "identity_changing", False)))
    if changing and not consent:
        raise ParameterError(f"{where}: {', '.join(changing)} changes who a face looks like; it runs only with the "
                             "person's consent, given as 'consent: true'")
