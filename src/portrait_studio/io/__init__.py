"""Image io: photos in and out of the linear-light convention, with their EXIF, XMP and ICC metadata.

:func:`read_image` decodes JPEG, PNG, TIFF, WebP, GIF, HEIC/HEIF and camera RAW/DNG to float32 linear
sRGB, upright; :func:`write_image` encodes to sRGB JPEG, PNG, TIFF, WebP or HEIC, carrying metadata;
:func:`check_output` refuses, before any work, an output either writer would refuse. Transparency is read
on request and written where the format holds it (flattened over white in JPEG).
"""
from .read import DEFAULT_MAX_PIXELS, RAW_EXTENSIONS, SUPPORTED_READ, Metadata, read_image
from .write import SUPPORTED_WRITE, check_output, flatten, holds_alpha, write_image, write_mask

__all__ = ["read_image", "write_image", "write_mask", "Metadata", "DEFAULT_MAX_PIXELS", "SUPPORTED_READ", "SUPPORTED_WRITE",
           "RAW_EXTENSIONS", "check_output", "flatten", "holds_alpha"]
