"""The native loop with bfloat16 GEMMs (float32 sums and state) under CPU autocast, on AVX512-BF16.

The oracle is the readable reference recurrence (``lstmkit.ops.reference``) with every matrix product
routed through :class:`BfMM`, which rounds both operands to bfloat16 and sums in float64, forward and
backward: what the kernel computes, up to the order of its float32 sums.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from lstmkit.nn import LSTM
from lstmkit.ops import native, reference
from lstmkit.ops.native import InputProjection
from lstmkit.ops.native_bf16 import bf16_available, bf16_panels
from lstmkit.ops.native_projected import autocast_bf16, gate_inputs, projected_recurrence
from lstmkit.ops.types import RecurrenceInputs, RecurrenceParams

needs_bf16 = pytest.mark.skipif(
    not bf16_available(), reason="needs the native kernel's AVX-512 build on a CPU with AVX512-BF16"
)


def bf(t: torch.Tensor) -> torch.Tensor:
    """``t`` rounded to bfloat16 (to nearest even), in its own dtype."""
    return t.bfloat16().to(t.dtype)


class BfMM(torch.autograd.Function):
    """``a @ wᵀ`` on bfloat16-rounded operands summed in float64, its gradients likewise."""

    @staticmethod
    def forward(ctx: Any, a: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(a, w)
        return (bf(a).double() @ bf(w).double().t()).float()

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, w = ctx.saved_tensors
        g = bf(g.float()).double().reshape(-1, g.shape[-1])
        grad_a = (g @ bf(w).double()).reshape(*a.shape[:-1], w.shape[1])
        grad_w = g.t() @ bf(a).double().reshape(-1, a.shape[-1])
        return grad_a.to(a.dtype), grad_w.to(w.dtype)


class RoundedGemms(TorchFunctionMode):
    """Every ``matmul`` and ``F.linear`` (its bias as one more input column of ones) through :class:`BfMM`."""

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if func in (torch.matmul, torch.Tensor.matmul, torch.Tensor.__matmul__):
            a, w_t = args
            return BfMM.apply(a, w_t.t())
        if func is F.linear:
            x, w = args[0], args[1]
            b = args[2] if len(args) > 2 else kwargs.get("bias")
            if b is not None:
                x = torch.cat([x, x.new_ones(*x.shape[:-1], 1)], -1)
                w = torch.cat([w, b[:, None]], 1)
            return BfMM.apply(x, w)
        return func(*args, **kwargs)


CASES = {  # (T, B, I, H) and the variant's options
    "plain C1-like": ((20, 32, 1, 50), {}),
    "plain odd": ((9, 5, 3, 7), {}),
    "plain batch 1": ((6, 1, 5, 129), {}),
    "wide input": ((3, 3, 40, 33), {}),
    "projection": ((5, 6, 3, 9), {"P": 4}),
    "dropout, odd T*B": ((7, 5, 3, 9), {"P": 4, "drop": True}),
    "zoneout, peephole": ((5, 6, 3, 9), {"zone": True, "peep": True}),
    "coupled gates": ((5, 6, 3, 9), {"coupled": True}),
    "lengths": ((5, 6, 3, 9), {"lengths": True}),
    "layer norm": ((5, 6, 3, 9), {"ln": True}),
    "layer norm, I > H": ((5, 6, 12, 9), {"ln": True}),
    "everything": ((5, 6, 3, 17), {"ln": True, "P": 4, "peep": True, "drop": True, "zone": True}),
    # odd batches on two threads: a thread's odd row count pairs its last row with zeros (dW_ih per step)
    "layer norm, batch 9": ((6, 9, 12, 9), {"ln": True}),
    "layer norm, batch 11": ((4, 11, 3, 20), {"ln": True, "P": 5}),
    "plain, batch 13": ((5, 13, 2, 16), {"drop": True}),
}


def recurrence_case(sizes: tuple[int, int, int, int], options: dict[str, Any]) -> tuple[Any, ...]:
    """Leaves (every tensor a gradient flows to), the projection, the state and the parameters of a case."""
    steps, batch, n_in, hidden = sizes
    g = torch.Generator().manual_seed(0)
    rec = options.get("P") or hidden

    def leaf(*shape: int) -> torch.Tensor:  # torch.nn.LSTM's scale, 1/sqrt(H): no chaotic growth along T
        return (torch.randn(*shape, generator=g) / hidden**0.5).requires_grad_(True)

    x, w_ih, bias, w_hh = (
        leaf(steps, batch, n_in),
        leaf(4 * hidden, n_in),
        leaf(4 * hidden),
        leaf(4 * hidden, rec),
    )
    w_hr = leaf(rec, hidden) if options.get("P") else None
    peep = leaf(3, hidden) if options.get("peep") else None
    norms = [
        leaf(4 * hidden),
        leaf(4 * hidden),
        leaf(4 * hidden),
        leaf(4 * hidden),
        leaf(hidden),
        leaf(hidden),
    ]
    ln = norms if options.get("ln") else [None] * 6
    h0, c0 = leaf(batch, rec), leaf(batch, hidden)
    mask = (torch.rand(batch, rec, generator=g) > 0.3).float() / 0.7 if options.get("drop") else None
    zone = options.get("zone")
    zh = (torch.rand(steps, batch, rec, generator=g) > 0.7).float() if zone else None
    zc = (torch.rand(steps, batch, hidden, generator=g) > 0.7).float() if zone else None
    lengths = (
        torch.tensor([steps] + [b % steps + 1 for b in range(1, batch)]) if options.get("lengths") else None
    )
    projection = InputProjection(x, w_ih, bias, ln[0], ln[1])
    params = RecurrenceParams(w_hh, w_hr, peep, *ln[2:])
    state = RecurrenceInputs(x[:, :, :0], h0, c0, mask, zh, zc, lengths)
    leaves = [t for t in (x, w_ih, bias, w_hh, w_hr, peep, *ln, h0, c0) if t is not None]
    return leaves, projection, state, params


@pytest.fixture
def two_threads() -> Any:
    """Two threads: the batch split, each thread's rows paired on their own (needs a batch of 8 or more)."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def outputs_and_grads(run: Any, leaves: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    for t in leaves:
        t.grad = None
    y, h_T, c_T = run()
    (y.pow(2).mean() + 0.1 * h_T.sum() + 0.2 * c_T.pow(2).sum()).backward()
    return [y.detach(), h_T.detach(), c_T.detach()], [t.grad.clone() for t in leaves]


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


@needs_bf16
@pytest.mark.parametrize("case", list(CASES))
def test_bf16_is_the_reference_with_bfloat16_rounded_gemm_operands(case: str, two_threads: None) -> None:
    sizes, options = CASES[case]
    leaves, projection, state, params = recurrence_case(sizes, options)
    coupled = bool(options.get("coupled"))

    def kernel(bf16: bool) -> Any:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return projected_recurrence(projection, state, params, coupled_gates=coupled)

    def emulation() -> Any:
        with RoundedGemms():
            inputs = state._replace(xg=gate_inputs(projection))
            return reference.recurrence(inputs, params, coupled_gates=coupled)

    (got, got_grads), (want, want_grads) = (
        outputs_and_grads(lambda: kernel(True), leaves),
        outputs_and_grads(emulation, leaves),
    )
    full, full_grads = outputs_and_grads(lambda: kernel(False), leaves)
    for g, w in zip(got, want, strict=True):  # the products of two bfloat16 are exact in float32
        torch.testing.assert_close(g, w, rtol=0, atol=2e-6)
    for g, w, f in zip(got_grads, want_grads, full_grads, strict=True):
        # sums in another order, and now and then a value on the other side of a bfloat16 rounding (whose
        # place depends on float32 details of both sides): 1e-7 of the norm typically, one flipped value
        # up to 2e-4. Measured against float32's own distance from the emulation: at most 0.09 of it on
        # correct code, 0.5-0.8 with layer norm's dW_ih left in float32
        assert float((g - w).norm()) <= 0.2 * float((f - w).norm()), relative(g, w)
    assert float((got[0] - full[0]).abs().max()) > 1e-4  # and bfloat16 did run
    with torch.no_grad():  # inference: the same forward, nothing kept
        inference = kernel(True)
    for g, w in zip(inference, got, strict=True):
        torch.testing.assert_close(g, w, rtol=0, atol=0)


VARIANTS = [
    {"peephole": True},
    {"layer_norm": True},
    {"proj_size": 3},
    {"layer_norm": True, "proj_size": 3, "peephole": True},
    {"coupled_gates": True},
    {"zoneout": 0.3},
    {"recurrent_dropout": 0.3},
    {"num_layers": 2, "bidirectional": True},
    {"batch_first": True},
]


def module_grads(lstm: LSTM, x: torch.Tensor, bf16: bool) -> list[torch.Tensor]:
    """Outputs, final states and every gradient of ``lstm`` on ``x`` (same dropout and zoneout draws)."""
    lstm.zero_grad()
    x = x.detach().requires_grad_(True)
    torch.manual_seed(5)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        y, (h_n, c_n) = lstm(x)
    (y.pow(2).mean() + 0.1 * h_n.sum()).backward()
    grads = [p.grad.clone() for p in lstm.parameters() if p.grad is not None]
    return [y.detach(), h_n.detach(), c_n.detach(), *grads, x.grad]


@needs_bf16
@pytest.mark.parametrize("options", VARIANTS, ids=lambda o: ",".join(o))
def test_the_module_takes_the_bf16_path_for_every_variant(options: dict[str, Any]) -> None:
    # the wiring of nn.LSTM (layers, directions, batch_first) into the kernel tested above
    torch.manual_seed(1)
    lstm = LSTM(4, 33, backend="native", **options)
    x = torch.randn(5, 3, 4)
    calls = []
    real = native.native_module()

    class Spy:
        def __getattr__(self, name: str) -> Any:
            if name in ("forward_bf16", "backward_bf16"):
                calls.append(name)
            return getattr(real, name)

    native._native = Spy()  # type: ignore[assignment]
    try:
        got = module_grads(lstm, x, True)
    finally:
        native._native = real
    layers = lstm.num_layers * (2 if lstm.bidirectional else 1)
    assert calls == ["forward_bf16"] * layers + ["backward_bf16"] * layers
    full = module_grads(lstm, x, False)
    for g, f in zip(got, full, strict=True):
        assert bool(g.isfinite().all()) and relative(g, f) < 0.1


@needs_bf16
def test_bf16_keeps_the_state_of_rows_past_their_length() -> None:
    torch.manual_seed(2)
    lstm = LSTM(3, 9, backend="native").eval()
    x = torch.randn(7, 4, 3)
    lengths = torch.tensor([7, 3, 1, 5])
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        y, (h_n, c_n) = lstm(x, lengths=lengths)
    for b, n in enumerate(lengths.tolist()):
        assert bool((y[n:, b] == 0).all())
        torch.testing.assert_close(h_n[0, b], y[n - 1, b], rtol=0, atol=0)  # the state of its last step
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        _, (_, c_cut) = lstm(x[:3, 1:2])  # row 1 alone, cut at its length
    torch.testing.assert_close(c_n[:, 1:2], c_cut, rtol=0, atol=1e-6)


@needs_bf16
def test_a_backward_in_another_precision_than_its_forward_is_refused() -> None:
    kernel = native.KERNEL
    assert kernel is not None
    _, projection, state, params = recurrence_case((4, 3, 2, 5), {"ln": True})
    _, _, _, saved = kernel.forward(state, params, False, True, projection, bf16=True)
    dy = torch.ones(4, 3, 5)
    with pytest.raises(
        ValueError, match="bf16=False: the forward that saved these tensors ran with bf16=True"
    ):
        kernel.backward_projected(saved, state, params, False, dy, None, None, projection, True)


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
        assert not bf16_available()
        torch.testing.assert_close(module_grads(lstm, x, True), module_grads(lstm, x, False), rtol=0, atol=0)
    finally:
        module.set_isa(previous)


def test_autocast_bf16_asks_for_float32_data_under_bfloat16_autocast() -> None:
    x = torch.zeros(2, 1, 3)
    assert not autocast_bf16(x)  # no autocast
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert autocast_bf16(x) == bf16_available()
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
    with pytest.raises(ValueError, match=r"bf16: expected float32 data, got torch\.float64"):
        kernel.forward(as64, RecurrenceParams(params.w_hh.double()), False, False, bf16=True)
    module = native.native_module()
    previous = module.set_isa("generic")  # no bfloat16 GEMMs there
    try:
        with pytest.raises(ValueError, match="bf16: this CPU or instruction set has no AVX512-BF16"):
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
    got = bf16_panels(packed, rows, width)
    want = []
    for n0 in range(0, cols, width):  # each panel [K][w] as [ceil(K/2)][w][2]
        w = min(width, cols - n0)
        block = packed[n0 * rows : (n0 + w) * rows].view(rows, w)
        block = torch.cat([block, block.new_zeros(rows % 2, w)])
        want.append(block.view(-1, 2, w).transpose(1, 2).bfloat16().reshape(-1))
    assert torch.equal(got.view(torch.bfloat16), torch.cat(want))


@pytest.mark.skipif(native.KERNEL is None, reason="the native kernel is not built")
def test_bf16_panels_refuses_what_is_not_a_packed_float32_matrix() -> None:
    with pytest.raises(
        TypeError, match=r"expected a flat CPU float32 tensor .* torch\.float16 tensor of shape \(10,\)"
    ):
        bf16_panels(torch.zeros(10, dtype=torch.float16), 2, 16)  # half the bytes the packer would read
    with pytest.raises(TypeError, match=r"shape \(2, 5\)"):
        bf16_panels(torch.zeros(2, 5), 2, 16)
    with pytest.raises(ValueError, match=r"rows >= 1 dividing the 10 values and width >= 1, got rows=3"):
        bf16_panels(torch.zeros(10), 3, 16)
    with pytest.raises(ValueError, match="got rows=2, width=0"):
        bf16_panels(torch.zeros(10), 2, 0)
