"""Baselines: the textbook formulas, and that none of them looks past its origin."""

from __future__ import annotations

import numpy as np
import pytest

from lstmkit.forecast import baselines

Y = np.array([3.0, 5.0, 4.0, 6.0, 8.0, 7.0, 9.0, 11.0, 10.0, 12.0])


def test_persistence() -> None:
    np.testing.assert_array_equal(baselines.persistence(Y, np.array([2, 5]), 3), [[4.0] * 3, [7.0] * 3])


def test_seasonal_naive_repeats_the_last_season() -> None:
    # season 3, origin 5: last season is y[3..5] = 6, 8, 7; steps 4.. wrap to the same season
    np.testing.assert_array_equal(
        baselines.seasonal_naive(Y, np.array([5]), 4, season=3), [[6.0, 8.0, 7.0, 6.0]]
    )
    np.testing.assert_array_equal(baselines.seasonal_naive(Y, np.array([2]), 1, season=3), [[3.0]])
    with pytest.raises(
        ValueError,
        match=r"season=3 needs 3 observations up to each forecast origin \(origins from 2 on\), "
        r"got origin 1 with 2; start the origins later or use a shorter season",
    ):
        baselines.seasonal_naive(Y, np.array([1, 5]), 1, season=3)


def test_drift_is_the_line_through_first_and_last() -> None:
    # origin 4: slope (8 - 3) / 4 = 1.25
    np.testing.assert_allclose(baselines.drift(Y, np.array([4]), 2), [[9.25, 10.5]])


def test_moving_average() -> None:
    np.testing.assert_allclose(baselines.moving_average(Y, np.array([4]), 2, window=3), [[6.0, 6.0]])
    np.testing.assert_allclose(baselines.moving_average(Y, np.array([4]), 1, window=5), [[5.2]])  # y[0..4]


def test_moving_average_refuses_an_origin_with_fewer_than_window_observations() -> None:
    # origin 2 has y[0..2], 3 values: their mean is not a moving average of 5
    with pytest.raises(
        ValueError,
        match=r"^moving average with window=5 needs 5 observations up to each forecast origin \(origins from "
        r"4 on\), got origin 2 with 3; start the origins later or use a shorter window$",
    ):
        baselines.moving_average(Y, np.array([2, 6]), 1, window=5)


@pytest.mark.parametrize("baseline", baselines.default_baselines(season=3), ids=lambda b: b.name)
def test_no_baseline_looks_past_its_origin(baseline: baselines.Baseline) -> None:
    origins = np.array([4, 5, 6])
    future_changed = Y.copy()
    future_changed[7:] = -100.0
    np.testing.assert_array_equal(baseline(Y, origins, 3), baseline(future_changed, origins, 3))


def test_default_set_without_season() -> None:
    names = [b.name for b in baselines.default_baselines(season=None)]
    assert names == ["persistence", "drift", "moving_average(k=5)"]
    names = [b.name for b in baselines.default_baselines(season=12)]
    assert names == ["persistence", "seasonal_naive(m=12)", "drift", "moving_average(k=12)"]


def test_min_history_says_what_each_default_baseline_needs() -> None:
    needs = {b.name: b.min_history for b in baselines.default_baselines(season=12)}
    assert needs == {"persistence": 1, "seasonal_naive(m=12)": 12, "drift": 1, "moving_average(k=12)": 12}
    window = {b.name: b.min_history for b in baselines.default_baselines(season=12, ma_window=3)}
    assert window["moving_average(k=3)"] == 3
    with pytest.raises(ValueError, match="min_history must be >= 1, got 0"):
        baselines.Baseline("custom", baselines.persistence, min_history=0)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (
            lambda: baselines.Baseline("x", 5),  # type: ignore[arg-type]
            TypeError,
            r"^Baseline 'x': fn must be a callable \(y, origins, horizon\) -> \(S, H\) forecasts, got int 5$",
        ),
        (
            lambda: baselines.Baseline(3, baselines.persistence),  # type: ignore[arg-type]
            TypeError,
            "^Baseline name must be a string, got int 3$",
        ),
        (
            lambda: baselines.Baseline("", baselines.persistence),
            ValueError,
            "^Baseline name must not be empty",
        ),
        (
            lambda: baselines.Baseline("x", baselines.persistence, min_history=2.0),  # type: ignore[arg-type]
            TypeError,
            "^min_history must be an integer, got float 2.0$",
        ),
    ],
    ids=["fn-not-callable", "name-not-text", "name-empty", "min-history-float"],
)
def test_a_baseline_is_checked_when_it_is_built(make: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        make()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("fn", "error", "message"),
    [
        (
            lambda y, o, h: y[o],
            ValueError,
            r"^baseline 'custom' returned forecasts of shape \(2,\), expected \(origins, horizon\) = "
            r"\(2, 3\): its fn must return one row of 3 forecast\(s\) per origin$",
        ),
        (
            lambda y, o, h: np.ones((h, len(o))),
            ValueError,
            r"returned forecasts of shape \(3, 2\), expected \(origins, horizon\) = \(2, 3\)",
        ),
        (
            lambda y, o, h: np.full((len(o), h), "a"),
            TypeError,
            r"^baseline 'custom''s forecasts must hold real numbers \(integers or floats\), got dtype <U1$",
        ),
        (
            lambda y, o, h: np.full((len(o), h), np.nan),
            ValueError,
            r"^baseline 'custom' returned 6 NaN or infinite forecast value\(s\) of 6; forecasts must be "
            "finite",
        ),
    ],
    ids=["one-per-origin", "transposed", "text", "nan"],
)
def test_a_baseline_output_of_the_wrong_shape_or_kind_names_the_baseline(
    fn: baselines.BaselineFn, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        baselines.Baseline("custom", fn)(Y, np.array([4, 5]), 3)


def test_a_baseline_returns_its_checked_forecasts_as_floats() -> None:
    ints = baselines.Baseline("ints", lambda y, o, h: np.ones((len(o), h), dtype=np.int64))
    out = ints(Y, np.array([4, 5]), 3)
    assert out.dtype == np.float64 and out.shape == (2, 3)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"season": "7"}, TypeError, "^season must be an integer, got str '7'$"),
        ({"season": 0}, ValueError, "^season must be >= 1, got 0$"),
        ({"season": 7, "ma_window": 0}, ValueError, "^ma_window must be >= 1, got 0$"),
        ({"season": 7, "ma_window": -3}, ValueError, "^ma_window must be >= 1, got -3$"),
        ({"season": 7, "ma_window": 2.5}, TypeError, "^ma_window must be an integer, got float 2.5$"),
    ],
    ids=["season-text", "season-0", "ma-window-0", "ma-window-negative", "ma-window-fraction"],
)
def test_default_baselines_checks_season_and_window(
    kwargs: dict[str, object], error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        baselines.default_baselines(**kwargs)  # type: ignore[arg-type]


def test_bad_input() -> None:
    with pytest.raises(ValueError, match=r"y must be a 1-D series of shape \(N,\), got shape \(3, 2\)"):
        baselines.persistence(np.zeros((3, 2)), np.array([0]), 1)
    with pytest.raises(ValueError, match=r"origins must lie in \[0, 9\]"):
        baselines.persistence(Y, np.array([10]), 1)
    with pytest.raises(ValueError, match="with_arima=True needs train_end"):
        baselines.default_baselines(season=None, with_arima=True)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: baselines.persistence(Y, np.array([2]), -1), ValueError, "horizon must be >= 1, got -1"),
        (lambda: baselines.persistence(Y, np.array([2]), 0), ValueError, "horizon must be >= 1, got 0"),
        (lambda: baselines.drift(Y, np.array([2]), 2.5), TypeError, "horizon must be an integer, got float"),
        (
            lambda: baselines.persistence(Y, np.array([2.7]), 1),
            TypeError,
            r"origins must be integer row indices, got an array of float64 \[2.7\]",
        ),
        (
            lambda: baselines.moving_average(np.array([1.0, np.nan, 3.0]), np.array([2]), 1, window=2),
            ValueError,
            r"y contains 1 NaN or infinite value\(s\), the first at index \(1,\)",
        ),
        (
            lambda: baselines.seasonal_naive(Y, np.array([5]), 1, season=0),
            ValueError,
            "season must be >= 1, got 0",
        ),
    ],
    ids=["negative-horizon", "zero-horizon", "fractional-horizon", "float-origins", "nan-series", "season-0"],
)
def test_bad_horizon_origins_series_and_season(call: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        call()  # type: ignore[operator]


def test_arima_when_statsmodels_is_installed() -> None:
    if not baselines.arima_available():
        with pytest.raises(ImportError, match=r"pip install 'lstmkit\[arima\]'"):
            baselines.arima(Y, np.array([8]), 1, train_end=8)
        return
    rng = np.random.default_rng(0)
    walk = np.cumsum(rng.normal(size=120)) + 50
    forecast = baselines.arima(walk, np.array([99, 110]), 3, train_end=100)
    assert forecast.shape == (2, 3) and np.all(np.isfinite(forecast))
    assert abs(forecast[0, 0] - walk[99]) < 3.0  # near the last value on a random walk
