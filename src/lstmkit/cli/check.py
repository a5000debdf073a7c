"""``lstmkit check``: versions, active kernels, and a small forward/backward against ``torch.nn.LSTM``."""

from __future__ import annotations

import platform
import sys

import click
import torch

import lstmkit
from lstmkit.nn import LSTM
from lstmkit.ops.dispatch import Variant, native_status, select_backend


def _max_error(backend: str) -> float:
    """Largest absolute difference to torch.nn.LSTM over outputs and all gradients (float64)."""
    torch.manual_seed(0)
    theirs = torch.nn.LSTM(3, 16, num_layers=2, bidirectional=True, batch_first=True, dtype=torch.float64)
    ours = LSTM(
        3, 16, num_layers=2, bidirectional=True, batch_first=True, dtype=torch.float64, backend=backend
    )
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(4, 20, 3, dtype=torch.float64)
    errors = []
    out_t, (h_t, _) = theirs(x)
    out_o, (h_o, _) = ours(x)
    errors.append(float((out_t - out_o).detach().abs().max()))
    (out_t.sum() + h_t.sum()).backward()
    (out_o.sum() + h_o.sum()).backward()
    for p_t, p_o in zip(theirs.parameters(), ours.parameters(), strict=True):
        assert p_t.grad is not None and p_o.grad is not None
        errors.append(float((p_t.grad - p_o.grad).abs().max()))
    return max(errors)


@click.command()
def check() -> None:
    """Print versions and active kernels, and check every backend against torch.nn.LSTM."""
    click.echo(
        f"lstmkit {lstmkit.__version__}, torch {torch.__version__}, Python {platform.python_version()}"
    )
    click.echo(f"threads: {torch.get_num_threads()}; CUDA: {torch.cuda.is_available()}")
    click.echo(f"native CPU kernel: {native_status()}")
    if native_status() == "active":
        from lstmkit.ops.native import native_isa, native_module

        click.echo(f"  instruction set: {native_isa()}; worker threads: {native_module().threading()}")
    cpu = torch.device("cpu")
    click.echo(f"backend='auto' runs plain LSTMs on: {select_backend('auto', Variant(), cpu)}")
    click.echo(f"backend='auto' runs variants on: {select_backend('auto', Variant(layer_norm=True), cpu)}")
    backends = ["torch", "fused", "reference"] + (["native"] if native_status() == "active" else [])
    failed = False
    for backend in backends:
        error = _max_error(backend)
        ok = error < 1e-9
        failed |= not ok
        click.echo(
            f"  {backend:<9} vs torch.nn.LSTM (2 layers, bidirectional, float64): max error {error:.1e} "
            f"{'ok' if ok else 'FAILED'}"
        )
    if failed:
        sys.exit(1)
