"""Metrics against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from lstmkit.forecast import metrics

Y = np.array([2.0, 4.0, 5.0, 3.0])
P = np.array([3.0, 4.0, 2.0, 3.0])


def test_point_metrics_by_hand() -> None:
    assert metrics.mae(Y, P) == pytest.approx(1.0)  # (1 + 0 + 3 + 0) / 4
    assert metrics.rmse(Y, P) == pytest.approx(np.sqrt(10.0 / 4))
    assert metrics.mape(Y, P) == pytest.approx(100 * (0.5 + 0.6) / 4)
    assert metrics.smape(Y, P) == pytest.approx(100 * (2 / 5 + 6 / 7) / 4)
    assert np.isnan(metrics.mape(np.array([0.0, 1.0]), np.array([1.0, 1.0])))  # undefined: NaN, not a crash


def test_mase_is_scaled_by_in_sample_naive_error() -> None:
    train = np.array([1.0, 3.0, 2.0, 4.0])  # naive errors 2, 1, 2 -> 5/3
    assert metrics.naive_scale(train) == pytest.approx(5 / 3)
    assert metrics.mase(Y, P, train) == pytest.approx(1.0 / (5 / 3))
    assert metrics.naive_scale(np.array([1.0, 2.0, 3.0, 1.0, 2.0, 4.0]), season=3) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="training series is constant"):
        metrics.naive_scale(np.ones(5))
    with pytest.raises(ValueError, match="more than season=4 training points"):
        metrics.naive_scale(np.ones(3), season=4)


def test_directional_accuracy_conventions() -> None:
    last = np.array([3.0, 3.0, 3.0, 3.0])
    # actual changes +, +, +, 0 (ignored); predicted 0 (half), + (right), - (wrong)
    assert metrics.directional_accuracy(Y, P, last) == pytest.approx((0.5 + 1 + 0) / 3)
    assert metrics.directional_accuracy(Y, last, last) == pytest.approx(0.5)  # persistence is a coin flip
    assert np.isnan(metrics.directional_accuracy(last, P, last))


def test_interval_metrics() -> None:
    assert metrics.coverage(Y, Y - 1, Y + np.array([1, -2, 1, 1])) == pytest.approx(0.75)
    # q = 0.9, errors y - q_hat = (-1, 0, 3, 0): losses 0.1, 0, 2.7, 0
    assert metrics.pinball(Y, P, 0.9) == pytest.approx(2.8 / 4)
    with pytest.raises(ValueError, match=r"quantile must be in \(0, 1\), got 1.5"):
        metrics.pinball(Y, P, 1.5)


def test_shape_errors() -> None:
    with pytest.raises(ValueError, match=r"same shape, got \(4,\) and \(3,\)"):
        metrics.mae(Y, P[:3])
    with pytest.raises(ValueError, match="zero points"):
        metrics.rmse(np.zeros(0), np.zeros(0))


@pytest.mark.parametrize(
    ("season", "error", "message"),
    [
        (-1, ValueError, "season must be >= 1, got -1"),
        (0, ValueError, "season must be >= 1, got 0"),
        (1.5, TypeError, "season must be an integer, got float 1.5"),
    ],
    ids=["negative", "zero", "fraction"],
)
def test_naive_scale_refuses_a_season_below_one(season: object, error: type, message: str) -> None:
    train = np.array([1.0, 3.0, 2.0, 4.0, 6.0])
    with pytest.raises(error, match=message):
        metrics.naive_scale(train, season=season)  # type: ignore[arg-type]
    with pytest.raises(error, match=message):
        metrics.mase(np.array([5.0]), np.array([4.0]), train, season=season)  # type: ignore[arg-type]


def test_naive_scale_refuses_non_finite_or_non_1d_training_data() -> None:
    with pytest.raises(
        ValueError, match=r"y_train contains 1 NaN or infinite value\(s\), the first at index \(1,\)"
    ):
        metrics.naive_scale(np.array([1.0, np.nan, 2.0]))
    with pytest.raises(ValueError, match=r"y_train must be a 1-D series of shape \(N,\), got shape \(3, 1\)"):
        metrics.naive_scale(np.ones((3, 1)))


def test_directional_accuracy_takes_one_level_per_row_in_any_shape_or_one_number() -> None:
    y_true = np.array([[1.0, 2.0], [3.0, 2.0], [5.0, 7.0]])
    y_pred = np.array([[2.0, 3.0], [1.0, 1.0], [6.0, 4.0]])
    levels = np.array([0.0, 2.5, 6.0])
    expected = metrics.directional_accuracy(y_true, y_pred, levels)
    assert expected == pytest.approx(3.5 / 6)  # right, right / wrong, right / no change (half), wrong
    assert metrics.directional_accuracy(y_true, y_pred, levels[:, None]) == expected  # (S, 1)
    # one number for every row, 1-D and 2-D: up, up, down -> right, right, wrong
    assert metrics.directional_accuracy(np.array([2.0, 3.0, 0.5]), np.array([1.5, 2.5, 2.0]), 1.0) == (
        pytest.approx(2 / 3)
    )
    assert metrics.directional_accuracy(y_true, y_pred, 2.5) == metrics.directional_accuracy(
        y_true, y_pred, np.full(3, 2.5)
    )
    with pytest.raises(
        ValueError,
        match=r"y_last must be one number or hold one origin level per row of y_true \(3\), got shape \(4,\)",
    ):
        metrics.directional_accuracy(np.ones((3, 2)), np.ones((3, 2)), np.ones(4))


def test_the_naive_scale_counts_only_errors_between_observed_values() -> None:
    # 1, 3 observed; 3, 3 forward-filled; then 7 observed: the only observed pair is (1, 3)
    y_train = np.array([1.0, 3.0, 3.0, 3.0, 7.0])
    observed = np.array([True, True, False, False, True])
    assert metrics.naive_errors(y_train, observed=observed).tolist() == [2.0]
    assert metrics.naive_scale(y_train, observed=observed) == 2.0
    assert metrics.naive_scale(y_train) == pytest.approx((2 + 0 + 0 + 4) / 4)  # the fills shrink it
    with pytest.raises(ValueError, match="no two observed training points are season=1 steps apart"):
        metrics.naive_scale(y_train, observed=np.array([True, False, True, False, True]))
    with pytest.raises(ValueError, match=r"observed must hold one flag per training value, shape \(5,\)"):
        metrics.naive_errors(y_train, observed=observed[:4])


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: metrics.mae(np.array([np.nan]), np.array([1.0])),
            ValueError,
            r"^y_true contains 1 NaN or infinite value\(s\), the first at index \(0,\): nan",
        ),
        (
            lambda: metrics.rmse(Y, np.array([1.0, np.inf, 2.0, 3.0])),
            ValueError,
            r"^y_pred contains 1 NaN or infinite value\(s\), the first at index \(1,\): inf",
        ),
        (
            lambda: metrics.mae(["a"], ["b"]),
            TypeError,
            r"^y_true must hold real numbers \(integers or floats\), got dtype <U1$",
        ),
        (
            lambda: metrics.smape(Y, [1.0, 2.0, None, 3.0]),
            ValueError,
            r"^y_pred contains 1 NaN or infinite value\(s\), the first at index \(2,\)",
        ),
        (
            lambda: metrics.pinball(Y, P, "0.5"),
            TypeError,
            "^quantile must be a number, got str '0.5'$",
        ),
        (
            lambda: metrics.pinball(Y, P[:3], 0.5),
            ValueError,
            r"^y_true and y_quantile must have the same shape, got \(4,\) and \(3,\)$",
        ),
        (
            lambda: metrics.coverage(Y, Y[:2], Y),
            ValueError,
            r"^y_true and lower must have the same shape, got \(4,\) and \(2,\)$",
        ),
        (
            lambda: metrics.coverage(Y, Y, Y[:3]),
            ValueError,
            r"^y_true and upper must have the same shape, got \(4,\) and \(3,\)$",
        ),
        (
            lambda: metrics.coverage(Y, Y - 1, np.array([3.0, np.nan, 6.0, 4.0])),
            ValueError,
            r"^upper contains 1 NaN or infinite value\(s\)",
        ),
        (
            lambda: metrics.directional_accuracy(Y, P, np.nan),
            ValueError,
            r"^y_last contains 1 NaN or infinite value\(s\)",
        ),
    ],
    ids=[
        "nan-actual",
        "inf-forecast",
        "text",
        "none",
        "quantile-text",
        "pinball-shapes",
        "lower-shape",
        "upper-shape",
        "nan-upper",
        "nan-last-level",
    ],
)
def test_metrics_refuse_non_finite_or_non_numeric_input_naming_the_argument(
    call: object, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        call()  # type: ignore[operator]


def test_metrics_take_integer_lists() -> None:
    assert metrics.mae([1, 2, 4], [1, 3, 2]) == pytest.approx(1.0)
