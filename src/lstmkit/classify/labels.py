"""Class labels of any JSON-representable type, mapped to indices ``0..K-1`` and stored with a model."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

Label = str | int | float | bool

_TRUE_WORDS = frozenset({"True", "TRUE", "true"})
_BOOL_WORDS = _TRUE_WORDS | {"False", "FALSE", "false"}


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
    """``None``, a float NaN or ``pd.NA``/``NaT``: the gaps of a pandas column, never a class of their own."""
    return (
        value is None
        or value is pd.NA
        or value is pd.NaT
        or (isinstance(value, float | np.floating) and math.isnan(value))
    )


def check_label_types(labels: Iterable[Any], name: str = "labels") -> list[Label]:
    """Return labels as plain Python scalars; raise if one is missing or they mix strings, numbers, booleans.

    Raises:
        TypeError: ``labels`` is one string (its characters would be read as labels), or a label is not a
            str/int/float/bool.
        ValueError: a label is missing (``None``, NaN or ``pd.NA``, named by index), or the labels mix kinds
            (e.g. ``1`` and ``"cat"``), which would map ``1`` and ``"1"`` apart.
    """
    if isinstance(labels, str | bytes):
        raise TypeError(
            f"{name} must be a sequence of class labels, got a single {type(labels).__name__} "
            f"{labels[:40]!r}; wrap it in a list"
        )
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


def labels_from_text(values: Sequence[str]) -> list[Label]:
    """Type class labels read as text the way :func:`pandas.read_csv` types a CSV column, when that is safe.

    All integers become ints, all numbers floats, all ``True``/``False`` words booleans, so a ``.ts`` file
    and a CSV holding the same classes give equal labels (``1``, not ``"1"``). The labels are typed only
    where typing keeps every class apart and each label is its value as Python writes it (``str`` of an int,
    ``repr`` of a float; an int beside floats becomes a float): ``"01"`` and ``"1"`` would merge, and
    ``"+1"``, ``"007"``, ``"1e3"`` would change their name, so such labels stay text, as written.

    Example:
        >>> labels_from_text(["1", "2"]), labels_from_text(["1", "2.5"]), labels_from_text(["a", "1"])
        ([1, 2], [1.0, 2.5], ['a', '1'])
        >>> labels_from_text(["01", "1"]), labels_from_text(["1.0", "1"])
        (['01', '1'], ['1.0', '1'])
    """
    items = [str(v).strip() for v in values]
    typed = _typed(items)
    if typed is None or len({_key(v) for v in typed}) != len(set(items)):
        return list(items)
    return typed


def _typed(items: list[str]) -> list[Label] | None:
    """``items`` as booleans, ints or floats (all floats if one is); ``None`` if one is not spelled so."""
    if not items:
        return None
    if all(v in _BOOL_WORDS for v in items):
        return [v in _TRUE_WORDS for v in items]
    numbers = [_number(v) for v in items]
    if any(n is None for n in numbers):
        return None
    if any(isinstance(n, float) for n in numbers):
        return [float(n) for n in numbers if n is not None]
    return [n for n in numbers if n is not None]


def _number(text: str) -> int | float | None:
    """The int or finite float that ``text`` spells as Python writes it (``"7"``, ``"2.5"``), or ``None``."""
    try:
        if str(int(text)) == text:
            return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) and repr(number) == text else None


def _key(value: Label) -> tuple[str, Label]:
    """A label with its kind, so that ``True`` and ``1`` (equal in Python) stay apart."""
    return (_type_name(value), value)


def align_labels(labels: Iterable[Any], classes: Sequence[Label]) -> list[Label]:
    """``labels`` spelled as ``classes`` when one side is text and the other the same classes typed.

    A model trained on a ``.ts`` file before its labels were typed has text classes (``"1"``, ``"2"``) while
    the same file now reads as ints (``1``, ``2``); a CSV column of ``1``, ``2`` reads as ints too. Where the
    text side types one-to-one (:func:`labels_from_text`), labels are compared as typed values and returned
    in the classes' kind: a typed label as its class's text (or ``str`` of it, if no class matches), a text
    label as its typed value. Otherwise (both sides of one kind, text that does not type one-to-one, or
    that types to another kind, as ``"1"`` against ``True``) ``labels`` come back as given.

    Example:
        >>> align_labels([1, 2, 3], ["1", "2"]), align_labels(["2", "1"], [1, 2])
        (['1', '2', '3'], [2, 1])
        >>> align_labels([1, 7], ["01", "07"])  # "01" is not how Python writes 1: the classes stay apart
        [1, 7]
    """
    truth = check_label_types(labels)
    known = check_label_types(classes, "classes")
    if not truth or not known or isinstance(truth[0], str) == isinstance(known[0], str):
        return truth
    if isinstance(truth[0], str):  # typed classes: text labels become typed labels
        typed = labels_from_text([str(v) for v in truth])
        if _type_name(typed[0]) != _type_name(known[0]):  # still text, or "1" against True
            return truth
        class_of = {_key(c): c for c in known}
        return [class_of.get(_key(v), v) for v in typed]
    spellings = [str(c) for c in known]  # text classes: typed labels become the text of their class
    typed = labels_from_text(spellings)
    if _type_name(typed[0]) != _type_name(truth[0]):
        return truth
    text_of = {_key(v): text for v, text in zip(typed, spellings, strict=True)}
    return [text_of.get(_key(v), str(v)) for v in truth]


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
