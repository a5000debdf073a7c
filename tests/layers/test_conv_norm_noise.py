"""Conv1D, BatchNormalization and the noise layers against torch, hand computations and Keras 3's rules."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from lstmkit.layers import (
    LSTM,
    BatchNormalization,
    Conv1D,
    Dense,
    GaussianDropout,
    GaussianNoise,
    Layer,
    Masking,
    SpatialDropout1D,
    TimeDistributed,
)
from lstmkit.layers.windows import same_padding
from lstmkit.models import Sequential, load_model
from lstmkit.models.optimizers import Adam

L = TypeVar("L", bound=Layer)


def _float64(layer: L, shape: tuple[int, ...]) -> L:
    """``layer`` built for inputs of ``shape`` (without running it) and converted to float64."""
    layer.build_from_shape(shape)
    return layer.double()


# -- Conv1D ----------------------------------------------------------------------------------------------

# (padding, steps, kernel_size, strides, dilation_rate, groups, zeros padded (before, after)), the pads
# worked out by hand from TensorFlow's rule for "same" (extra zero after) and (k - 1) * d before for "causal"
CONV_CASES = {
    "valid-s1": ("valid", 7, 3, 1, 1, 1, (0, 0)),
    "valid-s2": ("valid", 8, 3, 2, 1, 1, (0, 0)),
    "valid-dilation2": ("valid", 9, 3, 1, 2, 1, (0, 0)),
    "valid-groups2": ("valid", 6, 2, 1, 1, 2, (0, 0)),
    "same-s1-odd-kernel": ("same", 7, 3, 1, 1, 1, (1, 1)),
    "same-s1-even-kernel": ("same", 7, 4, 1, 1, 1, (1, 2)),
    "same-s2-odd-steps": ("same", 7, 4, 2, 1, 1, (1, 2)),  # T'=4: 3*2 + 4 - 7 = 3 zeros
    "same-s2-even-steps": ("same", 8, 3, 2, 1, 1, (0, 1)),  # T'=4: 3*2 + 3 - 8 = 1 zero
    "same-s2-no-padding": ("same", 8, 2, 2, 1, 1, (0, 0)),
    "same-dilation2": ("same", 7, 3, 1, 2, 1, (2, 2)),
    "same-groups2-s2": ("same", 9, 3, 2, 1, 2, (1, 1)),
    "causal-s1": ("causal", 7, 3, 1, 1, 1, (2, 0)),
    "causal-s2": ("causal", 7, 3, 2, 1, 1, (2, 0)),
    "causal-dilation2": ("causal", 7, 3, 1, 2, 1, (4, 0)),
    "causal-groups2": ("causal", 6, 2, 1, 1, 2, (1, 0)),
}


@pytest.mark.parametrize("case", list(CONV_CASES))
def test_conv1d_matches_torch_conv1d_with_explicit_padding(case: str) -> None:
    padding, steps, k, s, d, groups, pads = CONV_CASES[case]
    layer = _float64(Conv1D(4, k, strides=s, padding=padding, dilation_rate=d, groups=groups), (3, steps, 4))
    x = torch.randn(3, steps, 4, dtype=torch.float64)  # (B, T, C)
    y = layer(x)
    if padding == "same":  # TensorFlow's amounts (the layer pads more after, which no window reaches)
        assert same_padding(steps, layer.span, s) == pads
    assert layer.conv is not None
    expected = F.conv1d(
        F.pad(x.transpose(1, 2), pads), layer.conv.weight, layer.conv.bias, s, dilation=d, groups=groups
    ).transpose(1, 2)
    torch.testing.assert_close(y, expected, rtol=0, atol=1e-12)
    if padding == "valid":
        assert y.shape[1] == (steps - (k - 1) * d - 1) // s + 1
    else:  # "same" and "causal" keep ceil(T / s) steps
        assert y.shape[1] == math.ceil(steps / s)


@pytest.mark.parametrize("strides", [1, 2, 3])
@pytest.mark.parametrize("kernel_size", [1, 2, 5])
def test_conv1d_same_padding_gives_ceil_steps_over_strides(kernel_size: int, strides: int) -> None:
    layer = Conv1D(2, kernel_size, strides=strides, padding="same")
    for steps in range(1, 10):
        assert layer(torch.zeros(1, steps, 1)).shape == (1, math.ceil(steps / strides), 2)


def test_conv1d_causal_output_sees_no_later_step() -> None:
    layer = Conv1D(3, 3, padding="causal", dilation_rate=2)
    x = torch.randn(2, 9, 2)
    changed = x.clone()
    changed[:, 5:] += 1.0
    torch.testing.assert_close(layer(changed)[:, :5], layer(x)[:, :5], rtol=0, atol=0)
    assert not torch.allclose(layer(changed)[:, 5:], layer(x)[:, 5:])


def test_conv1d_set_weights_takes_keras_kernel_layout() -> None:
    layer = Conv1D(1, 2, input_shape=(3, 1))
    layer(torch.zeros(1, 3, 1))
    kernel = np.array([[[1.0]], [[10.0]]])  # Keras's (kernel_size, C, filters): tap 0 weighs 1, tap 1 10
    layer.set_weights([kernel, np.array([0.5])])
    y = layer(torch.tensor([[[1.0], [2.0], [3.0]]]))
    assert y.flatten().tolist() == [1 * 1 + 2 * 10 + 0.5, 2 * 1 + 3 * 10 + 0.5]
    grouped = Conv1D(6, 3, groups=2)
    grouped(torch.zeros(1, 5, 4))
    assert [w.shape for w in grouped.get_weights()] == [(3, 2, 6), (6,)]  # (k, C // groups, F)
    assert grouped.count_params() == 3 * 2 * 6 + 6


def test_conv1d_kernel_moves_to_and_from_keras_layout() -> None:
    layer = _float64(Conv1D(3, 2, use_bias=False), (2, 4, 2))
    x = torch.randn(2, 4, 2, dtype=torch.float64)
    y = layer(x)
    (kernel,) = layer.get_weights()
    assert kernel.shape == (2, 2, 3)
    by_hand = sum(np.einsum("btc,cf->btf", x.numpy()[:, j : j + 3], kernel[j]) for j in range(2))
    np.testing.assert_allclose(y.detach().numpy(), by_hand, rtol=1e-12)
    other = _float64(Conv1D(3, 2, use_bias=False), (2, 4, 2))
    other.set_weights([kernel])
    torch.testing.assert_close(other(x), y, rtol=0, atol=0)


def test_conv1d_channels_first_is_channels_last_transposed() -> None:
    last = Conv1D(3, 3, padding="same", input_shape=(6, 2))
    first = Conv1D(3, 3, padding="same", data_format="channels_first", input_shape=(2, None))
    x = torch.randn(2, 6, 2)
    last(x)
    first(x.transpose(1, 2))
    first.set_weights(last.get_weights())
    torch.testing.assert_close(first(x.transpose(1, 2)), last(x).transpose(1, 2))
    with pytest.raises(ValueError, match=r"expected input of shape \(B, 2, \?\), got \(2, 3, 6\)"):
        first(torch.zeros(2, 3, 6))


def test_time_distributed_conv1d_runs_the_cnn_lstm_tutorial_layout(tmp_path: Path) -> None:
    model = Sequential(
        [
            TimeDistributed(Conv1D(4, 1, activation="relu"), input_shape=(None, 3, 2)),
            TimeDistributed(Conv1D(2, 3)),  # (B, S, 1, 2)
            TimeDistributed(Dense(2)),
        ]
    )
    x = np.random.default_rng(0).normal(size=(5, 4, 3, 2)).astype("float32")
    out = model.predict(x)
    assert out.shape == (5, 4, 1, 2)
    model.save(tmp_path / "m.lstmkit")
    np.testing.assert_array_equal(load_model(tmp_path / "m.lstmkit").predict(x), out)


# -- BatchNormalization ----------------------------------------------------------------------------------


def test_batch_norm_training_step_follows_keras_rule() -> None:
    layer = _float64(BatchNormalization(momentum=0.9, epsilon=1e-3), (4, 2))
    x = torch.tensor([[1.0, -2.0], [2.0, 0.0], [4.0, 1.0], [5.0, 5.0]], dtype=torch.float64)
    gamma, beta = np.array([2.0, 0.5]), np.array([0.1, -0.3])
    layer.set_weights([gamma, beta, np.zeros(2), np.ones(2)])
    y = layer.train()(x)
    data = x.numpy()
    mean, var = data.mean(0), data.var(0)  # the biased variance (ddof=0), as Keras 3's ops.moments
    np.testing.assert_allclose(y.detach().numpy(), gamma * (data - mean) / np.sqrt(var + 1e-3) + beta)
    moving_mean, moving_var = layer.get_weights()[2:]
    np.testing.assert_allclose(moving_mean, 0.0 * 0.9 + mean * 0.1)
    np.testing.assert_allclose(moving_var, 1.0 * 0.9 + var * 0.1)
    assert not np.allclose(moving_var, 0.9 + data.var(0, ddof=1) * 0.1)  # not torch's unbiased one
    layer(x)  # a second step moves 10% further
    np.testing.assert_allclose(layer.get_weights()[2], (mean * 0.1) * 0.9 + mean * 0.1)


def test_batch_norm_inference_uses_moving_statistics() -> None:
    layer = BatchNormalization(epsilon=1e-3)
    x = torch.randn(5, 3, 2)  # (B, T, C)
    layer(x)
    weights = [np.array([1.5, 2.0]), np.array([0.0, 1.0]), np.array([0.5, -1.0]), np.array([4.0, 0.25])]
    layer.set_weights(weights)
    gamma, beta, moving_mean, moving_var = weights
    expected = gamma * (x.numpy() - moving_mean) / np.sqrt(moving_var + 1e-3) + beta
    np.testing.assert_allclose(layer.eval()(x).detach().numpy(), expected, rtol=1e-5, atol=1e-6)
    assert np.array_equal(layer.get_weights()[2], moving_mean)  # inference leaves them alone


def test_batch_norm_masked_moments_are_those_of_the_valid_steps() -> None:
    x = torch.randn(3, 4, 2, dtype=torch.float64)
    mask = torch.tensor([[True, True, False, False], [True, True, True, True], [False, True, True, False]])
    masked = _float64(BatchNormalization(momentum=0.5), (3, 4, 2))
    y = masked(x, mask)
    valid_only = _float64(BatchNormalization(momentum=0.5), (7, 2))  # the valid steps as one (N, C) batch
    torch.testing.assert_close(y[mask], valid_only(x[mask]))
    torch.testing.assert_close(masked.moving_mean, valid_only.moving_mean)
    torch.testing.assert_close(masked.moving_variance, valid_only.moving_variance)
    assert torch.equal(masked.compute_mask(x, mask), mask)  # passed on to the next layer
    with pytest.raises(ValueError, match=r"expected a mask of shape \(3, 4\) .*, got \(3, 5\)"):
        masked(x, torch.ones(3, 5, dtype=torch.bool))


def test_batch_norm_after_masking_in_a_sequential_ignores_padding() -> None:
    x = np.random.default_rng(1).normal(size=(4, 5, 2)).astype("float32")
    x[0, 3:] = 0.0  # padding
    model = Sequential([Masking(0.0, input_shape=(5, 2)), BatchNormalization(momentum=0.0)])
    model.module.train()
    model(x)
    valid = x[np.abs(x).sum(-1) > 0]
    bn = model.layers[1]
    assert isinstance(bn, BatchNormalization)
    np.testing.assert_allclose(bn.get_weights()[2], valid.mean(0), rtol=1e-5)
    np.testing.assert_allclose(bn.get_weights()[3], valid.var(0), rtol=1e-5)


def test_batch_norm_trainable_false_runs_in_inference_mode(tmp_path: Path) -> None:
    layer = BatchNormalization()
    x = torch.randn(6, 3) * 3 + 1
    layer(x)
    layer.set_weights([np.full(3, 2.0), np.full(3, 0.5), np.full(3, 1.0), np.full(3, 4.0)])
    layer.trainable = False
    before = layer.get_weights()
    y = layer.train()(x)  # training mode, but frozen: Keras 3's inference mode
    torch.testing.assert_close(y, 2.0 * (x - 1.0) / math.sqrt(4.0 + 1e-3) + 0.5)
    assert all(np.array_equal(a, b) for a, b in zip(layer.get_weights(), before, strict=True))
    assert not any(p.requires_grad for p in layer.parameters())
    model = Sequential([Dense(3, input_shape=(3,)), layer, Dense(1)])
    model.compile("sgd", "mse")
    model.fit(x.numpy(), np.ones((6, 1)), epochs=2, batch_size=3, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(layer.get_weights(), before, strict=True))
    model.save(tmp_path / "frozen.lstmkit")
    loaded = load_model(tmp_path / "frozen.lstmkit").layers[1]
    assert isinstance(loaded, Layer) and loaded.trainable is False


def test_batch_norm_weights_follow_center_and_scale() -> None:
    x = torch.randn(4, 3)
    for kwargs, names in [
        ({}, ["gamma", "beta", "moving_mean", "moving_variance"]),
        ({"center": False}, ["gamma", "moving_mean", "moving_variance"]),
        ({"scale": False}, ["beta", "moving_mean", "moving_variance"]),
        ({"center": False, "scale": False}, ["moving_mean", "moving_variance"]),
    ]:
        layer = BatchNormalization(**kwargs)
        layer(x)
        assert list(layer.keras_weights()) == names and [w.shape for w in layer.get_weights()] == [
            (3,)
        ] * len(names)
        assert layer.count_params() == 3 * len(names)  # the moving statistics count, as in Keras


def test_batch_norm_on_channels_first_axis() -> None:
    layer = _float64(BatchNormalization(axis=1, momentum=0.0), (4, 3, 5))
    x = torch.randn(4, 3, 5, dtype=torch.float64)  # (B, C, T)
    layer(x)
    torch.testing.assert_close(layer.moving_mean, x.mean(dim=(0, 2)))
    assert layer(torch.zeros(2, 3, 7, dtype=torch.float64)).shape == (2, 3, 7)  # any steps once built
    with pytest.raises(ValueError, match=r"expected input of shape \(B, 3, \?\), got \(2, 4, 5\)"):
        layer(torch.zeros(2, 4, 5, dtype=torch.float64))
    # a (B, T) mask on (B, C, T): the statistics over each channel's valid steps
    mask = torch.tensor([[True] * 5, [True, True, False, False, False], [False] * 5, [True] * 5])
    layer(x, mask)
    expected = torch.stack([x[:, c][mask].mean() for c in range(3)])
    torch.testing.assert_close(layer.moving_mean, expected)
    with pytest.raises(ValueError, match=r"expected a mask of shape \(4, 5\) .*got \(4, 3\)"):
        layer(x, torch.ones(4, 3, dtype=torch.bool))


def test_batch_norm_moving_statistics_survive_save_and_load(tmp_path: Path) -> None:
    model = Sequential([BatchNormalization(input_shape=(4, 3)), Dense(1)])
    model.compile("adam", "mse")
    rng = np.random.default_rng(2)
    x, y = rng.normal(2.0, 3.0, size=(32, 4, 3)).astype("float32"), rng.normal(size=(32, 4, 1))
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    bn = model.layers[0]
    assert isinstance(bn, BatchNormalization) and not np.allclose(bn.get_weights()[2], 0.0)
    model.save(tmp_path / "bn.lstmkit")
    loaded = load_model(tmp_path / "bn.lstmkit")
    for a, b in zip(loaded.get_weights(), model.get_weights(), strict=True):
        assert np.array_equal(a, b)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    model.save_weights(tmp_path / "bn.weights.lstmkit")
    fresh = Sequential([BatchNormalization(input_shape=(4, 3)), Dense(1)])
    fresh.load_weights(tmp_path / "bn.weights.lstmkit")
    np.testing.assert_array_equal(fresh.get_weights()[2], bn.get_weights()[2])


# -- noise layers ----------------------------------------------------------------------------------------

NOISE: dict[str, Callable[[], Layer]] = {
    "spatial_dropout1d": lambda: SpatialDropout1D(0.5),
    "gaussian_noise": lambda: GaussianNoise(0.5, seed=3),
    "gaussian_dropout": lambda: GaussianDropout(0.2, seed=3),
}


@pytest.mark.parametrize("name", list(NOISE))
def test_noise_layers_are_the_identity_in_inference_and_pass_masks(name: str) -> None:
    layer = NOISE[name]()
    x = torch.randn(4, 5, 3)
    assert torch.equal(layer.eval()(x), x)
    mask = torch.ones(4, 5, dtype=torch.bool)
    assert layer.compute_mask(x, mask) is mask
    assert not torch.equal(layer.train()(x), x)


def test_spatial_dropout1d_drops_whole_channels() -> None:
    y = SpatialDropout1D(0.5)(torch.ones(400, 5, 8))
    assert bool((y == y[:, :1]).all()) and set(y.unique().tolist()) <= {0.0, 2.0}
    assert 0.45 < float((y[:, 0] == 0).float().mean()) < 0.55
    assert "noise_shape" not in SpatialDropout1D(0.5).get_config()


def test_gaussian_noise_and_dropout_statistics_in_training() -> None:
    noise = GaussianNoise(0.5, seed=3)(torch.zeros(20000))
    assert abs(float(noise.mean())) < 0.02 and abs(float(noise.std()) - 0.5) < 0.02
    kept = GaussianDropout(0.2, seed=3)(torch.ones(20000))  # std sqrt(0.2 / 0.8) = 0.5
    assert abs(float(kept.mean()) - 1.0) < 0.02 and abs(float(kept.std()) - 0.5) < 0.02


def test_seeded_noise_repeats_from_a_fresh_layer_whatever_the_global_generator() -> None:
    first = GaussianNoise(1.0, seed=7)(torch.zeros(5))
    torch.manual_seed(123)
    again = GaussianNoise(1.0, seed=7)
    assert torch.equal(again(torch.zeros(5)), first)
    assert not torch.equal(again(torch.zeros(5)), first)  # the sequence goes on, as Keras's SeedGenerator
    assert not torch.equal(GaussianNoise(1.0, seed=8)(torch.zeros(5)), first)


# -- bad arguments and inputs ----------------------------------------------------------------------------

BAD_ARGUMENTS: dict[str, tuple[Callable[[], Layer], type[Exception], str]] = {
    "conv-filters": (lambda: Conv1D(0, 3), ValueError, r"Conv1D filters must be >= 1, got 0"),
    "conv-kernel-float": (
        lambda: Conv1D(2, 2.5),
        TypeError,
        r"Conv1D kernel_size must be an integer, got float",
    ),
    "conv-kernel-2d": (
        lambda: Conv1D(2, (3, 3)),
        ValueError,
        r"kernel_size must be an int or a tuple of one int",
    ),
    "conv-padding": (
        lambda: Conv1D(2, 3, padding="full"),
        ValueError,
        r"unknown Conv1D padding 'full'; expected one of 'causal', 'same', 'valid'",
    ),
    "conv-data-format": (
        lambda: Conv1D(2, 3, data_format="NWC"),
        ValueError,
        r"unknown Conv1D data_format 'NWC'",
    ),
    "conv-groups": (
        lambda: Conv1D(3, 3, groups=2),
        ValueError,
        r"filters must be a multiple of groups, got filters=3",
    ),
    "conv-strides-and-dilation": (
        lambda: Conv1D(2, 3, strides=2, dilation_rate=2),
        ValueError,
        r"strides > 1 or dilation_rate > 1, not both",
    ),
    "conv-use-bias": (
        lambda: Conv1D(2, 3, use_bias="yes"),
        TypeError,
        r"use_bias must be True or False, got str",
    ),
    "bn-axis-batch": (lambda: BatchNormalization(axis=0), ValueError, r"got 0 \(the batch axis\)"),
    "bn-axis-float": (lambda: BatchNormalization(axis=-1.0), TypeError, r"axis must be an integer"),
    "bn-momentum": (
        lambda: BatchNormalization(momentum=1.5),
        ValueError,
        r"BatchNormalization momentum must be in \[0, 1\], got 1.5",
    ),
    "bn-epsilon": (
        lambda: BatchNormalization(epsilon=0),
        ValueError,
        r"epsilon must be a finite number > 0, got 0",
    ),
    "bn-center": (
        lambda: BatchNormalization(center=1),
        TypeError,
        r"center must be True or False, got int 1",
    ),
    "spatial-rate": (
        lambda: SpatialDropout1D(1.0),
        ValueError,
        r"SpatialDropout1D rate must be in \[0, 1\), got 1.0",
    ),
    "noise-stddev": (
        lambda: GaussianNoise(-0.1),
        ValueError,
        r"GaussianNoise stddev must be a finite number >= 0",
    ),
    "noise-seed": (
        lambda: GaussianNoise(0.1, seed=-1),
        ValueError,
        r"GaussianNoise seed must be an integer in",
    ),
    "gaussian-dropout-rate": (
        lambda: GaussianDropout("0.1"),
        TypeError,
        r"GaussianDropout rate must be a number",
    ),
}


@pytest.mark.parametrize("case", list(BAD_ARGUMENTS))
def test_bad_arguments_name_expected_and_received(case: str) -> None:
    factory, error, message = BAD_ARGUMENTS[case]
    with pytest.raises(error, match=message):
        factory()


BAD_INPUTS: dict[str, tuple[Layer, tuple[int, ...], str]] = {
    "conv-rank": (Conv1D(2, 3), (4, 5), r"Conv1D '.*' expects input of shape \(B, T, C\) .*, got \(4, 5\)"),
    "conv-too-short": (Conv1D(2, 5), (1, 3, 2), r"padding='valid' needs at least 5 steps .*, got 3"),
    "conv-groups": (
        Conv1D(4, 3, groups=2),
        (1, 5, 3),
        r"input channels must be a multiple of groups=2, got 3",
    ),
    "bn-rank": (BatchNormalization(), (4,), r"expects input of shape \(B, C\) or \(B, T, C\) .*, got \(4,\)"),
    "bn-axis": (BatchNormalization(axis=2), (4, 3), r"features on axis=2, got \(4, 3\)"),
    "spatial-rank": (
        SpatialDropout1D(0.1),
        (4, 3),
        r"SpatialDropout1D '.*' expects input of shape \(B, T, C\)",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_inputs_are_refused_with_the_expected_shape(case: str) -> None:
    layer, shape, message = BAD_INPUTS[case]
    with pytest.raises(ValueError, match=message):
        layer(torch.zeros(shape))


# -- a CNN-LSTM ------------------------------------------------------------------------------------------


def test_cnn_lstm_fits_and_round_trips_save_and_load(tmp_path: Path) -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 12, 1)).astype("float32")
    y = x[:, -3:, 0].sum(1, keepdims=True)  # the sum of the last three steps
    model = Sequential(
        [
            Conv1D(8, 3, padding="causal", activation="relu", input_shape=(12, 1)),
            BatchNormalization(),
            SpatialDropout1D(0.1),
            LSTM(8),
            GaussianNoise(0.01, seed=0),
            Dense(1),
        ]
    )
    model.compile(Adam(learning_rate=1e-2), "mse")
    history = model.fit(x, y, epochs=8, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.3 * history.history["loss"][0]
    text = model.summary(print_fn=None)
    assert text is not None
    assert "(Conv1D)" in text and "(None, 12, 8)" in text and "(BatchNormalization)" in text
    # Keras's counts: BatchNormalization's 4 * 8 weights, of which the moving statistics are non-trainable
    norm = model.layers[1]
    assert isinstance(norm, BatchNormalization) and norm.count_params() == 4 * 8
    assert f"Total params: {model.count_params():,}" in text and "Non-trainable params: 16" in text
    model.save(tmp_path / "cnn_lstm.lstmkit")
    loaded = load_model(tmp_path / "cnn_lstm.lstmkit")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert [type(layer).__name__ for layer in loaded.layers] == [
        type(layer).__name__ for layer in model.layers
    ]


# -- edges found in review -------------------------------------------------------------------------------


def test_batch_norm_keeps_its_moving_statistics_on_an_empty_batch() -> None:
    # data-parallel training runs a rank's empty share of a batch; NaN statistics would reach every rank
    layer = BatchNormalization()
    layer(torch.randn(8, 3))
    mean, variance = layer.moving_mean.clone(), layer.moving_variance.clone()
    assert layer(torch.zeros(0, 3)).shape == (0, 3)
    torch.testing.assert_close(layer.moving_mean, mean, rtol=0, atol=0)
    torch.testing.assert_close(layer.moving_variance, variance, rtol=0, atol=0)


def test_conv1d_on_no_steps_is_empty_with_same_or_causal_and_an_error_with_valid() -> None:
    for padding, strides in (("same", 1), ("same", 2), ("causal", 1)):
        assert Conv1D(4, 3, strides=strides, padding=padding)(torch.zeros(2, 0, 3)).shape == (2, 0, 4)
    with pytest.raises(ValueError, match=r"with padding='valid' needs at least 3 steps .*got 0"):
        Conv1D(4, 3)(torch.zeros(2, 0, 3))


def test_channels_first_input_shape_needs_its_channels() -> None:
    with pytest.raises(ValueError, match=r"Conv1D input_shape with data_format='channels_first' is \(C, T\)"):
        Conv1D(4, 3, data_format="channels_first", input_shape=(None, None))


def test_a_channels_first_stack_takes_any_length_through_activation_and_noise() -> None:
    # layers without weights over the features fix no axis (they fixed the last, here the steps)
    from lstmkit.layers import Activation, GlobalAveragePooling1D

    model = Sequential(
        [
            Conv1D(4, 3, data_format="channels_first", input_shape=(2, None)),
            Activation("relu"),
            GaussianNoise(0.1),
            GlobalAveragePooling1D(data_format="channels_first"),
            Dense(1),
        ]
    )
    for steps in (5, 9):
        assert model.predict(np.zeros((2, 2, steps), dtype="float32"), verbose=0).shape == (2, 1)
