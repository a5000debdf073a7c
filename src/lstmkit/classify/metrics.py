"""Classification scores: accuracy, macro F1 and the confusion matrix, over labels of any type."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from lstmkit.classify.labels import sort_key


def _check_pair(y_true: Sequence[Any], y_pred: Sequence[Any]) -> None:
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true and y_pred must have the same length, got {len(y_true)} and {len(y_pred)}")
    if len(y_true) == 0:
        raise ValueError("y_true is empty; expected at least one example to score")


def accuracy(y_true: Sequence[Any], y_pred: Sequence[Any]) -> float:
    """Fraction of exact matches.

    Example:
        >>> accuracy(["a", "b", "b"], ["a", "b", "a"])
        0.6666666666666666
    """
    _check_pair(y_true, y_pred)
    return float(np.mean([t == p for t, p in zip(y_true, y_pred, strict=True)]))


def confusion_matrix(
    y_true: Sequence[Any], y_pred: Sequence[Any], labels: Sequence[Any] | None = None
) -> tuple[np.ndarray, list[Any]]:
    """Count matrix ``M[i, j]`` = number of examples of true class ``labels[i]`` predicted as ``labels[j]``.

    Args:
        y_true, y_pred: labels of any comparable type.
        labels: row/column order; default the sorted union of both (numbers by value).

    Returns:
        ``(matrix, labels)`` with an int64 ``(K, K)`` matrix.

    Example:
        >>> m, labels = confusion_matrix([0, 1, 1], [0, 1, 0])
        >>> m.tolist(), labels
        ([[1, 0], [1, 1]], [0, 1])
    """
    _check_pair(y_true, y_pred)
    if labels is None:
        labels = sorted(set(y_true) | set(y_pred), key=sort_key)
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(y_true, y_pred, strict=True):
        if t not in index or p not in index:
            raise ValueError(f"label {t if t not in index else p!r} is not in labels={list(labels)}")
        matrix[index[t], index[p]] += 1
    return matrix, list(labels)


def macro_f1(y_true: Sequence[Any], y_pred: Sequence[Any]) -> float:
    """Unweighted mean over classes (union of true and predicted) of the per-class F1 score.

        F1_k = 2 TP_k / (2 TP_k + FP_k + FN_k)

    A class with no true and no predicted example does not occur; a class that occurs only in one of the
    two scores F1 = 0.

    Example:
        >>> round(macro_f1(["a", "a", "b", "b"], ["a", "b", "b", "b"]), 4)
        0.7333
    """
    matrix, _ = confusion_matrix(y_true, y_pred)
    tp = np.diag(matrix).astype(np.float64)
    fp = matrix.sum(axis=0) - tp
    fn = matrix.sum(axis=1) - tp
    f1 = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
    return float(f1.mean())


def majority_class(y_train: Sequence[Any]) -> Any:
    """The most frequent training label (ties broken by first occurrence)."""
    if len(y_train) == 0:
        raise ValueError("y_train is empty; expected at least one label")
    return Counter(y_train).most_common(1)[0][0]


def format_confusion(matrix: np.ndarray, labels: Sequence[Any]) -> str:
    """Render a confusion matrix as aligned text, rows = true class, columns = predicted class."""
    names = [str(label) for label in labels]
    corner = "true\\pred"
    first = max(len(corner), *(len(n) for n in names))
    width = max(*(len(n) for n in names), len(str(int(matrix.max()) if matrix.size else 0)), 3)
    head = corner.ljust(first) + "  " + " ".join(n.rjust(width) for n in names)
    rows = [
        n.ljust(first) + "  " + " ".join(str(int(v)).rjust(width) for v in row)
        for n, row in zip(names, matrix, strict=True)
    ]
    return "\n".join([head, *rows])
