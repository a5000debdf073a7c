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
    Bidirectional,
    Dense,
    Dropout,
    Embedding,
    Layer,
    LayerNormalization,
    Masking,
    SimpleRNN,
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
    # Keras's count equals the trainable parameters minus torch-only zero biases
    trainable = sum(p.numel() for p in layer.parameters() if p.requires_grad)
    assert layer.count_params() == trainable
    # once built, another feature count is refused with a message naming both shapes
    if layer.input_dtype != torch.long:
        wrong = torch.zeros(3, *shape[:-1], shape[-1] + 1)
        with pytest.raises(ValueError, match=r"expected input of shape \(B, .*\), got \(3, "):
            layer(wrong)
