"""Walk-forward backtest of a forecaster against the baselines, on exactly the same points.

The series of ``N`` rows is laid out as

    [ initial training | fold 1 | fold 2 | ... | fold K | final test span ]

Fold ``k`` covers rows ``[b_k, b_k + F)``. Its model is fit on the rows before ``b_k`` (``expanding``)
or on the ``train_size`` rows before it (``sliding``), refit every ``refit_every`` folds; scalers are fit
inside that span only. Forecast origins ``t`` run over ``b_k - 1 <= t < b_k + F - H`` (stride ``stride``),
so every target lies inside the fold. The final test span is evaluated once, by a model refit on
everything before it, after all folds: nothing is ever tuned on it. Baselines forecast from the same
origins with the same horizon; MASE is scaled by the naive in-sample error of each fold's training span.

A baseline that needs more history than a span's first origin has (seasonal naive needs ``season``
observations up to an origin) is reported as unavailable on that span, with the reason, rather than
scored on fewer points or allowed to fail the backtest; the model and the other baselines are still
scored there. Pooled over the folds, such a baseline is unavailable too: its pool would not cover the same
points as the others'.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from lstmkit.forecast import metrics
from lstmkit.forecast.baselines import Baseline, default_baselines
from lstmkit.forecast.data import PreparedData
from lstmkit.utils.validation import check_choice, check_positive_int

WINDOWS = ("expanding", "sliding")
MODEL = "lstm"
FoldCallback = Callable[[int, int, str], None]


class ArrayForecaster(Protocol):
    """What the backtest needs from a forecaster (see :class:`lstmkit.forecast.Forecaster`)."""

    lookback: int
    horizon: int
    quantiles: tuple[float, ...]

    def prepare(self, data: pd.DataFrame | pd.Series, *, causal: bool = False) -> PreparedData: ...
    def min_rows(self) -> int: ...
    def season_for(self, freq: str | None) -> int | None: ...
    def fit_arrays(self, levels: np.ndarray, end: int, start: int = 0) -> Any: ...
    def predict_arrays(
        self, levels: np.ndarray, origins: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None]: ...


@dataclass(frozen=True)
class Span:
    """One evaluated block: its name, training rows ``[train_start, train_end)`` and evaluated rows."""

    name: str
    train_start: int
    train_end: int
    eval_start: int
    eval_end: int
    refit: bool


@dataclass
class BacktestResult:
    """Everything a backtest measured.

    Attributes:
        folds: one row per (span, method) with the span's dates and MAE, RMSE, MAPE, sMAPE, MASE,
            directional accuracy (and coverage / pinball for the model with intervals). The model's
            ``train_start`` / ``train_end`` are those of the fit it used (an earlier span's when
            ``refit_every > 1``). A baseline unavailable on a span (too little history before its first
            origin) has 0 points, NaN metrics and the reason in ``unavailable`` (``None`` elsewhere).
        summary: the walk-forward folds pooled, one row per method (unavailable, with the reason, for a
            baseline unavailable on any fold).
        test: the final test span, one row per method (the honest headline).
        forecasts: long table: span, origin date, target date, step, actual, every method's forecast.
        by_step: MAE per horizon step and method on the final test span.
        season: the season used by seasonal naive (or ``None``).
        notes: data-cleaning notes, then one note per span and baseline left unscored.
    """

    folds: pd.DataFrame
    summary: pd.DataFrame
    test: pd.DataFrame
    forecasts: pd.DataFrame
    by_step: pd.DataFrame
    season: int | None
    notes: list[str]


def plan_spans(
    n: int,
    *,
    min_train: int,
    folds: int,
    test_size: int,
    fold_size: int | None,
    horizon: int,
    window: str,
    train_size: int | None,
    refit_every: int,
) -> list[Span]:
    """Lay out the walk-forward folds and the final test span over ``n`` rows.

    Raises:
        ValueError: the series is too short for the training minimum, the folds and the test span.
    """
    check_choice("window", window, WINDOWS)
    if test_size < horizon:
        raise ValueError(f"test_size must be at least horizon={horizon} rows, got {test_size}")
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
        lo = 0 if window == "expanding" else max(0, start - (train_size or initial))
        name = f"fold{k + 1}" if k < folds else "test"
        spans.append(Span(name, lo, start, start, end, refit=(k % refit_every == 0) or k == folds))
    return spans


def backtest(
    forecaster: ArrayForecaster,
    data: pd.DataFrame | pd.Series,
    *,
    folds: int = 3,
    test_size: int | float = 0.2,
    fold_size: int | None = None,
    window: str = "expanding",
    train_size: int | None = None,
    refit_every: int = 1,
    stride: int = 1,
    baselines: list[Baseline] | None = None,
    with_arima: bool = False,
    on_fold: FoldCallback | None = None,
) -> BacktestResult:
    """Walk-forward backtest of ``forecaster`` and the baselines.

    Args:
        forecaster: a :class:`lstmkit.forecast.Forecaster`; a shallow copy of it is refit inside every
            fold, so the model it was fitted with (if any) is kept.
        data: the series (DataFrame or Series), cleaned with the forecaster's settings.
        folds: number of walk-forward folds before the test span (0 allowed: test span only).
        test_size: rows of the final test span, or a fraction of the series.
        fold_size: rows per fold (default: as many as the test span, shrunk to fit).
        window: ``'expanding'`` (train on everything before) or ``'sliding'`` (the last ``train_size`` rows).
        train_size: rows of a sliding training window (default: the initial training span).
        refit_every: refit the model every k folds (always before the test span).
        stride: step between forecast origins.
        baselines: baselines to compare (default: :func:`default_baselines` for the inferred season).
        with_arima: add the ARIMA baseline (needs statsmodels).
        on_fold: callback ``(done, total, span name)`` after each span.

    Returns:
        A :class:`BacktestResult`.
    """
    check_positive_int("folds", folds, minimum=0)
    check_positive_int("refit_every", refit_every)
    check_positive_int("stride", stride)
    forecaster = copy.copy(forecaster)  # fit_arrays rebinds model and scalers; the caller's are kept
    prepared = forecaster.prepare(data, causal=True)  # no fill may read past a forecast's origin
    levels = prepared.frame.to_numpy()
    n, horizon = len(levels), forecaster.horizon
    if isinstance(test_size, float):
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"test_size as a fraction must be in (0, 1), got {test_size}")
        test_rows = round(n * test_size)
    else:
        test_rows = check_positive_int("test_size", test_size)
    spans = plan_spans(
        n,
        min_train=forecaster.min_rows(),
        folds=folds,
        test_size=test_rows,
        fold_size=fold_size,
        horizon=horizon,
        window=window,
        train_size=train_size,
        refit_every=refit_every,
    )
    season = forecaster.season_for(prepared.freq)
    y, dates = levels[:, 0], pd.DatetimeIndex(prepared.frame.index)
    rows: list[dict[str, Any]] = []
    frames: list[pd.DataFrame] = []
    step_rows: list[dict[str, Any]] = []
    pooled: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray, float]]] = {}
    skipped: dict[str, str] = {}  # method -> why it could not be scored on the first fold it missed
    notes = list(prepared.notes)
    fitted = spans[0]  # the span the model in use was fit on (refit_every > 1 reuses an earlier one)
    for done, span in enumerate(spans, start=1):
        if span.refit:
            forecaster.fit_arrays(levels, span.train_end, span.train_start)
            fitted = span
        origins = np.arange(span.eval_start - 1, span.eval_end - horizon, stride)
        if span.name == "test" and len(origins) == 0:
            raise ValueError(f"the test span of {span.eval_end - span.eval_start} rows holds no full horizon")
        point, quantiles = forecaster.predict_arrays(levels, origins)
        actual = y[origins[:, None] + np.arange(1, horizon + 1)]  # (S, H)
        last = y[origins]
        scale = metrics.naive_scale(y[span.train_start : span.train_end])
        methods = {MODEL: point}
        chosen = (
            baselines
            if baselines is not None
            else default_baselines(season, train_end=span.train_end, with_arima=with_arima)
        )
        missing: dict[str, str] = {}  # baselines that cannot forecast from this span's first origin
        for baseline in chosen:
            reason = _unavailable(baseline, span, origins, dates)
            if reason is None:
                methods[baseline.name] = baseline(y, origins, horizon)
            else:
                methods[baseline.name] = np.full((len(origins), horizon), np.nan)
                missing[baseline.name] = reason
                notes.append(f"{reason}: it is not scored there (n/a); the model and the other methods are")
        for name, pred in methods.items():
            trained = fitted if name == MODEL else span
            row = {
                "span": span.name,
                "method": name,
                "train_start": dates[trained.train_start],
                "train_end": dates[trained.train_end - 1],
                "eval_start": dates[span.eval_start],
                "eval_end": dates[span.eval_end - 1],
                "points": pred.size,
                "unavailable": None,
            }
            if name in missing:
                row |= _unscored_row(name, missing[name])
            else:
                row.update(metrics.point_metrics(actual, pred, last, scale))
            if name == MODEL and quantiles is not None:
                row.update(_interval_metrics(actual, quantiles, forecaster.quantiles))
            rows.append(row)
            if span.name != "test":
                pooled.setdefault(name, []).append((actual, pred, last, scale))
                if name in missing:
                    skipped.setdefault(name, missing[name])
            else:
                step_rows.extend(
                    {"method": name, "step": h + 1, "mae": metrics.mae(actual[:, h], pred[:, h])}
                    for h in range(horizon)
                )
        frames.append(
            _forecast_table(
                span.name, dates, origins, horizon, actual, methods, quantiles, forecaster.quantiles
            )
        )
        if on_fold is not None:
            on_fold(done, len(spans), span.name)
    table = pd.DataFrame(rows)
    summary = (
        pd.DataFrame(
            [
                _unscored_row(name, f"{skipped[name]}, so it is not pooled over the folds")
                if name in skipped  # pooled over fewer folds, it would not be on the same points
                else _pooled_row(name, parts)
                for name, parts in pooled.items()
            ]
        )
        if pooled
        else table.iloc[:0]
    )
    return BacktestResult(
        folds=table,
        summary=summary,
        test=table[table["span"] == "test"].drop(columns=["span"]).reset_index(drop=True),
        forecasts=pd.concat(frames, ignore_index=True),
        by_step=pd.DataFrame(step_rows).pivot(index="step", columns="method", values="mae"),
        season=season,
        notes=notes,
    )


def _unavailable(baseline: Baseline, span: Span, origins: np.ndarray, dates: pd.DatetimeIndex) -> str | None:
    """Why ``baseline`` cannot forecast from every origin of ``span``, or ``None`` when it can."""
    first = int(origins.min())
    if first + 1 >= baseline.min_history:
        return None
    return (
        f"{baseline.name} needs {baseline.min_history} observations up to a forecast origin; "
        f"{span.name}'s first origin ({dates[first]:%Y-%m-%d}) has {first + 1}"
    )


def _unscored_row(name: str, reason: str) -> dict[str, Any]:
    """The row of a method that was not scored: no points, every metric NaN, and the reason."""
    metric_names = ("mae", "rmse", "mape", "smape", "mase", "directional_accuracy")
    return {"method": name, "points": 0, "unavailable": reason} | dict.fromkeys(metric_names, np.nan)


def _interval_metrics(
    actual: np.ndarray, quantiles: np.ndarray, levels: tuple[float, ...]
) -> dict[str, float]:
    out = {
        "pinball": float(
            np.mean([metrics.pinball(actual, quantiles[..., j], q) for j, q in enumerate(levels)])
        )
    }
    lower, upper = levels[0], levels[-1]
    out[f"coverage_{lower:g}_{upper:g}"] = metrics.coverage(actual, quantiles[..., 0], quantiles[..., -1])
    return out


def _pooled_row(name: str, parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, float]]) -> dict[str, Any]:
    actual = np.concatenate([a.ravel() for a, _, _, _ in parts])
    pred = np.concatenate([p.ravel() for _, p, _, _ in parts])
    last = np.concatenate([np.repeat(l, a.shape[1]) for a, _, l, _ in parts])
    scaled = np.concatenate([np.abs(a - p).ravel() / s for a, p, _, s in parts])
    row: dict[str, Any] = {"method": name, "points": actual.size, "unavailable": None}
    row.update(metrics.point_metrics(actual, pred, last, 1.0))
    row["mase"] = float(scaled.mean())
    return row


def _forecast_table(
    span: str,
    dates: pd.DatetimeIndex,
    origins: np.ndarray,
    horizon: int,
    actual: np.ndarray,
    methods: dict[str, np.ndarray],
    quantiles: np.ndarray | None,
    levels: tuple[float, ...],
) -> pd.DataFrame:
    steps = np.tile(np.arange(1, horizon + 1), len(origins))
    targets = np.repeat(origins, horizon) + steps
    table = {
        "span": span,
        "origin": dates[np.repeat(origins, horizon)],
        "date": dates[targets],
        "step": steps,
        "actual": actual.ravel(),
    }
    table.update({name: pred.ravel() for name, pred in methods.items()})
    if quantiles is not None:
        table.update({f"{MODEL}_q{q:g}": quantiles[..., j].ravel() for j, q in enumerate(levels)})
    return pd.DataFrame(table)
