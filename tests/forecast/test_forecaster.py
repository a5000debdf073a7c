"""The Forecaster: learning beats the baselines where it should, save/load, intervals, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from lstmkit.forecast import Forecaster, TrainConfig
from lstmkit.forecast.backtest import MODEL
from lstmkit.utils.serialization import save_bundle


def _seasonal(n: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = 20 + 3 * np.sin(2 * np.pi * t / 12) + 0.05 * rng.normal(size=n)
    x = np.cos(2 * np.pi * t / 12)
    dates = pd.date_range("2000-01-01", periods=n, freq="MS").strftime("%Y-%m-%d")
    return pd.DataFrame({"date": dates, "y": y, "x": x})


def _small(**kwargs: object) -> Forecaster:
    settings: dict[str, object] = {"lookback": 12, "horizon": 3, "target": "y", "units": (16,)}
    settings.update(kwargs)
    settings.setdefault("train", TrainConfig(epochs=40, learning_rate=1e-2, batch_size=32))
    return Forecaster(**settings)  # type: ignore[arg-type]


def test_lstm_learns_a_seasonal_series_better_than_persistence() -> None:
    small = _small(units=(8,), train=TrainConfig(epochs=20, learning_rate=1e-2, batch_size=32))
    result = small.backtest(_seasonal(150), folds=0, test_size=30)
    mae = result.test.set_index("method")["mae"]
    assert mae[MODEL] < 0.5 * mae["persistence"], mae.to_dict()


def test_predict_returns_future_dates_and_quantiles() -> None:
    data = _seasonal(120)
    fc = _small(quantiles=(0.1, 0.5, 0.9), train=TrainConfig(epochs=2)).fit(data)
    out = fc.predict(data)
    assert list(out.index) == list(pd.date_range("2010-01-01", periods=3, freq="MS"))
    assert list(out.columns) == ["y", "q0.1", "q0.5", "q0.9"]
    np.testing.assert_array_equal(out["y"], out["q0.5"])
    assert (out["q0.1"] <= out["q0.5"]).all() and (out["q0.5"] <= out["q0.9"]).all()


@pytest.mark.parametrize("transform", ["none", "diff", "log_return", "pct_change"])
def test_save_load_round_trip(tmp_path: Path, transform: str) -> None:
    data = _seasonal(80)
    fc = _small(features=["x"], transform=transform, train=TrainConfig(epochs=1)).fit(data)
    fc.save(tmp_path / "model.lstmkit")
    loaded = Forecaster.load(tmp_path / "model.lstmkit")
    pd.testing.assert_frame_equal(fc.predict(data), loaded.predict(data))
    assert loaded.columns_ == ["y", "x"] and loaded.transform == transform


def test_predict_with_other_columns_is_refused(tmp_path: Path) -> None:
    data = _seasonal(80)
    fc = _small(features=["x"], train=TrainConfig(epochs=1)).fit(data)
    with pytest.raises(ValueError, match=r"feature column\(s\) \['x'\] not found"):
        fc.predict(data.drop(columns=["x"]))
    with pytest.raises(ValueError, match="predict needs at least lookback = 12 rows, got 5"):
        fc.predict(data.iloc[:5])


def test_load_refuses_other_kinds(tmp_path: Path) -> None:
    save_bundle(tmp_path / "other.lstmkit", {"w": torch.zeros(1)}, {"kind": "tsc_classifier"})
    with pytest.raises(ValueError, match="kind 'tsc_classifier', expected 'forecaster'"):
        Forecaster.load(tmp_path / "other.lstmkit")


def test_custom_module_and_wrong_output_width() -> None:
    data = _seasonal(80)
    custom = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    fc = _small(model=custom, train=TrainConfig(epochs=1)).fit(data)
    assert fc.predict(data).shape == (3, 1)
    wrong = _small(model=nn.Sequential(nn.Flatten(), nn.Linear(12, 5)), train=TrainConfig(epochs=1))
    with pytest.raises(ValueError, match=r"produced 5 outputs per window, expected horizon x quantiles = 3"):
        wrong.fit(data)


def test_custom_model_must_be_passed_again_on_load(tmp_path: Path) -> None:
    data = _seasonal(80)
    custom = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    _small(model=custom, train=TrainConfig(epochs=1)).fit(data).save(tmp_path / "m.lstmkit")
    with pytest.raises(ValueError, match="saved with a custom network; pass it"):
        Forecaster.load(tmp_path / "m.lstmkit")
    assert Forecaster.load(tmp_path / "m.lstmkit", model=custom).predict(data).shape == (3, 1)


def test_mc_dropout_intervals() -> None:
    data = _seasonal(80)
    fc = _small(
        quantiles=(0.05, 0.5, 0.95),
        intervals="mc_dropout",
        dropout=0.2,
        units=(8, 8),
        train=TrainConfig(epochs=2),
    ).fit(data)
    out = fc.predict(data)
    assert (out["q0.05"] < out["q0.95"]).all()
    with pytest.raises(ValueError, match="needs dropout > 0"):
        _small(quantiles=(0.1, 0.5, 0.9), intervals="mc_dropout")


def test_bad_settings() -> None:
    with pytest.raises(ValueError, match="unknown transform 'log'"):
        Forecaster(transform="log")
    with pytest.raises(ValueError, match="unknown scaler 'z'"):
        Forecaster(scaler="z")
    with pytest.raises(TypeError, match="lookback must be an integer"):
        Forecaster(lookback=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"quantiles must include 0.5"):
        Forecaster(quantiles=(0.1, 0.9))
    with pytest.raises(ValueError, match=r"strictly between 0 and 1"):
        Forecaster(quantiles=(0.0, 0.5))
    with pytest.raises(RuntimeError, match="before fit"):
        Forecaster().predict(_seasonal(50))


def test_too_short_series_and_nan_targets() -> None:
    with pytest.raises(ValueError, match=r"a series of 10 rows is too short for lookback=12 and horizon=3"):
        _small().fit(_seasonal(10))
    data = _seasonal(60)
    data.loc[5, "y"] = np.nan
    with pytest.raises(ValueError, match="choose a fill policy"):
        _small().fit(data)


def test_mc_dropout_without_dropout_is_refused() -> None:
    from lstmkit.forecast.intervals import mc_dropout_quantiles

    with pytest.raises(ValueError, match="need a model with dropout > 0"):
        mc_dropout_quantiles(nn.Linear(3, 2), torch.zeros(4, 3), (0.1, 0.5, 0.9), samples=5)


def test_any_lstmkit_model_can_be_plugged_in(tmp_path: Path) -> None:
    from lstmkit.layers import GRU, Dense
    from lstmkit.models import Sequential

    data = _seasonal(80)
    model = Sequential([GRU(8, input_shape=(12, 1)), Dense(3)])
    fc = _small(model=model, train=TrainConfig(epochs=1)).fit(data)
    assert fc.regressor_ is not None and fc.regressor_.module is not model.module  # a fresh copy per fit
    fc.save(tmp_path / "gru.lstmkit")
    loaded = Forecaster.load(tmp_path / "gru.lstmkit", model=model)
    pd.testing.assert_frame_equal(fc.predict(data), loaded.predict(data))


def test_default_network_is_built_from_lstmkit_layers() -> None:
    from lstmkit.layers import LSTM

    fc = _small(train=TrainConfig(epochs=1)).fit(_seasonal(60))
    assert fc.regressor_ is not None
    assert [type(m) for m in fc.regressor_.module.modules() if isinstance(m, LSTM)] == [LSTM]


def test_transform_features_applies_the_transform_to_covariates(tmp_path: Path) -> None:
    data = _seasonal(80)
    fc = _small(features=["x"], transform="diff", transform_features=True, train=TrainConfig(epochs=1)).fit(
        data
    )
    assert fc.scaler_ is not None and fc.scaler_.center is not None
    assert fc.scaler_.center[1] == pytest.approx(np.diff(data["x"].to_numpy()).mean())
    fc.save(tmp_path / "m.lstmkit")
    loaded = Forecaster.load(tmp_path / "m.lstmkit")
    assert loaded.transform_features
    pd.testing.assert_frame_equal(fc.predict(data), loaded.predict(data))


def test_non_finite_forecasts_are_an_error_not_a_score(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _seasonal(80)
    fc = _small(train=TrainConfig(epochs=1)).fit(data)
    assert fc.regressor_ is not None
    diverged = lambda x: np.full((len(x), fc.horizon), np.nan)  # noqa: E731 - a fit gone to NaN
    monkeypatch.setattr(fc.regressor_, "predict", diverged)
    with pytest.raises(ValueError, match=r"3 of 3 forecast values are NaN or infinite: training diverged"):
        fc.predict(data)
    monkeypatch.setattr(Forecaster, "fit_arrays", lambda self, *a, **k: None)  # keep the diverged network
    with pytest.raises(ValueError, match="forecast values are NaN or infinite"):
        fc.backtest(data, folds=0, test_size=10)


def test_interpolation_never_reads_past_a_backtest_origin() -> None:
    # a gap at a test origin: interpolating it would read the next value; the backtest fills forward
    dates = pd.date_range("2020-01-01", periods=120, freq="D")
    y = pd.Series(np.linspace(10.0, 20.0, 120), index=dates, name="y")
    y.iloc[100] = np.nan

    def from_origin(series: pd.Series) -> np.ndarray:
        torch.manual_seed(0)
        fc = Forecaster(lookback=5, horizon=1, units=(2,), fill="interpolate", train=TrainConfig(epochs=1))
        result = fc.backtest(series, folds=0, test_size=20)
        assert any("filled gaps forward, not by interpolation" in note for note in result.notes)
        table = result.forecasts
        return table[table.origin == dates[100]][[MODEL, "persistence"]].to_numpy()

    later = y.copy()
    later.iloc[101] = 1000.0  # only a value after the origin changes
    np.testing.assert_array_equal(from_origin(y), from_origin(later))
    assert from_origin(y)[0, 1] == pytest.approx(y.iloc[99])  # persistence: the last value before the gap


def test_a_forecaster_file_whose_config_lacks_a_key_is_a_value_error(tmp_path: Path) -> None:
    from lstmkit.utils.serialization import load_bundle

    fc = _small(train=TrainConfig(epochs=1)).fit(_seasonal(60))
    fc.save(tmp_path / "fc.lstmkit")
    tensors, config = load_bundle(tmp_path / "fc.lstmkit")
    del config["network"]
    save_bundle(tmp_path / "damaged.lstmkit", tensors, config)
    with pytest.raises(ValueError, match="is a damaged forecaster file: its config lacks the key 'network'"):
        Forecaster.load(tmp_path / "damaged.lstmkit")


def _walk(n: int = 60) -> pd.Series:
    values = 10 + np.sin(np.arange(n) / 3.0)
    return pd.Series(values, index=pd.date_range("2020-01-01", periods=n, freq="D"), name="y")


def test_mc_dropout_forecasts_are_reproducible_and_survive_save_load(tmp_path: Path) -> None:
    series = _walk()
    fc = Forecaster(
        lookback=4,
        horizon=2,
        quantiles=(0.1, 0.5, 0.9),
        intervals="mc_dropout",
        dropout=0.3,
        units=(4,),
        train=TrainConfig(epochs=1, seed=3),
    ).fit(series)
    first = fc.predict(series)
    pd.testing.assert_frame_equal(fc.predict(series), first)
    fc.save(tmp_path / "mc.lstmkit")
    pd.testing.assert_frame_equal(Forecaster.load(tmp_path / "mc.lstmkit").predict(series), first)


def test_backtest_keeps_the_fitted_model() -> None:
    series = _walk(80)
    fc = Forecaster(lookback=4, horizon=2, units=(4,), train=TrainConfig(epochs=2, learning_rate=0.05))
    before = fc.fit(series).predict(series)
    fc.backtest(series, folds=1, test_size=10)
    pd.testing.assert_frame_equal(fc.predict(series), before)


def test_load_restores_the_training_settings(tmp_path: Path) -> None:
    train = TrainConfig(epochs=1, batch_size=8, learning_rate=0.02, seed=7)
    fc = Forecaster(lookback=4, horizon=2, units=(4,), train=train).fit(_walk())
    fc.save(tmp_path / "f.lstmkit")
    assert Forecaster.load(tmp_path / "f.lstmkit").train == train


def test_predict_refuses_a_dropped_last_row() -> None:
    frame = pd.DataFrame({"y": np.arange(30.0), "x": np.arange(30.0)}, index=_walk(30).index)
    settings = {"target": "y", "features": ["x"], "units": (4,), "train": TrainConfig(epochs=1)}
    fc = Forecaster(lookback=4, horizon=2, fill="drop", **settings).fit(frame)  # type: ignore[arg-type]
    frame.iloc[-1, 1] = np.nan  # the covariate of the last day is not published yet
    with pytest.raises(ValueError, match=r"last 1 row\(s\) of the data \(2020-01-30 00:00:00\) hold a NaN"):
        fc.predict(frame)


@pytest.mark.parametrize(
    ("settings", "error", "message"),
    [
        ({"epochs": 0}, ValueError, "epochs must be >= 1, got 0"),
        ({"epochs": 2.5}, TypeError, "epochs must be an integer"),
        ({"batch_size": 0}, ValueError, "batch_size must be >= 1, got 0"),
        ({"validation_fraction": 1.0}, ValueError, r"validation_fraction must be in \[0, 1\), got 1.0"),
        ({"learning_rate": -1.0}, ValueError, "learning_rate must be a positive number, got -1.0"),
        ({"seed": -1}, ValueError, r"seed must be an integer in \[0, 2\*\*63 - 1\], got -1"),
        ({"seed": 2**63}, ValueError, rf"seed must be an integer in \[0, 2\*\*63 - 1\], got {2**63}"),
        ({"seed": True}, TypeError, r"seed must be an integer in \[0, 2\*\*63 - 1\], got bool True"),
        (
            {"device": "foo"},
            ValueError,
            "device 'foo' is not a device this machine can train on; expected one of cpu",
        ),
        ({"device": "meta"}, ValueError, "device 'meta' is not a device this machine can train on"),
        ({"device": "cuda:99"}, ValueError, "device 'cuda:99' is not a device this machine can train on"),
        (
            {"device": 0},
            TypeError,
            "device must be a string such as 'cpu' or 'cuda:0', or a torch.device, got int 0",
        ),
    ],
    ids=[
        "epochs-zero",
        "epochs-float",
        "batch-zero",
        "validation-one",
        "negative-lr",
        "seed-negative",
        "seed-too-large",
        "seed-bool",
        "device-unknown",
        "device-meta",
        "device-absent",
        "device-int",
    ],
)
def test_train_config_is_validated(settings: dict[str, object], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        TrainConfig(**settings)  # type: ignore[arg-type]


def test_features_quantiles_and_units_must_be_sequences() -> None:
    with pytest.raises(TypeError, match=r"features must be a list of column names such as \['x'\]"):
        Forecaster(features="x")
    with pytest.raises(ValueError, match=r"features must name each column once, got \['x'\]"):
        Forecaster(features=["x", "x"])
    with pytest.raises(TypeError, match="quantiles must be a sequence of levels"):
        Forecaster(quantiles=0.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="units must be a sequence of layer sizes"):
        Forecaster(units=8)  # type: ignore[arg-type]


def test_row_minimums_agree_with_min_rows_and_the_docs() -> None:
    fc = Forecaster(lookback=1, horizon=1, units=(2,), train=TrainConfig(epochs=1))
    assert fc.min_rows() == 2
    series = _walk(2)
    fc.fit(series)  # exactly min_rows() rows
    three_steps = Forecaster(lookback=1, horizon=3, units=(2,), train=TrainConfig(epochs=1)).fit(_walk(8))
    out = three_steps.predict(series.iloc[-1:])  # predict needs only lookback rows
    assert out.index[0] == pd.Timestamp("2020-01-03") and len(out) == 3


def test_cuda_is_refused_at_once_on_a_machine_without_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(
        ValueError, match=r"^device 'cuda' is not a device this machine can train on; expected one of cpu$"
    ):
        TrainConfig(device="cuda")  # even a config never used for fitting


def test_train_config_takes_a_torch_device_and_stores_its_name() -> None:
    config = TrainConfig(device=torch.device("cpu"))
    assert config.device == "cpu" and config == TrainConfig(device="cpu")


@pytest.mark.parametrize(
    ("settings", "error", "message"),
    [
        (
            {"fill": "zero"},
            ValueError,
            "^unknown fill 'zero'; expected one of 'drop', 'ffill', 'interpolate', 'none'$",
        ),
        (
            {"model": "lstm"},
            TypeError,
            r"^model must be None \(the default stacked LSTM\), a torch.nn.Module, an lstmkit Model or a "
            r"factory \(input_size, outputs\) -> nn.Module, got str 'lstm'$",
        ),
        ({"model": 5}, TypeError, "^model must be None .* got int 5$"),
        (
            {"on_epoch": 3},
            TypeError,
            r"^on_epoch must be a callable \(epoch, epochs, train_loss, val_loss\) or None, got int 3$",
        ),
        (
            {"quantiles": ("a", 0.5)},
            TypeError,
            r"^quantiles must be numbers such as \(0.1, 0.5, 0.9\), got str 'a' in \('a', 0.5\)$",
        ),
        ({"quantiles": (True, 0.5)}, TypeError, "^quantiles must be numbers .* got bool True in"),
        ({"quantiles": [None, 0.5]}, TypeError, "^quantiles must be numbers .* got NoneType None in"),
    ],
    ids=["fill", "model-text", "model-int", "on-epoch", "quantile-text", "quantile-bool", "quantile-none"],
)
def test_settings_are_checked_when_the_forecaster_is_built(
    settings: dict[str, object], error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        Forecaster(**settings)  # type: ignore[arg-type]


def test_quantile_levels_may_be_numpy_numbers() -> None:
    assert Forecaster(quantiles=np.array([0.9, 0.5, 0.1])).quantiles == (0.1, 0.5, 0.9)  # type: ignore[arg-type]


class _PerStepOutput(nn.Module):
    """A model that returns its LSTM's whole sequence ``(B, lookback, 1)``: one output per input step."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(1, 1, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lstm(x)[0]


def test_a_per_step_output_is_refused_even_when_lookback_equals_horizon() -> None:
    # (B, 2, 1) has the 2 values per window that horizon=2 asks for, but they are the LSTM's outputs at the
    # two input steps, not forecasts of the two steps ahead
    fc = Forecaster(lookback=2, horizon=2, model=_PerStepOutput(), train=TrainConfig(epochs=1))
    with pytest.raises(
        ValueError,
        match=r"^the model returned outputs of shape \(1, 2, 1\) for 1 window\(s\), expected \(windows, "
        r"horizon x quantiles\) = \(1, 2\); an output per input step",
    ):
        fc.fit(_walk())


def test_a_three_dimensional_output_is_refused_with_the_fix() -> None:
    per_step_quantiles = nn.Sequential(nn.Flatten(), nn.Linear(4, 6), nn.Unflatten(1, (2, 3)))  # (B, 2, 3)
    fc = Forecaster(
        lookback=4,
        horizon=2,
        quantiles=(0.1, 0.5, 0.9),
        model=per_step_quantiles,
        train=TrainConfig(epochs=1),
    )
    with pytest.raises(ValueError, match=r"or flatten an output laid out as \(B, horizon, quantiles\)$"):
        fc.fit(_walk())
    flat = nn.Sequential(per_step_quantiles, nn.Flatten())  # the fix the message gives
    fitted = Forecaster(
        lookback=4, horizon=2, quantiles=(0.1, 0.5, 0.9), model=flat, train=TrainConfig(epochs=1)
    ).fit(_walk())
    assert fitted.predict(_walk()).shape == (2, 4)


def test_a_transform_undefined_on_a_column_names_it_before_any_fit() -> None:
    frame = pd.DataFrame(
        {"y": np.linspace(1.0, 2.0, 40), "x": np.linspace(-1.0, 1.0, 40)}, index=_walk(40).index
    )
    calls: list[int] = []
    settings: dict[str, object] = {"target": "y", "features": ["x"], "transform": "log_return", "units": (2,)}
    settings["train"] = TrainConfig(epochs=1)
    settings["on_epoch"] = lambda *progress: calls.append(1)
    fc = Forecaster(lookback=4, horizon=2, transform_features=True, **settings)  # type: ignore[arg-type]
    message = r"^transform 'log_return' needs positive values, got minimum -1\.0 in column 'x'; use 'diff'"
    with pytest.raises(ValueError, match=message):
        fc.fit(frame)
    with pytest.raises(ValueError, match=message):
        fc.backtest(frame, folds=0, test_size=10)
    assert calls == []  # refused before any training
    Forecaster(lookback=4, horizon=2, **settings).fit(frame)  # type: ignore[arg-type]  # x stays in levels
    target = frame.assign(y=frame["y"] - 1.5)
    with pytest.raises(ValueError, match=r"got minimum -0\.5 in column 'y'"):
        Forecaster(lookback=4, horizon=2, **settings).fit(target)  # type: ignore[arg-type]


@pytest.mark.parametrize("scaler", ["none", "standard"])
def test_a_diverged_forecast_advises_scaling_only_an_unscaled_series(
    scaler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _seasonal(60)
    fc = _small(scaler=scaler, train=TrainConfig(epochs=1)).fit(data)
    monkeypatch.setattr(fc.regressor_, "predict", lambda x: np.full((len(x), 3), np.inf))
    with pytest.raises(ValueError, match=rf"NaN or infinite.*scaler='{scaler}'") as info:
        fc.predict(data)
    assert ("scale the series" in str(info.value)) == (scaler == "none")
