"""Batch: a whole shoot through a recipe, resumable, on every core or on a Ray cluster (``portrait batch``)."""
from .manifest import recipe_hash
from .plan import FORMATS, Item, plan
from .run import Summary, Worker, run_batch

__all__ = ["FORMATS", "Item", "Summary", "Worker", "plan", "recipe_hash", "run_batch"]
