"""Embedding masks, Bidirectional, TimeDistributed, and masks flowing through a Sequential."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from lstmkit.layers import GRU, LSTM, Bidirectional, Dense, Embedding, Masking, SimpleRNN, TimeDistributed
from lstmkit.layers.base import Layer
from lstmkit.models import Sequential, load_model


def test_embedding_ids_and_errors() -> None:
    layer = Embedding(5, 3)
    assert layer(torch.tensor([[1, 4]])).shape == (1, 2, 3) and layer.count_params() == 15
    assert layer.compute_mask(torch.tensor([[0, 1]]), None) is None
    with pytest.raises(ValueError, match=r"expected ids in \[0, 4\], got values in \[0, 5\]"):
        layer(torch.tensor([[0, 5]]))
    with pytest.raises(ValueError, match="expected integer token ids"):
        layer(torch.tensor([[0.5]]))
    with pytest.raises(ValueError, match=r"got non-integer floats \(e\.g\. nan\)"):
        layer(torch.tensor([[1.0, float("nan")]]))
    # any integer or boolean dtype is cast to ids, as Keras casts them
    expected = layer(torch.tensor([[1, 0]]))
    for dtype in (torch.uint8, torch.int16, torch.int32, torch.bool):
        torch.testing.assert_close(layer(torch.tensor([[1, 0]], dtype=dtype)), expected)


def test_bidirectional_reset_states_forgets_both_directions() -> None:
    layer = Bidirectional(LSTM(2, stateful=True))
    x = torch.randn(3, 4, 2)
    first = layer(x)
    assert not torch.allclose(layer(x), first)  # the carried state changes the output
    layer.reset_states()
    assert layer.forward_layer.states is None and layer.backward_layer.states is None
    torch.testing.assert_close(layer(x), first)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave"])
def test_bidirectional_merges_forward_and_time_reversed_backward(merge_mode: str) -> None:
    layer = Bidirectional(GRU(3, return_sequences=True), merge_mode=merge_mode)
    x = torch.randn(2, 5, 4)
    out = layer(x)
    forward = layer.forward_layer(x)
    layer.backward_layer.go_backwards = False  # run the backward weights on the reversed input by hand
    expected_backward = layer.backward_layer(x.flip(1)).flip(1)
    layer.backward_layer.go_backwards = True
    merged = {
        "concat": torch.cat([forward, expected_backward], -1),
        "sum": forward + expected_backward,
        "mul": forward * expected_backward,
        "ave": (forward + expected_backward) / 2,
    }[merge_mode]
    torch.testing.assert_close(out, merged)
    with pytest.raises(ValueError, match="unknown merge_mode 'max'"):
        Bidirectional(GRU(3), merge_mode="max")


def test_bidirectional_last_output_respects_lengths() -> None:
    layer = Bidirectional(LSTM(2))
    x = torch.randn(1, 6, 3)
    mask = torch.tensor([[True, True, True, True, False, False]])
    torch.testing.assert_close(layer(x, mask), layer(x[:, :4]))


def test_time_distributed_applies_per_step() -> None:
    dense = Dense(2)
    layer = TimeDistributed(dense)
    x = torch.randn(3, 4, 5)
    torch.testing.assert_close(layer(x), dense(x.reshape(12, 5)).reshape(3, 4, 2))
    assert layer.count_params() == 12


def test_mask_flows_from_embedding_to_recurrent_layers_in_a_sequential() -> None:
    model = Sequential([Embedding(20, 4, mask_zero=True), LSTM(3, return_sequences=True), SimpleRNN(2)])
    model.build((None, 6))
    padded = torch.tensor([[5, 7, 9, 0, 0, 0], [0, 0, 1, 2, 3, 4]])
    out = model.predict(padded)
    np.testing.assert_allclose(out[0:1], model.predict(torch.tensor([[5, 7, 9]])), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[1:2], model.predict(torch.tensor([[1, 2, 3, 4]])), rtol=1e-5, atol=1e-6)


def test_masking_layer_feeds_lengths() -> None:
    model = Sequential([Masking(0.0, input_shape=(5, 2)), GRU(3)])
    x = torch.randn(1, 5, 2)
    x[:, 3:] = 0.0
    np.testing.assert_allclose(model.predict(x), model.module.layers[1](x[:, :3]).detach().numpy(), rtol=1e-5)


def test_wrappers_save_and_load(tmp_path: Path) -> None:
    model = Sequential(
        [
            Embedding(10, 3, mask_zero=True, input_shape=(4,)),
            Bidirectional(LSTM(2, return_sequences=True), merge_mode="sum"),
            TimeDistributed(Dense(1)),
        ]
    )
    ids = np.array([[1, 2, 0, 0], [3, 4, 5, 6]])
    model.save(tmp_path / "m.lstmkit")
    np.testing.assert_array_equal(load_model(tmp_path / "m.lstmkit").predict(ids), model.predict(ids))
    assert model.count_params() == 30 + 2 * 4 * (2 * (3 + 2) + 2) + 3


@pytest.mark.parametrize("make", [lambda: Bidirectional(LSTM(2)), lambda: TimeDistributed(Dense(2))])
def test_a_frozen_wrapper_and_its_inner_layers_stay_frozen_through_a_file(make: Any, tmp_path: Path) -> None:
    wrapper = make()
    shape = (4, 3)
    model = Sequential([wrapper])
    model.build((None, *shape))
    wrapper.trainable = False
    inner = [m for m in wrapper.modules() if isinstance(m, Layer) and m is not wrapper]
    assert inner and not any(layer.trainable for layer in inner)
    model.save(tmp_path / "frozen.lstmkit")
    loaded = load_model(tmp_path / "frozen.lstmkit").layers[0]
    assert not loaded.trainable
    assert not any(m.trainable for m in loaded.modules() if isinstance(m, Layer))
    assert not any(p.requires_grad for p in loaded.parameters())
    rebuilt = type(wrapper).from_config(wrapper.get_config())
    assert not rebuilt.trainable and not any(m.trainable for m in rebuilt.modules() if isinstance(m, Layer))


def test_time_distributed_refuses_a_layer_that_returns_its_states() -> None:
    with pytest.raises(
        ValueError,
        match=r"TimeDistributed wraps layers that return one tensor, and LSTM 'states' returns a tuple "
        r"\(output, \*states\) because return_state=True; set return_state=False",
    ):
        TimeDistributed(LSTM(2, return_state=True, name="states"))
