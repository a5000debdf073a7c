"""The :class:`Forecaster`: windows, scaling, transform, model, and the way back to original units.

Fitting on the rows ``[start, end)`` of a level matrix ``Y`` (target in column 0, covariates after it):

    R = Y with its target column (and, with transform_features, every column) replaced by its transform r_t
    scaler fit on R[start:end] only;  Z = scaler(R)
    windows X_t = Z[t - lookback + 1 : t + 1]      for origins t < end - horizon
    targets c_{t,h} = change(y_t -> y_{t+h}),  h = 1..horizon, standardised per step on the same rows
    model: X_t -> ĉ_{t,1..H}  (or its quantiles)
    forecast ŷ_{t+h} = invert(ĉ_{t,h}, anchor y_t)

Nothing after ``end`` reaches the scalers or the model: the backtest calls :meth:`Forecaster.fit_arrays`
inside each fold. Prediction at origin ``t`` uses only rows up to ``t``.

Example:
    >>> idx = pd.date_range("2020-01-01", periods=80, freq="D")
    >>> series = pd.Series(np.sin(np.arange(80) / 3.0) + 2.0, index=idx, name="y")
    >>> fc = Forecaster(lookback=8, horizon=2, units=(8,), train=TrainConfig(epochs=2))
    >>> fc.fit(series).predict(series).shape
    (2, 1)
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from torch import nn

from lstmkit.forecast import transforms
from lstmkit.forecast.data import FILL_POLICIES, PreparedData, prepare_frame
from lstmkit.forecast.frequency import season_from_freq
from lstmkit.forecast.intervals import check_quantiles
from lstmkit.forecast.network import default_network
from lstmkit.forecast.regressor import (
    EpochCallback,
    ModuleRegressor,
    TrainConfig,
    check_epoch_callback,
)
from lstmkit.forecast.saved import forecaster_from_config
from lstmkit.forecast.scalers import SCALERS, Scaler, make_scaler
from lstmkit.forecast.windowing import input_windows, valid_origins
from lstmkit.utils.seed import set_seed
from lstmkit.utils.serialization import load_bundle, save_bundle
from lstmkit.utils.validation import check_choice, check_positive_int, check_probability

if TYPE_CHECKING:
    from lstmkit.forecast.backtest import BacktestResult

INTERVALS = ("quantile", "mc_dropout")
ModelFactory = Callable[[int, int], nn.Module]


class Forecaster:
    """An LSTM forecaster that predicts ``horizon`` steps at once from the last ``lookback`` rows.

    Args:
        lookback: input window length (rows).
        horizon: steps forecast at once (direct multi-step).
        target: column to forecast (may be omitted for a Series or one numeric column).
        features: covariate columns fed to the model beside the target.
        model: ``None`` for the default stacked LSTM; a ``torch.nn.Module`` or lstmkit ``Model`` (copied
            fresh for every fit) mapping ``(B, lookback, 1 + len(features))`` to ``(B, horizon * Q)``;
            or a factory ``(input_size, outputs) -> nn.Module``.
        transform: ``'none'``, ``'diff'``, ``'log_return'`` or ``'pct_change'`` applied to the target.
        transform_features: apply the same transform to the covariates (useful when they drift in level).
        scaler: ``'standard'``, ``'minmax'``, ``'robust'`` or ``'none'``; fit on training rows only.
        quantiles: quantile levels for prediction intervals, including 0.5 (e.g. ``(0.1, 0.5, 0.9)``).
        intervals: ``'quantile'`` (pinball-loss outputs) or ``'mc_dropout'`` (needs ``dropout > 0``).
        units: hidden units per LSTM layer of the default network.
        dropout: dropout of the default network.
        train: training settings (:class:`TrainConfig`).
        season: season length for seasonal naive and plots; inferred from the date frequency if ``None``.
        date_column: the column holding dates, if not the index.
        fill: gap/NaN policy, ``'none'``, ``'ffill'``, ``'interpolate'`` or ``'drop'``; see
            :func:`lstmkit.forecast.data.prepare_frame`.
        on_epoch: callback ``(epoch, epochs, train_loss, val_loss)`` after every training epoch, or ``None``.

    Raises:
        ValueError, TypeError: invalid settings, named with what was expected.
    """

    def __init__(
        self,
        lookback: int = 30,
        horizon: int = 1,
        target: str | None = None,
        features: Sequence[str] | None = None,
        model: nn.Module | ModelFactory | Any | None = None,
        transform: str = "none",
        transform_features: bool = False,
        scaler: str = "standard",
        quantiles: Sequence[float] | None = None,
        intervals: str = "quantile",
        units: Sequence[int] = (64, 32),
        dropout: float = 0.0,
        train: TrainConfig | None = None,
        season: int | None = None,
        date_column: str | None = None,
        fill: str = "none",
        on_epoch: EpochCallback | None = None,
    ) -> None:
        self.lookback = check_positive_int("lookback", lookback)
        self.horizon = check_positive_int("horizon", horizon)
        self.target = target
        self.features = _check_features(features)
        self.transform = check_choice("transform", transform, transforms.TRANSFORMS)
        self.transform_features = bool(transform_features)
        self.scaler = check_choice("scaler", scaler, SCALERS)
        self.quantiles = check_quantiles(quantiles)
        self.intervals = check_choice("intervals", intervals, INTERVALS)
        if isinstance(units, str) or not isinstance(units, Sequence):
            raise TypeError(
                "units must be a sequence of layer sizes such as (64, 32), "
                f"got {type(units).__name__} {units!r}"
            )
        self.units = tuple(check_positive_int("units", u) for u in units)
        if not self.units:
            raise ValueError("units must list at least one LSTM layer size, got ()")
        self.dropout = check_probability("dropout", dropout)
        if self.intervals == "mc_dropout" and self.quantiles and self.dropout == 0.0 and model is None:
            raise ValueError("intervals='mc_dropout' needs dropout > 0 (e.g. dropout=0.1)")
        if train is not None and not isinstance(train, TrainConfig):
            raise TypeError(f"train must be a TrainConfig, got {type(train).__name__}")
        self.train = train or TrainConfig()
        self.season = None if season is None else check_positive_int("season", season)
        self.date_column = date_column
        self.fill = check_choice("fill", fill, FILL_POLICIES)
        self.on_epoch = check_epoch_callback(on_epoch)
        _check_model(model)
        self._template = (
            copy.deepcopy(model) if isinstance(model, nn.Module) or hasattr(model, "module") else model
        )
        self.custom_model = model is not None
        self.regressor_: ModuleRegressor | None = None
        self.scaler_: Scaler | None = None
        self.target_scaler_: Scaler | None = None
        self.columns_: list[str] | None = None
        self.freq_: str | None = None
        self.notes_: list[str] = []

    # ----- data -------------------------------------------------------------------------------------
    def prepare(
        self, data: pd.DataFrame | pd.Series, *, causal: bool = False, min_rows: int = 1
    ) -> PreparedData:
        """Validate and clean ``data`` with this forecaster's columns, date column and fill policy.

        ``causal=True`` (the backtest) fills gaps forward where the policy is ``'interpolate'``: an
        interpolated value reads the next observation, which a forecast made before it must not see.
        ``min_rows`` is the fewest rows the cleaned data must keep; callers check what they need.

        Raises:
            ValueError: data :func:`~lstmkit.forecast.data.prepare_frame` refuses, other columns than the
                training data's, or values the transform is undefined on (``log_return`` and ``pct_change``
                need positive values in the target, and in the features with ``transform_features``; the
                message names the column).
        """
        fill = "ffill" if causal and self.fill == "interpolate" else self.fill
        prepared = prepare_frame(
            data,
            target=self.target,
            features=self.features,
            date_column=self.date_column,
            fill=fill,
            min_rows=min_rows,
        )
        if fill != self.fill:
            prepared.notes.append(
                "the backtest filled gaps forward, not by interpolation: interpolating reads the next "
                "observation, which forecasts made before it must not see"
            )
        if self.columns_ is not None and prepared.columns != self.columns_:
            raise ValueError(
                f"this forecaster was trained on columns {self.columns_}, "
                f"got data with columns {prepared.columns}"
            )
        transformed = prepared.columns if self.transform_features else prepared.columns[:1]
        transforms.check_domain(self.transform, prepared.frame[transformed].to_numpy(), transformed)
        return prepared

    @property
    def first_row(self) -> int:
        """First row with a defined transformed value (1 for differencing transforms)."""
        return transforms.first_valid(self.transform)

    def min_rows(self) -> int:
        """Fewest training rows that give at least one training window."""
        return self.first_row + self.lookback + self.horizon

    def season_for(self, freq: str | None) -> int | None:
        """The season used by seasonal naive: the given one, else the one the frequency implies."""
        return self.season if self.season is not None else season_from_freq(freq)

    def _inputs(self, levels: np.ndarray) -> np.ndarray:
        inputs = np.array(levels, dtype=np.float64, copy=True)
        columns = slice(None) if self.transform_features else slice(0, 1)
        inputs[:, columns] = transforms.forward(self.transform, levels[:, columns])
        return inputs

    # ----- model ------------------------------------------------------------------------------------
    def _new_regressor(self, input_size: int) -> ModuleRegressor:
        outputs = self.horizon * (
            len(self.quantiles) if self.intervals == "quantile" and self.quantiles else 1
        )
        set_seed(self.train.seed)
        if self._template is None:
            module: nn.Module = default_network(self.lookback, input_size, outputs, self.units, self.dropout)
        elif isinstance(self._template, nn.Module):
            module = copy.deepcopy(self._template)
        elif hasattr(self._template, "module"):
            module = copy.deepcopy(self._template).module
        else:  # a factory (the constructor checked that it is callable)
            module = self._template(input_size, outputs)
        if not isinstance(module, nn.Module):
            raise TypeError(f"the model factory returned {type(module).__name__}, expected a torch.nn.Module")
        quantiles = self.quantiles if self.intervals == "quantile" else ()
        return ModuleRegressor(module, self.horizon, quantiles, self.train, self.on_epoch)

    def fit_arrays(self, levels: np.ndarray, end: int, start: int = 0) -> Forecaster:
        """Fit scalers and model on rows ``[start, end)`` of ``levels`` ``(N, F)`` (target in column 0).

        Raises:
            ValueError: fewer rows than ``lookback + horizon`` (+1 for differencing transforms).
        """
        if end - start < self.min_rows():
            raise ValueError(
                f"training span of {end - start} rows is too short for lookback={self.lookback} + "
                f"horizon={self.horizon}"
                + (f" + 1 for transform={self.transform!r}" if self.first_row else "")
                + f"; need at least {self.min_rows()} rows"
            )
        rows = levels[start:end]
        inputs = self._inputs(rows)
        first = self.first_row
        self.scaler_ = make_scaler(self.scaler).fit(inputs[first:])
        origins = valid_origins(len(rows), self.lookback, self.horizon, start=first)
        x = input_windows(self.scaler_.transform(inputs), origins, self.lookback)
        changes = transforms.changes(self.transform, rows[:, 0], origins, self.horizon)  # (S, H)
        self.target_scaler_ = make_scaler(self.scaler).fit(changes)
        self.regressor_ = self._new_regressor(levels.shape[1])
        self.regressor_.fit(x, self.target_scaler_.transform(changes))
        return self

    def predict_arrays(self, levels: np.ndarray, origins: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Forecast from each origin using rows up to it.

        Args:
            levels: ``(N, F)`` level matrix (target in column 0).
            origins: ``(S,)`` row indices of the last observed step.

        Returns:
            ``(point, quantiles)``: ``(S, H)`` levels and ``(S, H, Q)`` levels or ``None``.
        """
        if self.regressor_ is None or self.scaler_ is None or self.target_scaler_ is None:
            raise RuntimeError("Forecaster.predict called before fit")
        origins = np.asarray(origins, dtype=np.int64)
        inputs = self._inputs(levels[: int(origins.max()) + 1])
        x = input_windows(self.scaler_.transform(inputs), origins, self.lookback)
        if self.quantiles and self.intervals == "mc_dropout":  # seeded: the same data, the same forecast
            raw = self.regressor_.predict_mc_dropout(x, self.quantiles)
        else:
            raw = self.regressor_.predict(x)
        center, scale = self.target_scaler_.center, self.target_scaler_.scale
        assert center is not None and scale is not None
        shape = (1, self.horizon) + (1,) * (raw.ndim - 2)
        changes = raw * scale.reshape(shape) + center.reshape(shape)
        forecast = transforms.invert(self.transform, changes, anchor=levels[origins, 0])
        bad = ~np.isfinite(forecast)
        if bad.any():  # a diverged fit: say so, rather than score or save NaN forecasts
            scale_it = "scale the series (scaler='standard'), " if self.scaler == "none" else ""
            raise ValueError(
                f"{int(bad.sum())} of {bad.size} forecast values are NaN or infinite: training diverged or "
                f"the data is far outside what the network was fit on; {scale_it}lower the learning rate "
                f"or check the data (scaler={self.scaler!r}, transform={self.transform!r})"
            )
        if forecast.ndim == 3:
            return forecast[..., self.quantiles.index(0.5)], forecast
        return forecast, None

    # ----- public API -------------------------------------------------------------------------------
    def fit(self, data: pd.DataFrame | pd.Series) -> Forecaster:
        """Fit on all of ``data``; returns ``self``."""
        self.columns_ = None
        prepared = self.prepare(data)
        levels = prepared.frame.to_numpy()
        if len(levels) < self.min_rows():
            raise ValueError(
                f"a series of {len(levels)} rows is too short for lookback={self.lookback} and "
                f"horizon={self.horizon}; need at least {self.min_rows()} rows"
            )
        self.fit_arrays(levels, len(levels))
        self.columns_, self.freq_, self.notes_ = prepared.columns, prepared.freq, prepared.notes
        return self

    def predict(self, data: pd.DataFrame | pd.Series) -> pd.DataFrame:
        """Forecast the ``horizon`` steps after the last row of ``data``.

        Returns:
            A frame indexed by the future dates (or steps ``1..H`` if the frequency is unknown) with the
            point forecast in a column named after the target and, with quantiles, one column ``q<level>``
            per quantile.

        Raises:
            ValueError: data with other columns than the training data, fewer than ``lookback`` rows (+1
                for a differencing transform), or a last row dropped for a NaN under ``fill='drop'`` (the
                forecast would start inside the data).
        """
        if self.columns_ is None:
            raise RuntimeError("Forecaster.predict called before fit")
        prepared = self.prepare(data)
        last = prepared.frame.index[-1]
        after = [d for d in prepared.dropped if d > last]
        if after:
            raise ValueError(
                f"the last {len(after)} row(s) of the data ({', '.join(str(d) for d in after)}) hold a NaN "
                f"and were dropped (fill='drop'), so the forecast would start after {last}, inside the "
                "data; fill or remove those rows first, or use fill='ffill'"
            )
        levels = prepared.frame.to_numpy()
        need = self.lookback + self.first_row
        if len(levels) < need:
            raise ValueError(
                f"predict needs at least lookback{'+1' if self.first_row else ''} = {need} rows, "
                f"got {len(levels)}"
            )
        point, quantiles = self.predict_arrays(levels, np.array([len(levels) - 1]))
        freq = prepared.freq or self.freq_
        index: pd.Index = (
            pd.date_range(last, periods=self.horizon + 1, freq=freq)[1:]
            if freq
            else pd.RangeIndex(1, self.horizon + 1)
        )
        out = pd.DataFrame({self.columns_[0]: point[0]}, index=index)
        out.index.name = "date" if freq else "step"
        if quantiles is not None:
            for j, q in enumerate(self.quantiles):
                out[f"q{q:g}"] = quantiles[0, :, j]
        return out

    def backtest(self, data: pd.DataFrame | pd.Series, **options: Any) -> BacktestResult:
        """Walk-forward backtest against the baselines; see :func:`lstmkit.forecast.backtest.backtest`.

        The backtest refits copies of this forecaster; the fitted model that :meth:`predict` uses is kept.
        """
        from lstmkit.forecast.backtest import backtest

        return backtest(self, data, **options)

    # ----- persistence ------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Save as one lstmkit bundle (kind ``'forecaster'``), atomically."""
        if (
            self.regressor_ is None
            or self.scaler_ is None
            or self.target_scaler_ is None
            or self.columns_ is None
        ):
            raise RuntimeError("Forecaster.save called before fit")
        config = {
            "kind": "forecaster",
            "lookback": self.lookback,
            "horizon": self.horizon,
            "columns": self.columns_,
            "transform": self.transform,
            "transform_features": self.transform_features,
            "scaler": self.scaler,
            "scaler_state": self.scaler_.state(),
            "target_scaler_state": self.target_scaler_.state(),
            "quantiles": list(self.quantiles),
            "intervals": self.intervals,
            "network": {
                "type": "custom" if self.custom_model else "stacked_lstm",
                "units": list(self.units),
                "dropout": self.dropout,
            },
            "season": self.season,
            "freq": self.freq_,
            "date_column": self.date_column,
            "fill": self.fill,
            "train": dataclasses.asdict(self.train),
        }
        state = self.regressor_.module.state_dict()
        save_bundle(
            path, {f"model.{k}": v.detach().clone() for k, v in state.items()}, config
        )  # unshare aliases

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], model: nn.Module | ModelFactory | Any | None = None
    ) -> Forecaster:
        """Load a saved forecaster; a custom network must be passed again as ``model`` (weights are restored).

        A forecaster trained on an accelerator this machine lacks (``cuda``, ``mps``) loads with
        ``train.device='cpu'``: predicting needs none.

        Raises:
            ValueError: the file is not a forecaster, is damaged (a key missing, a value of the wrong type,
                shape or range; the message names the file and the value), its weights do not fit the
                network, or a custom network is needed and missing.
        """
        tensors, config = load_bundle(path)
        if config.get("kind") != "forecaster":
            raise ValueError(f"'{path}' holds a model of kind {config.get('kind')!r}, expected 'forecaster'")
        try:
            forecaster = forecaster_from_config(cls, config, path, model)
        except KeyError as err:  # a config lstmkit did not write
            raise ValueError(
                f"'{path}' is a damaged forecaster file: its config lacks the key {err}"
            ) from err
        assert forecaster.columns_ is not None
        regressor = forecaster._new_regressor(len(forecaster.columns_))
        state = {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}
        try:
            regressor.module.load_state_dict(state)
        except RuntimeError as err:
            raise ValueError(f"'{path}' weights do not fit the network: {err}") from err
        forecaster.regressor_ = regressor
        return forecaster


def _check_model(model: Any) -> None:
    """Refuse a ``model`` that is none of ``None``, a module, an lstmkit ``Model`` or a factory."""
    if model is None or isinstance(model, nn.Module) or hasattr(model, "module") or callable(model):
        return
    raise TypeError(
        "model must be None (the default stacked LSTM), a torch.nn.Module, an lstmkit Model or a factory "
        f"(input_size, outputs) -> nn.Module, got {type(model).__name__} {model!r}"
    )


def _check_features(features: Sequence[str] | None) -> list[str] | None:
    """The covariate columns as a list, refusing a bare string and duplicates."""
    if features is None:
        return None
    if isinstance(features, str) or not isinstance(features, Sequence):
        raise TypeError(
            f"features must be a list of column names such as [{features!r}], "
            f"got {type(features).__name__} {features!r}"
        )
    names = list(features)
    repeated = sorted({str(f) for f in names if names.count(f) > 1})
    if repeated:
        raise ValueError(f"features must name each column once, got {repeated} more than once in {names}")
    return names
