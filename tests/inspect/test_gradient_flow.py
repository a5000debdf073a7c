"""gradient_flow(): per-step gradient norms, checked against plain autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from lstmkit.inspect.gradient_flow import gradient_flow


def _last_step_loss(out: tuple[torch.Tensor, object]) -> torch.Tensor:
    return out[0][:, -1].pow(2).sum()


def test_input_norm_matches_autograd() -> None:
    lstm = nn.LSTM(2, 4, batch_first=True)
    x = torch.randn(3, 6, 2)
    flow = gradient_flow(lstm, x, _last_step_loss)
    xr = x.clone().requires_grad_(True)
    _last_step_loss(lstm(xr)).backward()
    assert xr.grad is not None
    np.testing.assert_allclose(flow.input_norm, xr.grad.norm(dim=-1).mean(dim=0).numpy(), rtol=1e-5)
    assert list(flow.lag) == [5, 4, 3, 2, 1, 0]


def test_hidden_norm_is_the_total_derivative() -> None:
    # the loss reads only h_{T-1}; dL/dh_t must equal the autograd gradient through the chain of h's
    torch.manual_seed(1)
    lstm = nn.LSTM(2, 3, dtype=torch.float64)
    x = torch.randn(5, 2, 2, dtype=torch.float64)
    flow = gradient_flow(lstm, x, _last_step_loss_time_major, batch_first=False)
    norms = flow.hidden_norm["/l0/forward"]
    assert norms.shape == (5,)
    # at the last step dL/dh = 2 h_{T-1}
    out, _ = lstm(x)
    np.testing.assert_allclose(norms[-1], (2 * out[-1]).norm(dim=-1).mean().item(), rtol=1e-10)


def _last_step_loss_time_major(out: tuple[torch.Tensor, object]) -> torch.Tensor:
    return out[0][-1].pow(2).sum()


def test_hidden_norm_finite_difference() -> None:
    # the norm of dL/dh_0 (total derivative through steps 1..T-1) against central finite differences
    # of perturbing each unit of h after step 0
    torch.manual_seed(2)
    lstm = nn.LSTM(1, 2, dtype=torch.float64)
    x = torch.randn(4, 1, 1, dtype=torch.float64)
    flow = gradient_flow(lstm, x, _last_step_loss_time_major, batch_first=False)
    eps = 1e-6
    grads = []
    for unit in range(2):
        losses = []
        for sign in (1, -1):
            h1 = torch.zeros(1, 1, 2, dtype=torch.float64)
            _, (h, c) = lstm(x[:1], (h1, h1.clone()))
            h = h.clone()
            h[0, 0, unit] += sign * eps
            out, _ = lstm(x[1:], (h, c))
            losses.append(out[-1].pow(2).sum().item())
        grads.append((losses[0] - losses[1]) / (2 * eps))
    np.testing.assert_allclose(flow.hidden_norm["/l0/forward"][0], np.linalg.norm(grads), rtol=1e-6)


def test_gradient_flow_for_gru_has_input_norms_only() -> None:
    gru = nn.GRU(2, 3, batch_first=True)
    flow = gradient_flow(gru, torch.randn(2, 5, 2), _last_step_loss)
    assert flow.input_norm.shape == (5,) and flow.hidden_norm == {}


def test_gradient_flow_leaves_model_unchanged() -> None:
    lstm = nn.LSTM(2, 3, num_layers=2, bidirectional=True, batch_first=True)
    lstm.train()
    flow = gradient_flow(lstm, torch.randn(2, 5, 2), lambda out: out[0].sum())
    assert sorted(flow.hidden_norm) == ["/l0/forward", "/l0/reverse", "/l1/forward", "/l1/reverse"]
    assert lstm.training and not lstm._forward_hooks_with_kwargs
    assert all(p.grad is None for p in lstm.parameters())


def test_gradient_flow_rejects_bad_loss_and_input() -> None:
    lstm = nn.LSTM(2, 3, batch_first=True)
    with pytest.raises(ValueError, match="loss must return a scalar"):
        gradient_flow(lstm, torch.randn(2, 5, 2), lambda out: out[0])
    with pytest.raises(TypeError, match=r"loss must return a torch\.Tensor"):
        gradient_flow(lstm, torch.randn(2, 5, 2), lambda out: 1.0)  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match=r"expected x of 3 dimensions .* got \(5, 2\)"):
        gradient_flow(lstm, torch.randn(5, 2), lambda out: out[0].sum())


@pytest.mark.parametrize("wrapper", ["go_backwards", "bidirectional"])
def test_hidden_norm_of_a_keras_face_backward_lstm_is_in_time_order(wrapper: str) -> None:
    # the loss reads the backward LSTM's h at time 3 only; it ran from t = 5 down to 0, so h_t and x_t
    # reach the loss exactly for t >= 3, in time order
    from lstmkit.layers import LSTM as KerasLSTM
    from lstmkit.layers import Bidirectional
    from lstmkit.models import Sequential

    torch.manual_seed(0)
    if wrapper == "go_backwards":  # its output runs in the order it read the steps: time 3 is step 2
        model = Sequential([KerasLSTM(4, go_backwards=True, return_sequences=True, input_shape=(6, 2))])

        def loss(out: torch.Tensor) -> torch.Tensor:
            return out[:, 2].pow(2).sum()
    else:  # Bidirectional turns the backward half back to time order
        model = Sequential([Bidirectional(KerasLSTM(4, return_sequences=True), input_shape=(6, 2))])

        def loss(out: torch.Tensor) -> torch.Tensor:
            return out[:, 3, 4:].pow(2).sum()

    x = torch.randn(3, 6, 2)
    model.predict(x.numpy())  # builds the model
    flow = gradient_flow(model, x, loss)
    reaches = np.arange(6) >= 3
    np.testing.assert_array_equal(flow.input_norm > 0, reaches)
    (backward,) = [key for key in flow.hidden_norm if key.endswith("/l0/reverse")]
    np.testing.assert_array_equal(flow.hidden_norm[backward] > 0, reaches)
    if wrapper == "bidirectional":
        (forward,) = [key for key in flow.hidden_norm if key.endswith("/l0/forward")]
        assert "backward_layer" in backward and "forward_layer" in forward
        assert not flow.hidden_norm[forward].any()  # the loss reads the backward half only


@pytest.mark.parametrize(
    "loss",
    [lambda out: out[0].argmax().float(), lambda out: torch.tensor(1.0)],
    ids=["argmax", "constant"],
)
def test_gradient_flow_refuses_a_loss_without_gradient(loss: object) -> None:
    with pytest.raises(ValueError, match="loss must be differentiable with respect to the model's output"):
        gradient_flow(nn.LSTM(2, 3, batch_first=True), torch.randn(2, 5, 2), loss)  # type: ignore[arg-type]


def test_gradient_flow_refuses_a_loss_name_and_a_non_bool_layout() -> None:
    lstm = nn.LSTM(2, 3, batch_first=True)
    with pytest.raises(
        TypeError, match=r"loss must be a callable .* got str 'mse'; gradient_flow has no targets"
    ):
        gradient_flow(lstm, torch.randn(2, 5, 2), "mse")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="batch_first must be True or False, got str 'no'"):
        gradient_flow(lstm, torch.randn(2, 5, 2), lambda out: out[0].sum(), batch_first="no")  # type: ignore[arg-type]


def test_gradient_flow_refuses_a_layout_the_model_does_not_read() -> None:
    lstm = nn.LSTM(3, 4)  # time-major
    with pytest.raises(
        ValueError,
        match=(
            r"^gradient_flow\(batch_first=True\) reads x of shape \(2, 6, 3\) as \(B, T, I\) with T = 6, but "
            r"the LSTM \(batch_first=False\) ran over 2 steps; pass batch_first=False, the layout the model "
            r"reads$"
        ),
    ):
        gradient_flow(lstm, torch.randn(2, 6, 3), lambda out: out[0].sum())
    assert not lstm._forward_hooks_with_kwargs


def test_gradient_flow_names_a_torch_lstms_wrong_input_size() -> None:
    with pytest.raises(
        ValueError, match=r"expected input of shape \(B, T, 5\) .* set input_size=3 or reshape"
    ):
        gradient_flow(nn.LSTM(5, 4, batch_first=True), torch.randn(2, 6, 3), lambda out: out[0].sum())
