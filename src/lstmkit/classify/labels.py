"""Class labels of any JSON-representable type, mapped to indices ``0..K-1`` and stored with a model."""

from __future__ import annotations

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


def check_label_types(labels: Iterable[Any], name: str = "labels") -> list[Label]:
    """Return labels as plain Python scalars; raise if they mix strings, numbers and booleans.

    Raises:
        TypeError: a label is not a str/int/float/bool.
        ValueError: the labels mix kinds (e.g. ``1`` and ``"cat"``), which would map ``1`` and ``"1"`` apart.
    """
    plain = [_plain(v) for v in labels]
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
        """Collect the distinct labels (sorted) from training labels."""
        plain = check_label_types(labels)
        if not plain:
            raise ValueError("labels are empty; expected at least one labelled example")
        return cls(sorted(set(plain), key=lambda v: (str(type(v)), v)))

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
