"""The origin text's Keras classifier on real data: will tomorrow's USD/EUR rate rise?

Input: the last 100 daily log returns (in percent); label: 1 if the next day's return is positive.
The model code is the origin text's, with only the import lines changed. The last 20% of the windows
(in time order) are held out; the score is printed beside the majority-class baseline.

Honest expectation: daily exchange-rate moves are close to unpredictable (Meese & Rogoff 1983), so an
accuracy near the baseline is the expected result, not a failure of the library.

Run: ``PYTHONPATH=src python examples/keras_classifier_usdeur.py [--epochs 20] [--data PATH]``
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
    returns = 100 * np.diff(np.log(load_rates(data).to_numpy()))
    X, next_return = windows(returns, 100)
    y = (next_return > 0).astype("float32")
    if max_windows is not None:
        X, y = X[-max_windows:], y[-max_windows:]
    cut = chronological_split(len(X), 0.2)
    X_train, y_train, X_test, y_test = X[:cut], y[:cut], X[cut:], y[cut:]

    # --- the origin text's example, verbatim apart from the imports ---
    # fmt: off
    model = Sequential()
    model.add(LSTM(50, input_shape=(100, 1)))
    model.add(Dense(1, activation='sigmoid'))
    model.compile(loss='binary_crossentropy', optimizer='adam', metrics=['accuracy'])
    model.fit(X_train, y_train, epochs=epochs, batch_size=32, verbose=verbose)
    # fmt: on
    # ---

    _, accuracy = model.evaluate(X_test, y_test)
    majority = float(y_train.mean() >= 0.5)
    baseline = float((y_test == majority).mean())
    return {
        "windows_train": len(X_train),
        "windows_test": len(X_test),
        "accuracy": accuracy,
        "baseline": baseline,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    result = main(args.epochs, args.data)
    print(f"train windows: {result['windows_train']}, test windows: {result['windows_test']}")
    print(f"LSTM test accuracy:             {result['accuracy']:.4f}")
    print(f"majority-class baseline (test): {result['baseline']:.4f}")
