"""The error of a model file lstmkit refuses, naming the file."""

from __future__ import annotations

import reprlib
from typing import Any


class ModelFileError(ValueError):
    """A model file lstmkit refuses; the message names the file (:func:`load_model` passes it on as it is,
    and turns any other error of reading a config into one)."""


def unreadable(source: str, expected: str, value: Any) -> ModelFileError:
    return ModelFileError(
        f"'{source}' holds a model config lstmkit cannot read: {expected}, got {type(value).__name__} "
        f"{reprlib.repr(value)}"
    )
