"""Backend selection: an explicit capability check, tested."""

from __future__ import annotations

import pytest
import torch

from lstmkit.ops.dispatch import Variant, native_kernel, select_backend, select_step_backend

CPU = torch.device("cpu")


def test_auto_runs_native_on_cpu_where_built_else_torch_or_fused() -> None:
    built = native_kernel() is not None
    assert select_backend("auto", Variant(), CPU) == ("native" if built else "torch")
    for variant in (Variant(peephole=True), Variant(layer_norm=True), Variant(zoneout=True)):
        assert select_backend("auto", variant, CPU) == ("native" if built else "fused")
        assert select_backend("auto", variant, CPU, torch.float64) == ("native" if built else "fused")
    # types the native kernel does not run: torch's kernel for the plain LSTM, the fused loop for variants
    assert select_backend("auto", Variant(), CPU, torch.bfloat16) == "torch"
    assert select_backend("auto", Variant(peephole=True), CPU, torch.bfloat16) == "fused"
    assert select_backend("auto", Variant(), torch.device("meta")) == "torch"


def test_explicit_backends_and_refusals() -> None:
    assert select_backend("fused", Variant(), CPU) == "fused"
    assert select_backend("reference", Variant(layer_norm=True), CPU) == "reference"
    with pytest.raises(ValueError, match="backend='torch' runs only the plain LSTM"):
        select_backend("torch", Variant(coupled_gates=True), CPU)
    with pytest.raises(ValueError, match="unknown backend 'cudnn'"):
        select_backend("cudnn", Variant(), CPU)
    with pytest.raises(ValueError, match="backend='native' is unavailable: it runs on CPU only"):
        select_backend("native", Variant(), torch.device("meta"))


def test_streaming_steps_without_autograd_prefer_native() -> None:
    native = native_kernel() is not None
    assert select_step_backend("auto", Variant(), CPU, False) == ("native" if native else "torch")
    assert select_step_backend("auto", Variant(), CPU, True) == "torch"
    assert select_step_backend("torch", Variant(), CPU, False) == "torch"
