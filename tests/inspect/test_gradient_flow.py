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
