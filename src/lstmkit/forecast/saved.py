"""Reading a saved forecaster's config back: every value checked before a forecaster is built from it.

A file lstmkit did not write, or one damaged since, must fail with one message that names the file and
what is wrong in it, never with an ``IndexError`` from deep inside, and never load and then forecast
infinity (a scale of 0). :func:`forecaster_from_config` checks the structure the loader reads (columns,
network, training settings, scaler states), lets the :class:`~lstmkit.forecast.Forecaster` constructor
check the plain settings, and reports any failure as ``ValueError("'<path>' is a damaged forecaster
file: ...")``. A missing key is left as a ``KeyError`` for :meth:`Forecaster.load` to name.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import TYPE_CHECKING, Any

from lstmkit.forecast.regressor import TrainConfig, device_problem
from lstmkit.forecast.scalers import Scaler, scaler_from_state

if TYPE_CHECKING:
    from lstmkit.forecast.forecaster import Forecaster

NETWORK_TYPES = ("custom", "stacked_lstm")
_ACCELERATOR = re.compile(r"(cuda|mps)(:\d+)?")  # a device a file may name that this machine may lack


def forecaster_from_config(
    cls: type[Forecaster], config: dict[str, Any], path: str | os.PathLike[str], model: Any
) -> Forecaster:
    """The fitted forecaster (scalers, columns, frequency; no network yet) that a saved ``config`` describes.

    Args:
        cls: the forecaster class to build.
        config: the bundle's config, as :meth:`Forecaster.save` writes it.
        path: the file, for messages.
        model: the custom network passed to :meth:`Forecaster.load`, or ``None``.

    Raises:
        KeyError: the config lacks a key.
        ValueError: a value of the wrong type, shape or range (the file is damaged), or a custom network
            is needed and ``model`` is ``None``.
    """
    damaged = f"'{path}' is a damaged forecaster file"
    try:
        network, columns = _network(config["network"]), _columns(config["columns"])
    except ValueError as err:
        raise ValueError(f"{damaged}: {err}") from err
    if network["type"] == "custom" and model is None:
        raise ValueError(
            f"'{path}' was saved with a custom network; pass it as Forecaster.load(path, model=...)"
        )
    try:
        forecaster = cls(
            lookback=config["lookback"],
            horizon=config["horizon"],
            target=columns[0],
            features=columns[1:],
            model=model,
            transform=config["transform"],
            transform_features=bool(config.get("transform_features", False)),
            scaler=config["scaler"],
            quantiles=config["quantiles"] or None,
            intervals=config["intervals"],
            units=network["units"],
            dropout=network["dropout"],
            season=config["season"],
            date_column=_optional_text("date_column", config["date_column"]),
            fill=config["fill"],
            train=_train(config["train"]) if "train" in config else None,  # older files lack it
        )
        forecaster.scaler_ = _scaler(config, "scaler_state", len(columns))
        forecaster.target_scaler_ = _scaler(config, "target_scaler_state", forecaster.horizon)
        forecaster.freq_ = _optional_text("freq", config["freq"])
    except (TypeError, ValueError) as err:
        raise ValueError(f"{damaged}: {err}") from err
    forecaster.columns_ = columns
    return forecaster


def _columns(columns: Any) -> list[str]:
    if not isinstance(columns, list) or not columns or not all(isinstance(c, str) for c in columns):
        raise ValueError(
            f"'columns' must be a non-empty list of column names, the target first, got {columns!r}"
        )
    return list(columns)


def _network(network: Any) -> dict[str, Any]:
    if not isinstance(network, dict):
        raise ValueError(
            f"'network' must be a mapping with type, units and dropout, got {type(network).__name__} "
            f"{network!r}"
        )
    if network["type"] not in NETWORK_TYPES:
        raise ValueError(f"'network' type must be one of {list(NETWORK_TYPES)}, got {network['type']!r}")
    return network


def _optional_text(name: str, value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{name!r} must be text or null, got {type(value).__name__} {value!r}")
    return value


def _train(train: Any) -> TrainConfig:
    """The training settings; an accelerator this machine lacks becomes the CPU (predicting needs none)."""
    if not isinstance(train, dict):
        raise ValueError(
            f"'train' must be a mapping of training settings, got {type(train).__name__} {train!r}"
        )
    known = [field.name for field in dataclasses.fields(TrainConfig)]
    unknown = sorted(str(key) for key in train if key not in known)
    if unknown:
        raise ValueError(f"'train' holds unknown setting(s) {unknown}; expected some of {known}")
    device = train.get("device", "cpu")
    if isinstance(device, str) and _ACCELERATOR.fullmatch(device) and device_problem(device) is not None:
        train = {**train, "device": "cpu"}
    return TrainConfig(**train)


def _scaler(config: dict[str, Any], key: str, columns: int) -> Scaler:
    try:
        return scaler_from_state(config[key], columns=columns)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{key!r}: {err}") from err
