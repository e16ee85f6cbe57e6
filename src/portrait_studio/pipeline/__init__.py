"""Recipes: ordered lists of operations with parameters, validated against the operations' schemas."""
from .recipe import Step, apply_recipe, load_recipe, parse_recipe

__all__ = ["Step", "apply_recipe", "load_recipe", "parse_recipe"]
