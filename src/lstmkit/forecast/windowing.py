"""Sliding windows from a multivariate series, with a direct multi-step target.

A forecast *origin* ``t`` is the index of the last observed step. The model sees the ``lookback``
rows ending at ``t`` and predicts the target at ``t + 1, ..., t + horizon`` all at once (the "direct"
multi-step strategy, so errors do not compound through recursion):

    X[s] = values[t_s - lookback + 1 : t_s + 1, :]          # (lookback, F)
    y[s] = target[t_s + 1 : t_s + horizon + 1]              # (horizon,)

Example:
    >>> values = np.arange(12.0).reshape(6, 2)
    >>> X, y = make_windows(values, values[:, 0], lookback=3, horizon=2)
    >>> X.shape, y.shape, y[0].tolist()
    ((2, 3, 2), (2, 2), [6.0, 8.0])
"""

from __future__ import annotations

import numpy as np

from lstmkit.forecast.arrays import check_origins, check_series
from lstmkit.utils.validation import check_finite, check_positive_int, real_array


def valid_origins(
    n: int, lookback: int, horizon: int, *, start: int = 0, stop: int | None = None
) -> np.ndarray:
    """Origins ``t`` with a full input window and a full target inside ``[start, stop)``.

    Args:
        n: series length.
        lookback: input window length.
        horizon: number of steps predicted.
        start: first index whose data may be used (input windows begin at or after it).
        stop: one past the last index whose data may be used as a target (default ``n``).

    Returns:
        Integer array of origins, increasing.
    """
    stop = n if stop is None else stop
    first = start + lookback - 1
    last = stop - horizon - 1
    if last < first:
        return np.zeros(0, dtype=np.int64)
    return np.arange(first, last + 1, dtype=np.int64)


def input_windows(values: np.ndarray, origins: np.ndarray, lookback: int) -> np.ndarray:
    """Input windows ending at each origin.

    Args:
        values: ``(N, F)`` array.
        origins: ``(S,)`` integer indices with ``origin >= lookback - 1``.
        lookback: window length.

    Returns:
        ``(S, lookback, F)`` float32 array.
    """
    values = _as_2d(values)
    origins = check_origins(origins, len(values), first=lookback - 1)
    offsets = np.arange(-lookback + 1, 1)
    return values[origins[:, None] + offsets[None, :]].astype(np.float32)  # (S, lookback, F)


def target_windows(target: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """Targets ``target[t + 1 : t + horizon + 1]`` for each origin ``t``; ``(S, horizon)``."""
    target = real_array("target", target).astype(np.float64)
    origins = check_origins(origins, len(target))
    horizon = check_positive_int("horizon", horizon)
    if origins.size and origins.max() + horizon >= len(target):
        raise ValueError(
            f"origin {origins.max()} + horizon {horizon} runs past the end of a series of {len(target)} rows"
        )
    return target[origins[:, None] + np.arange(1, horizon + 1)[None, :]]  # (S, horizon)


def make_windows(
    values: np.ndarray, target: np.ndarray, lookback: int, horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """All ``(X, y)`` training pairs of a series.

    Args:
        values: ``(N, F)`` (or ``(N,)``) model inputs.
        target: ``(N,)`` the series to predict, aligned with ``values``.
        lookback: input window length, >= 1.
        horizon: steps predicted at once, >= 1.

    Returns:
        ``X`` of shape ``(S, lookback, F)`` and ``y`` of shape ``(S, horizon)``,
        ``S = N - lookback - horizon + 1``.

    Raises:
        TypeError: ``lookback`` or ``horizon`` is not an integer; ``values`` or ``target`` holds complex
            numbers, text or other objects than real numbers.
        ValueError: the series is shorter than ``lookback + horizon``, lengths differ, ``target`` is not
            1-D, or either holds NaN or infinity.
    """
    check_positive_int("lookback", lookback)
    check_positive_int("horizon", horizon)
    values = _as_2d(values)
    check_finite("values", values)
    target = check_series("target", target)
    if len(target) != len(values):
        raise ValueError(f"values and target must have the same length, got {len(values)} and {len(target)}")
    if len(values) < lookback + horizon:
        raise ValueError(
            f"a series of {len(values)} rows is too short for lookback={lookback} + horizon={horizon}; "
            f"need at least {lookback + horizon} rows"
        )
    origins = valid_origins(len(values), lookback, horizon)
    return input_windows(values, origins, lookback), target_windows(target, origins, horizon)


def _as_2d(values: np.ndarray) -> np.ndarray:
    values = real_array("values", values)
    if values.ndim == 1:
        return values[:, None]
    if values.ndim != 2:
        raise ValueError(f"expected values of shape (N, F) or (N,), got shape {values.shape}")
    return values
