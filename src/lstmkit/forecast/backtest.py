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
observations up to an origin, the moving average ``window``) is reported as unavailable on that span, with
the reason, rather than scored on fewer points or allowed to fail the backtest; the model and the other
baselines are still scored there. Pooled over the folds, such a baseline is unavailable too: its pool
would not cover the same points as the others'.

Targets on rows that the fill policy filled in (``fill='ffill'`` or ``'interpolate'``:
:attr:`PreparedData.imputed`) are not observations: no method is scored against them, so every method is
scored on the same observed points (persistence would otherwise score a zero error on a forward fill),
and the MASE scale counts only the naive errors between two observed rows. A fold whose every target was
filled in is scored for no method (n/a, with a note) and left out of the pooled scores; a test span without
an observed target is an error. A span whose training series is constant has no MASE scale: its MASE is
NaN (n/a), with a note, the other metrics are scored, and the pooled MASE covers the folds where it is
defined.
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
from lstmkit.forecast.spans import Span, plan_spans
from lstmkit.utils.validation import check_positive_int

MODEL = "lstm"
# columns of the forecasts table that a baseline's name must not replace (besides MODEL and its quantiles)
_TABLE_COLUMNS = ("span", "origin", "date", "step", "actual", "imputed")
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


@dataclass
class BacktestResult:
    """Everything a backtest measured.

    Attributes:
        folds: one row per (span, method) with the span's dates, its scored points (targets on imputed rows
            left out) and MAE, RMSE, MAPE, sMAPE, MASE (NaN where the training span is constant between
            observed rows), directional accuracy (and coverage / pinball for the model with intervals). The
            model's ``train_start`` / ``train_end`` are those of the fit it used (an earlier span's when
            ``refit_every > 1``). A baseline unavailable on a span (too little history before its first
            origin), or any method on a fold whose every target was filled in, has 0 points, NaN metrics
            and the reason in ``unavailable`` (``None`` elsewhere).
        summary: the walk-forward folds pooled (folds without an observed target left out), one row per
            method (unavailable, with the reason, for a baseline unavailable on any pooled fold).
        test: the final test span, one row per method (the honest headline).
        forecasts: long table: span, origin date, target date, step, actual, ``imputed`` (the actual was
            filled in, not observed, and is not scored), every method's forecast.
        by_step: MAE per horizon step and method on the final test span.
        season: the season used by seasonal naive (or ``None``).
        notes: data-cleaning notes, then one note per span and baseline left unscored, per fold without an
            observed target, per span without a MASE scale, and on the targets left out as imputed.
    """

    folds: pd.DataFrame
    summary: pd.DataFrame
    test: pd.DataFrame
    forecasts: pd.DataFrame
    by_step: pd.DataFrame
    season: int | None
    notes: list[str]


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
        test_size: rows of the final test span (an integer, numpy integers included), or a fraction of the
            series in (0, 1) (any real number, e.g. ``np.float32(0.2)``).
        fold_size: rows per fold (default: as many as the test span, shrunk to fit).
        window: ``'expanding'`` (train on everything before) or ``'sliding'`` (the last ``train_size`` rows).
        train_size: rows of a sliding training window, at least :meth:`Forecaster.min_rows` (default: the
            initial training span); only with ``window='sliding'``.
        refit_every: refit the model every k folds (always before the test span).
        stride: step between forecast origins.
        baselines: baselines to compare (default: :func:`default_baselines` for the inferred season); their
            names must be unique and differ from the model's (``'lstm'``).
        with_arima: add the ARIMA baseline (needs statsmodels).
        on_fold: callback ``(done, total, span name)`` after each span, or ``None``.

    Returns:
        A :class:`BacktestResult`.

    Raises:
        TypeError: an option of the wrong type (``test_size`` neither an integer nor a real number, a
            ``fold_size`` that is not an integer, a baseline that is not a :class:`Baseline`, an
            ``on_fold`` that is not callable), or a baseline whose forecasts are not numbers.
        ValueError: an option out of range, a series too short for the layout, baseline names that clash,
            a baseline whose forecasts are not ``(S, H)`` finite numbers, or a test span whose every target
            is an imputed row.
    """
    if on_fold is not None and not callable(on_fold):
        raise TypeError(
            "on_fold must be a callable (done, total, span name) or None, "
            f"got {type(on_fold).__name__} {on_fold!r}"
        )
    check_positive_int("folds", folds, minimum=0)
    check_positive_int("refit_every", refit_every)
    check_positive_int("stride", stride)
    if baselines is not None:
        _check_baselines(baselines)
    forecaster = copy.copy(forecaster)  # fit_arrays rebinds model and scalers; the caller's are kept
    prepared = forecaster.prepare(data, causal=True)  # no fill may read past a forecast's origin
    levels = prepared.frame.to_numpy()
    n, horizon = len(levels), forecaster.horizon
    spans = plan_spans(
        n,
        min_train=forecaster.min_rows(),
        folds=folds,
        test_size=test_size,
        fold_size=fold_size,
        horizon=horizon,
        window=window,
        train_size=train_size,
        refit_every=refit_every,
    )
    season = forecaster.season_for(prepared.freq)
    y, dates = levels[:, 0], pd.DatetimeIndex(prepared.frame.index)
    observed = ~dates.isin(pd.DatetimeIndex(prepared.imputed))  # (N,) False where the target was filled in
    excluded: dict[str, int] = {}  # span -> targets left out as imputed
    rows: list[dict[str, Any]] = []
    frames: list[pd.DataFrame] = []
    step_rows: list[dict[str, Any]] = []
    pooled: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray, float]]] = {}  # method -> its folds
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
        targets = origins[:, None] + np.arange(1, horizon + 1)  # (S, H)
        actual, scored = y[targets], observed[targets]  # scored: the targets that were observed
        imputed_span = _all_imputed(span, scored, dates)  # why nothing can be scored here, or None
        if imputed_span is not None:
            if span.name == "test":
                raise ValueError(f"{imputed_span}; use a longer test span or data with fewer gaps there")
            notes.append(
                f"{imputed_span}: no method is scored there (n/a), and the pooled scores leave it out"
            )
        elif not scored.all():
            excluded[span.name] = int((~scored).sum())
        last = np.broadcast_to(y[origins][:, None], actual.shape)[scored]  # origin level per scored point
        train = slice(span.train_start, span.train_end)
        scale = np.nan if imputed_span else _mase_scale(y[train], observed[train], span, dates, notes)
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
                if imputed_span is None:  # else no method is scored there anyway
                    missing[baseline.name] = reason
                    notes.append(
                        f"{reason}: it is not scored there (n/a); the model and the other methods are "
                        "still scored there"
                    )
        for name, pred in methods.items():
            trained = fitted if name == MODEL else span
            row = {
                "span": span.name,
                "method": name,
                "train_start": dates[trained.train_start],
                "train_end": dates[trained.train_end - 1],
                "eval_start": dates[span.eval_start],
                "eval_end": dates[span.eval_end - 1],
                "points": int(scored.sum()),
                "unavailable": None,
            }
            unscored = imputed_span or missing.get(name)  # why nothing is scored, or None
            if unscored is not None:
                row |= _unscored_row(name, unscored)
            else:
                row.update(metrics.point_metrics(actual[scored], pred[scored], last, scale))
                if name == MODEL and quantiles is not None:
                    row.update(_interval_metrics(actual[scored], quantiles[scored], forecaster.quantiles))
            rows.append(row)
            if span.name != "test":
                parts = pooled.setdefault(name, [])
                if imputed_span is None:
                    parts.append((actual[scored], pred[scored], last, scale))
                if name in missing:
                    skipped.setdefault(name, missing[name])
            else:  # an unscored method counts no point (its forecasts are NaN placeholders): NaN MAE
                counted = scored if unscored is None else np.zeros_like(scored)
                step_rows.extend(
                    {"method": name, "step": h + 1, "mae": _step_mae(actual[:, h], pred[:, h], counted[:, h])}
                    for h in range(horizon)
                )
        frames.append(
            _forecast_table(
                span.name, dates, origins, actual, ~scored, methods, quantiles, forecaster.quantiles
            )
        )
        if on_fold is not None:
            on_fold(done, len(spans), span.name)
    if excluded:
        counts = ", ".join(f"{count} in {name}" for name, count in excluded.items())
        notes.append(
            f"left {sum(excluded.values())} target(s) on dates the fill policy filled in out of every "
            f"method's score ({counts}): they are not observations; every method is scored on the same "
            "observed points"
        )
    table = pd.DataFrame(rows)
    summary = (
        pd.DataFrame(
            [
                _unscored_row(name, f"{skipped[name]}, so it is not pooled over the folds")
                if name in skipped  # pooled over fewer folds, it would not be on the same points
                else _pooled_row(name, parts)
                if parts
                else _unscored_row(name, "no fold has an observed target: every one was filled in")
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


def _check_baselines(baselines: list[Baseline]) -> None:
    """Refuse baselines that are not :class:`Baseline` or whose names would replace another row or column."""
    for baseline in baselines:
        if not isinstance(baseline, Baseline):
            raise TypeError(f"baselines must be Baseline objects, got {type(baseline).__name__} {baseline!r}")
    names = [baseline.name for baseline in baselines]
    taken = [name for name in names if name in (MODEL, *_TABLE_COLUMNS) or name.startswith(f"{MODEL}_q")]
    if taken:
        raise ValueError(
            f"baseline name(s) {taken} are taken: the model is reported as {MODEL!r} and the forecasts table "
            f"has columns {list(_TABLE_COLUMNS)}; give the baseline another name"
        )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(
            f"baseline names must be unique (each names a row and a column), got {repeated} more than once "
            f"in {names}"
        )


def _all_imputed(span: Span, scored: np.ndarray, dates: pd.DatetimeIndex) -> str | None:
    """Why nothing can be scored on ``span`` (every target was filled in), or ``None`` when something can."""
    if scored.any():
        return None
    first, last = dates[span.eval_start], dates[span.eval_end - 1]
    return (
        f"every target of {span.name} ({first:%Y-%m-%d} .. {last:%Y-%m-%d}) was filled in by the fill policy"
    )


def _mase_scale(
    y_train: np.ndarray, observed: np.ndarray, span: Span, dates: pd.DatetimeIndex, notes: list[str]
) -> float:
    """The span's MASE denominator over observed rows, or NaN (with a note naming the span) if it is 0.

    Only the naive errors between two consecutive observed rows count (:func:`metrics.naive_errors`): a
    forward-filled stretch would add errors of exactly 0 and shrink the scale.
    """
    errors = metrics.naive_errors(y_train, observed=observed)
    if errors.size and errors.max() > 0.0:
        return float(errors.mean())
    pooled = "" if span.name == "test" else f"; the pooled MASE leaves {span.name} out"
    notes.append(
        f"MASE is undefined on {span.name}: its training series ({dates[span.train_start]:%Y-%m-%d} .. "
        f"{dates[span.train_end - 1]:%Y-%m-%d}) is constant between consecutive observed dates, so the naive "
        f"in-sample error is 0; its MASE is n/a and the other metrics are scored{pooled}"
    )
    return float("nan")


def _step_mae(actual: np.ndarray, pred: np.ndarray, scored: np.ndarray) -> float:
    """MAE over the scored points of one horizon step (NaN when none is scored)."""
    return metrics.mae(actual[scored], pred[scored]) if scored.any() else float("nan")


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
    """One method's folds pooled; MASE over the folds whose scale is defined (NaN if none is)."""
    actual = np.concatenate([a for a, _, _, _ in parts])
    pred = np.concatenate([p for _, p, _, _ in parts])
    last = np.concatenate([l for _, _, l, _ in parts])
    row: dict[str, Any] = {"method": name, "points": actual.size, "unavailable": None}
    row.update(metrics.point_metrics(actual, pred, last, 1.0))
    scaled = [np.abs(a - p) / s for a, p, _, s in parts if np.isfinite(s)]
    row["mase"] = float(np.concatenate(scaled).mean()) if scaled else float("nan")
    return row


def _forecast_table(
    span: str,
    dates: pd.DatetimeIndex,
    origins: np.ndarray,
    actual: np.ndarray,
    imputed: np.ndarray,
    methods: dict[str, np.ndarray],
    quantiles: np.ndarray | None,
    levels: tuple[float, ...],
) -> pd.DataFrame:
    horizon = actual.shape[1]
    steps = np.tile(np.arange(1, horizon + 1), len(origins))
    targets = np.repeat(origins, horizon) + steps
    table = {
        "span": span,
        "origin": dates[np.repeat(origins, horizon)],
        "date": dates[targets],
        "step": steps,
        "actual": actual.ravel(),
        "imputed": imputed.ravel(),
    }
    table.update({name: pred.ravel() for name, pred in methods.items()})
    if quantiles is not None:
        table.update({f"{MODEL}_q{q:g}": quantiles[..., j].ravel() for j, q in enumerate(levels)})
    return pd.DataFrame(table)
