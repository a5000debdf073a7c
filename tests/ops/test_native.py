"""The native kernel against the reference recurrence: every variant, float32 and float64, kernel edges."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch
from torch import Tensor

from lstmkit.nn import LSTM
from lstmkit.ops.fused import fused_recurrence
from lstmkit.ops.native import NativeKernel, native_available, native_isa, native_module
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


@contextmanager
def instruction_set(name: str) -> Iterator[None]:
    module = native_module()
    previous = module.set_isa(name)
    try:
        yield
    finally:
        module.set_isa(previous)


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@pytest.mark.parametrize("isa", ["avx512", "avx2", "generic"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
def test_every_instruction_set_matches_reference(isa: str, dtype: torch.dtype) -> None:
    if isa not in native_module().isas():
        pytest.skip(f"this CPU cannot run {isa}")  # the portable build always runs
    with instruction_set(isa):
        assert native_isa() == isa
        check_against_reference(VARIANTS["everything"], steps=4, batch=6, hidden=20, dtype=dtype)
        check_against_reference({}, steps=5, batch=3, hidden=7, dtype=dtype)


@pytest.mark.parametrize("name", ["vanilla", "everything"])
def test_batch_split_between_threads_matches_reference(name: str) -> None:
    with torch_threads(2):
        check_against_reference(VARIANTS[name], steps=5, batch=13, hidden=20, dtype=torch.float64)


def test_inference_forward_equals_training_forward() -> None:
    inputs, params, coupled = make_case(VARIANTS["everything"], 7, 9, 33, torch.float32)
    kernel = NativeKernel()
    y1, h1, c1, saved = kernel.forward(inputs, params, coupled, True)
    y2, h2, c2, none = kernel.forward(inputs, params, coupled, False)
    assert none == () and len(saved) > 0
    for a, b in ((y1, y2), (h1, h2), (c1, c2)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_int32_lengths_are_accepted() -> None:
    inputs, params, coupled = make_case(VARIANTS["lengths"], 5, 4, 6, torch.float64)
    kernel = NativeKernel()
    expected = kernel.forward(inputs, params, coupled, False)[0]
    narrow = inputs._replace(lengths=inputs.lengths.to(torch.int32))
    torch.testing.assert_close(kernel.forward(narrow, params, coupled, False)[0], expected, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_nan_propagates_like_torch(dtype: torch.dtype) -> None:
    inputs, params, coupled = make_case({}, 4, 3, 20, dtype)
    inputs.xg[1, 2, 5] = float("nan")
    for isa in native_module().isas():
        with instruction_set(isa):
            y = NativeKernel().forward(inputs, params, coupled, False)[0]
        assert bool(torch.isnan(y[1, 2, 5])) and bool(torch.isnan(y[2:, 2]).all()), isa
        assert not bool(torch.isnan(y[0]).any()) and not bool(torch.isnan(y[:, :2]).any()), isa


def test_float32_tanh_is_accurate_near_zero_and_saturates_on_every_instruction_set() -> None:
    # one step from a zero state with i = o = σ(50) = 1: c = tanh(g) and h = tanh(tanh(g)), so the kernel's
    # tanh shows directly; an exp-based tanh loses the relative accuracy near 0 that these values need
    v = torch.tensor([1e-30, -1e-12, 1e-7, -3e-4, 0.02, -0.3, 0.7, -1.5, 3.0, -5.2, 7.9, -9.0, 20.0, 100.0])
    hidden = v.numel()
    ones = torch.full((hidden,), 50.0)
    xg = torch.cat([ones, torch.zeros(hidden), v, ones]).view(1, 1, 4 * hidden)
    inputs = RecurrenceInputs(xg, torch.zeros(1, hidden), torch.zeros(1, hidden))
    params = RecurrenceParams(torch.zeros(4 * hidden, hidden))
    want_c = torch.tanh(v.double())
    for isa in native_module().isas():
        with instruction_set(isa):
            _, h, c, _ = NativeKernel().forward(inputs, params, False, False)
        for got, want in ((c[0], want_c), (h[0], torch.tanh(want_c))):
            relative = ((got.double() - want).abs() / want.abs()).max()
            assert float(relative) < 1e-6, (isa, got, want)


def test_float32_gates_saturate_without_nan_for_pre_activations_of_any_size_on_every_instruction_set() -> (
    None
):
    # σ(a) = 1 / (1 + e^-a): e^-a overflowing float32 (a < -88.7) must give σ = 0, not 1/inf -> NaN
    a = torch.tensor([-1e30, -1e4, -150.0, -104.0, -89.5, -88.8, -88.0, -50.0, 0.0, 50.0, 88.8, 1e4, 1e30])
    hidden = a.numel()
    xg = a.repeat(4).view(1, 1, 4 * hidden)  # every gate's pre-activation is a
    c0 = torch.full((1, hidden), 0.5)
    inputs = RecurrenceInputs(xg, torch.zeros(1, hidden), c0)
    params = RecurrenceParams(torch.zeros(4 * hidden, hidden))
    i = torch.sigmoid(a.double())
    c_want = i * 0.5 + i * torch.tanh(a.double())
    h_want = i * torch.tanh(c_want)
    for isa in native_module().isas():
        with instruction_set(isa):
            _, h, c, _ = NativeKernel().forward(inputs, params, False, False)
        torch.testing.assert_close(c[0].double(), c_want, rtol=1e-6, atol=1e-7, msg=isa)
        torch.testing.assert_close(h[0].double(), h_want, rtol=1e-6, atol=1e-7, msg=isa)


def test_float32_gradients_in_saturation_match_torch_on_every_instruction_set() -> None:
    # inputs x100 saturate every gate: tanh past its fit's range must be exactly ±1 (derivative 0, as
    # torch's), or 1 - tanh^2 = 4.8e-7 leaks into every weight gradient (relative error 5.9e-6 before)
    from lstmkit.nn import LSTM

    torch.manual_seed(0)
    theirs = torch.nn.LSTM(3, 16, num_layers=2, bidirectional=True)
    x = 100 * torch.randn(20, 4, 3)
    out, _ = theirs(x)
    want = torch.autograd.grad(out.sum(), list(theirs.parameters()))
    for isa in native_module().isas():
        ours = LSTM(3, 16, num_layers=2, bidirectional=True, backend="native")
        ours.load_state_dict(theirs.state_dict())
        with instruction_set(isa):
            got = torch.autograd.grad(ours(x)[0].sum(), list(ours.parameters()))
        for g, w in zip(got, want, strict=True):
            relative = float((g - w).abs().max() / w.abs().max().clamp(min=1.0))
            assert relative < 2e-6, (isa, relative)


def test_empty_batch_gives_empty_outputs_and_zero_gradients() -> None:
    inputs, params, coupled = make_case({"peephole": True}, 3, 0, 5, torch.float32)
    y, h, c, saved = NativeKernel().forward(inputs, params, coupled, True)
    assert y.shape == (3, 0, 5) and h.shape == (0, 5) and c.shape == (0, 5)
    grads = NativeKernel().backward(saved, inputs, params, coupled, y, h, c)
    assert grads.xg.shape == (3, 0, 20) and float(grads.params.w_hh.abs().sum()) == 0.0
    assert grads.params.peephole is not None and grads.params.w_hr is None


def test_empty_sequence_returns_initial_state() -> None:
    inputs, params, coupled = make_case({}, 0, 3, 5, torch.float64)
    y, h, c, _ = NativeKernel().forward(inputs, params, coupled, True)
    assert y.shape == (0, 3, 5)
    torch.testing.assert_close(h, inputs.h0)
    torch.testing.assert_close(c, inputs.c0)


@pytest.mark.parametrize("name", ["vanilla", "everything"])
def test_gradcheck_float64(name: str) -> None:
    inputs, params, coupled = make_case(VARIANTS[name], 4, 3, 5, torch.float64)
    inputs, params = differentiable(inputs, params)
    n_inputs = 3

    def run(*tensors: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        i = inputs._replace(xg=tensors[0], h0=tensors[1], c0=tensors[2])
        p = RecurrenceParams(*tensors[n_inputs:])
        return fused_recurrence(i, p, coupled_gates=coupled, kernel=NativeKernel())

    args = (inputs.xg, inputs.h0, inputs.c0, *params)
    assert torch.autograd.gradcheck(run, args, eps=1e-6, atol=1e-7)


def test_lstm_module_with_native_backend_matches_torch() -> None:
    ref = torch.nn.LSTM(3, 12, num_layers=2, bidirectional=True, dtype=torch.float64)
    ours = LSTM(3, 12, num_layers=2, bidirectional=True, dtype=torch.float64, backend="native")
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(6, 4, 3, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 5, 1])
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
    out_ref, (h_ref, c_ref) = ref(packed)
    assert c_ref.shape == (4, 4, 12)
    expected, _ = torch.nn.utils.rnn.pad_packed_sequence(out_ref, total_length=6)
    out, (h, c) = ours(x, lengths=lengths)
    torch.testing.assert_close(c, c_ref, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(h, h_ref, rtol=1e-10, atol=1e-12)
    (out.sum() + h.sum()).backward()
    expected.sum().add(h_ref.sum()).backward()
    for (name, p), q in zip(ours.named_parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-9, atol=1e-11, msg=name)


def bad(**changes: object) -> tuple[RecurrenceInputs, RecurrenceParams]:
    inputs, params, _ = make_case({}, 3, 2, 4, torch.float32)
    inputs = inputs._replace(**{k: v for k, v in changes.items() if k in RecurrenceInputs._fields})
    params = params._replace(**{k: v for k, v in changes.items() if k in RecurrenceParams._fields})
    return inputs, params


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"xg": torch.zeros(3, 2, 15)}, ValueError, r"xg must have shape \(T, B, 4H\) = \(T, B, 16\)"),
        ({"h0": torch.zeros(3, 4)}, ValueError, r"h0 must have shape \(2, 4\), got \(3, 4\)"),
        ({"c0": torch.zeros(2, 4, dtype=torch.float64)}, TypeError, "c0 must have dtype torch.float32"),
        ({"w_hh": torch.zeros(15, 4)}, ValueError, r"w_hh must have shape \(4H, R\)"),
        ({"peephole": torch.zeros(2, 4)}, ValueError, r"peephole must have shape \(3, 4\)"),
        ({"zoneout_h": torch.zeros(2, 2, 4)}, ValueError, r"zoneout_h must have shape \(3, 2, 4\)"),
        ({"lengths": torch.tensor([1.0, 2.0])}, ValueError, "lengths must be an integer tensor of shape"),
        ({"recurrent_mask": [[1.0] * 4] * 2}, TypeError, "recurrent_mask must be a torch.Tensor"),
    ],
    ids=[
        "xg-width",
        "h0-batch",
        "c0-dtype",
        "w_hh-rows",
        "peephole",
        "zoneout-steps",
        "lengths-dtype",
        "mask-type",
    ],
)
def test_bad_input_is_rejected_before_the_native_call(changes: dict, error: type, match: str) -> None:
    inputs, params = bad(**changes)
    with pytest.raises(error, match=match):
        NativeKernel().forward(inputs, params, False, True)


def test_unsupported_dtype_and_device_are_reported() -> None:
    inputs, params = bad()
    half = inputs._replace(xg=inputs.xg.to(torch.bfloat16))
    assert "float32 and float64 only" in (NativeKernel().supports(half, params) or "")
    with pytest.raises(ValueError, match="float32 and float64 only"):
        NativeKernel().forward(half, params, False, False)
    meta = inputs._replace(xg=inputs.xg.to("meta"))
    assert "CPU only" in (NativeKernel().supports(meta, params) or "")


def test_backward_rejects_foreign_saved_tuple() -> None:
    inputs, params = bad()
    zeros = torch.zeros(3, 2, 4)
    with pytest.raises(ValueError, match="saved: expected the 27 tensors"):
        NativeKernel().backward((), inputs, params, False, zeros, zeros[0], zeros[0])


def test_backward_rejects_upstream_gradients_of_the_wrong_shape() -> None:
    inputs, params = bad()
    kernel = NativeKernel()
    _, _, _, saved = kernel.forward(inputs, params, False, True)
    y = torch.zeros(3, 2, 4)
    with pytest.raises(
        ValueError, match=r"dy must be a CPU tensor of shape \(3, 2, 4\) or None, got \(3, 2, 5\)"
    ):
        kernel.backward(saved, inputs, params, False, torch.zeros(3, 2, 5), y[0], y[0])
    with pytest.raises(ValueError, match=r"dc_T must be a CPU tensor of shape \(2, 4\)"):
        kernel.backward(saved, inputs, params, False, y, y[0], torch.zeros(4))


def test_auto_takes_native_at_every_thread_count() -> None:
    from lstmkit.ops.dispatch import Variant, select_backend

    cpu = torch.device("cpu")
    for threads in (1, 2):
        with torch_threads(threads):
            assert select_backend("auto", Variant(), cpu) == "native"
            assert select_backend("auto", Variant(zoneout=True), cpu) == "native"


def test_training_works_after_a_first_call_in_inference_mode() -> None:
    code = (
        "import torch\n"
        "from lstmkit.nn import LSTM\n"
        "m = LSTM(3, 4, backend='native')\n"
        "x = torch.randn(5, 2, 3)\n"
        "with torch.inference_mode():\n"
        "    m(x)\n"
        "m(x)[0].sum().backward()\n"
        "print('ok')\n"
    )
    # a fresh process: the kernel's shared empty buffers are created by its first call
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_layer_norm_weight_gradient_when_openmp_runs_fewer_threads_than_asked() -> None:
    # per-thread dW_ih slots are summed: a slot no thread ran must be zeros, not whatever memory held
    import textwrap

    script = textwrap.dedent(
        """
        import copy, torch
        from lstmkit.nn import LSTM
        torch.set_num_threads(4)
        torch.manual_seed(0)
        native = LSTM(3, 5, layer_norm=True, backend="native", dtype=torch.float64)
        reference = copy.deepcopy(native)
        reference.backend = "reference"
        x = torch.randn(6, 32, 3, dtype=torch.float64)
        worst = 0.0
        for _ in range(3):
            for module in (native, reference):
                module.zero_grad()
                module(x)[0].sum().backward()
            worst = max(worst, float((native.weight_ih_l0.grad - reference.weight_ih_l0.grad).abs().max()))
        print(worst)
        """
    )
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert float(done.stdout.strip()) < 1e-9, done.stdout


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_non_finite_sample_leaves_the_other_samples_gradients_finite(dtype: torch.dtype) -> None:
    # 4H = 20 is not whole vectors: the layer-norm backward's padding lanes, in scratch shared between rows,
    # must stay zero when one row's statistics are NaN
    from lstmkit.nn import LSTM

    keep = [b for b in range(17) if b != 1]
    for isa in native_module().isas():
        torch.manual_seed(0)
        lstm = LSTM(3, 5, layer_norm=True, backend="native", dtype=dtype)
        x = torch.randn(4, 17, 3, dtype=dtype)
        x[1, 1, 0] = float("inf")
        x.requires_grad_()
        h0 = torch.zeros(1, 17, 5, dtype=dtype, requires_grad=True)
        with instruction_set(isa), torch_threads(1):
            out, _ = lstm(x, (h0, torch.zeros(1, 17, 5, dtype=dtype)))
            out[:, keep].sum().backward()
        assert x.grad is not None and h0.grad is not None
        assert bool(x.grad[:, keep].isfinite().all()) and bool(h0.grad[:, keep].isfinite().all()), isa


@pytest.mark.parametrize("options", [{}, {"layer_norm": True}, {"proj_size": 1}])
def test_every_gradient_has_its_parameters_strides_with_one_input_or_one_state_unit(
    options: dict[str, object],
) -> None:
    # a (4H, 1) gradient transposed from the kernel's (1, 4H) result passes torch's is_contiguous() with
    # strides (1, 4H): AccumulateGrad then copies it again and DDP warns that grad strides do not match
    torch.manual_seed(0)
    lstm = LSTM(1, 3, batch_first=True, backend="native", **options)  # type: ignore[arg-type]
    out, _ = lstm(torch.randn(2, 4, 1))
    out.sum().backward()
    for name, p in lstm.named_parameters():
        assert p.grad is not None and p.grad.stride() == p.stride(), name


def negated(t: Tensor) -> Tensor:
    """A contiguous view equal to ``t`` with the negative bit set: its memory holds ``-t``."""
    view = torch._neg_view(t.neg())
    assert view.is_neg() and view.is_contiguous() and torch.equal(view, t)
    return view


def test_backward_rejects_the_saved_tuple_of_another_forward() -> None:
    kernel, w = NativeKernel(), torch.randn(64, 16)
    small = RecurrenceInputs(torch.randn(2, 1, 64), torch.zeros(1, 16), torch.zeros(1, 16))
    *_, saved = kernel.forward(small, RecurrenceParams(w), False, True)
    big = RecurrenceInputs(torch.randn(5, 3, 64), torch.zeros(3, 16), torch.zeros(3, 16))  # other sizes
    dy, dh = torch.ones(5, 3, 16), torch.zeros(3, 16)
    with pytest.raises(ValueError, match=r"saved hs: expected torch.float32 \(6, 3, 16\) .* got torch.fl"):
        kernel.backward(saved, big, RecurrenceParams(w), False, dy, dh, dh)
    peephole = RecurrenceParams(w, peephole=torch.randn(3, 16))  # a variant the forward did not run
    dy = torch.ones(2, 1, 16)
    with pytest.raises(ValueError, match=r"saved peephole: expected torch.float32 \(3, 16\)"):
        kernel.backward(saved, small, peephole, False, dy, dh[:1], dh[:1])
    with pytest.raises(ValueError, match="saved lengths: expected absent"):
        swapped = (*saved[:19], torch.tensor([2]), *saved[20:])
        kernel.backward(swapped, small, RecurrenceParams(w), False, dy, dh[:1], dh[:1])


@pytest.mark.parametrize("name", [*VARIANTS, "zoneout_const"])
def test_saved_check_accepts_what_each_forward_saves(name: str) -> None:
    variant = VARIANTS.get(name, {"zoneout": True})
    inputs, params, coupled = make_case(variant, 5, 6, 9, torch.float64)
    if name == "zoneout_const":  # evaluation: one value broadcast (the kernel keeps one row)
        inputs = inputs._replace(
            zoneout_h=torch.full((1, 1, 1), 0.3, dtype=torch.float64).expand(5, 6, 9),
            zoneout_c=torch.full((1, 1, 1), 0.2, dtype=torch.float64).expand(5, 6, 9),
        )
    kernel = NativeKernel()
    y, h, c, saved = kernel.forward(inputs, params, coupled, True)
    dy, dh, dc = torch.randn_like(y), torch.randn_like(h), torch.randn_like(c)
    checked = kernel.backward_projected(saved, inputs, params, coupled, dy, dh, dc, None, False, True)[0]
    unchecked = kernel.backward(saved, inputs, params, coupled, dy, dh, dc)
    torch.testing.assert_close(unchecked.xg, checked.xg, rtol=0, atol=0)


@pytest.mark.parametrize(
    ("layer_norm", "inputs", "keep_gates"),
    [(False, 3, True), (True, 3, True), (True, 12, True), (True, 3, False)],
    ids=["plain", "layer_norm-recompute", "layer_norm-keep-xhat", "layer_norm-recompute-gates"],
)
def test_saved_check_accepts_what_a_projected_forward_saves(
    layer_norm: bool, inputs: int, keep_gates: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lstmkit.ops import native

    if not keep_gates:
        monkeypatch.setattr(native, "KEEP_LN_GATES_BYTES", 0)
    state, params, _ = make_case({"layer_norm": layer_norm, "peephole": True}, 4, 5, 7, torch.float64)
    x = torch.randn(4, 5, inputs, dtype=torch.float64)
    ln = torch.rand(28, dtype=torch.float64) + 0.5 if layer_norm else None
    projection = native.InputProjection(x, torch.randn(28, inputs, dtype=torch.float64),
                                        torch.randn(28, dtype=torch.float64), ln, ln)  # fmt: skip
    state = state._replace(xg=x.new_empty((4, 5, 0)))
    kernel = NativeKernel()
    y, h, c, saved = kernel.forward(state, params, False, True, projection)
    assert (saved[2].numel() == 0) == (not keep_gates)
    dy, dh, dc = torch.randn_like(y), torch.randn_like(h), torch.randn_like(c)
    args = (saved, state, params, False, dy, dh, dc, projection, True)
    checked, _ = kernel.backward_projected(*args, checked=True)
    unchecked, _ = kernel.backward_projected(*args)
    torch.testing.assert_close(unchecked.xg, checked.xg, rtol=0, atol=0)


def test_backward_takes_the_thread_count_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # torch.set_num_threads between two reads would give the per-thread buffers fewer rows than threads
    from lstmkit.ops import native

    inputs, params, _ = make_case({"peephole": True}, 3, 8, 5, torch.float64)
    kernel = NativeKernel()
    y, h, c, saved = kernel.forward(inputs, params, False, True)
    dy = torch.randn_like(y)
    expected = kernel.backward(saved, inputs, params, False, dy, h, c)
    counts = itertools.count(1)  # every read another count: a second read would not match the first
    monkeypatch.setattr(native, "_threads", lambda batch: min(next(counts), batch))
    got = kernel.backward(saved, inputs, params, False, dy, h, c)
    torch.testing.assert_close(got.params.peephole, expected.params.peephole)
    torch.testing.assert_close(got.xg, expected.xg)


def test_negated_views_are_read_with_their_sign() -> None:
    # z.conj().imag and friends: .contiguous() keeps the bit, and the kernel reads memory (holding -t)
    from lstmkit.ops import native

    inputs, params, _ = make_case({"proj": True, "dropout": True}, 4, 3, 6, torch.float64)
    kernel = NativeKernel()
    y, h, c, saved = kernel.forward(inputs, params, False, True)
    dy = torch.randn_like(y)
    grads = kernel.backward(saved, inputs, params, False, dy, h, c)
    neg_inputs = inputs._replace(
        xg=negated(inputs.xg), h0=negated(inputs.h0), c0=negated(inputs.c0),
        recurrent_mask=negated(inputs.recurrent_mask),
    )  # fmt: skip
    neg_params = params._replace(w_hh=negated(params.w_hh), w_hr=negated(params.w_hr))
    y2, *_, saved2 = kernel.forward(neg_inputs, neg_params, False, True)
    torch.testing.assert_close(y2, y, rtol=0, atol=0)
    grads2 = kernel.backward(saved2, neg_inputs, neg_params, False, negated(dy), negated(h), c)
    torch.testing.assert_close(grads2.xg, grads.xg, rtol=0, atol=0)
    torch.testing.assert_close(grads2.params.w_hh, grads.params.w_hh, rtol=0, atol=0)
    x = torch.randn(4, 3, 5, dtype=torch.float64)  # the input projection reads x through its strides
    padded = native.NativeKernel._pad_input(x, 8)
    torch.testing.assert_close(native.NativeKernel._pad_input(negated(x), 8), padded, rtol=0, atol=0)
    strided = negated(x.transpose(0, 1).contiguous()).transpose(0, 1)
    torch.testing.assert_close(native.NativeKernel._pad_input(strided, 8), padded, rtol=0, atol=0)


SWAPS = {  # a parameter replaced through .data between the forward and the backward
    "w_hh-shape": lambda p: p.w_hh.data.new_zeros(4 * 40, p.w_hh.shape[1]),
    "w_hh-dtype": lambda p: p.w_hh.data.double(),
    "w_hr-shape": lambda p: p.w_hr.data.new_zeros(1, p.w_hr.shape[1]),
}


@pytest.mark.parametrize("swap", SWAPS)
def test_a_parameter_swapped_after_the_forward_is_refused_by_the_backward(swap: str) -> None:
    # the saved activations are for the forward's sizes: the loop must never run the new ones over them
    # (a larger W_hh read past the saved buffers and crashed the process; a float64 one gave NaN gradients)
    inputs, params, coupled = make_case({"proj": swap.startswith("w_hr")}, 4, 3, 6, torch.float32)
    inputs, params = differentiable(inputs, params)
    y, h, c = fused_recurrence(inputs, params, coupled_gates=coupled, kernel=NativeKernel())
    name = swap.split("-")[0]
    getattr(params, name).data = SWAPS[swap](params)
    with pytest.raises(RuntimeError, match="changed shape or dtype between the forward and the backward"):
        (y.sum() + h.sum() + c.sum()).backward()
