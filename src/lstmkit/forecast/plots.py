"""Backtest plots with matplotlib's Agg canvas (no display, no global pyplot state).

One figure, three panels: the history and the final test span with the model's forecasts and interval
against the actual values; MAE by horizon step for every method; MASE of every method (the line at 1 is
the in-sample naive error), or a note saying that MASE is n/a when the test span has no MASE scale.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from lstmkit.forecast.backtest import MODEL, BacktestResult
from lstmkit.utils.validation import check_positive_int

# the MASE panel's text when the test span has no MASE scale
MASE_NA = (
    "MASE is n/a on the test span:\nits training series is constant,\nso it has no naive in-sample error"
)


def plot_backtest(
    result: BacktestResult,
    history: pd.Series | pd.DataFrame,
    *,
    title: str = "",
    history_points: int = 300,
) -> Figure:
    """Draw the backtest summary figure.

    Args:
        result: a backtest result.
        history: the target series (levels) with the dates of the backtest's data as its
            ``DatetimeIndex`` (in the same time zone, or tz-naive as they were), for context before the test
            span; a one-column DataFrame is taken as that series.
        title: figure title.
        history_points: how many points before the test span to show (0 for none).

    Returns:
        A matplotlib ``Figure`` attached to an Agg canvas.

    Raises:
        TypeError: ``result`` is not a :class:`BacktestResult`, ``history`` is not a Series (a bare array
            has no dates to place it by) or has no ``DatetimeIndex``, or ``history_points`` is not an
            integer.
        ValueError: a DataFrame ``history`` of several columns, dates tz-aware on one side and tz-naive
            on the other, or ``history_points < 0``.
    """
    if not isinstance(result, BacktestResult):
        raise TypeError(f"result must be a BacktestResult (from backtest()), got {type(result).__name__}")
    history = _checked_history(history, result)
    check_positive_int("history_points", history_points, minimum=0)
    figure = Figure(figsize=(11, 8), layout="constrained")
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(2, 2, height_ratios=(1.4, 1.0))
    _forecast_panel(figure.add_subplot(grid[0, :]), result, history, history_points)
    _step_panel(figure.add_subplot(grid[1, 0]), result)
    _mase_panel(figure.add_subplot(grid[1, 1]), result)
    if title:
        figure.suptitle(title)
    return figure


def _checked_history(history: pd.Series | pd.DataFrame, result: BacktestResult) -> pd.Series:
    """``history`` as a Series whose dates compare with the result's, or a clear error."""
    if isinstance(history, pd.DataFrame):
        if history.shape[1] != 1:
            raise ValueError(
                f"history must be the target series, got a DataFrame with columns {list(history.columns)}; "
                "pass one column, e.g. history['y']"
            )
        history = history.iloc[:, 0]
    if not isinstance(history, pd.Series):
        raise TypeError(
            "history must be a pandas Series of the target indexed by its dates, got "
            f"{type(history).__name__}; a bare array has no dates to place it by: pass "
            "pd.Series(values, index=dates)"
        )
    if not isinstance(history.index, pd.DatetimeIndex):
        raise TypeError(
            f"history must be indexed by its dates (a DatetimeIndex), got a {type(history.index).__name__}"
        )
    ours, theirs = history.index.tz, pd.DatetimeIndex(result.forecasts["date"]).tz
    if (ours is None) != (theirs is None):
        raise ValueError(
            f"history's dates are {'tz-naive' if ours is None else f'in time zone {ours}'} but the "
            f"backtest's are {'tz-naive' if theirs is None else f'in time zone {theirs}'}; pass the series "
            "the backtest ran on (or convert it with tz_localize)"
        )
    return history


def _forecast_panel(ax: Axes, result: BacktestResult, history: pd.Series, history_points: int) -> None:
    test = result.forecasts[result.forecasts["span"] == "test"]
    start = test["date"].min()
    before = history[history.index < start]
    before = before.iloc[max(len(before) - history_points, 0) :]  # not iloc[-n:]: -0 would keep them all
    during = history[(history.index >= start) & (history.index <= test["date"].max())]
    ax.plot(before.index, before.to_numpy(), color="0.55", lw=1.0, label="history")
    ax.plot(during.index, during.to_numpy(), color="black", lw=1.2, label="actual")
    horizon = int(test["step"].max())
    for step, color in sorted({1: "tab:blue", horizon: "tab:red"}.items()):
        rows = test[test["step"] == step]
        ax.plot(rows["date"], rows[MODEL], color=color, lw=1.1, label=f"{MODEL}, {step} step(s) ahead")
    quantile_columns = sorted(c for c in test.columns if c.startswith(f"{MODEL}_q"))
    if quantile_columns:
        rows = test[test["step"] == 1]
        low, high = quantile_columns[0], quantile_columns[-1]
        label = f"interval {low.removeprefix(MODEL + '_q')}-{high.removeprefix(MODEL + '_q')}, 1 step"
        ax.fill_between(rows["date"], rows[low], rows[high], color="tab:blue", alpha=0.2, label=label)
    ax.axvline(start, color="0.3", ls="--", lw=0.8)
    ax.set_title("final test span: forecasts against actual values")
    ax.legend(loc="best", fontsize=8)


def _step_panel(ax: Axes, result: BacktestResult) -> None:
    for method in result.by_step.columns[result.by_step.notna().any()]:  # unscored methods: no line
        ours = method == MODEL
        ax.plot(
            result.by_step.index,
            result.by_step[method],
            marker="o",
            ms=3,
            label=method,
            lw=2.2 if ours else 1.0,
            ls="-" if ours else "--",
            color="tab:blue" if ours else None,
        )
    ax.set_xlabel("horizon step")
    ax.set_ylabel("MAE (test span)")
    ax.set_title("error by horizon step")
    ax.legend(fontsize=7)


def _mase_panel(ax: Axes, result: BacktestResult) -> None:
    table = result.test.dropna(subset=["mase"]).sort_values("mase")  # unscored methods: no bar
    ax.set_title("model vs baselines")
    if table.empty:  # the test span's training series has no naive in-sample error: no MASE scale
        ax.text(0.5, 0.5, MASE_NA, ha="center", va="center", transform=ax.transAxes, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        return
    colors = ["tab:blue" if m == MODEL else "0.6" for m in table["method"]]
    positions = np.arange(len(table))
    ax.barh(positions, table["mase"], color=colors)
    ax.set_yticks(positions, table["method"], fontsize=8)
    ax.axvline(1.0, color="0.3", ls="--", lw=0.8)
    ax.invert_yaxis()
    ax.set_xlabel("MASE (test span; lower is better)")
