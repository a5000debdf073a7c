"""Keras-face recurrent layers: shapes, Keras parameter counts, masks as lengths, stateful, errors."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from torch import nn

from lstmkit.layers import GRU, LSTM, Dense, Embedding, SimpleRNN
from lstmkit.models import Model, Sequential


@pytest.mark.parametrize(
    ("layer", "expected"),
    [
        (LSTM(50), 4 * (50 * (1 + 50) + 50)),  # 10,400 as in Keras
        (GRU(50), 3 * (50 * (1 + 50) + 2 * 50)),  # Keras reset_after=True: 7,950
        (SimpleRNN(50), 50 * (1 + 50) + 50),  # 2,600
    ],
    ids=["lstm", "gru", "simple_rnn"],
)
def test_parameter_counts_match_keras(layer: nn.Module, expected: int) -> None:
    layer(torch.zeros(2, 4, 1))
    assert layer.count_params() == expected


def test_lstm_single_trainable_bias_and_unit_forget_bias() -> None:
    layer = LSTM(3)
    layer(torch.zeros(1, 2, 2))
    rnn = layer.rnn
    assert not rnn.bias_hh_l0.requires_grad and torch.count_nonzero(rnn.bias_hh_l0) == 0
    assert torch.equal(rnn.bias_ih_l0[3:6], torch.ones(3))
    assert torch.count_nonzero(rnn.bias_ih_l0[:3]) == 0 and torch.count_nonzero(rnn.bias_ih_l0[6:]) == 0


def test_lstm_matches_torch_lstm_with_same_weights() -> None:
    layer = LSTM(4, return_sequences=True)
    x = torch.randn(3, 5, 2)
    out = layer(x)
    reference = nn.LSTM(2, 4, batch_first=True)
    reference.load_state_dict(layer.rnn.state_dict())
    expected, _ = reference(x)
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize("cls", [LSTM, GRU, SimpleRNN], ids=["lstm", "gru", "simple_rnn"])
def test_return_sequences_and_state_shapes(cls: type) -> None:
    layer = cls(4, return_sequences=True, return_state=True)
    outputs = layer(torch.randn(3, 5, 2))
    assert outputs[0].shape == (3, 5, 4)
    assert len(outputs) == 1 + layer.state_count
    assert all(s.shape == (3, 4) for s in outputs[1:])


@pytest.mark.parametrize("padding", ["post", "pre"])
def test_mask_equals_running_on_the_unpadded_sequence(padding: str) -> None:
    layer = LSTM(3, return_sequences=False)
    x = torch.randn(2, 6, 2)
    mask = torch.ones(2, 6, dtype=torch.bool)
    if padding == "post":
        mask[0, 4:] = False
        short = x[0:1, :4]
    else:
        mask[0, :2] = False
        short = x[0:1, 2:]
    out = layer(x, mask)
    torch.testing.assert_close(out[0:1], layer(short))
    torch.testing.assert_close(out[1:2], layer(x[1:2]))


def test_masked_steps_give_zero_sequence_output_and_fully_masked_row_is_zero() -> None:
    layer = GRU(3, return_sequences=True)
    x = torch.randn(2, 4, 1)
    mask = torch.tensor([[True, True, False, False], [False, False, False, False]])
    out = layer(x, mask)
    assert torch.count_nonzero(out[0, 2:]) == 0
    assert torch.count_nonzero(out[1]) == 0
    torch.testing.assert_close(out[0, :2], layer(x[0:1, :2])[0])


def test_go_backwards_runs_the_reversed_sequence() -> None:
    forward = SimpleRNN(3)
    x = torch.randn(2, 5, 2)
    forward(x)
    backward = SimpleRNN(3, go_backwards=True)
    backward(x)
    backward.load_state_dict(forward.state_dict())
    torch.testing.assert_close(backward(x), forward(x.flip(1)))


def test_stateful_carries_state_and_reset_states_forgets_it() -> None:
    layer = LSTM(3, stateful=True, return_sequences=True)
    x = torch.randn(2, 6, 1)
    whole = layer(x)
    layer.reset_states()
    first, second = layer(x[:, :3]), layer(x[:, 3:])
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole)
    layer.reset_states()
    assert not torch.allclose(layer(x[:, 3:]), second)  # a fresh start differs from the carried state


def test_stateful_streaming_one_step_at_a_time() -> None:
    layer = LSTM(3, stateful=True)
    x = torch.randn(1, 5, 2)
    reference = layer(x)
    layer.reset_states()
    for t in range(5):
        last = layer(x[:, t : t + 1])
    torch.testing.assert_close(last, reference)


def test_stateful_batch_size_change_is_an_error() -> None:
    layer = GRU(2, stateful=True)
    layer(torch.randn(4, 3, 1))
    with pytest.raises(ValueError, match="holds state for batch size 4, got a batch of 3"):
        layer(torch.randn(3, 3, 1))


def test_unsupported_activation_is_rejected_with_supported_values() -> None:
    with pytest.raises(ValueError, match="activation='tanh' and recurrent_activation='sigmoid' only"):
        LSTM(4, activation="relu")
    with pytest.raises(ValueError, match="'tanh' or 'relu'"):
        SimpleRNN(4, activation="sigmoid")


def test_gru_takes_keras_reset_after_true_and_refuses_false() -> None:
    layer = GRU(8, reset_after=True)
    assert layer.get_config()["reset_after"] is True  # as Keras writes it
    assert GRU.from_config(layer.get_config()).get_config() == layer.get_config()
    message = "GRU supports Keras's reset_after=True form only (torch's GRU); got reset_after=False"
    with pytest.raises(ValueError, match=re.escape(message)):
        GRU(8, reset_after=False)


def test_wrong_input_shape_names_expected_and_received() -> None:
    layer = LSTM(4, input_shape=(10, 1))
    with pytest.raises(ValueError, match=r"expected input of shape \(B, 10, 1\), got \(2, 10, 3\)"):
        layer(torch.zeros(2, 10, 3))
    with pytest.raises(ValueError, match=r"expects input of shape \(B, T, I\)"):
        LSTM(4)(torch.zeros(2, 10))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"peephole": True},
        {"layer_norm": True},
        {"zoneout": 0.2},
        {"recurrent_dropout": 0.3},
        {"projection": 2},
    ],
    ids=["peephole", "layer_norm", "zoneout", "recurrent_dropout", "projection"],
)
def test_lstmkit_variants_run_on_the_fused_lstm(kwargs: dict) -> None:
    from lstmkit.nn import LSTM as FusedLSTM

    layer = LSTM(4, return_sequences=True, **kwargs)
    x = torch.randn(3, 5, 2)
    out = layer(x)
    assert isinstance(layer.rnn, FusedLSTM)
    assert out.shape == (3, 5, kwargs.get("projection", 4))
    out.sum().backward()
    assert all(p.grad is not None for p in layer.parameters() if p.requires_grad)
    plain = 4 * (4 * (2 + 4) + 4)
    adds_parameters = any(k in kwargs for k in ("peephole", "layer_norm", "projection"))
    assert (layer.count_params() != plain) == adds_parameters
    layer.eval()
    torch.testing.assert_close(layer(x), layer(x))  # deterministic at evaluation


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (LSTM, {}),
        (LSTM, {"go_backwards": True}),
        (LSTM, {"zoneout": 0.3}),
        (LSTM, {"recurrent_dropout": 0.3, "layer_norm": True}),
        (LSTM, {"projection": 2, "peephole": True}),
        (GRU, {}),
        (SimpleRNN, {"go_backwards": True}),
    ],
    ids=["lstm", "go_backwards", "zoneout", "dropout+layer_norm", "projection+peephole", "gru", "simple_rnn"],
)
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_last_output_is_the_sequences_last_step(cls: type, kwargs: dict, training: bool) -> None:
    # without return_sequences the layer returns the final state, which must be the sequence's last step
    sequence = cls(4, return_sequences=True, **kwargs)
    last = cls(4, **kwargs)
    x = torch.randn(3, 5, 2)
    sequence(x), last(x)  # build
    last.load_state_dict(sequence.state_dict())
    sequence.train(training), last.train(training)
    torch.manual_seed(7)
    expected = sequence(x)[:, -1]
    torch.manual_seed(7)
    torch.testing.assert_close(last(x), expected, rtol=0, atol=0)


@pytest.mark.parametrize("layer_class", [LSTM, GRU, SimpleRNN], ids=["lstm", "gru", "simple_rnn"])
def test_masked_empty_batch_returns_empty_outputs_and_states(layer_class: type[LSTM]) -> None:
    # an uneven last batch in distributed training leaves a rank 0 samples; packing them used to fail
    layer = layer_class(3, return_sequences=True, return_state=True)
    layer(torch.ones(1, 4, 2))  # built
    output, *states = layer(torch.zeros(0, 4, 2), mask=torch.zeros(0, 4, dtype=torch.bool))
    assert output.shape == (0, 4, 3)
    assert [tuple(s.shape) for s in states] == [(0, 3)] * layer.state_count
    output.sum().backward()  # the weights stay in the graph (DDP needs every rank's gradients)
    assert all(p.grad is not None for p in layer.parameters() if p.requires_grad)


def test_embedding_mask_zero_model_takes_an_empty_batch() -> None:
    model = Sequential([Embedding(5, 2, mask_zero=True, input_shape=(4,)), LSTM(3)])
    assert model(torch.zeros(0, 4, dtype=torch.long)).shape == (0, 3)


# -- initial_state (Keras's call argument) ----------------------------------------------------------------


class _EncoderDecoder(torch.nn.Module):
    """Keras's translation pattern: the encoder's final state starts the decoder."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = LSTM(4, return_state=True)
        self.decoder = LSTM(4, return_sequences=True)
        self.head = Dense(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        source, target = x[:, :5], x[:, 5:]
        _, h, c = self.encoder(source)
        return self.head(self.decoder(target, initial_state=[h, c]))


def test_initial_state_starts_the_recurrence_and_takes_gradients() -> None:
    torch.manual_seed(0)
    net = _EncoderDecoder()
    x = torch.randn(3, 11, 2)
    y = net(x)
    _, h, c = net.encoder(x[:, :5])
    assert net.decoder.rnn is not None
    expected, _ = net.decoder.rnn(x[:, 5:], (h.unsqueeze(0), c.unsqueeze(0)))
    torch.testing.assert_close(y, net.head(expected))
    y.sum().backward()
    assert net.encoder.rnn is not None and net.encoder.rnn.weight_hh_l0.grad is not None
    assert float(net.encoder.rnn.weight_hh_l0.grad.abs().sum()) > 0  # through the handed-over state
    model = Model(_EncoderDecoder())  # and the Keras face trains it end to end
    model.compile("adam", "mse")
    history = model.fit(x.numpy(), np.zeros((3, 6, 1), dtype="float32"), epochs=3, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_initial_state_of_a_fully_padded_row_stays_and_replaces_a_carried_state() -> None:
    torch.manual_seed(1)
    layer = GRU(3, return_state=True, stateful=True)
    x = torch.randn(2, 4, 2)
    mask = torch.tensor([[True, True, False, False], [False, False, False, False]])
    start = torch.randn(2, 3)
    layer(x)  # carries a state now
    _, h = layer(x, mask, initial_state=start)
    torch.testing.assert_close(h[1], start[1])  # no valid step: the start stays
    fresh = GRU(3, return_state=True)
    fresh(x)
    fresh.load_state_dict(layer.state_dict())
    torch.testing.assert_close(fresh(x, mask, initial_state=start)[1], h)  # the start, not the carried one


@pytest.mark.parametrize(
    ("state", "error", "message"),
    [
        ("h", TypeError, r"initial_state must be a tensor or a list of tensors, got str"),
        (1, ValueError, r"initial_state must be \[h, c\], got 1 tensor"),
        (2, ValueError, r"expected tensors of shape \[\(3, 4\), \(3, 4\)\], got \[\(2, 4\), \(3, 4\)\]"),
    ],
    ids=["not-tensors", "count", "shape"],
)
def test_bad_initial_state_names_what_was_expected(state: object, error: type, message: str) -> None:
    layer = LSTM(4)
    x = torch.randn(3, 5, 2)
    given = {"h": "h", 1: [torch.zeros(3, 4)], 2: [torch.zeros(2, 4), torch.zeros(3, 4)]}[state]
    with pytest.raises(error, match=message):
        layer(x, initial_state=given)


@pytest.mark.parametrize("cls", [LSTM, GRU, SimpleRNN], ids=["lstm", "gru", "simple_rnn"])
def test_recurrent_layers_cast_float64_data_to_their_weights_dtype(cls: type) -> None:
    # Keras casts a layer's inputs to its compute dtype; float64 is NumPy's default
    layer = cls(3, return_sequences=True)
    x = torch.randn(2, 5, 4, dtype=torch.float64)
    y = layer(x)
    assert y.dtype == torch.float32
    torch.testing.assert_close(y, layer(x.float()))
    layer.double()  # a float64 layer keeps float64 and takes float32 data up to it
    assert layer(x.float()).dtype == torch.float64
