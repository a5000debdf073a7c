"""Span layout: folds and the test span, sizes checked with what was expected and what was received."""

from __future__ import annotations

import numpy as np
import pytest

from lstmkit.forecast.spans import Span, count_test_rows, plan_spans


def _spans(rows: int = 100, **changes: object) -> list[Span]:
    """plan_spans with a sliding window of 30 rows, two folds of 10 and a test span of 20, but for
    ``changes``."""
    settings: dict[str, object] = {
        "min_train": 10,
        "folds": 2,
        "test_size": 20,
        "fold_size": 10,
        "horizon": 2,
        "window": "sliding",
        "train_size": 30,
        "refit_every": 1,
    }
    settings.update(changes)
    return plan_spans(rows, **settings)  # type: ignore[arg-type]


def _plan(**changes: object) -> list[tuple[int, int]]:
    return [(s.train_start, s.train_end) for s in _spans(**changes)]


def test_plan_spans_expanding() -> None:
    spans = _spans(folds=3, window="expanding", train_size=None, refit_every=2)
    assert [(s.name, s.train_start, s.train_end, s.eval_end, s.refit) for s in spans] == [
        ("fold1", 0, 50, 60, True),
        ("fold2", 0, 60, 70, False),
        ("fold3", 0, 70, 80, True),
        ("test", 0, 80, 100, True),
    ]


def test_plan_spans_too_short() -> None:
    with pytest.raises(
        ValueError, match=r"a series of 40 rows is too short.*lookback \+ horizon \+ test span"
    ):
        _spans(40, min_train=30, test_size=10, fold_size=5, window="expanding", train_size=None)
    with pytest.raises(ValueError, match="unknown window 'rolling'"):
        _spans(40, min_train=3, folds=1, test_size=10, fold_size=5, window="rolling", train_size=None)


def test_sliding_window_sizes() -> None:
    assert _plan() == [(30, 60), (40, 70), (50, 80)]
    assert _plan(train_size=None) == [(0, 60), (10, 70), (20, 80)]  # the initial span's 60 rows
    assert _plan(train_size=np.int64(10)) == [(50, 60), (60, 70), (70, 80)]


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"fold_size": 10.0}, TypeError, r"fold_size must be an integer, got float 10\.0"),
        ({"fold_size": 0}, ValueError, "fold_size must be >= 1, got 0"),
        ({"train_size": -5}, ValueError, "train_size must be >= 1, got -5"),
        ({"train_size": 0}, ValueError, "train_size must be >= 1, got 0"),
        (
            {"train_size": 9},
            ValueError,
            r"train_size must be at least lookback \+ horizon .* = 10 rows, got 9",
        ),
        ({"train_size": 2.5}, TypeError, "train_size must be an integer"),
        (
            {"window": "expanding", "train_size": 30},
            ValueError,
            "train_size applies to window='sliding' only .* got train_size=30 with window='expanding'",
        ),
    ],
    ids=[
        "float-fold",
        "zero-fold",
        "negative-train",
        "zero-train",
        "short-train",
        "float-train",
        "expanding",
    ],
)
def test_bad_sizes_are_refused(changes: dict[str, object], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        _plan(**changes)


def test_count_test_rows() -> None:
    assert count_test_rows(np.float32(0.25), 100, 2) == 25
    assert count_test_rows(np.int32(7), 100, 2) == 7
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\), got 20\.0; pass an integer"):
        count_test_rows(20.0, 100, 2)
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\), got nan"):
        count_test_rows(float("nan"), 100, 2)
    with pytest.raises(TypeError, match="test_size must be a row count"):
        count_test_rows("20", 100, 2)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("test_size", "given"),
    [
        (1, r"test_size=1 gives a test span of 1 row"),
        (0.01, r"test_size=0.01 of 100 rows gives a test span of 1 row"),
    ],
    ids=["rows", "fraction"],
)
def test_a_test_span_shorter_than_the_horizon_is_one_message(test_size: float, given: str) -> None:
    message = given + r"\(s\), fewer than horizon=2; the test span needs at least one full horizon"
    with pytest.raises(ValueError, match=message):
        count_test_rows(test_size, 100, 2)
    with pytest.raises(ValueError, match=message):  # the layout reads test_size through the same check
        _plan(test_size=test_size)


def test_plan_spans_takes_a_fraction_of_the_rows() -> None:
    assert _plan(test_size=0.2) == _plan(test_size=20)
