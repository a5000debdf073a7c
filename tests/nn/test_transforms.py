"""lstmkit modules under torch.func transforms and torch.compile, against the same module run eagerly."""

from __future__ import annotations

import subprocess
import sys
import warnings
from typing import Any

import pytest
import torch
from torch.func import functional_call, grad, vmap

from lstmkit.nn import LSTM, LSTMCell
from lstmkit.ops.native import native_available

VARIANTS: list[dict[str, Any]] = [{}, {"layer_norm": True, "peephole": True}]


def _loss(module: torch.nn.Module, params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    out, _ = functional_call(module, params, (x,))
    return (out * torch.linspace(-1, 1, out.shape[-1])).pow(2).sum()


@pytest.mark.parametrize("options", VARIANTS)
def test_torch_func_grad_and_vmap_of_an_auto_lstm_match_autograd(options: dict[str, Any]) -> None:
    # auto runs the native kernel eagerly; torch.func refuses its hand-written autograd function, so under
    # a transform auto takes torch's kernel or the reference loop
    torch.manual_seed(0)
    lstm = LSTM(3, 4, batch_first=True, **options)
    params = {k: v.detach() for k, v in lstm.named_parameters()}
    x = torch.randn(5, 6, 3)
    per_sample = vmap(grad(lambda p, xb: _loss(lstm, p, xb[None])), in_dims=(None, 0))(params, x)
    for i in (0, 4):
        lstm.zero_grad()
        _loss(lstm, dict(lstm.named_parameters()), x[i : i + 1]).backward()
        for name, p in lstm.named_parameters():
            torch.testing.assert_close(per_sample[name][i], p.grad, rtol=1e-5, atol=1e-6, msg=name)


@pytest.mark.parametrize("backend", ["native", "fused"])
def test_a_backend_named_outside_torch_operations_is_refused_under_torch_func(backend: str) -> None:
    if backend == "native" and not native_available():
        pytest.skip("lstmkit.ops._native is not built")
    lstm = LSTM(3, 4, batch_first=True, backend=backend)
    params = {k: v.detach() for k, v in lstm.named_parameters()}
    with pytest.raises(ValueError, match=f"backend='{backend}' cannot run under .* torch.func transform"):
        grad(lambda p: _loss(lstm, p, torch.randn(2, 5, 3)))(params)


def test_torch_func_grad_of_an_lstm_cell() -> None:
    torch.manual_seed(0)
    cell = LSTMCell(3, 4, layer_norm=True)
    params = {k: v.detach() for k, v in cell.named_parameters()}
    x = torch.randn(2, 3)

    def loss(p: dict[str, torch.Tensor]) -> torch.Tensor:
        h, c = functional_call(cell, p, (x,))
        return h.pow(2).sum() + c.sum()

    grads = grad(loss)(params)
    loss(dict(cell.named_parameters())).backward()
    for name, p in cell.named_parameters():
        torch.testing.assert_close(grads[name], p.grad, rtol=1e-5, atol=1e-6, msg=name)


@pytest.mark.slow
@pytest.mark.skipif(not native_available(), reason="lstmkit.ops._native is not built")
def test_torch_compile_runs_the_native_kernel_between_graphs_with_eager_results() -> None:
    torch._dynamo.reset()
    torch.manual_seed(0)
    lstm = LSTM(3, 4, batch_first=True, backend="native", layer_norm=True)
    head = torch.nn.Linear(4, 1)

    def forward(x: torch.Tensor) -> torch.Tensor:
        out, _ = lstm(x)
        return head(torch.tanh(out[:, -1]))

    x = torch.randn(2, 5, 3)
    eager = forward(x)
    eager.sum().backward()
    expected = [p.grad.clone() for p in (*lstm.parameters(), *head.parameters()) if p.grad is not None]
    for p in (*lstm.parameters(), *head.parameters()):
        p.grad = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compiled = torch.compile(forward)(x)
        compiled.sum().backward()
    torch.testing.assert_close(compiled, eager)
    got = [p.grad for p in (*lstm.parameters(), *head.parameters()) if p.grad is not None]
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e)
    # one clean graph break at the recurrence, not dynamo tracing into it and tripping on pointer reads
    noisy = [
        str(w.message)[:200] for w in caught if "lstmkit" in str(w.message) or "lru_cache" in str(w.message)
    ]
    assert not noisy, noisy


def test_importing_lstmkit_nn_leaves_torch_dynamo_unimported() -> None:
    # torch.compile's machinery (2-3 s to import) is loaded by torch.compile, not by every eager user
    code = "import sys, lstmkit.nn; print('torch._dynamo' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
