"""The native kernel against the reference recurrence: every variant, float32 and float64, kernel edges."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from lstmkit.ops.native import NativeKernel, native_available
from lstmkit.ops.reference import recurrence
from lstmkit.ops.types import RecurrenceInputs, RecurrenceParams

pytestmark = pytest.mark.skipif(not native_available(), reason="lstmkit.ops._native is not built")

VARIANTS = {
    "vanilla": {},
    "peephole": {"peephole": True},
    "layer_norm": {"layer_norm": True},
    "coupled": {"coupled": True},
    "projection": {"proj": True},
    "recurrent_dropout": {"dropout": True},
    "zoneout": {"zoneout": True},
    "lengths": {"lengths": True},
    "everything": {
        "peephole": True,
        "layer_norm": True,
        "coupled": True,
        "proj": True,
        "dropout": True,
        "zoneout": True,
        "lengths": True,
    },
}


def make_case(
    variant: dict[str, bool], steps: int, batch: int, hidden: int, dtype: torch.dtype
) -> tuple[RecurrenceInputs, RecurrenceParams, bool]:
    """Random inputs and parameters of one variant at torch's default initialization scale."""
    rsize = max(1, hidden // 2) if variant.get("proj") else hidden
    scale = hidden**-0.5

    def uniform(*shape: int) -> Tensor:
        return (torch.rand(*shape, dtype=dtype) * 2 - 1) * scale

    params = RecurrenceParams(
        w_hh=uniform(4 * hidden, rsize),
        w_hr=uniform(rsize, hidden) if variant.get("proj") else None,
        peephole=uniform(3, hidden) if variant.get("peephole") else None,
        ln_hh_weight=1 + 0.1 * torch.randn(4 * hidden, dtype=dtype) if variant.get("layer_norm") else None,
        ln_hh_bias=0.1 * torch.randn(4 * hidden, dtype=dtype) if variant.get("layer_norm") else None,
        ln_c_weight=1 + 0.1 * torch.randn(hidden, dtype=dtype) if variant.get("layer_norm") else None,
        ln_c_bias=0.1 * torch.randn(hidden, dtype=dtype) if variant.get("layer_norm") else None,
    )
    keep = 0.7
    inputs = RecurrenceInputs(
        xg=torch.randn(steps, batch, 4 * hidden, dtype=dtype),
        h0=0.5 * torch.randn(batch, rsize, dtype=dtype),
        c0=0.5 * torch.randn(batch, hidden, dtype=dtype),
        recurrent_mask=(torch.rand(batch, rsize) < keep).to(dtype) / keep if variant.get("dropout") else None,
        zoneout_h=(torch.rand(steps, batch, rsize) < 0.3).to(dtype) if variant.get("zoneout") else None,
        zoneout_c=(torch.rand(steps, batch, hidden) < 0.3).to(dtype) if variant.get("zoneout") else None,
        lengths=torch.randint(0, steps + 1, (batch,)) if variant.get("lengths") else None,
    )
    return inputs, params, bool(variant.get("coupled"))


def differentiable(
    inputs: RecurrenceInputs, params: RecurrenceParams
) -> tuple[RecurrenceInputs, RecurrenceParams]:
    """Leaf copies that require grad of every tensor a kernel returns a gradient for."""

    def leaf(t: Tensor | None) -> Tensor | None:
        return None if t is None else t.detach().clone().requires_grad_(True)

    return (
        inputs._replace(xg=leaf(inputs.xg), h0=leaf(inputs.h0), c0=leaf(inputs.c0)),
        RecurrenceParams(*(leaf(p) for p in params)),
    )


def check_against_reference(
    variant: dict[str, bool], steps: int, batch: int, hidden: int, dtype: torch.dtype
) -> None:
    inputs, params, coupled = make_case(variant, steps, batch, hidden, dtype)
    ref_inputs, ref_params = differentiable(inputs, params)
    y_ref, h_ref, c_ref = recurrence(ref_inputs, ref_params, coupled_gates=coupled)
    dy, dh, dc = torch.randn_like(y_ref), torch.randn_like(h_ref), torch.randn_like(c_ref)
    torch.autograd.backward((y_ref, h_ref, c_ref), (dy, dh, dc))

    kernel = NativeKernel()
    assert kernel.supports(inputs, params) is None
    y, h, c, saved = kernel.forward(inputs, params, coupled, True)
    grads = kernel.backward(saved, inputs, params, coupled, dy, dh, dc)
    tol = {"rtol": 1e-10, "atol": 1e-12} if dtype == torch.float64 else {"rtol": 1e-4, "atol": 1e-5}
    torch.testing.assert_close(y, y_ref, **tol)
    torch.testing.assert_close(h, h_ref, **tol)
    torch.testing.assert_close(c, c_ref, **tol)
    for name in ("xg", "h0", "c0"):
        torch.testing.assert_close(getattr(grads, name), getattr(ref_inputs, name).grad, **tol, msg=name)
    for name, ref in zip(RecurrenceParams._fields, ref_params, strict=True):
        got = getattr(grads.params, name)
        if ref is None:
            assert got is None, name
        else:
            torch.testing.assert_close(got, ref.grad, **tol, msg=lambda m, n=name: f"{n}: {m}")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", list(VARIANTS))
def test_variant_matches_reference(name: str, dtype: torch.dtype) -> None:
    check_against_reference(VARIANTS[name], steps=6, batch=5, hidden=7, dtype=dtype)


@pytest.mark.parametrize("hidden", [1, 7, 50, 64, 129, 256])
@pytest.mark.parametrize("batch", [1, 3, 9])
def test_kernel_edges_float64(hidden: int, batch: int) -> None:
    check_against_reference({}, steps=3, batch=batch, hidden=hidden, dtype=torch.float64)


@pytest.mark.parametrize("hidden", [1, 50, 129])
def test_kernel_edges_float32_with_every_variant(hidden: int) -> None:
    check_against_reference(VARIANTS["everything"], steps=4, batch=7, hidden=hidden, dtype=torch.float32)
