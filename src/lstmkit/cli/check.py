"""``lstmkit check``: versions, active kernels, and a small forward/backward against ``torch.nn.LSTM``."""

from __future__ import annotations

import platform
import sys

import click

import lstmkit

CASES = (
    # (dtype name, input scale, tolerance): float64 on ordinary inputs, and float32 on inputs large enough to
    # saturate every gate (pre-activations in the hundreds), where a float32 exp can overflow into NaN
    ("float64", 1.0, 1e-9),
    ("float32", 100.0, 1e-5),
)


def _max_error(backend: str, dtype_name: str = "float64", scale: float = 1.0) -> float:
    """Largest difference to torch.nn.LSTM over outputs and all gradients, each relative to the largest
    magnitude of torch's tensor (at least 1): inputs x100 give weight gradients in the hundreds (NaN if any
    difference is NaN)."""
    import torch

    from lstmkit.nn import LSTM

    dtype = getattr(torch, dtype_name)
    torch.manual_seed(0)
    theirs = torch.nn.LSTM(3, 16, num_layers=2, bidirectional=True, batch_first=True, dtype=dtype)
    ours = LSTM(3, 16, num_layers=2, bidirectional=True, batch_first=True, dtype=dtype, backend=backend)
    ours.load_state_dict(theirs.state_dict())
    x = scale * torch.randn(4, 20, 3, dtype=dtype)
    out_t, (h_t, _) = theirs(x)
    out_o, (h_o, _) = ours(x)
    pairs = [(out_t.detach(), out_o.detach())]
    (out_t.sum() + h_t.sum()).backward()
    (out_o.sum() + h_o.sum()).backward()
    for p_t, p_o in zip(theirs.parameters(), ours.parameters(), strict=True):
        assert p_t.grad is not None and p_o.grad is not None
        pairs.append((p_t.grad, p_o.grad))
    errors = [float((a - b).abs().max() / a.abs().max().clamp(min=1.0)) for a, b in pairs]
    return float("nan") if any(e != e for e in errors) else max(errors)


@click.command()
def check() -> None:
    """Print versions and active kernels, and check every backend against torch.nn.LSTM."""
    import torch

    from lstmkit.ops.dispatch import Variant, native_status, select_backend

    click.echo(
        f"lstmkit {lstmkit.__version__}, torch {torch.__version__}, Python {platform.python_version()}"
    )
    click.echo(f"threads: {torch.get_num_threads()}; CUDA: {torch.cuda.is_available()}")
    click.echo(f"native CPU kernel: {native_status()}")
    if native_status() == "active":
        from lstmkit.ops.native import native_isa, native_module
        from lstmkit.ops.native_bf16 import bf16_available

        click.echo(f"  instruction set: {native_isa()}; worker threads: {native_module().threading()}")
        bf16 = "bfloat16 (AVX512-BF16)" if bf16_available() else "float32 (no AVX512-BF16 here)"
        click.echo(f"  under torch.autocast('cpu', torch.bfloat16) the native loop multiplies in: {bf16}")
    cpu = torch.device("cpu")
    click.echo(f"backend='auto' runs plain LSTMs on: {select_backend('auto', Variant(), cpu)}")
    click.echo(f"backend='auto' runs variants on: {select_backend('auto', Variant(layer_norm=True), cpu)}")
    backends = ["torch", "fused", "reference"] + (["native"] if native_status() == "active" else [])
    failed = False
    for dtype_name, scale, tolerance in CASES:
        inputs = "inputs x1" if scale == 1.0 else f"inputs x{scale:g}, saturating"
        for backend in backends:
            error = _max_error(backend, dtype_name, scale)
            ok = error < tolerance  # (False for NaN)
            failed |= not ok
            click.echo(
                f"  {backend:<9} vs torch.nn.LSTM (2 layers, bidirectional, {dtype_name}, {inputs}): "
                f"max relative error {error:.1e} {'ok' if ok else 'FAILED'}"
            )
    if failed:
        sys.exit(1)
