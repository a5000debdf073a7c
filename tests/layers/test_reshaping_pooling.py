"""Shape and pooling layers: RepeatVector, Flatten, Reshape, Permute, Activation and the 1D pools."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional

from lstmkit.layers import (
    LSTM,
    Activation,
    AveragePooling1D,
    Dense,
    Embedding,
    Flatten,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    Layer,
    MaxPooling1D,
    Permute,
    RepeatVector,
    Reshape,
    TimeDistributed,
)
from lstmkit.layers.base import ACTIVATIONS
from lstmkit.layers.windows import same_padding
from lstmkit.models import Sequential, load_model
from lstmkit.utils import set_seed

# -- reshaping ----------------------------------------------------------------------------------------------


def test_repeat_vector_repeats_each_sample_along_a_new_time_axis() -> None:
    x = torch.randn(2, 3)
    y = RepeatVector(4)(x)
    assert y.shape == (2, 4, 3) and all(torch.equal(y[:, t], x) for t in range(4))
    with pytest.raises(
        ValueError, match=r"RepeatVector 'rv' expects input of shape \(B, I\), got \(2, 5, 3\)"
    ):
        RepeatVector(2, name="rv")(torch.zeros(2, 5, 3))
    with pytest.raises(ValueError, match="RepeatVector n must be >= 1, got 0"):
        RepeatVector(0)
    with pytest.raises(TypeError, match=r"RepeatVector n must be an integer, got float 2\.0"):
        RepeatVector(2.0)  # type: ignore[arg-type]


def test_flatten_keeps_the_batch_and_flattens_channels_last_order() -> None:
    x = torch.randn(2, 3, 4, 5)
    torch.testing.assert_close(Flatten()(x), x.reshape(2, 60), rtol=0, atol=0)
    first = Flatten(data_format="channels_first")(x)  # channels moved last first, as Keras
    torch.testing.assert_close(first, x.permute(0, 2, 3, 1).reshape(2, 60), rtol=0, atol=0)
    assert Flatten()(torch.zeros(3)).shape == (3, 1)  # (B,) -> (B, 1), as Keras
    assert Flatten()(torch.zeros(0, 4, 2)).shape == (0, 8)
    with pytest.raises(ValueError, match="unknown Flatten data_format 'NCW'; expected one of"):
        Flatten(data_format="NCW")


def test_reshape_infers_one_minus_one_and_names_a_size_that_does_not_fit() -> None:
    x = torch.arange(24.0).reshape(2, 12)
    torch.testing.assert_close(Reshape((3, 4))(x), x.reshape(2, 3, 4), rtol=0, atol=0)
    assert Reshape((-1, 2, 2))(x).shape == (2, 3, 2, 2)
    assert Reshape([-1])(torch.zeros(2, 3, 4)).shape == (2, 12)  # a JSON list, as a saved config holds
    with pytest.raises(
        ValueError, match=r"cannot reshape input of shape \(2, 12\) \(12 values per sample\) to "
    ):
        Reshape((5, 2))(x)
    with pytest.raises(ValueError, match=r"target_shape \(-1, 5\), which needs a multiple of 5 values"):
        Reshape((-1, 5))(x)
    with pytest.raises(ValueError, match=r"at most one -1 .*, got \(-1, -1\)"):
        Reshape((-1, -1))
    with pytest.raises(ValueError, match=r"tuple of positive ints .*, got \(3, 0\)"):
        Reshape((3, 0))
    with pytest.raises(TypeError, match="Reshape target_shape must be a tuple of positive ints"):
        Reshape(12)  # type: ignore[arg-type]


def test_permute_is_one_indexed_without_the_batch_axis() -> None:
    x = torch.randn(2, 3, 4, 5)
    torch.testing.assert_close(Permute((3, 1, 2))(x), x.permute(0, 3, 1, 2), rtol=0, atol=0)
    with pytest.raises(ValueError, match=r"Permute dims must be a permutation of 1..n .*, got \(0, 1\)"):
        Permute((0, 1))
    with pytest.raises(ValueError, match=r"Permute dims must be a permutation .*, got \(1, 1\)"):
        Permute([1, 1])
    with pytest.raises(
        ValueError, match=r"with dims=\(2, 1\) expects input with 2 axes after the batch axis"
    ):
        Permute((2, 1))(torch.zeros(2, 3, 4, 5))


def test_permute_output_feeds_a_recurrent_layer() -> None:
    x = torch.randn(2, 4, 3)
    lstm = LSTM(2)
    torch.testing.assert_close(lstm(Permute((2, 1))(x)), lstm(x.transpose(1, 2).contiguous()))


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_applies_each_named_function(name: str) -> None:
    x = torch.randn(2, 3, 4)
    torch.testing.assert_close(Activation(name)(x), ACTIVATIONS[name](x))


def test_activation_passes_masks_on_and_saves_a_callable_by_its_name() -> None:
    mask = torch.tensor([[True, False]])
    assert Activation("tanh").compute_mask(torch.zeros(1, 2, 3), mask) is mask
    assert Activation(torch.relu).get_config()["activation"] == "relu"
    assert Activation(None)(torch.tensor([-2.0])).item() == -2.0  # None is linear, as Keras
    with pytest.raises(TypeError, match=r"Activation 'act' has the callable activation .*<lambda>"):
        Activation(lambda t: 2 * t, name="act").get_config()
    with pytest.raises(ValueError, match=r"unknown activation 'rellu'; expected None or one of"):
        Activation("rellu")


# -- window pooling -----------------------------------------------------------------------------------------


def _pool_oracle(x: torch.Tensor, pool_size: int, strides: int, padding: str, mode: str) -> torch.Tensor:
    """Windows spelled out one by one from TensorFlow's rule: each output is the max or mean of the real
    steps in its window. ``x`` is ``(B, T, I)``."""
    steps = x.shape[1]
    if padding == "same":
        windows = math.ceil(steps / strides)
        left = max((windows - 1) * strides + pool_size - steps, 0) // 2
    else:
        windows, left = (steps - pool_size) // strides + 1, 0
    outputs = []
    for i in range(windows):
        start = i * strides - left
        part = x[:, max(start, 0) : min(start + pool_size, steps)]
        outputs.append(part.amax(1) if mode == "max" else part.mean(1))
    return torch.stack(outputs, 1)


POOL_CASES = [  # (steps, pool_size, strides): symmetric, asymmetric and no padding under "same"
    (5, 2, 1),
    (5, 3, 2),
    (6, 4, 1),
    (7, 2, 2),
    (4, 2, 2),
    (9, 3, 4),
    (3, 5, 1),
]
WINDOW_POOLS = [
    pytest.param(layer_class, padding, *case, id=f"{mode}-{padding}-T{case[0]}-pool{case[1]}-stride{case[2]}")
    for layer_class, mode in ((MaxPooling1D, "max"), (AveragePooling1D, "average"))
    for padding in ("valid", "same")
    for case in POOL_CASES
    if padding == "same" or case[0] >= case[1]  # (too few steps for "valid": see the error test)
]


@pytest.mark.parametrize(("layer_class", "padding", "steps", "pool_size", "strides"), WINDOW_POOLS)
def test_window_pooling_matches_the_window_by_window_oracle(
    layer_class: type[MaxPooling1D | AveragePooling1D], padding: str, steps: int, pool_size: int, strides: int
) -> None:
    x = torch.randn(2, steps, 3, dtype=torch.float64)
    layer = layer_class(pool_size, strides=strides, padding=padding)
    mode = "max" if layer_class is MaxPooling1D else "average"
    y = layer(x)
    torch.testing.assert_close(y, _pool_oracle(x, pool_size, strides, padding, mode))
    expected_steps = math.ceil(steps / strides) if padding == "same" else (steps - pool_size) // strides + 1
    assert y.shape == (2, expected_steps, 3)
    first = layer_class(pool_size, strides=strides, padding=padding, data_format="channels_first")
    torch.testing.assert_close(first(x.transpose(1, 2)), y.transpose(1, 2))


def test_same_padding_has_keras_sizes_and_puts_the_odd_step_right() -> None:
    for steps in range(1, 12):
        for pool_size in range(1, 6):
            for strides in range(1, 5):
                left, right = same_padding(steps, pool_size, strides)
                windows = (steps + left + right - pool_size) // strides + 1
                assert windows == math.ceil(steps / strides) and right - left in (0, 1)


def test_pooling_hand_computed_values_and_torch_on_explicit_padding() -> None:
    x = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0]).reshape(1, 5, 1)
    # padding (1, 1): edge windows average 2 real steps, as TensorFlow's avg_pool1d 'SAME'
    assert AveragePooling1D(3, strides=2, padding="same")(x).flatten().tolist() == [1.5, 3.0, 4.5]
    assert MaxPooling1D(3, strides=2, padding="same")(x).flatten().tolist() == [2.0, 4.0, 5.0]
    # padding (1, 1) at 7 steps: torch's own padding argument gives the same, counting only real steps
    x = torch.randn(2, 7, 3)
    expected = functional.avg_pool1d(x.transpose(1, 2), 3, 1, padding=1, count_include_pad=False)
    torch.testing.assert_close(AveragePooling1D(3, strides=1, padding="same")(x), expected.transpose(1, 2))
    expected = functional.max_pool1d(x.transpose(1, 2), 3, 2, padding=1)
    torch.testing.assert_close(MaxPooling1D(3, strides=2, padding="same")(x), expected.transpose(1, 2))


def test_same_padding_pools_have_correct_gradients() -> None:
    x = torch.randn(1, 6, 2, dtype=torch.float64, requires_grad=True)
    for layer in (AveragePooling1D(4, strides=1, padding="same"), MaxPooling1D(3, 2, padding="same")):
        assert torch.autograd.gradcheck(layer, (x,))


def test_window_pooling_arguments_and_input_errors() -> None:
    assert MaxPooling1D(pool_size=(3,)).strides == 3  # Keras's tuple form; strides default to pool_size
    assert AveragePooling1D(2, padding="SAME").padding == "same"  # case-insensitive, as Keras documents
    with pytest.raises(ValueError, match="MaxPooling1D pool_size must be >= 1, got 0"):
        MaxPooling1D(0)
    with pytest.raises(ValueError, match="AveragePooling1D strides must be >= 1, got 0"):
        AveragePooling1D(2, strides=0)
    with pytest.raises(
        ValueError, match=r"MaxPooling1D pool_size must be an int or a tuple of one int, got \(2, 2\)"
    ):
        MaxPooling1D((2, 2))  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match="unknown MaxPooling1D padding 'causal'; expected one of 'same', 'valid'"
    ):
        MaxPooling1D(2, padding="causal")
    with pytest.raises(ValueError, match="unknown AveragePooling1D data_format 'NWC'"):
        AveragePooling1D(2, data_format="NWC")
    with pytest.raises(
        ValueError, match=r"MaxPooling1D 'p' expects input of shape \(B, T, I\) with data_format="
    ):
        MaxPooling1D(2, name="p")(torch.zeros(2, 8))
    with pytest.raises(ValueError, match=r"padding='valid' needs at least pool_size=4 steps, got 3 .*'same'"):
        MaxPooling1D(4)(torch.zeros(2, 3, 1))


def test_channels_first_fixes_the_channels_and_leaves_the_steps_free() -> None:
    layer = AveragePooling1D(2, data_format="channels_first", input_shape=(3, None))
    assert layer(torch.zeros(2, 3, 8)).shape == (2, 3, 4) and layer(torch.zeros(2, 3, 6)).shape == (2, 3, 3)
    with pytest.raises(ValueError, match=r"expected input of shape \(B, 3, \?\), got \(2, 4, 8\)"):
        layer(torch.zeros(2, 4, 8))


# -- global pooling and masks -------------------------------------------------------------------------------


def test_global_pooling_reduces_the_steps_with_keepdims_and_channels_first() -> None:
    x = torch.randn(2, 5, 3)
    torch.testing.assert_close(GlobalAveragePooling1D()(x), x.mean(1))
    torch.testing.assert_close(GlobalMaxPooling1D()(x), x.amax(1))
    assert GlobalAveragePooling1D(keepdims=True)(x).shape == (2, 1, 3)
    first = GlobalMaxPooling1D(data_format="channels_first", keepdims=True)
    torch.testing.assert_close(first(x.transpose(1, 2)), x.amax(1).unsqueeze(2))
    with pytest.raises(TypeError, match="GlobalMaxPooling1D keepdims must be True or False, got int 1"):
        GlobalMaxPooling1D(keepdims=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"GlobalAveragePooling1D '.*' expects input of shape \(B, T, I\)"):
        GlobalAveragePooling1D()(torch.zeros(2, 3))


def test_global_average_pooling_averages_the_valid_steps_of_a_mask() -> None:
    x = torch.tensor([[[1.0], [3.0], [100.0]], [[2.0], [float("nan")], [4.0]]])
    mask = torch.tensor([[True, True, False], [True, False, True]])
    layer = GlobalAveragePooling1D()
    assert layer(x, mask).tolist() == [[2.0], [3.0]]  # a NaN at a masked step does not leak (as Keras)
    first = GlobalAveragePooling1D(data_format="channels_first", keepdims=True)
    assert first(x.transpose(1, 2), mask).tolist() == [[[2.0]], [[3.0]]]
    assert layer(x[:1], torch.zeros(1, 3, dtype=torch.bool)).tolist() == [[0.0]]  # no valid step: 0
    assert layer.compute_mask(x, mask) is None  # the mask is used up, as Keras
    with pytest.raises(ValueError, match=r"expected a mask of shape \(B, T\) = \(2, 3\) .*got \(2, 4\)"):
        layer(x, torch.ones(2, 4, dtype=torch.bool))


def test_masks_stop_where_keras_3_stops_them() -> None:
    x, mask = torch.randn(2, 4, 3), torch.tensor([[True, True, False, False], [True] * 4])
    # Keras 3's GlobalMaxPooling1D and window pools take no mask: padded steps count, the mask stops
    torch.testing.assert_close(GlobalMaxPooling1D()(x, mask), x.amax(1))
    torch.testing.assert_close(MaxPooling1D(2)(x, mask), MaxPooling1D(2)(x))
    layers: list[Layer] = [
        GlobalMaxPooling1D(),
        MaxPooling1D(2),
        AveragePooling1D(2),
        Flatten(),
        Reshape((-1,)),
        Permute((2, 1)),
    ]
    assert all(layer.compute_mask(x, mask) is None for layer in layers)
    assert RepeatVector(2).compute_mask(x[:, 0], mask) is None


def test_masked_text_model_averages_the_valid_steps_and_round_trips(tmp_path: Path) -> None:
    set_seed(0)
    ids = np.array([[3, 5, 2, 0, 0], [4, 1, 1, 6, 2]])
    model = Sequential(
        [
            Embedding(8, 4, mask_zero=True, input_shape=(5,)),
            LSTM(3, return_sequences=True),
            GlobalAveragePooling1D(),
            Dense(1, activation="sigmoid"),
        ]
    )
    embedding, lstm, pool, dense = model.layers
    with torch.no_grad():
        t = torch.as_tensor(ids)
        states = lstm(embedding(t), embedding.compute_mask(t, None))
        expected = torch.stack([states[0, :3].mean(0), states[1].mean(0)])
        torch.testing.assert_close(torch.as_tensor(model.predict(ids)), dense(expected))
    text = model.summary(print_fn=None)
    assert text is not None and "(None, 3)" in text
    assert pool.count_params() == 0
    model.save(tmp_path / "text.lstmkit")
    np.testing.assert_array_equal(load_model(tmp_path / "text.lstmkit").predict(ids), model.predict(ids))


# -- an encoder-decoder, end to end -------------------------------------------------------------------------


def test_encoder_decoder_forecaster_fits_predicts_and_round_trips(tmp_path: Path) -> None:
    set_seed(0)
    rng = np.random.default_rng(0)
    start = rng.uniform(-1, 1, size=(64, 1))
    series = start + 0.1 * np.arange(9)  # rising lines: the next 3 values follow the first 6
    x, y = series[:, :6, None].astype("float32"), series[:, 6:, None].astype("float32")
    model = Sequential(
        [
            LSTM(16, input_shape=(6, 1)),
            RepeatVector(3),
            LSTM(16, return_sequences=True),
            TimeDistributed(Dense(1)),
        ]
    )
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0]
    prediction = model.predict(x)
    assert prediction.shape == (64, 3, 1)
    text = model.summary(print_fn=None)
    assert text is not None and "(RepeatVector)" in text and "(None, 3, 16)" in text
    model.save(tmp_path / "seq2seq.lstmkit")
    loaded = load_model(tmp_path / "seq2seq.lstmkit")
    assert [type(layer).__name__ for layer in loaded.layers][1] == "RepeatVector"
    np.testing.assert_array_equal(loaded.predict(x), prediction)


def test_cnn_lstm_style_stack_round_trips_with_every_new_layer(tmp_path: Path) -> None:
    set_seed(0)
    x = np.random.default_rng(1).normal(size=(4, 12, 2)).astype("float32")
    model = Sequential(
        [
            MaxPooling1D(2, padding="same", input_shape=(12, 2)),
            AveragePooling1D(3, strides=1, padding="same"),
            Permute((2, 1)),
            Permute((2, 1)),
            LSTM(4, return_sequences=True),
            Activation("tanh"),
            Reshape((6, 2, 2)),
            Reshape((-1, 4)),
            GlobalMaxPooling1D(keepdims=True),
            Flatten(),
            RepeatVector(2),
            GlobalAveragePooling1D(),
            Dense(1),
        ]
    )
    out = model.predict(x)
    assert out.shape == (4, 1) and model.count_params() == 4 * 4 * (2 + 4 + 1) + 5
    model.save(tmp_path / "stack.lstmkit")
    np.testing.assert_array_equal(load_model(tmp_path / "stack.lstmkit").predict(x), out)
