"""The native loop with bfloat16 GEMMs (float32 sums and state) under CPU autocast, on AVX512-BF16."""

from __future__ import annotations

import pytest
import torch

from lstmkit.nn import LSTM
from lstmkit.ops import native
from lstmkit.ops.native_projected import autocast_bf16
from lstmkit.ops.types import RecurrenceInputs, RecurrenceParams

needs_bf16 = pytest.mark.skipif(
    not native.bf16_available(), reason="needs the native kernel's AVX-512 build on a CPU with AVX512-BF16"
)


def bf(t: torch.Tensor) -> torch.Tensor:
    """``t`` rounded to bfloat16 (to nearest even), back in float32."""
    return t.bfloat16().float()


def emulated(lstm: LSTM, x: torch.Tensor) -> torch.Tensor:
    """A one-layer LSTM whose step GEMM multiplies bfloat16-rounded operands: ``[x_t, 1, h]`` against
    ``[W_ih; b_ih + b_hh; W_hh]``, summed in float32, gates in float32 (what the kernel computes)."""
    w_ih, w_hh = bf(lstm.weight_ih_l0), bf(lstm.weight_hh_l0)
    bias = bf(lstm.bias_ih_l0 + lstm.bias_hh_l0)
    steps, batch, _ = x.shape
    h = x.new_zeros(batch, lstm.hidden_size)
    c = x.new_zeros(batch, lstm.hidden_size)
    out = []
    for t in range(steps):
        a = bf(x[t]).double() @ w_ih.double().t() + bias.double() + bf(h).double() @ w_hh.double().t()
        i, f, g, o = a.float().chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        out.append(h)
    return torch.stack(out)


def run(lstm: LSTM, x: torch.Tensor, bf16: bool, **kwargs: object) -> torch.Tensor:
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        y, _ = lstm(x, **kwargs)
    return y


@needs_bf16
@pytest.mark.parametrize(
    ("inputs", "hidden", "batch", "steps"),
    [(1, 50, 32, 12), (3, 7, 5, 9), (5, 129, 1, 6), (2, 1, 3, 4), (8, 64, 7, 5), (40, 16, 4, 3)],
)
def test_bf16_inference_is_the_step_gemm_on_bf16_rounded_operands(
    inputs: int, hidden: int, batch: int, steps: int
) -> None:
    torch.manual_seed(0)
    lstm = LSTM(inputs, hidden, backend="native").eval()
    x = torch.randn(steps, batch, inputs)
    got, full = run(lstm, x, True), run(lstm, x, False)
    with torch.no_grad():
        want = emulated(lstm, x)
    # the products of two bfloat16 are exact in float32: only the order of the sums differs
    torch.testing.assert_close(got, want, rtol=0, atol=1e-6)
    assert (got - full).abs().max() > 1e-4  # and bfloat16 did run: float32 differs by its rounding


VARIANTS = [
    {"peephole": True},
    {"layer_norm": True},
    {"proj_size": 3},
    {"layer_norm": True, "proj_size": 3, "peephole": True},
    {"coupled_gates": True},
    {"zoneout": 0.3},
    {"num_layers": 2, "bidirectional": True},
    {"batch_first": True},
]


@needs_bf16
@pytest.mark.parametrize("options", VARIANTS, ids=lambda o: ",".join(o))
@pytest.mark.parametrize(("inputs", "hidden", "batch"), [(4, 7, 5), (3, 33, 2), (1, 129, 1)])
def test_every_variant_runs_bf16_inference_to_bfloat16_precision(
    options: dict[str, object], inputs: int, hidden: int, batch: int
) -> None:
    torch.manual_seed(1)
    lstm = LSTM(inputs, hidden, backend="native", **options).eval()  # type: ignore[arg-type]
    x = torch.randn(6, batch, inputs)
    got, full = run(lstm, x, True), run(lstm, x, False)
    gap = float((got - full).abs().max())
    assert 0 < gap < 5e-2, gap  # bfloat16 ran (not float32) and stays within its precision over 6 steps


@needs_bf16
def test_bf16_inference_takes_lengths_and_keeps_frozen_rows() -> None:
    torch.manual_seed(2)
    lstm = LSTM(3, 9, backend="native").eval()
    x = torch.randn(7, 4, 3)
    lengths = torch.tensor([7, 3, 1, 5])
    got, full = run(lstm, x, True, lengths=lengths), run(lstm, x, False, lengths=lengths)
    for b, n in enumerate(lengths.tolist()):
        assert bool((got[n:, b] == 0).all())
    assert 0 < float((got - full).abs().max()) < 2e-2


class BfMM(torch.autograd.Function):
    """``a @ wᵀ`` on bfloat16-rounded operands summed in float64, its gradients likewise: what the kernel's
    GEMMs compute, forward (step GEMM) and backward (step GEMM and weight gradients)."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, w: torch.Tensor) -> torch.Tensor:  # type: ignore[no-untyped-def]
        ctx.save_for_backward(a, w)
        return bf(a).double() @ bf(w).double().t()

    @staticmethod
    def backward(ctx, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[no-untyped-def]
        a, w = ctx.saved_tensors
        g = bf(g.float()).double()
        return (g @ bf(w).double()).to(a.dtype), (g.t() @ bf(a).double()).to(w.dtype)


def emulated_training(lstm: LSTM, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`emulated` through autograd: ``(y, h_T)`` whose gradients round what the kernel rounds."""
    w = torch.cat([lstm.weight_ih_l0, (lstm.bias_ih_l0 + lstm.bias_hh_l0).unsqueeze(1), lstm.weight_hh_l0], 1)
    steps, batch, _ = x.shape
    h = x.new_zeros(batch, lstm.hidden_size)
    c = x.new_zeros(batch, lstm.hidden_size)
    out = []
    for t in range(steps):
        a = BfMM.apply(torch.cat([x[t], x.new_ones(batch, 1), h], 1), w).float()
        i, f, g, o = a.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        out.append(h)
    return torch.stack(out), h


def loss_grads(lstm: LSTM, x: torch.Tensor, bf16: bool | None) -> list[torch.Tensor]:
    """Gradients of the parameters and of ``x`` for a loss on the output and the final state, from the
    native LSTM (under bfloat16 autocast when ``bf16``) or, for ``None``, from :func:`emulated_training`."""
    lstm.zero_grad()
    x = x.detach().requires_grad_(True)
    if bf16 is None:
        y, h = emulated_training(lstm, x)
    else:
        torch.manual_seed(5)  # the same zoneout and dropout draws for both precisions
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            y, (h_n, _) = lstm(x)
        h = h_n[-1]
    (y.pow(2).mean() + 0.1 * h.sum()).backward()
    return [p.grad.clone() for p in lstm.parameters() if p.grad is not None] + [x.grad]


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


@needs_bf16
@pytest.mark.parametrize(
    ("inputs", "hidden", "batch", "steps"),
    [(1, 50, 32, 20), (3, 7, 5, 9), (5, 129, 1, 6), (8, 64, 7, 5), (40, 16, 4, 3)],
)
def test_bf16_training_is_the_gemms_on_bf16_rounded_operands(
    inputs: int, hidden: int, batch: int, steps: int
) -> None:
    torch.manual_seed(0)
    lstm = LSTM(inputs, hidden, backend="native")
    x = torch.randn(steps, batch, inputs)
    got, want, full = loss_grads(lstm, x, True), loss_grads(lstm, x, None), loss_grads(lstm, x, False)
    for g, w in zip(got, want, strict=True):
        # float32 sums in another order, and now and then a value on the other side of a bfloat16
        # rounding: 1e-7 to 3e-5 measured, against 3e-3 from float32
        assert relative(g, w) < 1e-4
    assert any(relative(g, f) > 1e-3 for g, f in zip(got, full, strict=True))  # and bfloat16 did run


@needs_bf16
@pytest.mark.parametrize("options", [*VARIANTS, {"recurrent_dropout": 0.3}], ids=lambda o: ",".join(o))
@pytest.mark.parametrize(("inputs", "hidden", "batch"), [(4, 7, 5), (3, 33, 2), (2, 129, 1)])
def test_every_variant_trains_in_bf16_to_bfloat16_precision(
    options: dict[str, object], inputs: int, hidden: int, batch: int
) -> None:
    torch.manual_seed(1)
    lstm = LSTM(inputs, hidden, backend="native", **options)  # type: ignore[arg-type]
    x = torch.randn(4, batch, inputs)
    if options.get("batch_first"):
        x = x.transpose(0, 1)
    got, full = loss_grads(lstm, x, True), loss_grads(lstm, x, False)
    for g, f in zip(got[:-1], full[:-1], strict=True):  # the parameters' gradients
        assert bool(g.isfinite().all()) and not torch.equal(g, f)
        assert relative(g, f) < 0.1, relative(g, f)


@pytest.mark.parametrize("backend", ["native", "auto"])
def test_training_under_autocast_stays_float32_without_avx512_bf16(backend: str) -> None:
    module = native.native_module() if native.KERNEL is not None else None
    isas = [] if module is None else [i for i in module.isas() if i != "avx512"]
    if module is None or not isas:
        pytest.skip("needs the native kernel on an instruction set without bfloat16 GEMMs")
    previous = module.set_isa(isas[0])
    try:
        torch.manual_seed(3)
        lstm = LSTM(4, 6, backend=backend)
        x = torch.randn(5, 2, 4)
        assert not native.bf16_available()
        torch.testing.assert_close(loss_grads(lstm, x, True), loss_grads(lstm, x, False), rtol=0, atol=0)
    finally:
        module.set_isa(previous)


def test_autocast_bf16_asks_for_float32_data_under_bfloat16_autocast() -> None:
    x = torch.zeros(2, 1, 3)
    assert not autocast_bf16(x)  # no autocast
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert autocast_bf16(x) == native.bf16_available()
        assert not autocast_bf16(x.double())
    with torch.autocast("cpu", dtype=torch.float16):
        assert not autocast_bf16(x)


@pytest.mark.skipif(native.KERNEL is None, reason="the native kernel is not built")
def test_the_kernel_refuses_bf16_where_it_cannot_run_it() -> None:
    kernel = native.KERNEL
    assert kernel is not None
    inputs = RecurrenceInputs(torch.zeros(3, 2, 8), torch.zeros(2, 2), torch.zeros(2, 2))
    params = RecurrenceParams(torch.zeros(8, 2))
    as64 = RecurrenceInputs(*(t.double() for t in inputs[:3]))
    with pytest.raises(
        ValueError, match=r"bf16: expected float32 on a CPU with AVX512-BF16, got torch\.float64"
    ):
        kernel.forward(as64, RecurrenceParams(params.w_hh.double()), False, False, bf16=True)
    module = native.native_module()
    previous = module.set_isa("generic")  # no bfloat16 GEMMs there
    try:
        with pytest.raises(ValueError, match="bf16 available: False"):
            kernel.forward(inputs, params, False, False, bf16=True)
        for call, args in (
            (module.forward_bf16, ([1] * 20, [0] * 33)),
            (module.backward_bf16, ([1] * 20, [0] * 33, [0] * 16)),
        ):
            with pytest.raises(
                ValueError,
                match=r"_bf16: needs the avx512 kernels on a CPU with AVX512-BF16, running generic",
            ):
                call(*args)
    finally:
        module.set_isa(previous)


@pytest.mark.skipif(native.KERNEL is None, reason="the native kernel is not built")
@pytest.mark.parametrize(("rows", "cols", "width"), [(5, 40, 16), (4, 64, 64), (1, 7, 16), (9, 33, 8)])
def test_bf16_panels_are_pairs_of_rows_rounded_to_nearest_even(rows: int, cols: int, width: int) -> None:
    torch.manual_seed(4)
    packed = torch.randn(rows * cols) * 3
    packed[::7] = torch.tensor(1.0 + 2**-8)  # a tie: rounds to even (1.0)
    got = native._bf16_panels(packed, rows, width)
    want = []
    for n0 in range(0, cols, width):  # each panel [K][w] as [ceil(K/2)][w][2]
        w = min(width, cols - n0)
        block = packed[n0 * rows : (n0 + w) * rows].view(rows, w)
        block = torch.cat([block, block.new_zeros(rows % 2, w)])
        want.append(block.view(-1, 2, w).transpose(1, 2).bfloat16().reshape(-1))
    assert torch.equal(got.view(torch.bfloat16), torch.cat(want))
