"""Walk-forward backtest: span layout, refits, identical points for every method, and no leakage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from torch import nn

from lstmkit.forecast import Forecaster, TrainConfig
from lstmkit.forecast.backtest import MODEL, plan_spans
from lstmkit.forecast.baselines import default_baselines


def _series(n: int = 160, seed: int = 0) -> pd.Series:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = 10 + np.sin(2 * np.pi * t / 7) + 0.01 * t + 0.1 * rng.normal(size=n)
    return pd.Series(values, index=pd.date_range("2020-01-01", periods=n, freq="D"), name="y")


class CountingFactory:
    """A tiny linear model factory that counts how often the forecaster builds (refits) a model."""

    def __init__(self) -> None:
        self.builds = 0

    def __call__(self, input_size: int, outputs: int) -> nn.Module:
        self.builds += 1
        return nn.Sequential(nn.Flatten(), nn.LazyLinear(outputs))


def _forecaster(factory: CountingFactory | None = None, **kwargs: object) -> Forecaster:
    return Forecaster(
        lookback=7, horizon=2, model=factory or CountingFactory(), train=TrainConfig(epochs=3), **kwargs
    )  # type: ignore[arg-type]


def test_plan_spans_expanding_and_sliding() -> None:
    spans = plan_spans(
        100,
        min_train=10,
        folds=3,
        test_size=20,
        fold_size=10,
        horizon=2,
        window="expanding",
        train_size=None,
        refit_every=2,
    )
    assert [(s.name, s.train_start, s.train_end, s.eval_end, s.refit) for s in spans] == [
        ("fold1", 0, 50, 60, True),
        ("fold2", 0, 60, 70, False),
        ("fold3", 0, 70, 80, True),
        ("test", 0, 80, 100, True),
    ]
    sliding = plan_spans(
        100,
        min_train=10,
        folds=2,
        test_size=20,
        fold_size=10,
        horizon=2,
        window="sliding",
        train_size=30,
        refit_every=1,
    )
    assert [(s.train_start, s.train_end) for s in sliding] == [(30, 60), (40, 70), (50, 80)]


def test_plan_spans_too_short() -> None:
    with pytest.raises(
        ValueError, match=r"a series of 40 rows is too short.*lookback \+ horizon \+ test span"
    ):
        plan_spans(
            40,
            min_train=30,
            folds=2,
            test_size=10,
            fold_size=5,
            horizon=2,
            window="expanding",
            train_size=None,
            refit_every=1,
        )
    with pytest.raises(ValueError, match="unknown window 'rolling'"):
        plan_spans(
            40,
            min_train=3,
            folds=1,
            test_size=10,
            fold_size=5,
            horizon=2,
            window="rolling",
            train_size=None,
            refit_every=1,
        )


def test_result_tables_and_same_points_for_every_method() -> None:
    result = _forecaster().backtest(_series(), folds=2, test_size=20)
    assert list(result.folds["span"].unique()) == ["fold1", "fold2", "test"]
    methods = set(result.test["method"])
    assert methods == {MODEL, "persistence", "seasonal_naive(m=7)", "drift", "moving_average(k=7)"}
    assert result.folds.groupby("span")["points"].nunique().eq(1).all()  # same points for every method
    test = result.forecasts[result.forecasts["span"] == "test"]
    assert test["date"].min() >= pd.Timestamp("2020-01-01") + pd.Timedelta(days=140)
    assert (test["date"] - test["origin"]).dt.days.eq(test["step"]).all()
    assert result.season == 7
    assert list(result.by_step.index) == [1, 2]
    persistence = result.test.set_index("method").loc["persistence"]
    assert persistence["directional_accuracy"] == pytest.approx(0.5)


def test_refit_every_k_folds() -> None:
    factory = CountingFactory()
    _forecaster(factory).backtest(_series(), folds=4, test_size=20, fold_size=10, refit_every=2)
    assert factory.builds == 3  # folds 1 and 3, then the test span


def test_no_leakage_from_later_data() -> None:
    """Changing the final test span must not change anything measured before it."""
    clean = _series()
    tampered = clean.copy()
    tampered.iloc[-20:] = tampered.iloc[-20:] * 3 + 50
    a = _forecaster().backtest(clean, folds=2, test_size=20)
    b = _forecaster().backtest(tampered, folds=2, test_size=20)
    before = a.forecasts["span"] != "test"
    pd.testing.assert_frame_equal(a.forecasts[before], b.forecasts[before])
    # the first test origin sees only pre-test data: its forecasts are identical too
    first = a.forecasts[(a.forecasts["span"] == "test")].iloc[:2]
    pd.testing.assert_frame_equal(
        first.drop(columns="actual"), b.forecasts.loc[first.index].drop(columns="actual")
    )


def test_scaler_statistics_come_from_training_rows_only() -> None:
    levels = _series().to_frame().to_numpy()
    tampered = levels.copy()
    tampered[100:] += 1000.0
    a = _forecaster().fit_arrays(levels, end=100)
    b = _forecaster().fit_arrays(tampered, end=100)
    assert a.scaler_ is not None and b.scaler_ is not None and a.target_scaler_ is not None
    assert a.scaler_.state() == b.scaler_.state()
    assert a.target_scaler_.state() == b.target_scaler_.state()
    np.testing.assert_allclose(
        a.scaler_.center, levels[:100].mean(axis=0)
    )  # not the mean of the whole series


def test_fraction_and_bad_options() -> None:
    with pytest.raises(ValueError, match=r"test_size as a fraction must be in \(0, 1\), got 1.5"):
        _forecaster().backtest(_series(), test_size=1.5)
    with pytest.raises(ValueError, match="folds must be >= 0"):
        _forecaster().backtest(_series(), folds=-1)
    with pytest.raises(ValueError, match="too short"):
        _forecaster().backtest(_series(25), folds=3, test_size=20)


def test_sliding_window_and_quantile_metrics() -> None:
    result = _forecaster(quantiles=(0.1, 0.5, 0.9)).backtest(
        _series(), folds=1, test_size=20, window="sliding", train_size=60
    )
    row = result.test.set_index("method").loc[MODEL]
    assert 0.0 <= row["coverage_0.1_0.9"] <= 1.0 and row["pinball"] > 0
    assert {"lstm_q0.1", "lstm_q0.9"} <= set(result.forecasts.columns)
    assert result.folds["train_start"].iloc[0] == pd.Timestamp("2020-01-01") + pd.Timedelta(days=60)


def test_arima_baseline_joins_the_table_when_available() -> None:
    from lstmkit.forecast.baselines import arima_available

    if not arima_available():
        with pytest.raises(ImportError, match="needs statsmodels"):
            _forecaster().backtest(_series(100), folds=0, test_size=6, with_arima=True)
        return
    result = _forecaster().backtest(_series(100), folds=0, test_size=6, with_arima=True)
    assert "arima(1,1,1)" in set(result.test["method"])


def test_folds_report_the_training_dates_of_the_model_actually_used() -> None:
    series = _series()
    result = _forecaster().backtest(series, folds=4, test_size=20, fold_size=10, refit_every=2)
    model = result.folds[result.folds["method"] == MODEL].set_index("span")
    assert model.loc["fold2", "train_end"] == model.loc["fold1", "train_end"]  # fold 2 reuses fold 1's fit
    assert model.loc["fold3", "train_end"] > model.loc["fold2", "train_end"]
    baseline = result.folds[(result.folds["method"] != MODEL) & (result.folds["span"] == "fold2")]
    assert (baseline["train_end"] > model.loc["fold2", "train_end"]).all()


def test_seasonal_naive_without_a_season_of_history_is_unavailable_and_the_rest_is_scored() -> None:
    # season 12, 9 initial training rows: fold1's first origin (row 8) has 9 observations, fold2's has 17
    series = _series(35)
    result = _forecaster(season=12).backtest(series, folds=2, fold_size=8, test_size=10)
    seasonal = "seasonal_naive(m=12)"
    rows = result.folds.set_index(["span", "method"])
    fold1 = rows.loc[("fold1", seasonal)]
    assert fold1["unavailable"] == (
        f"{seasonal} needs 12 observations up to a forecast origin; fold1's first origin (2020-01-09) has 9"
    )
    assert fold1["points"] == 0
    assert np.isnan(fold1[["mae", "rmse", "mase", "directional_accuracy"]].astype(float)).all()
    for method in (MODEL, "persistence", "drift", "moving_average(k=12)"):
        assert rows.loc[("fold1", method), "points"] == 7 * 2
        assert np.isfinite(rows.loc[("fold1", method), "mase"])
        assert pd.isna(rows.loc[("fold1", method), "unavailable"])
    for span in ("fold2", "test"):  # scored where a season of history precedes every origin
        assert np.isfinite(rows.loc[(span, seasonal), "mase"])
        assert pd.isna(rows.loc[(span, seasonal), "unavailable"])
    pooled = result.summary.set_index("method")
    assert pooled.loc[seasonal, "unavailable"].endswith("has 9, so it is not pooled over the folds")
    assert np.isnan(pooled.loc[seasonal, "mase"]) and np.isfinite(pooled.loc["persistence", "mase"])
    assert any(note.startswith(f"{seasonal} needs 12 observations") for note in result.notes)
    # the other methods score exactly what they score without seasonal naive in the comparison
    others = [b for b in default_baselines(12) if b.name != seasonal]
    plain = _forecaster(season=12).backtest(series, folds=2, fold_size=8, test_size=10, baselines=others)
    shared = ["span", "method", "mae", "mase"]
    kept = result.folds[result.folds["method"] != seasonal][shared].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, plain.folds[shared])


def test_seasonal_naive_unavailable_on_the_test_span_leaves_the_test_scored() -> None:
    result = _forecaster(season=30).backtest(_series(30), folds=0, test_size=12)
    test = result.test.set_index("method")
    assert test.loc["seasonal_naive(m=30)", "unavailable"].endswith("test's first origin (2020-01-18) has 18")
    assert np.isfinite(test.drop(index="seasonal_naive(m=30)")["mase"]).all()
    assert result.by_step["seasonal_naive(m=30)"].isna().all()
    assert result.by_step[MODEL].notna().all()
