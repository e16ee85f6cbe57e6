"""Image core: the one in-memory image convention and the colour conversions every layer shares."""
from .image import LUMA_709, as_image, from_srgb8, linear_to_srgb, luminance, srgb_to_linear, to_srgb8

__all__ = ["LUMA_709", "as_image", "from_srgb8", "linear_to_srgb", "luminance", "srgb_to_linear", "to_srgb8"]
