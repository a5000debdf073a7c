"""Reference forecasts that every model must be judged against, computed on the same origins.

Each baseline maps a level series ``y`` (``(N,)``), forecast origins ``t`` (``(S,)``) and a horizon ``H``
to ``(S, H)`` forecasts of ``y_{t+1..t+H}`` using only ``y[: t + 1]``:

    persistence:     ŷ_{t+h} = y_t
    seasonal naive:  ŷ_{t+h} = y_{t+h-m(⌊(h-1)/m⌋+1)}           (the value one season back, m = season)
    drift:           ŷ_{t+h} = y_t + h (y_t - y_0) / t          (a line through the first and last point)
    moving average:  ŷ_{t+h} = (1/k) sum_{j<k} y_{t-j}
    arima:           statsmodels ARIMA(p, d, q) fit on the training span, re-filtered to each origin

See Hyndman & Athanasopoulos, "Forecasting: Principles and Practice" (3rd ed., 2021), section 5.2.

Example:
    >>> y = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    >>> persistence(y, np.array([3]), 2).tolist(), seasonal_naive(y, np.array([3]), 2, season=2).tolist()
    ([[4.0, 4.0]], [[3.0, 4.0]])
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lstmkit.forecast.arrays import check_origins, check_series
from lstmkit.utils.validation import check_positive_int, real_array

BaselineFn = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


def persistence(y: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """The naive forecast: every future step equals the last observed value."""
    y, origins = _checked(y, origins, horizon)
    return np.repeat(y[origins][:, None], horizon, axis=1)


def seasonal_naive(y: np.ndarray, origins: np.ndarray, horizon: int, *, season: int) -> np.ndarray:
    """The value observed one season earlier (whole seasons back, so it is always already observed)."""
    check_positive_int("season", season)
    y, origins = _checked(y, origins, horizon)
    steps = np.arange(1, horizon + 1)
    back = season * ((steps - 1) // season + 1)  # (H,)
    index = origins[:, None] + steps[None, :] - back[None, :]
    if index.size and index.min() < 0:
        first = int(origins.min())
        raise ValueError(
            f"seasonal naive with season={season} needs {season} observations up to each forecast origin "
            f"(origins from {season - 1} on), got origin {first} with {first + 1}; start the origins later "
            "or use a shorter season"
        )
    return y[index]


def drift(y: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """The last value plus the average change since the first observation, times the step."""
    y, origins = _checked(y, origins, horizon)
    slope = (y[origins] - y[0]) / np.maximum(origins, 1)
    return y[origins][:, None] + slope[:, None] * np.arange(1, horizon + 1)[None, :]


def moving_average(y: np.ndarray, origins: np.ndarray, horizon: int, *, window: int) -> np.ndarray:
    """The mean of the last ``window`` observations, flat over the horizon.

    Raises:
        ValueError: an origin with fewer than ``window`` observations up to it (the mean would be over fewer
            points than the name says).
    """
    check_positive_int("window", window)
    y, origins = _checked(y, origins, horizon)
    if origins.size and origins.min() < window - 1:
        first = int(origins.min())
        raise ValueError(
            f"moving average with window={window} needs {window} observations up to each forecast origin "
            f"(origins from {window - 1} on), got origin {first} with {first + 1}; start the origins later "
            "or use a shorter window"
        )
    cumulative = np.concatenate([[0.0], np.cumsum(y)])
    mean = (cumulative[origins + 1] - cumulative[origins + 1 - window]) / window
    return np.repeat(mean[:, None], horizon, axis=1)


def arima_available() -> bool:
    """Whether statsmodels is installed (``pip install lstmkit[arima]``)."""
    return importlib.util.find_spec("statsmodels") is not None


def arima(
    y: np.ndarray,
    origins: np.ndarray,
    horizon: int,
    *,
    train_end: int,
    order: tuple[int, int, int] = (1, 1, 1),
) -> np.ndarray:
    """ARIMA fit on ``y[:train_end]``, then re-filtered (same parameters) up to each origin to forecast.

    Raises:
        ImportError: statsmodels is not installed.
        ValueError: an origin lies before ``train_end - 1`` (it would forecast inside the fit span).
    """
    if not arima_available():
        raise ImportError("the ARIMA baseline needs statsmodels: pip install 'lstmkit[arima]'")
    from statsmodels.tsa.arima.model import ARIMA

    y, origins = _checked(y, origins, horizon)
    if origins.size and origins.min() < train_end - 1:
        raise ValueError(f"ARIMA origins must be >= train_end - 1 = {train_end - 1}, got {origins.min()}")
    fitted = ARIMA(y[:train_end], order=order).fit()
    out = np.empty((len(origins), horizon))
    for row, origin in enumerate(origins):
        out[row] = fitted.apply(y[: origin + 1]).forecast(horizon)
    return out


@dataclass(frozen=True)
class Baseline:
    """A named baseline ready to apply to ``(y, origins, horizon)``.

    Attributes:
        name: the name it is reported under.
        fn: ``(y, origins, horizon) -> (S, H)`` forecasts.
        min_history: observations up to and including an origin that ``fn`` needs to forecast from it
            (``season`` for seasonal naive, ``window`` for the moving average, 1 for the others). The
            backtest reports a baseline as unavailable on a span whose first origin has fewer, rather than
            fail.

    Raises:
        TypeError: a ``name`` that is not a string, an ``fn`` that is not callable, or a ``min_history``
            that is not an integer.
        ValueError: an empty ``name``, or ``min_history < 1``.
    """

    name: str
    fn: BaselineFn
    min_history: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise TypeError(f"Baseline name must be a string, got {type(self.name).__name__} {self.name!r}")
        if not self.name:
            raise ValueError("Baseline name must not be empty: it names the baseline's row and column")
        if not callable(self.fn):
            raise TypeError(
                f"Baseline {self.name!r}: fn must be a callable (y, origins, horizon) -> (S, H) forecasts, "
                f"got {type(self.fn).__name__} {self.fn!r}"
            )
        check_positive_int("min_history", self.min_history)

    def __call__(self, y: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
        """The ``(S, H)`` forecasts of ``fn``, checked: one row of ``horizon`` finite numbers per origin.

        Raises:
            TypeError: ``fn`` returned something other than real numbers.
            ValueError: ``fn`` returned another shape than ``(S, H)``, or NaN or infinite forecasts.
        """
        forecast = real_array(f"baseline {self.name!r}'s forecasts", self.fn(y, origins, horizon))
        expected = (int(np.size(origins)), horizon)
        if forecast.shape != expected:
            raise ValueError(
                f"baseline {self.name!r} returned forecasts of shape {forecast.shape}, expected (origins, "
                f"horizon) = {expected}: its fn must return one row of {horizon} forecast(s) per origin"
            )
        forecast = forecast.astype(np.float64)
        bad = ~np.isfinite(forecast)
        if bad.any():
            raise ValueError(
                f"baseline {self.name!r} returned {int(bad.sum())} NaN or infinite forecast value(s) of "
                f"{bad.size}; forecasts must be finite (a baseline that cannot forecast from early origins "
                "declares the history it needs as min_history)"
            )
        return forecast


def default_baselines(
    season: int | None,
    *,
    ma_window: int | None = None,
    train_end: int | None = None,
    with_arima: bool = False,
) -> list[Baseline]:
    """The standard set: persistence, seasonal naive (when a season > 1 is known), drift, moving average.

    Args:
        season: the season length, ``None`` or 1 to leave seasonal naive out.
        ma_window: moving-average window (default: the season, else 5); the moving average needs as many
            observations up to an origin (its ``min_history``).
        train_end: needed for ARIMA (the end of its fit span).
        with_arima: add ARIMA(1,1,1) (needs statsmodels and ``train_end``).

    Raises:
        TypeError: a ``season`` or ``ma_window`` that is not an integer.
        ValueError: a ``season`` or ``ma_window`` below 1, or ``with_arima`` without ``train_end``.
    """
    if season is not None:
        season = check_positive_int("season", season)
    if ma_window is not None:
        window = check_positive_int("ma_window", ma_window)
    else:
        window = season if season is not None and season > 1 else 5
    out = [Baseline("persistence", persistence)]
    if season is not None and season > 1:
        out.append(
            Baseline(
                f"seasonal_naive(m={season})",
                lambda y, o, h: seasonal_naive(y, o, h, season=season),
                min_history=season,
            )
        )
    out.append(Baseline("drift", drift))
    out.append(
        Baseline(
            f"moving_average(k={window})",
            lambda y, o, h: moving_average(y, o, h, window=window),
            min_history=window,
        )
    )
    if with_arima:
        if train_end is None:
            raise ValueError("with_arima=True needs train_end")
        end = train_end
        out.append(Baseline("arima(1,1,1)", lambda y, o, h: arima(y, o, h, train_end=end)))
    return out


def _checked(y: np.ndarray, origins: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """The level series (1-D, finite) and the origins (integers inside it), checked with the horizon (>= 1).

    Raises:
        TypeError: non-integer origins or horizon.
        ValueError: a series that is not 1-D or not finite, an origin outside it, or a horizon < 1.
    """
    check_positive_int("horizon", horizon)
    y = check_series("y", y)
    return y, check_origins(origins, len(y))
