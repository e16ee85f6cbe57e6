"""Provenance: what was done to a photo, said in the standard the industry reads, and kept private otherwise.

- :mod:`.credentials`: C2PA Content Credentials from a Portrait's history (c2pa-python, the ``provenance`` extra).
- :mod:`.signing`: whose key signs them (the user's, or one made once on this machine).
- :mod:`.watermark`: an invisible mark in the pixels that survives JPEG and downscaling.
- :mod:`.privacy`: private metadata removed from every output by default.
- :mod:`.output`: :func:`write_output`, the one place every interface writes a result.
- :mod:`.verify`: what a file says about itself (``portrait verify``).
"""
from .output import NO_C2PA, Provenance, write_output
from .verify import verify

__all__ = ["Provenance", "write_output", "verify", "NO_C2PA"]
