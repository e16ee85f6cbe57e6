"""Image core: the one in-memory image convention and the colour conversions every layer shares."""
from .image import (as_image, linear_to_srgb, srgb_to_linear, to_srgb8, from_srgb8, luminance,
                    resize_to_area)

__all__ = ["as_image", "linear_to_srgb", "srgb_to_linear", "to_srgb8", "from_srgb8", "luminance",
           "resize_to_area"]
