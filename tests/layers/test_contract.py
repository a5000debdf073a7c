"""One contract every Keras-face layer passes: build, output, config round trip, save/load, bad input."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from lstmkit.layers import (
    GRU,
    LSTM,
    Activation,
    AveragePooling1D,
    BatchNormalization,
    Bidirectional,
    Conv1D,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    GaussianDropout,
    GaussianNoise,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    Layer,
    LayerNormalization,
    Masking,
    MaxPooling1D,
    Permute,
    RepeatVector,
    Reshape,
    SimpleRNN,
    SpatialDropout1D,
    TimeDistributed,
)
from lstmkit.models import Sequential, load_model

CASES: dict[str, tuple[Callable[[], Layer], tuple[int, ...], tuple[int, ...]]] = {
    # id: (factory, sample shape, expected output shape without batch)
    "dense": (lambda: Dense(3, activation="tanh"), (4, 5), (4, 3)),
    "dropout": (lambda: Dropout(0.2), (4, 5), (4, 5)),
    "layer_norm": (lambda: LayerNormalization(), (4, 5), (4, 5)),
    "masking": (lambda: Masking(0.0), (6, 2), (6, 2)),
    "lstm": (lambda: LSTM(3), (6, 2), (3,)),
    "lstm-sequences-peephole": (lambda: LSTM(3, return_sequences=True, peephole=True), (6, 2), (6, 3)),
    "gru-backwards": (lambda: GRU(3, go_backwards=True), (6, 2), (3,)),
    "simple_rnn-relu": (lambda: SimpleRNN(3, activation="relu"), (6, 2), (3,)),
    "bidirectional-ave": (lambda: Bidirectional(LSTM(2), merge_mode="ave"), (6, 2), (2,)),
    "time_distributed": (lambda: TimeDistributed(Dense(2)), (6, 2), (6, 2)),
    "embedding": (lambda: Embedding(8, 3), (6,), (6, 3)),
    "repeat_vector": (lambda: RepeatVector(3), (5,), (3, 5)),
    "flatten": (lambda: Flatten(), (4, 5), (20,)),
    "reshape-inferred": (lambda: Reshape((-1, 2, 5)), (4, 5), (2, 2, 5)),
    "permute": (lambda: Permute((2, 1)), (4, 5), (5, 4)),
    "activation-softmax": (lambda: Activation("softmax"), (4, 5), (4, 5)),
    "max_pooling1d-same": (lambda: MaxPooling1D(2, padding="same"), (5, 3), (3, 3)),
    "average_pooling1d-same": (lambda: AveragePooling1D(3, strides=1, padding="same"), (5, 3), (5, 3)),
    "global_average_pooling1d": (lambda: GlobalAveragePooling1D(), (6, 2), (2,)),
    "global_max_pooling1d-keepdims": (lambda: GlobalMaxPooling1D(keepdims=True), (6, 2), (1, 2)),
    "conv1d-causal-relu": (lambda: Conv1D(3, 2, padding="causal", activation="relu"), (6, 2), (6, 3)),
    "batch_norm": (lambda: BatchNormalization(), (4, 5), (4, 5)),
    "spatial_dropout1d": (lambda: SpatialDropout1D(0.3), (4, 5), (4, 5)),
    "gaussian_noise": (lambda: GaussianNoise(0.1, seed=1), (4, 5), (4, 5)),
    "gaussian_dropout": (lambda: GaussianDropout(0.2), (4, 5), (4, 5)),
}


def _sample(shape: tuple[int, ...], layer: Layer) -> np.ndarray:
    rng = np.random.default_rng(0)
    if layer.input_dtype == torch.long:
        return rng.integers(0, 8, size=(3, *shape))
    x = rng.normal(size=(3, *shape)).astype("float32")
    if isinstance(layer, Masking):
        x[0, -2:] = 0.0  # padded steps: the layer zeroes them and masks them for what follows
    return x


@pytest.mark.parametrize("case", list(CASES))
def test_layer_contract(case: str, tmp_path: Path) -> None:
    factory, shape, expected = CASES[case]
    layer = factory()
    model = Sequential([layer])
    x = _sample(shape, layer)
    model.build((None, *shape))
    out = model.predict(x)
    assert out.shape == (3, *expected) and out.dtype == np.float32 and np.isfinite(out).all()
    # the config rebuilds an equal layer
    assert type(layer).from_config(layer.get_config()).get_config() == layer.get_config()
    # the saved file rebuilds the same function
    model.save(tmp_path / "m.lstmkit")
    np.testing.assert_array_equal(load_model(tmp_path / "m.lstmkit").predict(x), out)
    # Keras's count equals the trainable parameters minus torch-only zero biases, plus the buffers Keras
    # counts as non-trainable weights (a batch norm's moving statistics)
    trainable = sum(p.numel() for p in layer.parameters() if p.requires_grad)
    assert layer.count_params() == trainable + sum(b.numel() for b in layer.keras_state())
    # once built, another feature count is refused with a message naming both shapes, by a layer with
    # weights over the features; the shape and noise layers take it (Keras fixes no axis of theirs), and
    # every layer refuses another rank
    if layer.input_dtype != torch.long:
        wrong = torch.zeros(3, *shape[:-1], shape[-1] + 1)
        if layer.fixes_features:
            with pytest.raises(ValueError, match=r"expected input of shape \(B, .*\), got \(3, "):
                layer(wrong)
        elif isinstance(layer, Reshape):  # any shape of as many values
            with pytest.raises(ValueError, match=r"cannot reshape input of shape \(3, .*to target_shape"):
                layer(wrong)
        else:
            layer(wrong)
        with pytest.raises(ValueError, match=r"expected input of shape \(B, .*\), got \(3, "):
            layer(torch.zeros(3, *shape, 1))
