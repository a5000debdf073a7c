"""Utilities that sit beside the layers: seeding, validation, safe serialization."""

from lstmkit.utils.seed import set_seed

__all__ = ["set_seed"]
