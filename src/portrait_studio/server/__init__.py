"""The studio server: a REST API (v1) and the web studio page, both generated from the operation contract.

``portrait serve`` starts it (needs the ``serve`` extra: ``pip install 'portrait-studio[serve]'``). See
:mod:`portrait_studio.server.app` for the routes and :mod:`portrait_studio.server.work` for what they do.
"""
from __future__ import annotations

from ..errors import MissingDependencyError


def _need_serve_extra():
    try:
        import fastapi  # noqa: F401
        import python_multipart  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise MissingDependencyError(f"the studio server needs {e.name}: pip install 'portrait-studio[serve]'") from None


def create_app(limits=None):
    """The FastAPI application (see :func:`portrait_studio.server.app.create_app`)."""
    _need_serve_extra()
    from .app import create_app as make

    return make(limits)


def serve(**kwargs) -> None:
    """Run the server until interrupted (see :func:`portrait_studio.server.app.serve`)."""
    _need_serve_extra()
    from .app import serve as run

    run(**kwargs)


__all__ = ["create_app", "serve"]
