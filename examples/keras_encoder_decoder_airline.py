"""A Keras-style encoder-decoder LSTM forecasting the next 12 months of airline passengers at once.

The tutorials' multi-step model, with only the import lines changed: an encoder ``LSTM`` reads the last 24
months, ``RepeatVector`` hands its summary to every output month, a decoder ``LSTM(return_sequences=True)``
and ``TimeDistributed(Dense(1))`` write the 12 months. Data: the Box & Jenkins airline series bundled with
lstmkit (1949-1960, monthly). The last 12 months are held out. The network models each month's growth over
the same month a year before (log differences at lag 12, standardized with the training months' mean and
spread only: no look-ahead), and the training windows end before the held-out year.

Printed beside two baselines on the same months: seasonal naive (each month as the same month a year
before) and seasonal naive with drift (times the training years' mean growth). On this series the drift
baseline is hard to beat: the held-out year grows about as the years before did.

Run: ``PYTHONPATH=src python examples/keras_encoder_decoder_airline.py [--epochs 200]``
"""

from __future__ import annotations

import argparse

import numpy as np

from lstmkit.datasets import load_airline
from lstmkit.layers import LSTM, Dense, RepeatVector, TimeDistributed
from lstmkit.models import Sequential
from lstmkit.utils import set_seed

LOOKBACK, HORIZON = 24, 12


def windows(series: np.ndarray, lookback: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """``(inputs (n, lookback, 1), targets (n, horizon, 1))`` of every window that fits in ``series``."""
    n = len(series) - lookback - horizon + 1
    x = np.stack([series[i : i + lookback] for i in range(n)])[..., None]
    y = np.stack([series[i + lookback : i + lookback + horizon] for i in range(n)])[..., None]
    return x.astype("float32"), y.astype("float32")


def main(epochs: int = 200, verbose: int = 0) -> dict[str, float]:
    """Train on the months before the last year, forecast that year; returns the numbers printed."""
    set_seed(0)
    passengers = load_airline()["Passengers"].to_numpy(dtype=float)
    train, test = passengers[:-HORIZON], passengers[-HORIZON:]
    growth = np.log(train[12:]) - np.log(train[:-12])  # each month over the same month a year before
    mean, spread = growth.mean(), growth.std()  # the training months' only
    z = (growth - mean) / spread
    x_train, y_train = windows(z, LOOKBACK, HORIZON)

    # --- the tutorials' encoder-decoder, as in Keras apart from the imports ---
    # fmt: off
    model = Sequential()
    model.add(LSTM(64, input_shape=(LOOKBACK, 1)))
    model.add(RepeatVector(HORIZON))
    model.add(LSTM(64, return_sequences=True))
    model.add(TimeDistributed(Dense(1)))
    model.compile(loss='mse', optimizer='adam')
    model.fit(x_train, y_train, epochs=epochs, batch_size=16, verbose=verbose)
    y_pred = model.predict(z[-LOOKBACK:].reshape(1, LOOKBACK, 1).astype('float32'))
    # fmt: on
    # ---

    last_year = train[-12:]
    forecast = last_year * np.exp(y_pred[0, :, 0] * spread + mean)
    mae = lambda f: float(np.mean(np.abs(f - test)))  # noqa: E731
    return {
        "windows_train": len(x_train),
        "mae": mae(forecast),
        "mae_seasonal_naive": mae(last_year),
        "mae_seasonal_naive_drift": mae(last_year * np.exp(mean)),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=200)
    args = parser.parse_args()
    result = main(args.epochs, verbose=0)
    print(f"trained on {result['windows_train']} windows of {LOOKBACK} months; forecast the last 12 months")
    print(f"MAE encoder-decoder LSTM:         {result['mae']:.1f} (thousands of passengers)")
    print(f"MAE seasonal naive:               {result['mae_seasonal_naive']:.1f}")
    print(f"MAE seasonal naive with drift:    {result['mae_seasonal_naive_drift']:.1f}")
    labels = {"mae": "the LSTM", "mae_seasonal_naive": "seasonal naive", "mae_seasonal_naive_drift": "drift"}
    print(f"best on this year: {labels[min(labels, key=result.__getitem__)]}")
