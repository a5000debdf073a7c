"""Point and interval forecast metrics.

With errors ``e = y - ŷ`` over all evaluated points (origins x horizon steps):

    MAE   = mean |e|
    RMSE  = sqrt(mean e^2)
    MAPE  = 100 mean |e / y|
    sMAPE = 100 mean 2|e| / (|y| + |ŷ|)
    MASE  = MAE / mean_{t in train} |y_t - y_{t-m}|          (Hyndman & Koehler 2006; m = 1: naive)
    DA    = mean 1[sign(ŷ - y_t) = sign(y - y_t)]             (direction of change from the origin level y_t)
    coverage(l, u) = mean 1[l <= y <= u]
    pinball_q(ŷ_q) = mean max(q e_q, (q - 1) e_q),  e_q = y - ŷ_q

Implementation notes: directional accuracy ignores points where the actual change is exactly zero, and
counts a predicted change of exactly zero as half right (a coin flip), so persistence scores 0.5 rather
than 0. A forecast with a real edge in direction must beat 0.5. Given a mask of the values that were
observed (not filled in), the MASE denominator averages only the naive errors between two observed values.

Every metric takes arrays of finite real numbers of one shape (at least one point), and raises naming the
argument otherwise: ``TypeError`` for values that are not real numbers, ``ValueError`` for NaN, infinity,
mismatched shapes or no points. Callers leave out unscored points (the backtest's imputed targets) before
calling.

Example:
    >>> y, yhat = np.array([1.0, 2.0, 4.0]), np.array([1.0, 3.0, 2.0])
    >>> float(mae(y, yhat)), float(rmse(y, yhat))
    (1.0, 1.2909944487358056)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lstmkit.forecast.arrays import check_series
from lstmkit.utils.validation import check_finite, check_positive_int, check_real, real_array


def _values(name: str, values: Any) -> np.ndarray:
    """``values`` as a float64 array of finite real numbers, else raise naming ``name``.

    Raises:
        TypeError: not real numbers (text, complex numbers, other objects;
            :func:`~lstmkit.utils.validation.real_array`'s message).
        ValueError: NaN, ``None`` or infinity (:func:`~lstmkit.utils.validation.check_finite`'s message).
    """
    array = real_array(name, values).astype(np.float64)
    check_finite(name, array)
    return array


def _pair(
    y_true: Any, y_pred: Any, names: tuple[str, str] = ("y_true", "y_pred")
) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays as finite float64 arrays of one shape and at least one point, named in any error."""
    first, second = _values(names[0], y_true), _values(names[1], y_pred)
    if first.shape != second.shape:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same shape, got {first.shape} and {second.shape}"
        )
    if first.size == 0:
        raise ValueError("cannot compute a metric on zero points")
    return first, second


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean absolute error."""
    y_true, y_pred = _pair(y_true, y_pred)
    return float(np.mean(np.abs(y_true - y_pred)))


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root mean squared error."""
    y_true, y_pred = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)))


def mape(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean absolute percentage error (percent); NaN if any actual value is zero."""
    y_true, y_pred = _pair(y_true, y_pred)
    if np.any(y_true == 0):
        return float("nan")
    return float(100.0 * np.mean(np.abs((y_true - y_pred) / y_true)))


def smape(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Symmetric MAPE (percent, 0..200); points where both are zero count as 0."""
    y_true, y_pred = _pair(y_true, y_pred)
    denominator = np.abs(y_true) + np.abs(y_pred)
    ratio = np.divide(
        2.0 * np.abs(y_true - y_pred), denominator, out=np.zeros_like(denominator), where=denominator > 0
    )
    return float(100.0 * np.mean(ratio))


def naive_errors(y_train: np.ndarray, season: int = 1, observed: np.ndarray | None = None) -> np.ndarray:
    """In-sample absolute errors ``|y_t - y_{t-m}|`` of the (seasonal) naive forecast.

    Args:
        y_train: ``(N,)`` the training series, finite.
        season: the naive forecast's lag ``m`` >= 1 (1: the value one step back).
        observed: ``(N,)`` bool, False where a value was filled in rather than observed (``None``: every
            value was observed). Only the errors between two observed values count: a forward-filled
            stretch would add naive errors of exactly 0.

    Returns:
        ``(K,)`` the counted errors, ``K <= N - m`` (empty when no pair of observed values is ``m`` apart).

    Raises:
        TypeError: ``season`` is not an integer.
        ValueError: ``season < 1``, ``y_train`` not 1-D or not finite, or ``observed`` of another length.

    Example:
        >>> y_train, observed = np.array([1.0, 3.0, 3.0, 4.0]), np.array([True, True, False, True])
        >>> naive_errors(y_train, observed=observed).tolist()  # 3 -> 3 and 3 -> 4 involve the filled-in 3
        [2.0]
    """
    season = check_positive_int("season", season)
    y_train = check_series("y_train", y_train)
    errors = np.abs(y_train[season:] - y_train[:-season])
    if observed is None:
        return errors
    observed = np.asarray(observed, dtype=bool)
    if observed.shape != y_train.shape:
        raise ValueError(
            f"observed must hold one flag per training value, shape {y_train.shape}, "
            f"got shape {observed.shape}"
        )
    return errors[observed[season:] & observed[:-season]]


def naive_scale(y_train: np.ndarray, season: int = 1, observed: np.ndarray | None = None) -> float:
    """In-sample mean absolute error of the (seasonal) naive forecast, the MASE denominator.

    Args:
        y_train: ``(N,)`` the training series, finite.
        season: the naive forecast's lag ``m`` >= 1 (1: the value one step back).
        observed: ``(N,)`` bool, False where a value was filled in; see :func:`naive_errors`.

    Raises:
        TypeError: ``season`` is not an integer.
        ValueError: ``season < 1``, ``y_train`` not 1-D or not finite, fewer than ``season + 1`` training
            points, no pair of observed points ``season`` apart, or a constant training series.
    """
    errors = naive_errors(y_train, season, observed)
    if len(y_train) <= season:
        raise ValueError(f"MASE needs more than season={season} training points, got {len(y_train)}")
    if errors.size == 0:
        raise ValueError(
            f"MASE is undefined: no two observed training points are season={season} steps apart"
        )
    scale = float(np.mean(errors))
    if scale == 0.0:
        raise ValueError("MASE is undefined: the training series is constant (naive in-sample error is 0)")
    return scale


def mase(y_true: np.ndarray, y_pred: np.ndarray, y_train: np.ndarray, season: int = 1) -> float:
    """Mean absolute scaled error: MAE over the in-sample naive MAE of ``y_train``."""
    return mae(y_true, y_pred) / naive_scale(y_train, season)


def directional_accuracy(y_true: np.ndarray, y_pred: np.ndarray, y_last: np.ndarray) -> float:
    """Share of points whose predicted direction of change from ``y_last`` matches the actual one.

    Args:
        y_true: ``(S, H)`` or ``(S,)`` actual values.
        y_pred: same shape, forecasts.
        y_last: the level at each origin: ``(S,)`` (or any shape of ``S`` values, such as ``(S, 1)``), or
            one number for every row.

    Returns:
        A number in [0, 1]; NaN if every actual change is zero.

    Raises:
        ValueError: shapes differ, or ``y_last`` is neither one number nor one level per row of ``y_true``.
    """
    y_true, y_pred = _pair(y_true, y_pred)
    y_last = _values("y_last", y_last)
    rows = len(y_true) if y_true.ndim else 1
    if y_last.ndim > 0 and y_last.size != rows:
        raise ValueError(
            f"y_last must be one number or hold one origin level per row of y_true ({rows}), "
            f"got shape {y_last.shape}"
        )
    y_last = y_last.reshape((-1,) + (1,) * (y_true.ndim - 1))  # (S, 1, ...) or (1, 1, ...): broadcasts
    actual = np.sign(y_true - y_last)
    predicted = np.sign(y_pred - y_last)
    moving = actual != 0
    if not moving.any():
        return float("nan")
    score = np.where(predicted == 0, 0.5, (predicted == actual).astype(np.float64))
    return float(score[moving].mean())


def coverage(y_true: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share of actual values inside ``[lower, upper]``."""
    y_true, lower = _pair(y_true, lower, ("y_true", "lower"))
    _, upper = _pair(y_true, upper, ("y_true", "upper"))
    return float(np.mean((lower <= y_true) & (y_true <= upper)))


def pinball(y_true: np.ndarray, y_quantile: np.ndarray, quantile: float) -> float:
    """Pinball (quantile) loss of a forecast of the ``quantile``-quantile."""
    level = check_real("quantile", quantile)
    if not 0.0 < level < 1.0:
        raise ValueError(f"quantile must be in (0, 1), got {quantile}")
    y_true, y_quantile = _pair(y_true, y_quantile, ("y_true", "y_quantile"))
    error = y_true - y_quantile
    return float(np.mean(np.maximum(level * error, (level - 1.0) * error)))


def point_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, y_last: np.ndarray, scale: float
) -> dict[str, float]:
    """MAE, RMSE, MAPE, sMAPE, MASE (with a precomputed naive ``scale``) and directional accuracy.

    A NaN ``scale`` (MASE undefined on a constant training span) gives a NaN MASE and leaves the other
    metrics as they are.
    """
    error = mae(y_true, y_pred)
    return {
        "mae": error,
        "rmse": rmse(y_true, y_pred),
        "mape": mape(y_true, y_pred),
        "smape": smape(y_true, y_pred),
        "mase": error / scale,
        "directional_accuracy": directional_accuracy(y_true, y_pred, y_last),
    }
