"""The Keras-style examples run end to end: the two USD/EUR ones on the shared data (few windows, one epoch),
the encoder-decoder on the bundled airline series (two epochs)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def examples_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLES))


def test_classifier_example_scores_beside_majority_baseline(shared_data: Path, examples_path: None) -> None:
    example = importlib.import_module("keras_classifier_usdeur")
    data = shared_data / "finance" / "dexuseu_daily.csv"
    result = example.main(epochs=1, data=data, max_windows=200, verbose=0)
    assert (result["windows_train"], result["windows_test"]) == (160, 40)
    usdeur = importlib.import_module("usdeur_data")
    returns = 100 * np.diff(np.log(usdeur.load_rates(data).to_numpy()))
    labels = (returns[-40:] > 0).astype(float)  # the test labels are the last 40 next-day moves
    train_labels = (returns[-200:-40] > 0).astype(float)
    assert result["baseline"] == pytest.approx(float((labels == float(train_labels.mean() >= 0.5)).mean()))
    correct = result["accuracy"] * 40  # a count of the 40 test windows classified right
    assert correct == pytest.approx(round(correct), abs=1e-6) and 0 <= round(correct) <= 40


def test_forecaster_example_scores_beside_persistence(shared_data: Path, examples_path: None) -> None:
    example = importlib.import_module("keras_forecaster_usdeur")
    data = shared_data / "finance" / "dexuseu_daily.csv"
    result = example.main(epochs=1, data=data, max_windows=200, verbose=0)
    rates = importlib.import_module("usdeur_data").load_rates(data).to_numpy()
    persistence_mae = float(np.mean(np.abs(rates[-40:] - rates[-41:-1])))
    assert result["mae_persistence"] == pytest.approx(persistence_mae, rel=1e-5)
    assert result["rmse"] > 0 and np.isfinite(result["mae"])


def teardown_module() -> None:
    for name in ("keras_classifier_usdeur", "keras_forecaster_usdeur", "usdeur_data"):
        sys.modules.pop(name, None)


def test_encoder_decoder_example_scores_beside_seasonal_baselines(examples_path: None) -> None:
    from lstmkit.datasets import load_airline

    example = importlib.import_module("keras_encoder_decoder_airline")
    result = example.main(epochs=2)
    passengers = load_airline()["Passengers"].to_numpy(dtype=float)
    train, test = passengers[:-12], passengers[-12:]
    assert result["windows_train"] == len(train) - 12 - 24 - 12 + 1  # growth starts a year in
    assert result["mae_seasonal_naive"] == pytest.approx(float(np.mean(np.abs(train[-12:] - test))))
    drift = float(np.mean(np.log(train[12:]) - np.log(train[:-12])))
    expected = float(np.mean(np.abs(train[-12:] * np.exp(drift) - test)))
    assert result["mae_seasonal_naive_drift"] == pytest.approx(expected)
    assert np.isfinite(result["mae"]) and result["mae"] > 0
