"""Laying out a walk-forward backtest: the initial training span, the folds and the final test span.

    [ initial training | fold 1 | fold 2 | ... | fold K | final test span ]

Each :class:`Span` names its training rows and the rows it evaluates; :func:`plan_spans` checks that the
series is long enough and that the sizes are consistent, and says which option to change when they are not.

Example:
    >>> spans = plan_spans(100, min_train=10, folds=1, test_size=20, fold_size=10, horizon=2,
    ...                    window="expanding", train_size=None, refit_every=1)
    >>> [(s.name, s.train_end, s.eval_end) for s in spans]
    [('fold1', 70, 80), ('test', 80, 100)]
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

from lstmkit.utils.validation import check_choice, check_positive_int

WINDOWS = ("expanding", "sliding")


@dataclass(frozen=True)
class Span:
    """One evaluated block: its name, training rows ``[train_start, train_end)`` and evaluated rows."""

    name: str
    train_start: int
    train_end: int
    eval_start: int
    eval_end: int
    refit: bool


def plan_spans(
    n: int,
    *,
    min_train: int,
    folds: int,
    test_size: int | float,
    fold_size: int | None,
    horizon: int,
    window: str,
    train_size: int | None,
    refit_every: int,
) -> list[Span]:
    """Lay out the walk-forward folds and the final test span over ``n`` rows.

    ``test_size`` is a row count or a fraction of ``n``, as :func:`count_test_rows` reads it; the other
    arguments are those of :func:`lstmkit.forecast.backtest.backtest`, with ``min_train`` the fewest rows a
    fit needs.

    Raises:
        TypeError: ``test_size`` is not a number, ``fold_size`` or ``train_size`` is not an integer.
        ValueError: the series is too short for the training minimum, the folds and the test span; a test
            span shorter than ``horizon``; a ``fold_size`` < 1; a ``train_size`` shorter than ``min_train``,
            or given with an expanding window.
    """
    check_choice("window", window, WINDOWS)
    test_size = count_test_rows(test_size, n, horizon)
    if fold_size is not None:
        check_positive_int("fold_size", fold_size)
    if train_size is not None:
        if window == "expanding":
            raise ValueError(
                f"train_size applies to window='sliding' only (an expanding window trains on every row "
                f"before a fold), got train_size={train_size!r} with window='expanding'; drop train_size "
                "or pass window='sliding'"
            )
        check_positive_int("train_size", train_size)
        if train_size < min_train:
            raise ValueError(
                f"train_size must be at least lookback + horizon (+1 with a differencing transform) = "
                f"{min_train} rows, got {train_size}"
            )
    if fold_size is None:
        room = n - test_size - min_train
        fold_size = min(test_size, room // folds) if folds else 0
    if folds and fold_size < horizon:
        raise ValueError(
            f"a series of {n} rows is too short: need lookback + horizon (+1 with a differencing "
            f"transform) = {min_train} training rows, {folds} fold(s) of at least horizon={horizon} rows "
            f"and a test span of {test_size} rows; use fewer folds, a smaller test span or a shorter lookback"
        )
    initial = n - test_size - folds * fold_size
    if initial < min_train:
        raise ValueError(
            f"a series of {n} rows is too short for {min_train} training rows + {folds} fold(s) of "
            f"{fold_size} + a test span of {test_size} rows (lookback + horizon + test span)"
        )
    spans = []
    for k in range(folds + 1):
        start = initial + k * fold_size
        end = start + fold_size if k < folds else n
        lo = 0 if window == "expanding" else max(0, start - (initial if train_size is None else train_size))
        name = f"fold{k + 1}" if k < folds else "test"
        spans.append(Span(name, lo, start, start, end, refit=(k % refit_every == 0) or k == folds))
    return spans


def count_test_rows(test_size: int | float, n: int, horizon: int) -> int:
    """Rows of the final test span: an integer count, or a real fraction of the ``n`` rows.

    Args:
        test_size: a row count (any integer, numpy integers included) or a fraction in (0, 1) (any real
            number, ``np.float32(0.2)`` included; ``20.0`` is a fraction out of range, not a count).
        n: rows of the series.
        horizon: steps forecast at once; the test span needs at least that many rows.

    Raises:
        TypeError: ``test_size`` is not a number (or is a bool).
        ValueError: a count < 1, a fraction outside (0, 1), or fewer than ``horizon`` rows either way.
    """
    if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real):
        raise TypeError(
            "test_size must be a row count (an integer) or a fraction in (0, 1), "
            f"got {type(test_size).__name__} {test_size!r}"
        )
    if isinstance(test_size, numbers.Integral):
        rows = check_positive_int("test_size", test_size)
        given = f"test_size={rows}"
    else:
        fraction = float(test_size)
        if not 0.0 < fraction < 1.0:
            raise ValueError(
                f"test_size as a fraction must be in (0, 1), got {test_size}; pass an integer for a row count"
            )
        rows = round(n * fraction)
        given = f"test_size={fraction:g} of {n} rows"
    if rows < horizon:
        raise ValueError(
            f"{given} gives a test span of {rows} row(s), fewer than horizon={horizon}; the test span needs "
            "at least one full horizon"
        )
    return rows
