"""Series preprocessing: missing values, per-series z-normalization, padding to a batch with lengths.

Shapes: ``N`` series, ``T`` time steps, ``C`` channels.
"""

from __future__ import annotations

import numpy as np

from lstmkit.utils.validation import check_choice

NORMALIZATIONS = ("zscore", "none")
_EPS = 1e-8


def fill_missing(series: list[np.ndarray]) -> tuple[list[np.ndarray], int]:
    """Fill missing values (``NaN``) by linear interpolation along time, channel by channel.

    Values before the first or after the last observed value take that observed value (held constant).

    Args:
        series: one ``(T_i, C)`` array per case.

    Returns:
        ``(filled, count)``: new arrays without ``NaN`` and the number of values filled.

    Raises:
        ValueError: a channel of a case has no observed value at all.

    Example:
        >>> filled, n = fill_missing([np.array([[1.0], [np.nan], [3.0], [np.nan]])])
        >>> filled[0].ravel().tolist(), n
        ([1.0, 2.0, 3.0, 3.0], 2)
    """
    out: list[np.ndarray] = []
    count = 0
    for index, values in enumerate(series):
        missing = np.isnan(values)
        if not missing.any():
            out.append(values)
            continue
        filled = values.copy()
        steps = np.arange(values.shape[0])
        for channel in range(values.shape[1]):
            gap = missing[:, channel]
            if gap.all():
                raise ValueError(
                    f"series {index}, channel {channel} has no observed value (all {values.shape[0]} "
                    f"missing); drop that series or fill it before classification"
                )
            if gap.any():
                filled[gap, channel] = np.interp(steps[gap], steps[~gap], values[~gap, channel])
        count += int(missing.sum())
        out.append(filled)
    return out, count


def normalize_series(series: list[np.ndarray], method: str = "zscore") -> list[np.ndarray]:
    """Normalize each series on its own, as the UCR/UEA archive does.

    ``zscore`` maps each channel of each case to mean 0 and standard deviation 1:

        x' = (x - mean_t(x)) / std_t(x)

    A constant channel (``std < 1e-8``) becomes all zeros instead of dividing by zero.

    Args:
        series: one ``(T_i, C)`` array per case, without missing values.
        method: ``"zscore"`` or ``"none"``.

    Returns:
        New arrays of the same shapes.

    Example:
        >>> out = normalize_series([np.array([[1.0], [3.0]])])
        >>> out[0].ravel().tolist()
        [-1.0, 1.0]
    """
    check_choice("normalization", method, NORMALIZATIONS)
    if method == "none":
        return [np.asarray(s, dtype=np.float64) for s in series]
    out = []
    for values in series:
        mean = values.mean(axis=0, keepdims=True)
        std = values.std(axis=0, keepdims=True)
        safe = np.where(std < _EPS, 1.0, std)
        out.append(np.where(std < _EPS, 0.0, (values - mean) / safe))
    return out


def pad_series(series: list[np.ndarray], length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Stack series into one zero-padded batch plus their true lengths (nothing is truncated).

    Args:
        series: one ``(T_i, C)`` array per case.
        length: pad to this many steps (at least the longest series); default the longest series.

    Returns:
        ``(batch, lengths)``: float32 ``(N, T, C)`` with zeros after each series' end, and int64 ``(N,)``.

    Raises:
        ValueError: ``length`` is shorter than the longest series.
    """
    lengths = np.array([s.shape[0] for s in series], dtype=np.int64)
    longest = int(lengths.max())
    target = longest if length is None else int(length)
    if target < longest:
        raise ValueError(
            f"pad_series length={target} is shorter than the longest series ({longest} steps); "
            f"series are never truncated"
        )
    batch = np.zeros((len(series), target, series[0].shape[1]), dtype=np.float32)
    for index, values in enumerate(series):
        batch[index, : values.shape[0]] = values
    return batch, lengths
