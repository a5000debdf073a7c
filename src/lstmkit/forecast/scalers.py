"""Per-column scalers fit on the training span only, with exact inverses and a JSON state.

A scaler is fit on the rows a model trains on and nothing else; the backtest fits a fresh one inside
every fold, so no statistic of a later span ever reaches the model (the classic leak of scaling the
whole series before splitting it).

    standard: z = (x - mean) / std
    minmax:   z = (x - min) / (max - min)
    robust:   z = (x - median) / IQR
    none:     z = x

Example:
    >>> scaler = make_scaler("standard").fit(np.array([[1.0], [3.0]]))
    >>> scaler.transform(np.array([[5.0]])).tolist(), scaler.inverse_transform(np.array([[2.0]])).tolist()
    ([[3.0]], [[4.0]])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from lstmkit.utils.validation import check_choice, real_array

SCALERS = ("standard", "minmax", "robust", "none")
_ROUNDING = 16 * np.finfo(np.float64).eps
"""Relative spread within float64 rounding of a column's magnitude: such a column is constant."""


class Scaler:
    """Affine per-column scaling ``z = (x - center) / scale``; subclasses pick center and scale."""

    kind = "none"

    def __init__(self) -> None:
        self.center: np.ndarray | None = None
        self.scale: np.ndarray | None = None

    def _statistics(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        width = values.shape[1]
        return np.zeros(width), np.ones(width)

    def fit(self, values: np.ndarray) -> Scaler:
        """Fit on ``values`` of shape ``(N, F)``; constant columns get scale 1. Returns ``self``.

        A column is constant when its range is zero or negligible next to its magnitude
        (``max - min <= 16 eps max|x|``, float64 rounding), so a signal of any scale keeps its variation:
        values around ``1e-13`` that vary by ``1e-14`` are scaled, not erased.

        Raises:
            TypeError: complex numbers, text or other objects than real numbers.
            ValueError: not a non-empty ``(N, F)`` array; NaN or infinity; a center or scale that
                overflows float64 (values near ``1e308``).
        """
        values = real_array("scaler.fit values", values).astype(np.float64)
        if values.ndim != 2 or len(values) == 0:
            raise ValueError(f"scaler.fit expected a non-empty (N, F) array, got shape {values.shape}")
        if not np.all(np.isfinite(values)):
            raise ValueError("scaler.fit got NaN or infinite values; clean the data first")
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported below
            center, scale = self._statistics(values)
        overflowed = ~(np.isfinite(center) & np.isfinite(scale))
        if overflowed.any():
            columns = np.flatnonzero(overflowed).tolist()
            raise ValueError(
                f"the {self.kind!r} scaler's center or scale overflowed float64 in column(s) {columns}: the "
                f"values reach {np.abs(values).max():.3g}, too near float64's limit of 1.8e308; divide the "
                "data by a power of ten first"
            )
        self.center, self.scale = center.astype(np.float64), scale.astype(np.float64)
        return self

    def _checked(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        center, scale = self._fitted()
        values = real_array("values", values).astype(np.float64)
        if values.ndim == 0 or values.shape[-1] != len(center):
            raise ValueError(
                f"scaler was fit on {len(center)} column(s), got values of shape {values.shape}; expected "
                f"shape (..., {len(center)})"
            )
        return values, center, scale

    def _fitted(self, column: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Center and scale (of one column if given), or raise if unfitted or the column does not exist."""
        if self.center is None or self.scale is None:
            raise RuntimeError(f"{type(self).__name__} used before fit()")
        if column is None:
            return self.center, self.scale
        width = len(self.center)
        if isinstance(column, bool) or not isinstance(column, int | np.integer):
            raise TypeError(f"column must be an integer index, got {type(column).__name__} {column!r}")
        if not 0 <= column < width:
            raise ValueError(
                f"column must be in [0, {width - 1}] (scaler fit on {width} column(s)), got {column}"
            )
        return self.center[column], self.scale[column]

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Scale ``(..., F)`` values."""
        values, center, scale = self._checked(values)
        return (values - center) / scale

    def inverse_transform(self, values: np.ndarray) -> np.ndarray:
        """Undo :meth:`transform` on ``(..., F)`` values."""
        values, center, scale = self._checked(values)
        return values * scale + center

    def inverse_column(self, values: np.ndarray, column: int) -> np.ndarray:
        """Undo the scaling of one column on an array of any shape (e.g. ``(S, horizon)`` predictions)."""
        center, scale = self._fitted(column)
        return real_array("values", values).astype(np.float64) * scale + center

    def transform_column(self, values: np.ndarray, column: int) -> np.ndarray:
        """Scale one column's values, an array of any shape."""
        center, scale = self._fitted(column)
        return (real_array("values", values).astype(np.float64) - center) / scale

    def state(self) -> dict[str, Any]:
        """JSON-serializable state."""
        center, scale = self._fitted()
        return {"kind": self.kind, "center": center.tolist(), "scale": scale.tolist()}


class StandardScaler(Scaler):
    """``z = (x - mean) / std`` (population std)."""

    kind = "standard"

    def _statistics(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return values.mean(axis=0), _usable_scale(values, values.std(axis=0))


class MinMaxScaler(Scaler):
    """``z = (x - min) / (max - min)``: the training span maps to [0, 1]."""

    kind = "minmax"

    def _statistics(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        low = values.min(axis=0)
        return low, _usable_scale(values, values.max(axis=0) - low)


class RobustScaler(Scaler):
    """``z = (x - median) / (q75 - q25)``: insensitive to outliers."""

    kind = "robust"

    def _statistics(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        q25, q50, q75 = np.percentile(values, [25, 50, 75], axis=0)
        return q50, _usable_scale(values, q75 - q25)


def _usable_scale(values: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """``spread`` per column, with 1 for a constant column and the range where ``spread`` is negligible.

    A column is constant when its range (exact in floating point) is zero or within float64 rounding of its
    magnitude; a spread is negligible below that bound too (a robust scaler's zero IQR over a column of
    mostly equal values): such a column is scaled by its range, never divided by zero.
    """
    low, high = values.min(axis=0), values.max(axis=0)
    span = high - low  # (F,)
    bound = _ROUNDING * np.maximum(np.abs(low), np.abs(high))
    return np.where(span <= bound, 1.0, np.where(spread > bound, spread, span))


_CLASSES: dict[str, type[Scaler]] = {
    "standard": StandardScaler,
    "minmax": MinMaxScaler,
    "robust": RobustScaler,
    "none": Scaler,
}


def make_scaler(kind: str) -> Scaler:
    """A new unfitted scaler: ``'standard'``, ``'minmax'``, ``'robust'`` or ``'none'``."""
    return _CLASSES[check_choice("scaler", kind, SCALERS)]()


def scaler_from_state(state: Mapping[str, Any], columns: int | None = None) -> Scaler:
    """Rebuild a fitted scaler from :meth:`Scaler.state`, checking it (it may come from a file).

    Args:
        state: ``{"kind": ..., "center": [...], "scale": [...]}``; center and scale are 1-D arrays of real
            numbers (lists, as :meth:`Scaler.state` writes them, tuples or numpy arrays).
        columns: the number of columns the scaler must have been fit on (``None``: not checked).

    Raises:
        TypeError: ``state`` is not a mapping, or center / scale are not 1-D arrays of real numbers.
        ValueError: an unknown kind; center and scale of other lengths than each other or ``columns``;
            a center that is not finite, or a scale that is not finite and > 0 (it would divide by zero).
    """
    if not isinstance(state, Mapping):
        raise TypeError(
            "a scaler state must be a mapping with kind, center and scale, "
            f"got {type(state).__name__} {state!r}"
        )
    scaler = make_scaler(str(state.get("kind")))
    center, scale = _vector(state, "center"), _vector(state, "scale")
    width = len(center) if columns is None else columns
    if len(center) != width or len(scale) != width:
        raise ValueError(
            f"a scaler state needs one center and one scale per column ({width}), got {len(center)} "
            f"center(s) and {len(scale)} scale(s)"
        )
    if not np.all(np.isfinite(center)):
        raise ValueError(f"a scaler state's center must be finite, got {center.tolist()}")
    if not np.all(np.isfinite(scale) & (scale > 0)):
        raise ValueError(f"a scaler state's scale must be finite and > 0, got {scale.tolist()}")
    scaler.center, scaler.scale = center, scale
    return scaler


def _vector(state: Mapping[str, Any], key: str) -> np.ndarray:
    """``state[key]`` as a 1-D float64 array, or a ``TypeError`` / ``ValueError`` saying what it holds."""
    if key not in state:
        raise ValueError(f"a scaler state needs {key!r}, got only the keys {sorted(state)}")
    values = state[key]
    try:
        array = np.asarray(values)
    except ValueError as err:  # a ragged nesting such as [1, [2]]
        raise TypeError(
            f"a scaler state's {key} must be a 1-D array of real numbers, got {values!r}"
        ) from err
    if array.ndim != 1 or array.dtype.kind not in "iuf":  # a number, bools, text, None are refused
        raise TypeError(f"a scaler state's {key} must be a 1-D array of real numbers, got {values!r}")
    return array.astype(np.float64)
