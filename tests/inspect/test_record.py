"""record(): the recorded states are the ones the model computed, for every layout and stacking."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from lstmkit.inspect.record import find_lstms, record, rerun_lstm
from lstmkit.nn import LSTM


def _lstm(kind: str, **kwargs: object) -> nn.Module:
    return (LSTM if kind == "lstmkit" else nn.LSTM)(3, 5, **kwargs)


CASES = {
    "1layer": {},
    "2layers-batch_first": {"num_layers": 2, "batch_first": True},
    "bidirectional": {"bidirectional": True},
    "2layers-bidirectional-batch_first": {"num_layers": 2, "bidirectional": True, "batch_first": True},
    "projection": {"proj_size": 2},
}


@pytest.mark.parametrize("kind", ["lstmkit", "torch"])
@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_recorded_h_equals_model_output(kind: str, case: str) -> None:
    lstm = _lstm(kind, **CASES[case])
    batch_first = lstm.batch_first
    x = torch.randn(4, 7, 3) if batch_first else torch.randn(7, 4, 3)
    records = record(lstm, x)
    directions = 2 if lstm.bidirectional else 1
    assert len(records) == lstm.num_layers * directions
    output, (h_n, c_n) = lstm(x)
    output = output if batch_first else output.transpose(0, 1)  # (B, T, D*R)
    last = [r for r in records if r.layer == lstm.num_layers - 1]
    recorded = np.concatenate([r.h for r in last], axis=-1)
    np.testing.assert_allclose(recorded, output.detach().numpy(), atol=1e-5)
    # final states: forward direction at t = T-1, reverse at t = 0
    for k, rec in enumerate(records):
        t_final = -1 if rec.direction == "forward" else 0
        np.testing.assert_allclose(rec.c[:, t_final], c_n[k].detach().numpy(), atol=1e-5)
        np.testing.assert_allclose(rec.h[:, t_final], h_n[k].detach().numpy(), atol=1e-5)


VARIANTS = {
    "peephole": {"peephole": True},
    "layer_norm-2layers": {"layer_norm": True, "num_layers": 2},
    "coupled_gates-bidirectional": {"coupled_gates": True, "bidirectional": True},
    "zoneout-recurrent_dropout": {"zoneout": 0.3, "recurrent_dropout": 0.2},
    "peephole-projection-forget_bias": {"peephole": True, "proj_size": 2, "forget_bias": 1.0},
}


@pytest.mark.parametrize("variant", list(VARIANTS), ids=list(VARIANTS))
def test_recorded_h_equals_output_for_lstmkit_variants(variant: str) -> None:
    lstm = LSTM(3, 5, batch_first=True, **VARIANTS[variant])  # type: ignore[arg-type]
    x = torch.randn(2, 6, 3)
    records = record(lstm, x)
    output, _ = lstm.eval()(x)
    last = [r for r in records if r.layer == lstm.num_layers - 1]
    np.testing.assert_allclose(
        np.concatenate([r.h for r in last], axis=-1), output.detach().numpy(), atol=1e-5
    )
    if variant.startswith("coupled"):
        np.testing.assert_allclose(records[0].f, 1 - records[0].i, atol=1e-6)


def test_shapes_and_gate_ranges() -> None:
    lstm = nn.LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=True)
    records = record(lstm, np.random.default_rng(0).normal(size=(4, 6, 3)).astype(np.float32))
    first, second = records[0], records[2]
    assert (first.layer, first.direction, second.layer) == (0, "forward", 1)
    assert first.x.shape == (4, 6, 3) and second.x.shape == (4, 6, 10)  # layer 1 reads both directions
    for name in "ifgoch":
        assert getattr(first, name).shape == (4, 6, 5)
        assert isinstance(getattr(first, name), np.ndarray)
    for name in "ifo":
        values = getattr(first, name)
        assert values.min() > 0 and values.max() < 1
    assert np.abs(first.g).max() < 1
    # layer 1's input is layer 0's output, both directions concatenated
    np.testing.assert_allclose(second.x, np.concatenate([records[0].h, records[1].h], axis=-1), atol=1e-6)
    # the cell recursion holds step by step
    c_prev = np.concatenate([np.zeros((4, 1, 5)), first.c[:, :-1]], axis=1)
    np.testing.assert_allclose(first.c, first.f * c_prev + first.i * first.g, atol=1e-5)


def test_record_leaves_model_unchanged_and_restores_mode() -> None:
    lstm = nn.LSTM(3, 5, num_layers=2, dropout=0.5)
    lstm.train()
    before = {k: v.clone() for k, v in lstm.state_dict().items()}
    record(lstm, torch.randn(6, 2, 3))
    assert lstm.training
    assert not lstm._forward_hooks and not lstm._forward_hooks_with_kwargs
    for key, value in lstm.state_dict().items():
        assert torch.equal(value, before[key])


class _Wrapper(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = LSTM(2, 4, batch_first=True)
        self.decoder = nn.LSTM(4, 3, batch_first=True)
        self.head = nn.Linear(3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.encoder(x)
        y, _ = self.decoder(y)
        return self.head(y[:, -1])


def test_record_finds_lstms_inside_a_model_and_its_wrapper() -> None:
    net = _Wrapper()
    assert [name for name, _ in find_lstms(net)] == ["encoder", "decoder"]

    class KerasFace:  # stands in for lstmkit.models.Model: anything with a .module
        module = net

    records = record(KerasFace(), torch.randn(2, 5, 2))
    assert [r.key for r in records] == ["encoder/l0/forward", "decoder/l0/forward"]
    np.testing.assert_allclose(records[1].x, records[0].h, atol=1e-6)


def test_record_with_initial_state_and_float64() -> None:
    lstm = nn.LSTM(3, 4, num_layers=2, dtype=torch.float64)
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    hx = (torch.randn(2, 2, 4, dtype=torch.float64), torch.randn(2, 2, 4, dtype=torch.float64))
    rerun = rerun_lstm(lstm.eval(), x, hx)
    expected, _ = lstm(x, hx)
    torch.testing.assert_close(rerun.output, expected, atol=1e-12, rtol=0)


def test_record_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="found no LSTM inside Linear"):
        record(nn.Linear(2, 2), torch.randn(2, 2))
    with pytest.raises(TypeError, match=r"floating-point values, got dtype torch\.int64"):
        record(nn.LSTM(2, 2), torch.ones(3, 1, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match="NaN or infinite"):
        record(nn.LSTM(2, 2), torch.tensor([[[float("nan"), 0.0]]]))
    with pytest.raises(TypeError, match=r"expected an nn\.Module or an lstmkit Model"):
        record("model", torch.randn(3, 1, 2))


def test_record_a_keras_face_sequential() -> None:
    from lstmkit.layers import LSTM as KerasLSTM
    from lstmkit.layers import Dense
    from lstmkit.models import Sequential

    model = Sequential([KerasLSTM(6, return_sequences=True, input_shape=(7, 3)), KerasLSTM(4), Dense(1)])
    x = np.random.default_rng(0).normal(size=(2, 7, 3)).astype(np.float32)
    model.predict(x)  # builds the model
    records = record(model, x)
    assert [r.h.shape for r in records] == [(2, 7, 6), (2, 7, 4)]
    np.testing.assert_allclose(records[1].x, records[0].h, atol=1e-6)


def test_record_unbatched_input() -> None:
    lstm = LSTM(3, 4, num_layers=2)
    x = torch.randn(7, 3)  # (T, I)
    records = record(lstm, x)
    output, _ = lstm(x)
    assert records[1].h.shape == (1, 7, 4)
    np.testing.assert_allclose(records[1].h[0], output.detach().numpy(), atol=1e-5)


def _keras_face(layer: object) -> tuple[object, np.ndarray]:
    from lstmkit.models import Sequential

    torch.manual_seed(0)
    model = Sequential([layer])
    x = np.random.default_rng(0).normal(size=(2, 6, 3)).astype(np.float32)
    model.predict(x)  # builds the model
    return model, x


def test_record_a_keras_face_bidirectional_in_time_order() -> None:
    from lstmkit.layers import LSTM as KerasLSTM
    from lstmkit.layers import Bidirectional

    model, x = _keras_face(Bidirectional(KerasLSTM(4, return_sequences=True), input_shape=(6, 3)))
    forward, backward = record(model, x)
    assert backward.key.endswith("backward_layer.rnn/l0/reverse") and backward.direction == "reverse"
    assert forward.key.endswith("forward_layer.rnn/l0/forward") and forward.direction == "forward"
    np.testing.assert_array_equal(backward.x, x)  # time order, not the order the backward layer read it
    output = model.predict(x)  # (B, T, 2H): the backward half in time order
    np.testing.assert_allclose(np.concatenate([forward.h, backward.h], axis=-1), output, atol=1e-5)


def test_record_a_go_backwards_lstm_in_time_order() -> None:
    from lstmkit.layers import LSTM as KerasLSTM

    model, x = _keras_face(KerasLSTM(4, go_backwards=True, input_shape=(6, 3)))
    (rec,) = record(model, x)
    assert rec.direction == "reverse" and rec.key.endswith("/l0/reverse")
    np.testing.assert_array_equal(rec.x, x)
    np.testing.assert_allclose(rec.h[:, 0], model.predict(x), atol=1e-5)  # its last step is t = 0
    # the cell recursion runs from t = T-1 down to 0: c_t = f_t c_{t+1} + i_t g_t
    c_next = np.concatenate([rec.c[:, 1:], np.zeros((2, 1, 4))], axis=1)
    np.testing.assert_allclose(rec.c, rec.f * c_next + rec.i * rec.g, atol=1e-5)


def test_record_names_a_torch_lstms_wrong_input_size() -> None:
    with pytest.raises(
        ValueError,
        match=(
            r"^torch\.nn\.LSTM expected input of shape \(B, T, 5\) with batch_first=True, got \(2, 6, 3\); "
            r"set input_size=3 or reshape the data$"
        ),
    ):
        record(nn.LSTM(5, 4, batch_first=True), torch.randn(2, 6, 3))
    net = nn.Sequential(nn.Linear(3, 2), nn.LSTM(3, 4))
    with pytest.raises(ValueError, match=r"^torch\.nn\.LSTM '1' expected input of shape \(T, B, 3\) with "):
        record(net, torch.randn(6, 2, 3))
    assert not net[1]._forward_pre_hooks  # removed after the error too
