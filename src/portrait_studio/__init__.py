"""portrait-studio: a local-first AI portrait studio.

The in-memory image is float32 (H, W, 3) linear-light RGB (see :mod:`portrait_studio.core.image`).
"""
from .errors import InputError, NoFaceError, ParameterError, PortraitError
from .portrait import Portrait

__version__ = "0.1.0"
__all__ = ["Portrait", "PortraitError", "InputError", "NoFaceError", "ParameterError", "__version__"]
