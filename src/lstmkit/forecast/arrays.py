"""Input checks shared by the kit's array functions (metrics, baselines, windowing).

Each check returns the value in the form the caller computes with, or raises with the argument's name,
what was expected and what was received:

- a series is 1-D, real and finite (``(N,)`` float64);
- forecast origins are integers (never silently truncated floats) inside the series.

Horizons and seasons are checked with :func:`lstmkit.utils.validation.check_positive_int`.

Example:
    >>> check_origins(np.array([2, 4]), length=5).tolist()
    [2, 4]
    >>> check_origins(np.array([2.7]), length=5)
    Traceback (most recent call last):
    ...
    TypeError: origins must be integer row indices, got an array of float64 [2.7]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lstmkit.utils.validation import check_finite, real_array


def check_series(name: str, values: Any) -> np.ndarray:
    """``values`` as a 1-D float64 array of finite numbers.

    Raises:
        TypeError: complex numbers, text, or other objects than real numbers
            (:func:`~lstmkit.utils.validation.real_array`'s message).
        ValueError: not 1-D (a scalar or a column ``(N, 1)`` included), or holds NaN or infinity
            (:func:`~lstmkit.utils.validation.check_finite`'s message).
    """
    array = real_array(name, values).astype(np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D series of shape (N,), got shape {array.shape}")
    check_finite(name, array)
    return array


def check_origins(origins: Any, length: int, *, first: int = 0) -> np.ndarray:
    """``origins`` as a 1-D int64 array of row indices in ``[first, length - 1]``.

    Raises:
        TypeError: the origins are not integers (floats would be truncated to another row).
        ValueError: not 1-D, or an origin outside ``[first, length - 1]``.
    """
    array = np.asarray(origins)
    if array.size and not np.issubdtype(array.dtype, np.integer):  # floats and bools alike
        raise TypeError(f"origins must be integer row indices, got an array of {array.dtype} {array}")
    array = array.astype(np.int64)
    if array.ndim != 1:
        raise ValueError(f"origins must be a 1-D array of row indices, got shape {array.shape}")
    if array.size and (array.min() < first or array.max() >= length):
        raise ValueError(f"origins must lie in [{first}, {length - 1}], got [{array.min()}, {array.max()}]")
    return array
