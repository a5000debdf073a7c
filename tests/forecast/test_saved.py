"""Reading a saved forecaster back: a damaged value is one ``ValueError`` naming the file, nothing else."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from lstmkit.forecast import Forecaster, TrainConfig
from lstmkit.forecast import forecaster as forecaster_module
from lstmkit.forecast.saved import forecaster_from_config
from lstmkit.utils.serialization import load_bundle, save_bundle


def _walk(n: int = 60) -> pd.Series:
    values = 10 + np.sin(np.arange(n) / 3.0)
    return pd.Series(values, index=pd.date_range("2020-01-01", periods=n, freq="D"), name="y")


def _saved(tmp_path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The tensors and config of a small fitted forecaster, as its file holds them."""
    Forecaster(lookback=4, horizon=2, units=(4,), train=TrainConfig(epochs=1)).fit(_walk()).save(
        tmp_path / "good.lstmkit"
    )
    return load_bundle(tmp_path / "good.lstmkit")


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"columns": []}, r"'columns' must be a non-empty list of column names, the target first, got \[\]"),
        ({"columns": "y"}, "'columns' must be a non-empty list of column names"),
        ({"network": "stacked_lstm"}, "'network' must be a mapping with type, units and dropout, got str"),
        ({"network": {"type": "gru", "units": [4], "dropout": 0.0}}, "'network' type must be one of"),
        (
            {"scaler_state": [1, 2]},
            "'scaler_state': a scaler state must be a mapping with kind, center and scale",
        ),
        (
            {"scaler_state": {"kind": "standard", "center": [0.0], "scale": [0.0]}},
            r"'scaler_state': a scaler state's scale must be finite and > 0, got \[0\.0\]",
        ),
        (
            {"scaler_state": {"kind": "standard", "center": [0.0, 1.0], "scale": [1.0, 1.0]}},
            r"'scaler_state': a scaler state needs one center and one scale per column \(1\), got 2",
        ),
        (
            {"target_scaler_state": {"kind": "standard", "center": [0.0], "scale": [1.0]}},
            r"'target_scaler_state': .* per column \(2\), got 1 center\(s\)",
        ),
        (
            {"scaler_state": {"kind": "standard", "center": ["a"], "scale": [1.0]}},
            r"'scaler_state': a scaler state's center must be a 1-D array of real numbers, got \['a'\]",
        ),
        (
            {"train": {"epochs": 1, "bogus": 1}},
            r"'train' holds unknown setting\(s\) \['bogus'\]; expected some of",
        ),
        ({"lookback": "4"}, "lookback must be an integer, got str '4'"),
        ({"freq": 5}, "'freq' must be text or null, got int 5"),
    ],
    ids=[
        "no-columns",
        "columns-str",
        "network-str",
        "network-type",
        "scaler-list",
        "scale-zero",
        "scaler-width",
        "target-scaler-width",
        "center-text",
        "train-key",
        "lookback-str",
        "freq-int",
    ],
)
def test_a_damaged_forecaster_file_is_one_value_error_naming_it(
    tmp_path: Path, patch: dict[str, object], message: str
) -> None:
    tensors, config = _saved(tmp_path)
    path = tmp_path / "damaged.lstmkit"
    save_bundle(path, tensors, {**config, **patch})
    with pytest.raises(ValueError, match=f"'{re.escape(str(path))}' is a damaged forecaster file: {message}"):
        Forecaster.load(path)


def test_a_forecaster_trained_on_an_absent_accelerator_loads_on_the_cpu(tmp_path: Path) -> None:
    tensors, config = _saved(tmp_path)
    train = dict(config["train"])  # type: ignore[call-overload]
    path = tmp_path / "gpu.lstmkit"
    save_bundle(path, tensors, {**config, "train": {**train, "device": "cuda:99"}})
    loaded = Forecaster.load(path)
    assert loaded.train.device == "cpu" and loaded.train.epochs == 1
    assert loaded.predict(_walk()).shape == (2, 1)


def test_forecaster_from_config_rebuilds_the_fitted_state(tmp_path: Path) -> None:
    _, config = _saved(tmp_path)
    rebuilt = forecaster_from_config(Forecaster, config, "f.lstmkit", None)
    assert rebuilt.columns_ == ["y"] and rebuilt.freq_ == "D"
    assert (rebuilt.lookback, rebuilt.horizon, rebuilt.units) == (4, 2, (4,))
    assert rebuilt.scaler_ is not None and rebuilt.scaler_.state() == config["scaler_state"]
    assert rebuilt.target_scaler_ is not None
    assert rebuilt.target_scaler_.state() == config["target_scaler_state"]
    assert rebuilt.regressor_ is None  # the network is the loader's job


def test_forecaster_from_config_leaves_a_missing_key_to_the_loader(tmp_path: Path) -> None:
    _, config = _saved(tmp_path)
    del config["lookback"]
    with pytest.raises(KeyError, match="lookback"):
        forecaster_from_config(Forecaster, config, "f.lstmkit", None)


def test_a_custom_network_must_be_passed(tmp_path: Path) -> None:
    _, config = _saved(tmp_path)
    config["network"] = {**config["network"], "type": "custom"}
    with pytest.raises(ValueError, match=r"^'f.lstmkit' was saved with a custom network; pass it as"):
        forecaster_from_config(Forecaster, config, "f.lstmkit", None)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    assert forecaster_from_config(Forecaster, config, "f.lstmkit", model).custom_model


@pytest.mark.parametrize(
    "key",
    [
        "columns",
        "date_column",
        "fill",
        "freq",
        "horizon",
        "intervals",
        "lookback",
        "network",
        "quantiles",
        "scaler",
        "scaler_state",
        "season",
        "target_scaler_state",
        "train",
        "transform",
        "transform_features",
    ],
)
def test_an_odd_value_anywhere_loads_or_is_a_value_error_naming_the_file(tmp_path: Path, key: str) -> None:
    tensors, config = _saved(tmp_path)
    path = tmp_path / "odd.lstmkit"
    for odd in (None, -1, 2.5, "x", [None], {"a": 1}):
        save_bundle(path, tensors, {**config, key: odd})
        try:
            Forecaster.load(path)
        except ValueError as err:
            assert str(err).startswith(f"'{path}'"), (odd, err)


def test_a_programming_error_while_loading_is_not_reported_as_a_damaged_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _saved(tmp_path)

    def broken(*args: object) -> Forecaster:
        raise AttributeError("'NoneType' object has no attribute 'horizon'")

    monkeypatch.setattr(forecaster_module, "forecaster_from_config", broken)
    with pytest.raises(AttributeError, match="no attribute 'horizon'"):
        Forecaster.load(tmp_path / "good.lstmkit")
