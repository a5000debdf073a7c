"""Class labels of any JSON-representable type, mapped to indices ``0..K-1`` and stored with a model."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

Label = str | int | float | bool


def _plain(value: Any) -> Label:
    """Turn numpy scalars into Python scalars so that labels survive JSON."""
    if isinstance(value, np.generic):
        value = value.item()
    if not isinstance(value, str | int | float | bool):
        raise TypeError(f"class labels must be str, int, float or bool, got {type(value).__name__} {value!r}")
    return value


def _type_name(value: Label) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "str"


def sort_key(value: Any) -> tuple[str, Any]:
    """Key for the sorted order of class labels: numbers by value (ints and floats together), others by type.

    Example:
        >>> sorted([2.5, 1, 2], key=sort_key), sorted(["b", "a"], key=sort_key)
        ([1, 2, 2.5], ['a', 'b'])
    """
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return ("number", value)
    return (str(type(value)), value)


def _is_missing(value: Any) -> bool:
    """``None`` or a float NaN: the gaps of a pandas column, which must not become a class of their own."""
    return value is None or (isinstance(value, float | np.floating) and math.isnan(value))


def check_label_types(labels: Iterable[Any], name: str = "labels") -> list[Label]:
    """Return labels as plain Python scalars; raise if one is missing or they mix strings, numbers, booleans.

    Raises:
        TypeError: a label is not a str/int/float/bool.
        ValueError: a label is missing (``None`` or NaN, named by index), or the labels mix kinds (e.g. ``1``
            and ``"cat"``), which would map ``1`` and ``"1"`` apart.
    """
    items = list(labels)
    missing = next((i for i, v in enumerate(items) if _is_missing(v)), None)
    if missing is not None:
        raise ValueError(
            f"{name}[{missing}] is missing ({items[missing]}); expected a class label for every example"
        )
    plain = [_plain(v) for v in items]
    kinds: dict[str, Label] = {}
    for value in plain:
        kinds.setdefault(_type_name(value), value)
    if len(kinds) > 1:
        examples = ", ".join(f"{kind} {value!r}" for kind, value in kinds.items())
        raise ValueError(f"{name} mix types ({examples}); use one type for all class labels")
    return plain


class LabelEncoder:
    """Map class labels to ``0..K-1`` in sorted order, and back.

    Example:
        >>> enc = LabelEncoder.fit(["b", "a", "b"])
        >>> enc.classes, enc.encode(["a", "b"]).tolist(), enc.decode([1, 0])
        (['a', 'b'], [0, 1], ['b', 'a'])
    """

    def __init__(self, classes: Sequence[Label]) -> None:
        self.classes: list[Label] = check_label_types(classes, "classes")
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f"classes must be distinct, got {self.classes}")
        self._index = {c: i for i, c in enumerate(self.classes)}

    @classmethod
    def fit(cls, labels: Iterable[Any]) -> LabelEncoder:
        """Collect the distinct training labels, sorted (numbers by value, ints and floats together).

        Raises:
            ValueError: no labels, a missing label, or labels of mixed kinds (see :func:`check_label_types`).
        """
        plain = check_label_types(labels)
        if not plain:
            raise ValueError("labels are empty; expected at least one labelled example")
        return cls(sorted(set(plain), key=sort_key))

    def __len__(self) -> int:
        return len(self.classes)

    def unseen(self, labels: Iterable[Any]) -> list[Label]:
        """Labels in ``labels`` that are not among the known classes (in first-seen order)."""
        seen: dict[Label, None] = {}
        for value in check_label_types(labels):
            if value not in self._index:
                seen.setdefault(value, None)
        return list(seen)

    def encode(self, labels: Iterable[Any]) -> np.ndarray:
        """Map labels to indices; raise naming the first unknown label."""
        out = []
        for value in check_label_types(labels):
            if value not in self._index:
                raise ValueError(f"label {value!r} was not seen in training; known classes: {self.classes}")
            out.append(self._index[value])
        return np.array(out, dtype=np.int64)

    def decode(self, indices: Iterable[int]) -> list[Label]:
        """Map indices back to the original labels."""
        return [self.classes[int(i)] for i in indices]
