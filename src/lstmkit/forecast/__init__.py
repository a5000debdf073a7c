"""Honest forecasting: windowing, leak-free scaling, baselines, walk-forward backtests and an LSTM forecaster.

Typical use::

    from lstmkit.forecast import Forecaster
    fc = Forecaster(lookback=60, horizon=5, target="DEXUSEU", transform="log_return", fill="drop")
    result = fc.backtest(frame, folds=3)      # the model and every baseline on the same points
    print(result.test[["method", "mae", "mase", "directional_accuracy"]])
"""

from lstmkit.forecast.backtest import BacktestResult, backtest
from lstmkit.forecast.baselines import (
    Baseline,
    arima,
    default_baselines,
    drift,
    moving_average,
    persistence,
    seasonal_naive,
)
from lstmkit.forecast.data import PreparedData, prepare_frame, read_csv
from lstmkit.forecast.forecaster import Forecaster
from lstmkit.forecast.frequency import season_from_freq
from lstmkit.forecast.regressor import ModuleRegressor, TrainConfig, WindowRegressor
from lstmkit.forecast.scalers import make_scaler
from lstmkit.forecast.windowing import make_windows

__all__ = [
    "BacktestResult",
    "Baseline",
    "Forecaster",
    "ModuleRegressor",
    "PreparedData",
    "TrainConfig",
    "WindowRegressor",
    "arima",
    "backtest",
    "default_baselines",
    "drift",
    "make_scaler",
    "make_windows",
    "moving_average",
    "persistence",
    "prepare_frame",
    "read_csv",
    "season_from_freq",
    "seasonal_naive",
]
