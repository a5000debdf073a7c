"""Exact dynamic time warping (Sakoe & Chiba 1978) and the 1-NN DTW baseline, vectorized in NumPy.

For series ``x`` (length ``n``) and ``y`` (length ``m``) with ``C`` channels, dependent DTW (DTW_D) is

    c(i, j) = sum_k (x[i, k] - y[j, k])^2
    D(i, j) = c(i, j) + min(D(i-1, j-1), D(i-1, j), D(i, j-1)),   D(-1, -1) = 0
    DTW(x, y) = D(n-1, m-1)

(squared distances, as the UCR archive's 1-NN DTW baseline; the square root does not change a nearest
neighbour). With a Sakoe-Chiba window ``w``, cells with ``|i - j| > w`` are excluded.

Implementation notes:
    The recursion is evaluated one anti-diagonal ``k = i + j`` at a time, because every cell of an
    anti-diagonal depends only on the two previous ones; each step is one NumPy operation over all
    (query, reference) pairs and all cells of the diagonal. Series of unequal length are zero-padded; a
    pair's distance is read at the cell ``(n-1, m-1)`` of its own lengths, which padded cells never feed.
"""

from __future__ import annotations

import numpy as np

# bound on (pairs x diagonal cells x channels) floats per step, to keep memory small
_CHUNK_ELEMENTS = 4_000_000


def dtw_distance_matrix(
    queries: list[np.ndarray], references: list[np.ndarray], window: int | None = None
) -> np.ndarray:
    """Squared-cost DTW between every query and every reference series.

    Args:
        queries: ``N_q`` arrays of shape ``(T_i, C)``, or ``(T_i,)`` for one channel.
        references: ``N_r`` arrays of shape ``(T_j, C)`` (or ``(T_j,)``) with the same ``C``.
        window: Sakoe-Chiba half-width in steps; ``None`` for the full (unconstrained) window.

    Returns:
        ``(N_q, N_r)`` float64 distances (``inf`` where the window admits no path).

    Raises:
        ValueError: empty inputs, a series that is empty or not 1-D/2-D, channel counts that differ,
            non-finite values, or a negative window.

    Example:
        >>> a = np.array([[0.0], [1.0], [2.0]]); b = np.array([[0.0], [0.0], [1.0], [2.0]])
        >>> dtw_distance_matrix([a], [b]).tolist()
        [[0.0]]
    """
    if not queries or not references:
        raise ValueError(
            f"DTW needs at least one query and one reference, got {len(queries)} and {len(references)}"
        )
    queries, references = as_channels(queries, "queries"), as_channels(references, "references")
    channels = {s.shape[1] for s in queries} | {s.shape[1] for s in references}
    if len(channels) != 1:
        raise ValueError(
            f"DTW expects every series to have the same number of channels, got {sorted(channels)}"
        )
    if window is not None and window < 0:
        raise ValueError(f"window must be None or >= 0, got {window}")
    for s in (*queries, *references):
        if not np.isfinite(s).all():
            raise ValueError("DTW got NaN or infinite values; fill missing values first")
    q, q_len = _pad(queries)
    r, r_len = _pad(references)
    per_pair = len(references) * max(q.shape[1], r.shape[1]) * q.shape[2]
    chunk = max(1, _CHUNK_ELEMENTS // max(per_pair, 1))
    out = np.empty((len(queries), len(references)))
    for start in range(0, len(queries), chunk):
        stop = start + chunk
        out[start:stop] = _dtw_block(q[start:stop], q_len[start:stop], r, r_len, window)
    return out


def as_channels(series: list[np.ndarray], name: str) -> list[np.ndarray]:
    """Float64 ``(T, C)`` arrays; a ``(T,)`` array is one channel.

    Raises:
        TypeError: a series that is not numbers (text, ``None``), or a list of steps of different widths
            (named by index).
        ValueError: a series with no steps or with more than two dimensions (named by index).

    Example:
        >>> [a.shape for a in as_channels([np.ones(3), np.ones((2, 4))], "series")]
        [(3, 1), (2, 4)]
    """
    out = []
    for index, item in enumerate(series):
        if item is None or isinstance(item, str | bytes):
            raise TypeError(
                f"{name}[{index}] must be an array of numbers, got {type(item).__name__} {item!r}"
            )
        try:
            array = np.asarray(item, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"{name}[{index}] must be a (T,) or (T, C) array of numbers with C values at every step, "
                f"got {type(item).__name__} that numpy cannot read as float64 ({err})"
            ) from err
        array = array[:, None] if array.ndim == 1 else array
        if array.ndim != 2 or array.shape[0] == 0:
            raise ValueError(
                f"{name}[{index}] must have shape (T,) or (T, C) with T >= 1, got {np.shape(item)}"
            )
        out.append(array)
    return out


def _pad(series: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.array([s.shape[0] for s in series], dtype=np.int64)
    batch = np.zeros((len(series), int(lengths.max()), series[0].shape[1]))
    for i, s in enumerate(series):
        batch[i, : s.shape[0]] = s
    return batch, lengths


def _dtw_block(
    q: np.ndarray, q_len: np.ndarray, r: np.ndarray, r_len: np.ndarray, window: int | None
) -> np.ndarray:
    """DTW for all pairs of a block of queries ``q`` (Bq, n, C) and references ``r`` (Br, m, C)."""
    n, m = q.shape[1], r.shape[1]
    bq, br = q.shape[0], r.shape[0]
    inf = np.inf
    # diagonals stored by row index i (length n), +inf outside the diagonal's valid cells
    prev2 = np.full((bq, br, n), inf)  # diagonal k-2
    prev1 = np.full((bq, br, n), inf)  # diagonal k-1
    result = np.full((bq, br), inf)
    end_diagonal = q_len[:, None] + r_len[None, :] - 2  # (Bq, Br) the diagonal holding each pair's end cell
    end_row = np.broadcast_to(q_len[:, None] - 1, (bq, br))
    for k in range(n + m - 1):
        lo, hi = max(0, k - m + 1), min(k, n - 1)
        i = np.arange(lo, hi + 1)
        j = k - i
        diff = q[:, None, i, :] - r[None, :, j, :]  # (Bq, Br, L, C)
        cost = np.einsum("abld,abld->abl", diff, diff)  # (Bq, Br, L)
        if window is not None:
            cost = np.where(np.abs(i - j) > window, inf, cost)
        if k == 0:
            best = np.zeros_like(cost)
        else:
            diag = np.full(cost.shape, inf)  # D(i-1, j-1) on diagonal k-2, row i-1
            up = np.full(cost.shape, inf)  # D(i-1, j) on diagonal k-1, row i-1
            left = np.full(cost.shape, inf)  # D(i, j-1) on diagonal k-1, row i
            has_up = i >= 1
            diag[..., has_up] = prev2[..., i[has_up] - 1]
            up[..., has_up] = prev1[..., i[has_up] - 1]
            has_left = j >= 1
            left[..., has_left] = prev1[..., i[has_left]]
            best = np.minimum(np.minimum(diag, up), left)
        current = np.full((bq, br, n), inf)
        current[..., i] = cost + best
        done = end_diagonal == k
        if done.any():
            a, b = np.nonzero(done)
            result[a, b] = current[a, b, end_row[a, b]]
        prev2, prev1 = prev1, current
    return result


def nearest_neighbor_predict(
    train: list[np.ndarray], train_labels: list, test: list[np.ndarray], window: int | None = None
) -> list:
    """1-NN DTW: each test series takes the label of its DTW-nearest training series (first on ties).

    Args:
        train: training series ``(T_i, C)`` or ``(T_i,)``.
        train_labels: their labels, any type.
        test: series to label.
        window: Sakoe-Chiba half-width; ``None`` for the full window (the archive's "DTW full" baseline).

    Returns:
        One predicted label per test series.

    Raises:
        ValueError: as :func:`dtw_distance_matrix`, counts of series and labels that differ, or a window
            smaller than the length difference between a test series and every training series (no warping
            path fits, so no neighbour exists).
    """
    if len(train) != len(train_labels):
        raise ValueError(f"train has {len(train)} series but train_labels has {len(train_labels)} labels")
    distances = dtw_distance_matrix(test, train, window)
    if window is not None:
        train_lengths = np.array([len(s) for s in train])
        for index, series in enumerate(test):
            gaps = np.abs(train_lengths - len(series))
            if gaps.min() > window:
                raise ValueError(
                    f"window={window} is smaller than the length difference {int(gaps.min())} between "
                    f"test[{index}] (length {len(series)}) and the closest training series (length "
                    f"{int(train_lengths[gaps.argmin()])}), so no warping path fits; use window >= "
                    f"{int(gaps.min())} or None"
                )
    return [train_labels[int(i)] for i in distances.argmin(axis=1)]
