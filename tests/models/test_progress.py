"""verbose=0|1|2 progress output (tqdm bar on stderr, one line per epoch, or nothing) and devices."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstmkit.layers import LSTM, Dense
from lstmkit.models import Sequential


def _fit(verbose: int | str) -> None:
    x = np.zeros((8, 3), dtype="float32")
    model = Sequential([Dense(1, input_shape=(3,))])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    model.fit(x, np.zeros(8), epochs=2, batch_size=4, verbose=verbose)


def test_verbose_one_draws_a_bar_per_epoch(capfd: pytest.CaptureFixture[str]) -> None:
    _fit(1)
    out, err = capfd.readouterr()
    assert out == ""
    assert "Epoch 1/2" in err and "Epoch 2/2" in err and "2/2 [" in err and "loss: 0 - mae: 0" in err


def test_verbose_auto_is_keras_default_bar(capfd: pytest.CaptureFixture[str]) -> None:
    _fit("auto")  # Keras's default for fit, evaluate and predict: the bar of verbose=1
    _, err = capfd.readouterr()
    assert "Epoch 1/2" in err and "2/2 [" in err


def test_verbose_two_writes_one_line_per_epoch(capfd: pytest.CaptureFixture[str]) -> None:
    _fit(2)
    _, err = capfd.readouterr()
    assert err.splitlines() == ["Epoch 1/2 - loss: 0 - mae: 0", "Epoch 2/2 - loss: 0 - mae: 0"]


def test_verbose_zero_is_silent_and_bad_verbose_rejected(capfd: pytest.CaptureFixture[str]) -> None:
    _fit(0)
    assert capfd.readouterr() == ("", "")
    with pytest.raises(ValueError, match="verbose must be 0, 1, 2 or 'auto', got 3"):
        _fit(3)


def test_device_errors_on_a_machine_without_cuda() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the error paths are for CPU-only machines")
    model = Sequential([Dense(1, input_shape=(3,))])
    with pytest.raises(ValueError, match="CUDA is not available; use device='cpu'"):
        model.compile(optimizer="adam", loss="mse", device="cuda")
    model.compile(optimizer="adam", loss="mse", device="auto")
    assert model.device.type == "cpu" and not model.amp


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fit_on_cuda_with_mixed_precision() -> None:
    x = np.random.default_rng(0).normal(size=(32, 5, 1)).astype("float32")
    y = x[:, -1]
    model = Sequential([LSTM(8, input_shape=(5, 1)), Dense(1)])
    model.compile(optimizer="adam", loss="mse", device="cuda")
    assert model.amp
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    assert next(model.module.parameters()).is_cuda and np.isfinite(history.history["loss"]).all()
    assert model.predict(x).dtype == np.float32
