"""get_weights/set_weights: Keras's order and layout for every layer, round trips, equations, errors."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import nn

from lstmkit.layers import (
    GRU,
    LSTM,
    Bidirectional,
    Dense,
    Dropout,
    Embedding,
    Layer,
    LayerNormalization,
    SimpleRNN,
    TimeDistributed,
)
from lstmkit.models import Model, Sequential

Shapes = list[tuple[int, ...]]

# id: (factory, sample shape without batch, Keras's weight shapes for that input)
CASES: dict[str, tuple[Callable[[], Layer], tuple[int, ...], Shapes]] = {
    "dense": (lambda: Dense(3), (2,), [(2, 3), (3,)]),
    "dense-no_bias": (lambda: Dense(3, use_bias=False), (2,), [(2, 3)]),
    "layer_norm": (lambda: LayerNormalization(), (4, 2), [(2,), (2,)]),
    "embedding": (lambda: Embedding(6, 3), (4,), [(6, 3)]),
    "dropout": (lambda: Dropout(0.5), (2,), []),
    "lstm": (lambda: LSTM(3), (4, 2), [(2, 12), (3, 12), (12,)]),
    "lstm-no_bias-sequences": (
        lambda: LSTM(3, use_bias=False, return_sequences=True),
        (4, 2),
        [(2, 12), (3, 12)],
    ),
    "lstm-projection-peephole-layer_norm": (
        lambda: LSTM(3, projection=2, peephole=True, layer_norm=True),
        (4, 2),
        [(2, 12), (2, 12), (12,), (2, 3), (3, 3), (2, 27)],
    ),
    "gru": (lambda: GRU(3), (4, 2), [(2, 9), (3, 9), (2, 9)]),
    "gru-no_bias": (lambda: GRU(3, use_bias=False), (4, 2), [(2, 9), (3, 9)]),
    "simple_rnn-relu": (lambda: SimpleRNN(3, activation="relu"), (4, 2), [(2, 3), (3, 3), (3,)]),
    "bidirectional-lstm": (lambda: Bidirectional(LSTM(2)), (4, 2), [(2, 8), (2, 8), (8,)] * 2),
    "bidirectional-gru-sequences": (
        lambda: Bidirectional(GRU(2, return_sequences=True)),
        (4, 2),
        [(2, 6), (2, 6), (2, 6)] * 2,
    ),
    "time_distributed-dense": (lambda: TimeDistributed(Dense(3)), (4, 2), [(2, 3), (3,)]),
}


def _sample(layer: Layer, shape: tuple[int, ...]) -> np.ndarray:
    rng = np.random.default_rng(0)
    if layer.input_dtype == torch.long:
        return rng.integers(0, 6, size=(3, *shape))
    return rng.normal(size=(3, *shape)).astype("float32")


def _built(factory: Callable[[], Layer], shape: tuple[int, ...]) -> tuple[Layer, Sequential]:
    layer = factory()
    model = Sequential([layer])
    model.build((None, *shape))
    model.eval()
    return layer, model


def _perturb(module: nn.Module) -> None:
    """Move every trainable weight off its initial value (so that layer norm's 1s and 0s are no alibi)."""
    with torch.no_grad():
        for param in module.parameters():
            if param.requires_grad:
                param.add_(0.3 * torch.randn_like(param))


@pytest.mark.parametrize("case", list(CASES))
def test_get_weights_has_keras_shapes_and_round_trips_into_a_fresh_layer(case: str) -> None:
    factory, shape, keras_shapes = CASES[case]
    source, source_model = _built(factory, shape)
    _perturb(source)
    x = _sample(source, shape)
    weights = source.get_weights()
    assert [w.shape for w in weights] == keras_shapes
    assert all(isinstance(w, np.ndarray) and w.dtype == np.float32 for w in weights)
    assert [w.shape for w in source_model.get_weights()] == keras_shapes

    target, target_model = _built(factory, shape)
    if weights:  # a fresh layer computes something else until it gets the weights
        assert not np.allclose(target_model.predict(x), source_model.predict(x))
    target.set_weights(weights)
    np.testing.assert_array_equal(target_model.predict(x), source_model.predict(x))
    for got, expected in zip(target.get_weights(), weights, strict=True):
        np.testing.assert_array_equal(got, expected)

    _, fresh_model = _built(factory, shape)
    fresh_model.set_weights(source_model.get_weights())
    np.testing.assert_array_equal(fresh_model.predict(x), source_model.predict(x))


def test_get_weights_is_a_copy() -> None:
    layer, _ = _built(lambda: Dense(2), (3,))
    weights = layer.get_weights()
    weights[0][:] = 7.0
    assert not np.any(layer.get_weights()[0] == 7.0)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _keras_lstm(x: np.ndarray, kernel: np.ndarray, recurrent: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Keras's LSTM: ``z = x K + h R + b`` split into gate columns i, f, c, o."""
    units = recurrent.shape[0]
    h = np.zeros((x.shape[0], units))
    c = np.zeros((x.shape[0], units))
    outputs = []
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent + bias
        i = _sigmoid(z[:, :units])
        f = _sigmoid(z[:, units : 2 * units])
        g = np.tanh(z[:, 2 * units : 3 * units])
        o = _sigmoid(z[:, 3 * units :])
        c = f * c + i * g
        h = o * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs, axis=1)


def _keras_gru(x: np.ndarray, kernel: np.ndarray, recurrent: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Keras's GRU with ``reset_after=True``: gate blocks z, r, h; bias row 0 input, row 1 recurrent."""
    units = recurrent.shape[0]
    h = np.zeros((x.shape[0], units))
    outputs = []
    for t in range(x.shape[1]):
        xz, xr, xh = np.split(x[:, t] @ kernel + bias[0], 3, axis=1)
        hz, hr, hh = np.split(h @ recurrent + bias[1], 3, axis=1)
        z = _sigmoid(xz + hz)
        r = _sigmoid(xr + hr)
        candidate = np.tanh(xh + r * hh)
        h = z * h + (1 - z) * candidate
        outputs.append(h)
    return np.stack(outputs, axis=1)


def _keras_simple_rnn(
    x: np.ndarray, kernel: np.ndarray, recurrent: np.ndarray, bias: np.ndarray
) -> np.ndarray:
    h = np.zeros((x.shape[0], recurrent.shape[0]))
    outputs = []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ kernel + h @ recurrent + bias)
        outputs.append(h)
    return np.stack(outputs, axis=1)


@pytest.mark.parametrize(
    ("factory", "equations"),
    [
        (lambda: LSTM(3, return_sequences=True), _keras_lstm),
        (lambda: GRU(3, return_sequences=True), _keras_gru),
        (lambda: SimpleRNN(3, return_sequences=True), _keras_simple_rnn),
    ],
    ids=["lstm", "gru", "simple_rnn"],
)
def test_get_weights_follow_keras_equations(factory: Callable[[], Layer], equations: Callable) -> None:
    layer = factory()
    x = np.random.default_rng(1).normal(size=(2, 3, 2))
    layer(torch.zeros(1, 3, 2))
    _perturb(layer)
    expected = equations(x, *[w.astype(np.float64) for w in layer.get_weights()])
    with torch.no_grad():
        out = layer(torch.from_numpy(x).float()).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_lstm_bias_is_keras_single_bias_and_bias_hh_stays_zero() -> None:
    layer = LSTM(2)
    layer(torch.zeros(1, 1, 3))
    kernel, recurrent, bias = layer.get_weights()
    np.testing.assert_array_equal(bias[2:4], np.ones(2))  # unit_forget_bias: the f columns
    layer.set_weights([kernel, recurrent, np.arange(8.0)])
    assert torch.equal(layer.rnn.bias_ih_l0, torch.arange(8.0))
    assert torch.count_nonzero(layer.rnn.bias_hh_l0) == 0 and not layer.rnn.bias_hh_l0.requires_grad


def test_bidirectional_lists_the_forward_layer_then_the_backward_layer() -> None:
    layer, _ = _built(lambda: Bidirectional(LSTM(2)), (4, 3))
    _perturb(layer)
    weights = layer.get_weights()
    for got, expected in zip(
        weights, layer.forward_layer.get_weights() + layer.backward_layer.get_weights(), strict=True
    ):
        np.testing.assert_array_equal(got, expected)


def test_lstm_variant_weights_come_after_keras_weights_in_lstmkit_layout() -> None:
    layer, _ = _built(lambda: LSTM(3, projection=2, peephole=True, layer_norm=True), (4, 2))
    names = list(layer.keras_weights())
    assert names == ["kernel", "recurrent_kernel", "bias", "weight_hr", "weight_peephole", "ln_affine"]
    weights = layer.get_weights()
    np.testing.assert_array_equal(weights[3], layer.rnn.weight_hr_l0.detach().numpy())
    np.testing.assert_array_equal(weights[4], layer.rnn.weight_peephole_l0.detach().numpy())
    np.testing.assert_array_equal(weights[5], layer.rnn.ln_affine_l0.detach().numpy())


def test_set_weights_names_the_layer_the_index_and_both_shapes() -> None:
    layer = LSTM(3, name="encoder")
    layer(torch.zeros(1, 2, 2))
    kernel, recurrent, bias = layer.get_weights()
    with pytest.raises(
        ValueError,
        match=r"layer 'encoder' \(LSTM\) set_weights: weight 1 \(recurrent_kernel\) expected shape "
        r"\(3, 12\), got \(12, 3\); kernels are \(inputs, outputs\)",
    ):
        layer.set_weights([kernel, recurrent.T, bias])
    with pytest.raises(
        ValueError,
        match=r"layer 'encoder' \(LSTM\) set_weights expects 3 arrays "
        r"\(kernel, recurrent_kernel, bias\), got 2",
    ):
        layer.set_weights([kernel, recurrent])
    with pytest.raises(TypeError, match=r"weight 2 \(bias\) must be an array of real numbers, got str"):
        layer.set_weights([kernel, recurrent, "zeros"])
    with pytest.raises(TypeError, match="set_weights expects a list of arrays, got ndarray"):
        layer.set_weights(kernel)
    poisoned = kernel.copy()
    poisoned[0, 1] = np.nan
    with pytest.raises(ValueError, match=r"weight 0 \(kernel\) holds 1 NaN or infinite value\(s\)"):
        layer.set_weights([poisoned, recurrent, bias])
    np.testing.assert_array_equal(layer.get_weights()[1], recurrent)  # nothing was written


def test_set_weights_refuses_values_that_overflow_the_weights_dtype() -> None:
    layer = LSTM(2, name="encoder")
    layer(torch.zeros(1, 3, 1))  # float32 weights
    kernel, recurrent, bias = (w.astype(np.float64) for w in layer.get_weights())
    huge = kernel.copy()
    huge[0, 1] = 1e300  # finite in float64, infinite once cast to float32
    with pytest.raises(
        ValueError,
        match=r"weight 0 \(kernel\) holds 1 value\(s\) that do not fit float32 \(the largest magnitude is "
        r"1e\+300, float32 holds up to 3.4e\+38\)",
    ):
        layer.set_weights([huge, recurrent, bias])
    assert np.isfinite(layer.get_weights()[0]).all()  # nothing was written
    layer.set_weights([kernel, recurrent, bias])  # float64 values that fit are cast
    np.testing.assert_allclose(layer.get_weights()[0], kernel, rtol=1e-6)


def test_weights_of_a_layer_that_is_not_built_are_a_clear_error() -> None:
    layer = Dense(2, name="head")
    with pytest.raises(
        ValueError, match=r"layer 'head' \(Dense\) is not built yet, so it has no weights for set_weights"
    ):
        layer.set_weights([np.zeros((3, 2)), np.zeros(2)])
    with pytest.raises(ValueError, match=r"is not built yet, so it has no weights for get_weights"):
        layer.get_weights()


def test_model_weights_concatenate_the_layers_and_check_everything_before_writing() -> None:
    model = Sequential([Embedding(6, 3, input_shape=(4,)), LSTM(2, name="encoder"), Dense(1, name="head")])
    weights = model.get_weights()
    assert [w.shape for w in weights] == [(6, 3), (3, 8), (2, 8), (8,), (2, 1), (1,)]
    before = model.get_weights()
    bad = [w + 1 for w in weights[:-1]] + [np.zeros(2)]
    with pytest.raises(
        ValueError,
        match=r"model 'sequential' set_weights: weight 5 \(head/bias\) expected shape \(1,\), got \(2,\)",
    ):
        model.set_weights(bad)
    for got, expected in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(got, expected)


def test_model_around_plain_torch_modules_lists_their_parameters_in_torch_layout() -> None:
    net = nn.Sequential(nn.Linear(3, 2), nn.Tanh(), Dense(1))
    model = Model(net)
    model.build((None, 3))
    weights = model.get_weights()
    assert [w.shape for w in weights] == [(2, 3), (2,), (2, 1), (1,)]
    model.set_weights([np.ones((2, 3)), np.zeros(2), np.ones((2, 1)), np.zeros(1)])
    expected = np.tanh(np.ones((1, 3)) @ np.ones((3, 2))) @ np.ones((2, 1))
    np.testing.assert_allclose(model.predict(np.ones((1, 3))), expected, rtol=1e-6)
