"""Walk-forward backtest: refits, identical points for every method, imputed targets, and no leakage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from torch import nn

from lstmkit.forecast import Forecaster, TrainConfig
from lstmkit.forecast.backtest import MODEL
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
    # season 12, 9 initial training rows: fold1's first origin (row 8) has 9 observations, fold2's has 17;
    # a 5-point moving average (not the default 12) keeps the comparison to seasonal naive alone
    series = _series(35)
    chosen = default_baselines(12, ma_window=5)
    result = _forecaster(season=12).backtest(series, folds=2, fold_size=8, test_size=10, baselines=chosen)
    seasonal = "seasonal_naive(m=12)"
    rows = result.folds.set_index(["span", "method"])
    fold1 = rows.loc[("fold1", seasonal)]
    assert fold1["unavailable"] == (
        f"{seasonal} needs 12 observations up to a forecast origin; fold1's first origin (2020-01-09) has 9"
    )
    assert fold1["points"] == 0
    assert np.isnan(fold1[["mae", "rmse", "mase", "directional_accuracy"]].astype(float)).all()
    for method in (MODEL, "persistence", "drift", "moving_average(k=5)"):
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
    others = [b for b in chosen if b.name != seasonal]
    plain = _forecaster(season=12).backtest(series, folds=2, fold_size=8, test_size=10, baselines=others)
    shared = ["span", "method", "mae", "mase"]
    kept = result.folds[result.folds["method"] != seasonal][shared].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, plain.folds[shared])


def test_seasonal_naive_unavailable_on_the_test_span_leaves_the_test_scored() -> None:
    result = _forecaster(season=30).backtest(_series(30), folds=0, test_size=12)
    test = result.test.set_index("method")
    short = ["seasonal_naive(m=30)", "moving_average(k=30)"]  # both need 30 observations up to an origin
    for name in short:
        assert test.loc[name, "unavailable"].endswith("test's first origin (2020-01-18) has 18")
        assert result.by_step[name].isna().all()
    assert np.isfinite(test.drop(index=short)["mase"]).all()
    assert result.by_step[MODEL].notna().all()


def test_a_moving_average_longer_than_the_history_is_unavailable_not_averaged_over_fewer_points() -> None:
    # 40 rows, folds of 8, test span of 10: the first origins are rows 13 (fold1), 21 (fold2) and 29 (test)
    chosen = default_baselines(None, ma_window=20)
    result = _forecaster().backtest(_series(40), folds=2, fold_size=8, test_size=10, baselines=chosen)
    name = "moving_average(k=20)"
    rows = result.folds.set_index(["span", "method"])
    reason = f"{name} needs 20 observations up to a forecast origin; fold1's first origin (2020-01-14) has 14"
    assert rows.loc[("fold1", name), "unavailable"] == reason and rows.loc[("fold1", name), "points"] == 0
    assert (
        f"{reason}: it is not scored there (n/a); the model and the other methods are still scored there"
        in (result.notes)
    )
    assert pd.isna(rows.loc[("fold2", name), "unavailable"])  # 22 observations up to row 21
    assert result.summary.set_index("method").loc[name, "unavailable"] == (
        f"{reason}, so it is not pooled over the folds"
    )
    test = result.forecasts[result.forecasts["span"] == "test"]
    series = _series(40).to_numpy()
    rows_of = (test["origin"] - pd.Timestamp("2020-01-01")).dt.days
    expected = [series[origin - 19 : origin + 1].mean() for origin in rows_of]
    np.testing.assert_allclose(test[name], expected)  # the mean of exactly 20 values


def test_a_custom_baseline_of_the_wrong_shape_is_named_in_the_error() -> None:
    from lstmkit.forecast import Baseline

    flat = Baseline("flat", lambda y, o, h: y[o])  # one value per origin, not (origins, horizon)
    with pytest.raises(
        ValueError,
        match=r"^baseline 'flat' returned forecasts of shape \(19,\), expected \(origins, horizon\) = "
        r"\(19, 2\)",
    ):
        _forecaster().backtest(_series(), folds=0, test_size=20, baselines=[flat])


def test_a_callback_that_cannot_be_called_is_refused_before_any_fit() -> None:
    factory = CountingFactory()
    with pytest.raises(
        TypeError, match=r"^on_fold must be a callable \(done, total, span name\) or None, got int 5$"
    ):
        _forecaster(factory).backtest(_series(), folds=1, test_size=20, on_fold=5)  # type: ignore[arg-type]
    assert factory.builds == 0
    seen: list[tuple[int, int, str]] = []
    _forecaster().backtest(_series(), folds=1, test_size=20, on_fold=lambda *done: seen.append(done))
    assert seen == [(1, 2, "fold1"), (2, 2, "test")]


def _flat_then_walk(flat: int, n: int) -> pd.Series:
    """A pegged series (constant for ``flat`` rows) that then moves as a random walk."""
    walk = 5.0 + np.cumsum(np.random.default_rng(0).normal(size=n - flat))
    values = np.r_[np.full(flat, 5.0), walk]
    return pd.Series(values, index=pd.date_range("2020-01-01", periods=n, freq="D"), name="y")


def test_a_constant_training_span_leaves_only_its_mase_undefined() -> None:
    # fold1 trains on rows [0, 40), all 5.0: no naive in-sample error, so no MASE scale there
    result = _forecaster().backtest(_flat_then_walk(40, 100), folds=2, fold_size=20, test_size=20)
    rows = result.folds.set_index(["span", "method"])
    fold1 = rows.loc["fold1"]
    assert fold1["mase"].isna().all()
    assert np.isfinite(fold1[["mae", "rmse", "smape"]].astype(float)).all().all()
    assert np.isfinite(rows.loc["fold2", "mase"].astype(float)).all()
    assert np.isfinite(result.test["mase"].astype(float)).all()
    assert any(
        note.startswith(
            "MASE is undefined on fold1: its training series (2020-01-01 .. 2020-02-09) is constant"
        )
        and note.endswith("the pooled MASE leaves fold1 out")
        for note in result.notes
    )
    # pooled over the folds where it is defined: fold2 alone here, for every method
    pooled = result.summary.set_index("method")["mase"].astype(float)
    pd.testing.assert_series_equal(pooled, rows.loc["fold2", "mase"].astype(float), check_names=False)
    assert (result.summary["points"] == 2 * fold1["points"].iloc[0]).all()  # other metrics pool both folds


def _gappy(n: int = 200, seed: int = 0) -> pd.Series:
    rng = np.random.default_rng(seed)
    index = pd.date_range("2020-01-01", periods=n, freq="D")
    walk = pd.Series(50 + np.cumsum(rng.normal(size=n)), index=index, name="y")
    return walk[rng.random(n) > 0.3]  # 30% of the days missing


@pytest.mark.parametrize("fill", ["ffill", "interpolate"])
def test_imputed_targets_are_scored_for_no_method(fill: str) -> None:
    observed = _gappy()
    result = _forecaster(fill=fill).backtest(observed, folds=1, fold_size=30, test_size=40)
    table = result.forecasts
    np.testing.assert_array_equal(table["imputed"], ~table["date"].isin(observed.index))
    assert table["imputed"].any()
    kept = table[~table["imputed"]]
    for span, rows in result.folds.groupby("span"):
        scored = kept[kept["span"] == span]
        assert (rows["points"] == len(scored)).all()  # the same observed points for every method
        for method, mae in rows.set_index("method")["mae"].items():
            assert mae == pytest.approx(np.mean(np.abs(scored["actual"] - scored[method])))
    test = kept[kept["span"] == "test"]
    assert result.by_step.loc[1, "persistence"] == pytest.approx(
        np.mean(np.abs(test["actual"] - test["persistence"])[test["step"] == 1])
    )
    excluded = int(table["imputed"].sum())
    assert any(
        note.startswith(f"left {excluded} target(s) on dates the fill policy filled in")
        for note in result.notes
    )


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["lstm", "p"], r"baseline name\(s\) \['lstm'\] are taken: the model is reported as 'lstm'"),
        (["actual"], r"baseline name\(s\) \['actual'\] are taken"),
        (
            ["p", "q", "p"],
            r"baseline names must be unique .*, got \['p'\] more than once in \['p', 'q', 'p'\]",
        ),
    ],
    ids=["model-name", "table-column", "duplicate"],
)
def test_baseline_names_must_not_replace_a_row(names: list[str], message: str) -> None:
    from lstmkit.forecast import Baseline, persistence

    factory = CountingFactory()
    with pytest.raises(ValueError, match=message):
        _forecaster(factory).backtest(
            _series(), folds=0, test_size=20, baselines=[Baseline(name, persistence) for name in names]
        )
    assert factory.builds == 0  # refused before any fit


def test_test_size_accepts_numpy_numbers_and_refuses_others() -> None:
    plain = _forecaster().backtest(_series(), folds=1, test_size=0.2)
    for size in (np.float32(0.2), np.float64(0.2)):
        assert (
            _forecaster().backtest(_series(), folds=1, test_size=size).test["points"].iloc[0]
            == (plain.test["points"].iloc[0])
        )
    counted = _forecaster().backtest(_series(), folds=1, test_size=np.int64(32))
    assert counted.test["points"].iloc[0] == plain.test["points"].iloc[0]  # 0.2 of 160 rows is 32
    with pytest.raises(TypeError, match=r"test_size must be a row count .* got bool True"):
        _forecaster().backtest(_series(), test_size=True)
    with pytest.raises(
        ValueError, match=r"test_size=0.001 of 160 rows gives a test span of 0 row\(s\), fewer than horizon=2"
    ):
        _forecaster().backtest(_series(), test_size=0.001)


def test_bad_span_options_fail_before_any_fit() -> None:
    factory = CountingFactory()
    with pytest.raises(TypeError, match=r"fold_size must be an integer, got float 10\.0"):
        _forecaster(factory).backtest(_series(), folds=2, test_size=20, fold_size=10.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="train_size must be >= 1, got 0"):
        _forecaster(factory).backtest(_series(), folds=2, test_size=20, window="sliding", train_size=0)
    with pytest.raises(ValueError, match=r"train_size must be at least .* = 9 rows, got 5"):
        _forecaster(factory).backtest(_series(), folds=2, test_size=20, window="sliding", train_size=5)
    with pytest.raises(ValueError, match="train_size applies to window='sliding' only"):
        _forecaster(factory).backtest(_series(), folds=2, test_size=20, train_size=50)
    assert factory.builds == 0


def _outage(n: int = 200, seed: int = 1) -> pd.Series:
    """A daily random walk with a 14-day outage (rows 128 to 141 missing)."""
    walk = 50 + np.cumsum(np.random.default_rng(seed).normal(size=n))
    series = pd.Series(walk, index=pd.date_range("2020-01-01", periods=n, freq="D"), name="y")
    return series.drop(series.index[128:142])


def test_a_fold_of_filled_in_dates_is_unscored_and_left_out_of_the_pools() -> None:
    # fold1 covers rows [130, 140): every target lies inside the outage
    result = _forecaster(fill="ffill").backtest(_outage(), folds=4, fold_size=10, test_size=30)
    reason = "every target of fold1 (2020-05-10 .. 2020-05-19) was filled in by the fill policy"
    fold1 = result.folds[result.folds["span"] == "fold1"]
    assert (fold1["points"] == 0).all() and (fold1["unavailable"] == reason).all()
    assert fold1[["mae", "rmse", "mase", "directional_accuracy"]].isna().all().all()
    assert f"{reason}: no method is scored there (n/a), and the pooled scores leave it out" in result.notes
    later = result.folds[result.folds["span"].isin(["fold2", "fold3", "fold4"])]
    kept = result.forecasts[result.forecasts["span"].isin(["fold2", "fold3", "fold4"])]
    kept = kept[~kept["imputed"]]
    summary = result.summary.set_index("method")
    for method, rows in later.groupby("method"):
        assert summary.loc[method, "points"] == rows["points"].sum() == len(kept)
        assert summary.loc[method, "mae"] == pytest.approx(np.mean(np.abs(kept["actual"] - kept[method])))
    assert result.test["unavailable"].isna().all() and result.test["points"].gt(0).all()


def test_a_test_span_of_filled_in_dates_is_an_error() -> None:
    series = _outage().reindex(pd.date_range("2020-01-01", periods=200, freq="D"))
    series.iloc[-30:] = np.nan  # nothing observed in the last 30 days
    with pytest.raises(
        ValueError,
        match=r"^every target of test \(2020-06-19 .. 2020-07-18\) was filled in by the fill policy; use a "
        "longer test span",
    ):
        _forecaster(fill="ffill").backtest(series, folds=0, test_size=30)


def test_the_mase_scale_counts_only_naive_errors_between_observed_dates() -> None:
    observed_series = _outage()
    result = _forecaster(fill="ffill").backtest(observed_series, folds=4, fold_size=10, test_size=30)
    fold2 = result.folds[(result.folds["span"] == "fold2") & (result.folds["method"] == "persistence")]
    filled = observed_series.reindex(pd.date_range("2020-01-01", periods=200, freq="D")).ffill()
    train = filled.iloc[:140]  # fold2 trains on rows [0, 140), the outage forward-filled at its end
    seen = train.index.isin(observed_series.index)
    both = seen[1:] & seen[:-1]
    scale = np.mean(np.abs(np.diff(train.to_numpy()))[both])
    assert fold2["mae"].iloc[0] / fold2["mase"].iloc[0] == pytest.approx(scale)
    shrunk = np.mean(np.abs(np.diff(train.to_numpy())))  # with the 12 zero steps of the fill
    assert shrunk < 0.95 * scale
