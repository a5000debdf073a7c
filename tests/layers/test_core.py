"""Feed-forward Keras-face layers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from lstmkit.layers import LSTM, Dense, Dropout, Embedding, Input, LayerNormalization, Masking
from lstmkit.models import Sequential, load_model
from lstmkit.ops.masks import bernoulli_mask


def test_dense_applies_to_last_axis_with_keras_count() -> None:
    layer = Dense(3, activation="sigmoid")
    out = layer(torch.zeros(2, 4, 5))
    assert out.shape == (2, 4, 3) and layer.count_params() == 5 * 3 + 3
    assert torch.all((out > 0) & (out < 1))
    assert layer(torch.zeros(1, 7, 5)).shape == (1, 7, 3)  # any number of steps once built


def test_dense_rejects_unknown_activation_listing_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown activation 'sigmoidd'; expected None or one of .*relu"):
        Dense(1, activation="sigmoidd")


def test_dense_rejects_new_feature_count_after_build() -> None:
    layer = Dense(2)
    layer(torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"expected input of shape \(B, 3\), got \(1, 4\)"):
        layer(torch.zeros(1, 4))


def test_dense_takes_keras_3s_activation_defaults() -> None:
    # Keras 3: leaky_relu's slope is 0.2 (torch's default is 0.01); hard_sigmoid is relu6(x + 3) / 6
    x = torch.tensor([[-5.0, -1.0, 0.0, 1.0, 5.0]])
    layer = Dense(5, activation="leaky_relu", use_bias=False)
    layer(x)
    layer.set_weights([np.eye(5, dtype=np.float32)])
    torch.testing.assert_close(layer(x), torch.tensor([[-1.0, -0.2, 0.0, 1.0, 5.0]]))
    hard = Dense(5, activation="hard_sigmoid", use_bias=False)
    hard(x)
    hard.set_weights([np.eye(5, dtype=np.float32)])
    torch.testing.assert_close(hard(x), torch.tensor([[0.0, 1 / 3, 0.5, 2 / 3, 1.0]]))
    for name in ("relu6", "softsign", "exponential", "log_softmax", "mish", "hard_silu", "hard_swish"):
        assert Dense(2, activation=name)(x).shape == (1, 2)


def test_dense_casts_float64_data_and_needs_a_batch_axis() -> None:
    layer = Dense(2)
    y = layer(torch.ones(3, 4, dtype=torch.float64))  # NumPy's default dtype, cast as Keras casts it
    assert y.dtype == torch.float32 and y.shape == (3, 2)
    assert layer(torch.ones(3, 5, 4)).shape == (3, 5, 2)  # built on (B, I), it still takes (B, T, I)
    with pytest.raises(ValueError, match=r"expected input of shape \(B, 4\), got \(3, 5, 3\)"):
        layer(torch.ones(3, 5, 3))
    for bad in (torch.ones(4), torch.tensor(1.0)):
        with pytest.raises(
            ValueError, match=r"Dense '.*' expects input of shape \(B, \.\.\., I\) with at least 2"
        ):
            Dense(2)(bad)


def test_dropout_drops_in_training_only() -> None:
    layer = Dropout(0.5)
    x = torch.ones(1000)
    dropped = layer(x)
    assert 300 < int((dropped == 0).sum()) < 700 and set(dropped.unique().tolist()) <= {0.0, 2.0}
    assert torch.equal(layer.eval()(x), x)
    with pytest.raises(ValueError, match=r"Dropout rate must be in \[0, 1\), got 1.5"):
        Dropout(1.5)


def test_masking_mask_and_zeroing() -> None:
    x = torch.tensor([[[1.0, 2.0], [-1.0, -1.0], [0.0, 3.0]]])
    layer = Masking(-1.0)
    assert layer.compute_mask(x, None).tolist() == [[True, False, True]]
    assert torch.equal(layer(x)[0, 1], torch.zeros(2))


def test_layer_normalization_normalizes_last_axis() -> None:
    y = LayerNormalization()(torch.randn(4, 3, 8) * 5 + 2)
    torch.testing.assert_close(y.mean(-1), torch.zeros(4, 3), atol=1e-5, rtol=0)
    assert LayerNormalization().count_params() == 0  # unbuilt


def test_input_declares_shape_and_dtype() -> None:
    layer = Input((3, 2), dtype="int64")
    assert layer.input_dtype == torch.long and layer.input_shape_arg == (3, 2)
    with pytest.raises(ValueError, match="Input dtype must be 'float32' or 'int64'"):
        Input((3,), dtype="float16")


def test_dense_input_dim_is_keras_2_shorthand_for_input_shape() -> None:
    layer = Dense(4, input_dim=3)
    assert layer.input_shape_arg == (3,)
    model = Sequential([layer])
    assert model.built and model.predict(np.zeros((2, 3))).shape == (2, 4)  # built at add, as Keras
    assert Dense.from_config(layer.get_config()).input_shape_arg == (3,)
    with pytest.raises(ValueError, match=r"Dense takes input_shape or input_dim, not both"):
        Dense(4, input_dim=3, input_shape=(3,))
    with pytest.raises(ValueError, match=r"Dense input_dim must be >= 1, got 0"):
        Dense(4, input_dim=0)


def test_dense_accepts_a_callable_activation_and_saves_it_only_by_name(tmp_path: Path) -> None:
    x = torch.randn(5, 3)
    doubled = Dense(2, activation=lambda t: 2 * t, name="doubled")
    linear = Dense(2)
    linear(x)
    doubled(x)
    doubled.set_weights(linear.get_weights())
    torch.testing.assert_close(doubled(x), 2 * linear(x))
    with pytest.raises(
        TypeError, match=r"Dense 'doubled' has the callable activation .*<lambda>, which cannot be saved"
    ):
        doubled.get_config()
    with pytest.raises(TypeError, match=r"Dense 'doubled' has the callable activation"):
        Sequential([Input((3,)), doubled]).save(tmp_path / "m.lstmkit")
    # one of Keras's named activations passed as a function is saved under its name
    relu = Dense(2, activation=torch.relu)
    assert bool((relu(x) >= 0).all()) and relu.get_config()["activation"] == "relu"
    model = Sequential([Input((3,)), relu])
    model.save(tmp_path / "relu.lstmkit")
    np.testing.assert_array_equal(
        load_model(tmp_path / "relu.lstmkit").predict(x.numpy()), model.predict(x.numpy())
    )


def test_embedding_takes_id_sequences_of_any_length_from_input_shape_none() -> None:
    # Keras's Input(shape=(None,)) for text: the last axis of ids is time, not features
    model = Sequential([Embedding(20, 4, input_shape=(None,)), LSTM(3), Dense(1)])
    assert model.built
    for steps in (2, 9):
        assert model.predict(np.ones((3, steps), dtype=np.int64)).shape == (3, 1)
    with pytest.raises(
        ValueError, match=r"None for any number of steps, not for the features\), got \(4, None\)"
    ):
        LSTM(3, input_shape=(4, None))


def test_embedding_takes_keras_2s_input_length(tmp_path: Path) -> None:
    model = Sequential([Embedding(20, 4, input_length=7), LSTM(3), Dense(1)])  # Keras 2 tutorials' spelling
    assert model.built and model.layers[0].input_shape_arg == (7,)
    model.save(tmp_path / "m.safetensors")
    assert load_model(tmp_path / "m.safetensors").layers[0].input_shape_arg == (7,)
    with pytest.raises(ValueError, match=r"input_length=7 and input_shape=\(5,\); input_length=T means"):
        Embedding(20, 4, input_shape=(5,), input_length=7)
    with pytest.raises(ValueError, match="Embedding input_length"):
        Embedding(20, 4, input_length=0)


def test_dropout_noise_shape_shares_one_draw_along_its_ones(tmp_path: Path) -> None:
    torch.manual_seed(0)
    layer = Dropout(0.5, noise_shape=(None, 1, None))
    y = layer(torch.ones(8, 6, 5))
    assert bool((y == y[:, :1]).all())  # every step drops the same units
    assert set(y.unique().tolist()) == {0.0, 2.0}  # kept ones scaled by 1 / (1 - rate)
    assert torch.equal(layer.eval()(torch.ones(8, 6, 5)), torch.ones(8, 6, 5))
    model = Sequential([Dropout(0.2, noise_shape=[None, 1, None], input_shape=(6, 5)), LSTM(3), Dense(1)])
    model.save(tmp_path / "m.safetensors")
    assert load_model(tmp_path / "m.safetensors").layers[0].noise_shape == (None, 1, None)
    with pytest.raises(ValueError, match=r"noise_shape \(None, 4, None\) does not broadcast .* \(8, 6, 5\)"):
        Dropout(0.5, noise_shape=(None, 4, None)).train()(torch.ones(8, 6, 5))
    with pytest.raises(ValueError, match=r"Dropout noise_shape\[0\] must be >= 1, got 0"):
        Dropout(0.5, noise_shape=(0, 1))
    with pytest.raises(TypeError, match="Dropout noise_shape must be a tuple of positive ints or None"):
        Dropout(0.5, noise_shape=5)  # type: ignore[arg-type]
    assert Dropout(0.5, noise_shape=(None, np.int64(1))).noise_shape == (None, 1)  # type: ignore[arg-type]


def test_dropout_noise_shape_draws_its_mask_with_the_shared_helper() -> None:
    x = torch.ones(8, 6, 5)
    torch.manual_seed(0)
    expected = x * bernoulli_mask((8, 1, 5), 0.5, x) / 0.5  # the native kernel's draw where it is built
    torch.manual_seed(0)
    assert torch.equal(Dropout(0.5, noise_shape=(None, 1, None))(x), expected)


@pytest.mark.parametrize("training", [True, False], ids=["training", "eval"])
def test_dropout_noise_shape_checks_the_input_rank_in_both_modes(training: bool) -> None:
    layer = Dropout(0.5, noise_shape=(None, 1, None)).train(training)
    with pytest.raises(
        ValueError,
        match=r"noise_shape \(None, 1, None\) expects input with 3 dimensions \(one per entry, batch "
        r"included\), got shape \(8, 5\)",
    ):
        layer(torch.ones(8, 5))
