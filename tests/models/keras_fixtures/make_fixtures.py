"""Make the Keras 3 fixtures that tests/models/test_keras_import.py loads (not run by the tests).

Run it with a separate environment that has real Keras, so that lstmkit's own stays clean::

    python -m venv --system-site-packages /tmp/kvenv
    /tmp/kvenv/bin/pip install keras h5py
    KERAS_BACKEND=torch /tmp/kvenv/bin/python tests/models/keras_fixtures/make_fixtures.py

Each tiny ``Sequential`` is trained one epoch on random data (so its weights are not the initial ones)
and written as ``<name>.keras``, beside ``<name>.npz`` holding the inputs ``x`` and Keras's
``predict(x)`` as ``y``.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import numpy as np
from keras import layers

HERE = Path(__file__).parent


def tutorial() -> tuple[keras.Sequential, np.ndarray, np.ndarray]:
    """The origin tutorial's classifier, smaller: LSTM(8) on (12, 1), Dense(1, sigmoid)."""
    model = keras.Sequential([layers.Input((12, 1)), layers.LSTM(8), layers.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    return model, rng.random((64, 12, 1), dtype=np.float32), rng.integers(0, 2, (64, 1))


def text() -> tuple[keras.Sequential, np.ndarray, np.ndarray]:
    """Embedding(mask_zero) -> Bidirectional(LSTM, return_sequences) -> LSTM -> Dense(softmax)."""
    model = keras.Sequential(
        [
            layers.Input((10,), dtype="int32"),
            layers.Embedding(20, 6, mask_zero=True),
            layers.Bidirectional(layers.LSTM(5, return_sequences=True)),
            layers.LSTM(4),
            layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(loss="sparse_categorical_crossentropy", optimizer="rmsprop", metrics=["accuracy"])
    rng = np.random.default_rng(1)
    x = rng.integers(1, 20, (64, 10))
    lengths = rng.integers(3, 11, 64)
    for row, n in zip(x, lengths, strict=True):
        row[: 10 - n] = 0  # Keras's default padding='pre'
    return model, x, rng.integers(0, 3, (64,))


def conv_gru() -> tuple[keras.Sequential, np.ndarray, np.ndarray]:
    """Conv1D -> MaxPooling1D -> GRU(return_sequences) -> GlobalAveragePooling1D -> Dense."""
    model = keras.Sequential(
        [
            layers.Input((16, 3)),
            layers.Conv1D(4, 3, padding="same", activation="relu"),
            layers.MaxPooling1D(2),
            layers.GRU(6, return_sequences=True),
            layers.GlobalAveragePooling1D(),
            layers.Dense(2),
        ]
    )
    model.compile(loss="mse", optimizer="sgd")
    rng = np.random.default_rng(2)
    return model, rng.standard_normal((64, 16, 3)).astype(np.float32), rng.standard_normal((64, 2))


def zoo() -> tuple[keras.Sequential, np.ndarray, np.ndarray]:
    """SimpleRNN, BatchNormalization, LayerNormalization, Dropout, AveragePooling1D, TimeDistributed,
    Flatten, Dense; compiled with a Keras loss object (``Huber()``) rather than a name."""
    model = keras.Sequential(
        [
            layers.Input((8, 2)),
            layers.SimpleRNN(5, return_sequences=True),
            layers.BatchNormalization(),
            layers.LayerNormalization(),
            layers.Dropout(0.2),
            layers.AveragePooling1D(2),
            layers.TimeDistributed(layers.Dense(3, activation="tanh")),
            layers.Flatten(),
            layers.Dense(1),
        ]
    )
    model.compile(loss=keras.losses.Huber(), optimizer="adam")
    rng = np.random.default_rng(3)
    return model, rng.standard_normal((64, 8, 2)).astype(np.float32), rng.standard_normal((64, 1))


def encoder_decoder() -> tuple[keras.Sequential, np.ndarray, np.ndarray]:
    """Masking -> LSTM -> RepeatVector -> LSTM(return_sequences) -> TimeDistributed(Dense): the tutorials'
    multi-step encoder-decoder, some inputs with padded (all-zero) first steps."""
    model = keras.Sequential(
        [
            layers.Input((9, 2)),
            layers.Masking(0.0),
            layers.LSTM(6),
            layers.RepeatVector(4),
            layers.LSTM(6, return_sequences=True),
            layers.TimeDistributed(layers.Dense(1)),
        ]
    )
    model.compile(loss="mse", optimizer="adam", metrics=["mae"])
    rng = np.random.default_rng(4)
    x = rng.standard_normal((64, 9, 2)).astype(np.float32)
    x[:16, :3] = 0.0  # padded first steps
    return model, x, rng.standard_normal((64, 4, 1))


def pools() -> tuple[keras.Sequential, np.ndarray, np.ndarray]:
    """GlobalMaxPooling1D after a return_sequences SimpleRNN on relu."""
    model = keras.Sequential(
        [
            layers.Input((7, 3)),
            layers.SimpleRNN(4, activation="relu", return_sequences=True),
            layers.GlobalMaxPooling1D(),
            layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    rng = np.random.default_rng(5)
    y = np.eye(2)[rng.integers(0, 2, 64)]
    return model, rng.standard_normal((64, 7, 3)).astype(np.float32), y


def variants() -> tuple[keras.Sequential, np.ndarray, np.ndarray]:
    """Non-default arguments, the input given as ``input_shape=``: a causal, dilated Conv1D; LSTM going
    backwards without unit forget bias; Bidirectional(GRU without bias) summed; BatchNormalization
    without center; Dense on gelu; compiled with ``global_clipnorm``."""
    model = keras.Sequential(
        [
            layers.Conv1D(4, 3, padding="causal", dilation_rate=2, input_shape=(12, 2)),
            layers.LSTM(5, go_backwards=True, unit_forget_bias=False, return_sequences=True),
            layers.Bidirectional(layers.GRU(3, use_bias=False), merge_mode="sum"),
            layers.BatchNormalization(center=False, momentum=0.5),
            layers.Dense(2, activation="gelu"),
        ]
    )
    model.compile(loss="mse", optimizer=keras.optimizers.Adam(global_clipnorm=1.0))
    rng = np.random.default_rng(6)
    return model, rng.standard_normal((64, 12, 2)).astype(np.float32), rng.standard_normal((64, 2))


def penalties() -> tuple[keras.Sequential, np.ndarray, np.ndarray]:
    """Regularizers and constraints (which lstmkit loads ignored), compiled with a learning-rate schedule
    (which lstmkit loads uncompiled)."""
    model = keras.Sequential(
        [
            layers.Input((6, 2)),
            layers.LSTM(
                4,
                kernel_regularizer=keras.regularizers.L2(0.01),
                recurrent_constraint=keras.constraints.MaxNorm(2.0),
                activity_regularizer=keras.regularizers.L1(0.001),
            ),
            layers.Dense(1, kernel_constraint=keras.constraints.NonNeg()),
        ]
    )
    schedule = keras.optimizers.schedules.ExponentialDecay(0.01, decay_steps=100, decay_rate=0.9)
    model.compile(loss="mse", optimizer=keras.optimizers.Adam(schedule))
    rng = np.random.default_rng(7)
    return model, rng.standard_normal((64, 6, 2)).astype(np.float32), rng.standard_normal((64, 1))


def main() -> None:
    for name, make in [
        ("tutorial", tutorial),
        ("text", text),
        ("conv_gru", conv_gru),
        ("zoo", zoo),
        ("encoder_decoder", encoder_decoder),
        ("pools", pools),
        ("variants", variants),
        ("penalties", penalties),
    ]:
        keras.utils.set_random_seed(0)
        model, x, y = make()
        model.fit(x, y, epochs=1, batch_size=16, verbose=0)
        model.save(HERE / f"{name}.keras")
        np.savez_compressed(HERE / f"{name}.npz", x=x[:8], y=model.predict(x[:8], verbose=0))


if __name__ == "__main__":
    main()
