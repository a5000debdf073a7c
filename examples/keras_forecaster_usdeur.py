"""The origin text's Keras forecaster on real data: tomorrow's USD/EUR rate from the last 100 days.

Rates are min-max scaled with the training period's range (no look-ahead); the last 20% of the windows
(in time order) are held out. The model code is the origin text's, with only the import lines changed.
The error is printed beside persistence (tomorrow = today), the reference forecast for exchange rates.

Honest expectation: a daily exchange rate is close to a random walk (Meese & Rogoff 1983), so
persistence is very hard to beat; an LSTM that roughly matches it has learned to copy the last value.

Run: ``PYTHONPATH=src python examples/keras_forecaster_usdeur.py [--epochs 20] [--data PATH]``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from usdeur_data import DEFAULT_DATA, chronological_split, load_rates, windows

from lstmkit.layers import LSTM, Dense
from lstmkit.models import Sequential
from lstmkit.utils import set_seed


def main(
    epochs: int = 20, data: Path = DEFAULT_DATA, max_windows: int | None = None, verbose: int = 1
) -> dict[str, float]:
    """Train on the first 80% of the windows and score on the rest; returns the numbers printed."""
    set_seed(0)
    rates = load_rates(data).to_numpy()
    X_raw, y_raw = windows(rates, 100)
    if max_windows is not None:
        X_raw, y_raw = X_raw[-max_windows:], y_raw[-max_windows:]
    cut = chronological_split(len(X_raw), 0.2)
    low, high = float(X_raw[:cut].min()), float(X_raw[:cut].max())
    scale = lambda v: (v - low) / (high - low)  # noqa: E731
    X_train, y_train = scale(X_raw[:cut]), scale(y_raw[:cut])
    X_test, y_test = scale(X_raw[cut:]), y_raw[cut:]

    # --- the origin text's example, verbatim apart from the imports ---
    # fmt: off
    model = Sequential()
    model.add(LSTM(50, input_shape=(100, 1)))
    model.add(Dense(1))
    model.compile(loss='mean_squared_error', optimizer='adam')
    model.fit(X_train, y_train, epochs=epochs, batch_size=32, verbose=verbose)
    y_pred = model.predict(X_test)
    # fmt: on
    # ---

    forecast = y_pred[:, 0] * (high - low) + low
    persistence = X_raw[cut:, -1, 0]
    rmse = lambda f: float(np.sqrt(np.mean((f - y_test) ** 2)))  # noqa: E731
    mae = lambda f: float(np.mean(np.abs(f - y_test)))  # noqa: E731
    return {
        "windows_train": cut,
        "windows_test": len(y_test),
        "rmse": rmse(forecast),
        "mae": mae(forecast),
        "rmse_persistence": rmse(persistence),
        "mae_persistence": mae(persistence),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    r = main(args.epochs, args.data)
    print(f"train windows: {r['windows_train']}, test windows: {r['windows_test']} (USD per EUR)")
    print(f"{'':12}{'RMSE':>10}{'MAE':>10}")
    print(f"{'LSTM':12}{r['rmse']:>10.5f}{r['mae']:>10.5f}")
    print(f"{'persistence':12}{r['rmse_persistence']:>10.5f}{r['mae_persistence']:>10.5f}")
