"""Stationarising transforms of the target and their exact inverses.

Prices wander; their changes are closer to stationary. The model *sees* the one-step transformed series
``r`` as input and *predicts* the cumulative change from the last observed level ``y_t`` to ``y_{t+h}``,
so forecasts (and every quantile of them, since each inverse is monotone) come back in levels exactly:

    diff:        r_t = y_t - y_{t-1}          c_{t,h} = y_{t+h} - y_t          y_{t+h} = y_t + c_{t,h}
    log_return:  r_t = log(y_t / y_{t-1})     c_{t,h} = log(y_{t+h} / y_t)     y_{t+h} = y_t * exp(c_{t,h})
    pct_change:  r_t = y_t / y_{t-1} - 1      c_{t,h} = y_{t+h} / y_t - 1      y_{t+h} = y_t * (1 + c_{t,h})
    none:        r_t = y_t                    c_{t,h} = y_{t+h}                y_{t+h} = c_{t,h}

The first transformed value has no predecessor and is NaN; callers skip it. Each transform is causal
(``r_t`` uses only ``y_t`` and ``y_{t-1}``), so applying it to a whole series leaks nothing.

Example:
    >>> y = np.array([100.0, 110.0, 99.0])
    >>> c = changes("log_return", y, origins=np.array([0]), horizon=2)
    >>> np.allclose(invert("log_return", c, anchor=y[[0]]), y[None, 1:])
    True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lstmkit.utils.validation import check_choice

TRANSFORMS = ("none", "diff", "log_return", "pct_change")


def forward(kind: str, values: np.ndarray) -> np.ndarray:
    """Transform a level series (``(N,)`` or ``(N, F)`` along axis 0); the first row becomes NaN.

    Raises:
        ValueError: ``log_return`` or ``pct_change`` on non-positive values.
    """
    check_choice("transform", kind, TRANSFORMS)
    y = np.asarray(values, dtype=np.float64)
    if kind == "none":
        return y.copy()
    check_domain(kind, y)
    out = np.full_like(y, np.nan)
    if kind == "diff":
        out[1:] = y[1:] - y[:-1]
    elif kind == "log_return":
        out[1:] = np.log(y[1:] / y[:-1])
    else:
        out[1:] = y[1:] / y[:-1] - 1.0
    return out


def changes(kind: str, levels: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """Cumulative changes ``c_{t,h}`` from each origin's level to the next ``horizon`` levels; ``(S, H)``.

    Raises:
        ValueError: ``log_return`` or ``pct_change`` on non-positive levels.
    """
    check_choice("transform", kind, TRANSFORMS)
    y = np.asarray(levels, dtype=np.float64)
    origins = np.asarray(origins, dtype=np.int64)
    anchor = y[origins][:, None]  # (S, 1)
    future = y[origins[:, None] + np.arange(1, horizon + 1)[None, :]]  # (S, H)
    if kind == "none":
        return future
    if kind == "diff":
        return future - anchor
    check_domain(kind, y)
    if kind == "log_return":
        return np.log(future / anchor)
    return future / anchor - 1.0


def invert(kind: str, cumulative: np.ndarray, anchor: np.ndarray) -> np.ndarray:
    """Turn predicted cumulative changes back into levels.

    Args:
        kind: the transform.
        cumulative: ``(S, H)`` predicted ``c_{t,h}`` (or ``(S, H, Q)`` quantiles; each inverse is
            monotone increasing, so quantiles map to quantiles).
        anchor: ``(S,)`` last observed level ``y_t`` at each origin.

    Returns:
        Levels with the shape of ``cumulative``.
    """
    check_choice("transform", kind, TRANSFORMS)
    c = np.asarray(cumulative, dtype=np.float64)
    anchor = np.asarray(anchor, dtype=np.float64).reshape((-1,) + (1,) * (c.ndim - 1))
    if kind == "none":
        return c.copy()
    if kind == "diff":
        return anchor + c
    if kind == "log_return":
        return anchor * np.exp(c)
    return anchor * (1.0 + c)


def check_domain(kind: str, values: np.ndarray, columns: Sequence[str] | None = None) -> None:
    """Raise if ``kind`` is undefined on ``values``: ``log_return`` and ``pct_change`` need positive values.

    From a negative base a "percentage change" flips meaning, and its inverse ``y_t (1 + c)`` falls as ``c``
    rises, so quantiles of ``c`` would come back reversed; a log return is undefined there.

    Args:
        kind: the transform.
        values: ``(N,)`` or ``(N, F)`` levels.
        columns: the names of the ``F`` columns, for the message (default: their positions).

    Raises:
        ValueError: a non-positive value under ``log_return`` or ``pct_change``; the message names the first
            column holding one (for 2-D values) and its minimum.

    Example:
        >>> check_domain("diff", np.array([[1.0, 2.0], [3.0, -1.0]]))  # defined everywhere
        >>> try:
        ...     check_domain("log_return", np.array([[1.0, 2.0], [3.0, -1.0]]), columns=["y", "x"])
        ... except ValueError as err:
        ...     print(str(err).split("; ")[0])
        transform 'log_return' needs positive values, got minimum -1.0 in column 'x'
    """
    check_choice("transform", kind, TRANSFORMS)
    y = np.asarray(values, dtype=np.float64)
    if kind not in ("log_return", "pct_change") or not np.any(y <= 0):
        return
    where = ""
    if y.ndim == 2:
        column = int(np.flatnonzero(np.any(y <= 0, axis=0))[0])
        where = f" in column {columns[column]!r}" if columns is not None else f" in column {column}"
        y = y[:, column]
    raise ValueError(
        f"transform {kind!r} needs positive values, got minimum {np.nanmin(y)}{where}; use 'diff' instead"
    )


def first_valid(kind: str) -> int:
    """Index of the first defined transformed value (1 for differencing transforms, else 0)."""
    return 0 if check_choice("transform", kind, TRANSFORMS) == "none" else 1
