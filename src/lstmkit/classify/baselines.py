"""Reference scores every classifier is reported beside: the majority class and 1-NN DTW."""

from __future__ import annotations

from typing import Any

import numpy as np

from lstmkit.classify.dtw import as_channels, nearest_neighbor_predict
from lstmkit.classify.metrics import accuracy, majority_class
from lstmkit.classify.preprocess import fill_missing, normalize_series


def majority_accuracy(train_labels: list[Any], test_labels: list[Any]) -> float:
    """Accuracy of always predicting the most frequent training label.

    Example:
        >>> majority_accuracy(["a", "a", "b"], ["a", "b"])
        0.5
    """
    guess = majority_class(train_labels)
    return accuracy(test_labels, [guess] * len(test_labels))


def dtw_1nn(
    train: list[np.ndarray], train_labels: list[Any], test: list[np.ndarray], window: int | None = None
) -> list[Any]:
    """1-NN DTW predictions on data prepared the archive's way.

    Missing values are interpolated; univariate series are z-normalized one by one (as the UCR archive
    ships them); multivariate series are used as they are (as the UEA archive's DTW_D baseline). With the
    full window this reproduces the archive's published 1-NN DTW accuracies.

    Args:
        train: training series ``(T_i, C)``, or ``(T_i,)`` for one channel.
        train_labels: their labels.
        test: series to label.
        window: Sakoe-Chiba half-width; ``None`` for the full window.

    Returns:
        One label per test series.
    """
    train, _ = fill_missing(as_channels(train, "train"))
    test, _ = fill_missing(as_channels(test, "test"))
    method = "zscore" if train and train[0].shape[1] == 1 else "none"
    return nearest_neighbor_predict(
        normalize_series(train, method), train_labels, normalize_series(test, method), window
    )
