"""The backtest figure: every scored method drawn, an unscored one (n/a) left out, an n/a MASE said so."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from torch import nn

from lstmkit.forecast import Forecaster, TrainConfig
from lstmkit.forecast.backtest import MODEL, BacktestResult
from lstmkit.forecast.plots import MASE_NA, plot_backtest


def test_a_baseline_unscored_on_the_test_span_gets_no_bar_and_no_line() -> None:
    t = np.arange(30)
    series = pd.Series(
        10 + np.sin(2 * np.pi * t / 7), index=pd.date_range("2020-01-01", periods=30, freq="D"), name="y"
    )
    linear = nn.Sequential(nn.Flatten(), nn.LazyLinear(2))
    forecaster = Forecaster(lookback=7, horizon=2, model=linear, season=30, train=TrainConfig(epochs=1))
    result = forecaster.backtest(series, folds=0, test_size=12)  # the test span has 18 rows before it
    unscored = ["seasonal_naive(m=30)", "moving_average(k=30)"]  # each needs 30 rows up to an origin
    assert result.test.set_index("method").loc[unscored, "unavailable"].notna().all()
    figure = plot_backtest(result, series)
    _, steps, mase = figure.axes
    scored = [MODEL, "persistence", "drift"]
    assert sorted(line.get_label() for line in steps.get_lines()) == sorted(scored)
    assert sorted(label.get_text() for label in mase.get_yticklabels()) == sorted(scored)
    assert len(mase.patches) == len(scored)


def test_the_mase_panel_says_so_when_the_test_mase_is_undefined() -> None:
    rng = np.random.default_rng(0)
    values = np.r_[
        50 + np.cumsum(rng.normal(size=30)), np.full(20, 50.0), 50 + np.cumsum(rng.normal(size=10))
    ]
    series = pd.Series(values, index=pd.date_range("2021-01-01", periods=60, freq="D"), name="y")
    linear = nn.Sequential(nn.Flatten(), nn.LazyLinear(1))
    forecaster = Forecaster(lookback=3, horizon=1, model=linear, train=TrainConfig(epochs=1))
    # the test span trains on rows [35, 50): all 50.0, so no MASE scale
    result = forecaster.backtest(series, folds=0, test_size=10, window="sliding", train_size=15)
    assert result.test["mase"].isna().all()
    _, _, mase = plot_backtest(result, series).axes
    assert len(mase.patches) == 0
    assert [text.get_text() for text in mase.texts] == [MASE_NA]
    assert MASE_NA.startswith("MASE is n/a on the test span")


def _result_and_series(tz: str | None = None) -> tuple[BacktestResult, pd.Series]:
    index = pd.date_range("2020-01-01", periods=40, freq="D", tz=tz)
    series = pd.Series(10 + np.sin(np.arange(40) / 3.0), index=index, name="y")
    linear = nn.Sequential(nn.Flatten(), nn.LazyLinear(1))
    forecaster = Forecaster(lookback=3, horizon=1, model=linear, train=TrainConfig(epochs=1))
    return forecaster.backtest(series, folds=0, test_size=10), series


@pytest.mark.parametrize(
    ("history", "options", "error", "message"),
    [
        (
            lambda s: s.to_numpy(),
            {},
            TypeError,
            r"^history must be a pandas Series of the target indexed by its dates, got ndarray; a bare array "
            r"has no dates to place it by: pass pd.Series\(values, index=dates\)$",
        ),
        (
            lambda s: s.reset_index(drop=True),
            {},
            TypeError,
            "^history must be indexed by its dates \\(a DatetimeIndex\\), got a RangeIndex$",
        ),
        (
            lambda s: s.tz_localize(None),
            {},
            ValueError,
            "^history's dates are tz-naive but the backtest's are in time zone America/New_York; pass the "
            "series the backtest ran on",
        ),
        (
            lambda s: s.to_frame().assign(x=1.0),
            {},
            ValueError,
            r"^history must be the target series, got a DataFrame with columns \['y', 'x'\]; pass one column",
        ),
        (
            lambda s: s,
            {"history_points": "10"},
            TypeError,
            "^history_points must be an integer, got str '10'$",
        ),
        (lambda s: s, {"history_points": -1}, ValueError, "^history_points must be >= 0, got -1$"),
    ],
    ids=["array", "no-dates", "tz-naive-vs-aware", "frame-of-two-columns", "points-text", "points-negative"],
)
def test_a_history_that_cannot_be_drawn_against_the_result_is_refused(
    history: object, options: dict[str, object], error: type, message: str
) -> None:
    result, series = _result_and_series(tz="America/New_York")
    with pytest.raises(error, match=message):
        plot_backtest(result, history(series), **options)  # type: ignore[operator, arg-type]


def test_the_history_panel_shows_history_points_points_before_the_test_span() -> None:
    result, series = _result_and_series()
    with pytest.raises(TypeError, match=r"^result must be a BacktestResult"):
        plot_backtest({}, series)  # type: ignore[arg-type]
    for points, shown in [(5, 5), (0, 0), (1000, 30)]:  # 30 rows before the first test target
        forecast = plot_backtest(result, series.to_frame(), history_points=points).axes[0]
        history = next(line for line in forecast.get_lines() if line.get_label() == "history")
        assert len(history.get_xdata()) == shown
