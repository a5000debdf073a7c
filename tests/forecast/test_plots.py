"""The backtest figure: every scored method drawn, an unscored one (n/a) left out, an n/a MASE said so."""

from __future__ import annotations

import numpy as np
import pandas as pd
from torch import nn

from lstmkit.forecast import Forecaster, TrainConfig
from lstmkit.forecast.backtest import MODEL
from lstmkit.forecast.plots import MASE_NA, plot_backtest


def test_a_baseline_unscored_on_the_test_span_gets_no_bar_and_no_line() -> None:
    t = np.arange(30)
    series = pd.Series(
        10 + np.sin(2 * np.pi * t / 7), index=pd.date_range("2020-01-01", periods=30, freq="D"), name="y"
    )
    linear = nn.Sequential(nn.Flatten(), nn.LazyLinear(2))
    forecaster = Forecaster(lookback=7, horizon=2, model=linear, season=30, train=TrainConfig(epochs=1))
    result = forecaster.backtest(series, folds=0, test_size=12)  # the test span has 18 rows before it
    assert pd.notna(result.test.set_index("method").loc["seasonal_naive(m=30)", "unavailable"])
    figure = plot_backtest(result, series)
    _, steps, mase = figure.axes
    scored = [MODEL, "persistence", "drift", "moving_average(k=30)"]
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
