"""The native loop with the input projection inside (ops.native_projected) against the reference."""

from __future__ import annotations

import itertools

import pytest
import torch
from test_native import instruction_set, torch_threads
from torch import Tensor

from lstmkit.ops.native import native_available
from lstmkit.ops.native_projected import InputProjection, gate_inputs, projected_recurrence
from lstmkit.ops.reference import recurrence
from lstmkit.ops.types import RecurrenceInputs, RecurrenceParams

pytestmark = pytest.mark.skipif(not native_available(), reason="lstmkit.ops._native is not built")

FLAGS = ("peephole", "layer_norm", "coupled", "proj", "dropout", "zoneout", "lengths", "no_bias")


def make_case(
    flags: set[str], steps: int, batch: int, n_in: int, hidden: int, dtype: torch.dtype
) -> tuple[InputProjection, RecurrenceInputs, RecurrenceParams]:
    rsize = max(1, hidden // 2) if "proj" in flags else hidden
    scale = hidden**-0.5

    def uniform(*shape: int) -> Tensor:
        return ((torch.rand(*shape, dtype=dtype) * 2 - 1) * scale).requires_grad_()

    ln = "layer_norm" in flags

    def gain(n: int) -> Tensor | None:
        return (1 + 0.1 * torch.randn(n, dtype=dtype)).requires_grad_() if ln else None

    def shift(n: int) -> Tensor | None:
        return (0.1 * torch.randn(n, dtype=dtype)).requires_grad_() if ln else None

    projection = InputProjection(
        torch.randn(steps, batch, n_in, dtype=dtype, requires_grad=True),
        uniform(4 * hidden, n_in),
        None if "no_bias" in flags else uniform(4 * hidden),
        gain(4 * hidden),
        shift(4 * hidden),
    )
    params = RecurrenceParams(
        w_hh=uniform(4 * hidden, rsize),
        w_hr=uniform(rsize, hidden) if "proj" in flags else None,
        peephole=uniform(3, hidden) if "peephole" in flags else None,
        ln_hh_weight=gain(4 * hidden),
        ln_hh_bias=shift(4 * hidden),
        ln_c_weight=gain(hidden),
        ln_c_bias=shift(hidden),
    )
    keep = 0.7
    state = RecurrenceInputs(
        xg=torch.empty(steps, batch, 0, dtype=dtype),
        h0=(0.5 * torch.randn(batch, rsize, dtype=dtype)).requires_grad_(),
        c0=(0.5 * torch.randn(batch, hidden, dtype=dtype)).requires_grad_(),
        recurrent_mask=(torch.rand(batch, rsize) < keep).to(dtype) / keep if "dropout" in flags else None,
        zoneout_h=(torch.rand(steps, batch, rsize) < 0.3).to(dtype) if "zoneout" in flags else None,
        zoneout_c=(torch.rand(steps, batch, hidden) < 0.3).to(dtype) if "zoneout" in flags else None,
        lengths=torch.randint(0, steps + 1, (batch,)) if "lengths" in flags else None,
    )
    return projection, state, params


def leaves(projection: InputProjection, state: RecurrenceInputs, params: RecurrenceParams) -> list[Tensor]:
    found = [*projection, state.h0, state.c0, *params]
    return [t for t in found if t is not None and t.requires_grad]


def check(
    projection: InputProjection,
    state: RecurrenceInputs,
    params: RecurrenceParams,
    coupled: bool,
    tol: float,
) -> None:
    outs = projected_recurrence(projection, state, params, coupled_gates=coupled)
    expected = recurrence(state._replace(xg=gate_inputs(projection)), params, coupled_gates=coupled)
    for got, want in zip(outs, expected, strict=True):
        torch.testing.assert_close(got, want, rtol=tol, atol=tol)
    seeds = [torch.randn_like(o) for o in outs]
    wrt = leaves(projection, state, params)
    got_grads = torch.autograd.grad(outs, wrt, seeds)
    want_grads = torch.autograd.grad(expected, wrt, seeds)
    for got, want in zip(got_grads, want_grads, strict=True):
        torch.testing.assert_close(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize(
    "flags",
    [set(c) for r in (0, 1, 7) for c in itertools.combinations(FLAGS, r)],
    ids=lambda f: "+".join(sorted(f)) or "vanilla",
)
def test_every_variant_matches_reference_float64(flags: set[str]) -> None:
    torch.manual_seed(0)
    check(*make_case(flags, 6, 5, 3, 7, torch.float64), "coupled" in flags, 1e-10)


@pytest.mark.parametrize("n_in, hidden", [(1, 1), (1, 50), (7, 7), (9, 4), (15, 16), (16, 64), (33, 129)])
@pytest.mark.parametrize("batch", [1, 3, 13])
@pytest.mark.parametrize("layer_norm", [False, True], ids=["plain", "layer_norm"])
def test_input_and_hidden_sizes_at_the_kernel_edges(
    n_in: int, hidden: int, batch: int, layer_norm: bool
) -> None:
    torch.manual_seed(1)
    flags = {"peephole", "lengths"} | ({"layer_norm"} if layer_norm else set())
    check(*make_case(flags, 4, batch, n_in, hidden, torch.float64), False, 1e-10)


@pytest.mark.parametrize("isa", ["avx512", "avx2", "generic"])
@pytest.mark.parametrize("dtype, tol", [(torch.float32, 2e-4), (torch.float64, 1e-10)])
def test_every_instruction_set(isa: str, dtype: torch.dtype, tol: float) -> None:
    from lstmkit.ops.native import native_module

    if isa not in native_module().isas():
        pytest.skip(f"this CPU cannot run {isa}")  # the portable build always runs
    torch.manual_seed(2)
    with instruction_set(isa):
        check(*make_case({"proj", "zoneout", "lengths"}, 5, 9, 5, 20, dtype), False, tol)
        check(*make_case({"layer_norm", "lengths"}, 5, 9, 5, 20, dtype), False, tol)


def test_batch_split_between_threads() -> None:
    torch.manual_seed(3)
    with torch_threads(2):
        for flags in ({"dropout", "lengths"}, {"layer_norm", "proj"}):
            check(*make_case(flags, 7, 13, 4, 18, torch.float64), False, 1e-10)


@pytest.mark.parametrize(
    "flags", [{"peephole", "zoneout", "lengths"}, {"layer_norm", "lengths"}], ids=["plain", "ln"]
)
def test_gradcheck(flags: set[str]) -> None:
    torch.manual_seed(4)
    projection, state, params = make_case(flags, 3, 2, 2, 3, torch.float64)

    def run(
        x: Tensor, w_ih: Tensor, bias: Tensor, w_hh: Tensor, h0: Tensor, *ln: Tensor
    ) -> tuple[Tensor, ...]:
        proj = InputProjection(x, w_ih, bias, *ln) if ln else InputProjection(x, w_ih, bias)
        return projected_recurrence(proj, state._replace(h0=h0), params._replace(w_hh=w_hh))

    ln = [t for t in (projection.ln_weight, projection.ln_bias) if t is not None]
    assert torch.autograd.gradcheck(run, (*projection[:3], params.w_hh, state.h0, *ln))


def test_input_without_grad_skips_dx_and_keeps_weight_grads() -> None:
    torch.manual_seed(5)
    projection, state, params = make_case(set(), 5, 4, 3, 6, torch.float64)
    projection = projection._replace(x=projection.x.detach())
    check(projection, state, params, False, 1e-10)


def test_inference_matches_training_forward() -> None:
    torch.manual_seed(6)
    case = make_case({"peephole"}, 8, 3, 2, 5, torch.float32)
    trained = projected_recurrence(*case)
    with torch.no_grad():
        inferred = projected_recurrence(*case)
    for a, b in zip(trained, inferred, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_other_dtypes_fall_back_to_the_fused_loop() -> None:
    torch.manual_seed(7)
    projection, state, params = make_case({"layer_norm"}, 3, 2, 2, 4, torch.float64)

    def half(t: Tensor | None) -> Tensor | None:
        return None if t is None else t.detach().to(torch.bfloat16)

    y, _, _ = projected_recurrence(
        InputProjection(*(half(t) for t in projection)),  # type: ignore[arg-type]
        state._replace(h0=half(state.h0), c0=half(state.c0)),
        RecurrenceParams(*(half(t) for t in params)),  # type: ignore[arg-type]
    )
    assert y.dtype == torch.bfloat16 and y.shape == (3, 2, 4)


def test_layer_norm_needs_the_input_gain_and_only_then() -> None:
    projection, state, params = make_case({"layer_norm"}, 3, 2, 2, 4, torch.float64)
    with pytest.raises(ValueError, match="needs an LN_ih gain"):
        projected_recurrence(projection._replace(ln_weight=None), state, params)


def test_empty_batch() -> None:
    projection, state, params = make_case(set(), 3, 0, 2, 4, torch.float64)
    y, h, c = projected_recurrence(projection, state, params)
    assert y.shape == (3, 0, 4) and h.shape == (0, 4) and c.shape == (0, 4)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda p, s: (p._replace(w_ih=p.w_ih[:, :2]), s), r"w_ih must have shape \(24, 3\)"),
        (lambda p, s: (p._replace(bias=p.bias[:5]), s), r"bias must have shape \(24,\)"),
        (lambda p, s: (p._replace(x=p.x.float()), s), r"w_ih must have dtype torch.float32 like x"),
        (lambda p, s: (p._replace(x=p.x[:, :, :0]), s), r"x must have shape \(T, B, I\) with I >= 1"),
    ],
)
def test_bad_input_is_rejected_before_the_kernel(change: object, message: str) -> None:
    projection, state, params = make_case(set(), 4, 3, 3, 6, torch.float64)
    projection, state = change(projection, state)  # type: ignore[operator]
    with pytest.raises((ValueError, TypeError), match=message):
        projected_recurrence(projection, state, params)


def test_parameter_gradients_never_share_memory() -> None:
    # hidden = 16 fills the padded width exactly, where slices of one buffer would otherwise alias
    torch.manual_seed(8)
    projection, state, params = make_case({"layer_norm", "peephole"}, 3, 2, 2, 16, torch.float64)
    outs = projected_recurrence(projection, state, params)
    tensors = [t for t in (*projection[1:], *params) if t is not None]
    grads = torch.autograd.grad(sum(o.sum() for o in outs), tensors)
    pointers = [g.untyped_storage().data_ptr() for g in grads]
    assert len(set(pointers)) == len(pointers)


def test_without_grad_mode_nothing_is_kept_for_a_backward(monkeypatch: pytest.MonkeyPatch) -> None:
    # inside autograd.Function.forward grad mode is always off and needs_input_grad ignores no_grad:
    # the caller has to decide, or every inference call would store the whole sequence
    from lstmkit.ops import native

    seen: list[bool] = []
    kernel = native.KERNEL
    assert kernel is not None
    forward = kernel.forward

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(bool(args[3]))
        return forward(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(kernel, "forward", spy)
    torch.manual_seed(9)
    case = make_case({"layer_norm"}, 4, 3, 2, 5, torch.float64)
    trained = projected_recurrence(*case)
    with torch.no_grad():
        inferred = projected_recurrence(*case)
    assert seen == [True, False]
    assert not inferred[0].requires_grad
    for a, b in zip(trained, inferred, strict=True):
        torch.testing.assert_close(a.detach(), b, rtol=0, atol=0)


@pytest.mark.parametrize("n_in, hidden, kept", [(2, 5, False), (9, 4, True)], ids=["recomputed", "kept"])
def test_layer_norm_keeps_the_normalized_input_projection_only_when_recomputing_costs_more(
    n_in: int, hidden: int, kept: bool
) -> None:
    # x̂_ih (T, B, 4Hp) is stored only for I > H; otherwise its mean is, and the backward redoes W_ih x_t
    from lstmkit.ops import native

    assert native.KERNEL is not None
    projection, state, params = make_case({"layer_norm"}, 4, 3, n_in, hidden, torch.float64)
    probe = state._replace(xg=projection.x.new_empty((4, 3, 0)))
    *_, saved = native.KERNEL.forward(probe, params, False, True, projection)
    xhat_ih, mean_ih = saved[24], saved[26]
    assert (xhat_ih.numel() > 0) == kept
    assert (mean_ih.numel() == 4 * 3) != kept


OTHER_FLAGS = [f for f in FLAGS if f != "layer_norm"]


@pytest.mark.parametrize(
    "flags",
    [{"layer_norm"}, *({"layer_norm", f} for f in OTHER_FLAGS), {"layer_norm", *OTHER_FLAGS}],
    ids=lambda f: "+".join(sorted(f)),
)
@pytest.mark.parametrize("keep_bytes, kept", [(0, False), (1 << 40, True)], ids=["recomputed", "kept"])
def test_layer_norm_gates_kept_or_recomputed_give_the_reference_gradients(
    flags: set[str], keep_bytes: int, kept: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the backward reads the kept gates, or recomputes them from x̂_hh, x̂_ih, the gains and the bias
    from lstmkit.ops import native

    assert native.KERNEL is not None
    monkeypatch.setattr(native, "KEEP_LN_GATES_BYTES", keep_bytes)
    torch.manual_seed(11)
    projection, state, params = make_case(flags, 5, 4, 3, 6, torch.float64)
    probe = state._replace(xg=projection.x.new_empty((5, 4, 0)))
    *_, saved = native.KERNEL.forward(probe, params, "coupled" in flags, True, projection)
    assert (saved[2].numel() > 0) == kept
    check(projection, state, params, "coupled" in flags, 1e-10)


@pytest.mark.parametrize("used", [(0,), (1,), (2,), (1, 2)], ids=["y", "h_T", "c_T", "state"])
def test_outputs_the_loss_does_not_use_get_no_gradient_buffers(used: tuple[int, ...]) -> None:
    # their gradients arrive as None (not materialized as zeros) and the kernel treats them as zeros
    torch.manual_seed(10)
    projection, state, params = make_case({"peephole", "lengths"}, 5, 3, 2, 6, torch.float64)
    outs = projected_recurrence(projection, state, params)
    xg = gate_inputs(projection)
    expected = recurrence(state._replace(xg=xg), params)
    wrt = leaves(projection, state, params)
    got = torch.autograd.grad(sum(outs[k].sum() for k in used), wrt)
    want = torch.autograd.grad(sum(expected[k].sum() for k in used), wrt)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def packed(projection: InputProjection, params: RecurrenceParams) -> Tensor:
    """The six layer-norm vectors as one ``(2, 9H)`` leaf, laid out as ``layer_norm_parts`` reads it."""
    gains = torch.cat([projection.ln_weight, params.ln_hh_weight, params.ln_c_weight])  # type: ignore[list-item]
    biases = torch.cat([projection.ln_bias, params.ln_hh_bias, params.ln_c_bias])  # type: ignore[list-item]
    return torch.stack([gains, biases]).detach().requires_grad_()


def without_vectors(
    projection: InputProjection, params: RecurrenceParams
) -> tuple[InputProjection, RecurrenceParams]:
    return projection._replace(ln_weight=None, ln_bias=None), params._replace(
        ln_hh_weight=None, ln_hh_bias=None, ln_c_weight=None, ln_c_bias=None
    )


@pytest.mark.parametrize(
    "flags",
    [{"layer_norm"}, {"layer_norm", "no_bias", "peephole"}, {"layer_norm", "proj", "lengths", "zoneout"}],
    ids=["layer_norm", "no_bias+peephole", "proj+lengths+zoneout"],
)
@pytest.mark.parametrize("hidden", [7, 16])
def test_packed_layer_norm_gives_the_reference_and_one_gradient(flags: set[str], hidden: int) -> None:
    torch.manual_seed(11)
    projection, state, params = make_case(flags, 6, 5, 3, hidden, torch.float64)
    ln_affine = packed(projection, params)
    bare_projection, bare_params = without_vectors(projection, params)
    outs = projected_recurrence(bare_projection, state, bare_params, ln_affine=ln_affine)
    expected = recurrence(state._replace(xg=gate_inputs(projection)), params)
    for got, want in zip(outs, expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
    seeds = [torch.randn_like(o) for o in outs]
    others = leaves(bare_projection, state, bare_params)
    got_grads = torch.autograd.grad(outs, [ln_affine, *others], seeds)
    vectors = [projection.ln_weight, params.ln_hh_weight, params.ln_c_weight]
    vectors += [projection.ln_bias, params.ln_hh_bias, params.ln_c_bias]
    want_grads = torch.autograd.grad(expected, [*vectors, *others], seeds)
    want_affine = torch.stack([torch.cat(want_grads[:3]), torch.cat(want_grads[3:6])])
    torch.testing.assert_close(got_grads[0], want_affine, rtol=1e-10, atol=1e-10)
    for got, want in zip(got_grads[1:], want_grads[6:], strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


def test_packed_layer_norm_gradcheck() -> None:
    torch.manual_seed(12)
    projection, state, params = make_case({"layer_norm", "peephole"}, 3, 2, 2, 3, torch.float64)
    bare_projection, bare_params = without_vectors(projection, params)

    def run(ln_affine: Tensor, x: Tensor) -> tuple[Tensor, ...]:
        return projected_recurrence(bare_projection._replace(x=x), state, bare_params, ln_affine=ln_affine)

    assert torch.autograd.gradcheck(run, (packed(projection, params), projection.x))


def test_packed_layer_norm_frozen_empty_and_refused_twice() -> None:
    projection, state, params = make_case({"layer_norm"}, 3, 2, 2, 4, torch.float64)
    ln_affine = packed(projection, params)
    bare_projection, bare_params = without_vectors(projection, params)
    frozen = ln_affine.detach()  # the other gradients still come, and none for it
    y, _, _ = projected_recurrence(bare_projection, state, bare_params, ln_affine=frozen)
    (d_w_hh,) = torch.autograd.grad(y.sum(), [params.w_hh])
    assert torch.isfinite(d_w_hh).all()
    # an empty batch: the packed gradient is zeros, not the uninitialized memory it was allocated with
    _, empty_state, _ = make_case({"layer_norm"}, 3, 0, 2, 4, torch.float64)
    y, h, c = projected_recurrence(bare_projection._replace(x=projection.x[:, :0]), empty_state, bare_params,
                                   ln_affine=ln_affine)  # fmt: skip
    (grad,) = torch.autograd.grad(y.sum() + h.sum() + c.sum(), [ln_affine])
    assert torch.equal(grad, torch.zeros_like(grad))
    with pytest.raises(ValueError, match="as ln_affine or as vectors, not both"):
        projected_recurrence(projection, state, params, ln_affine=ln_affine)


@pytest.mark.parametrize("name", ["w_ih", "w_hh"])
def test_a_weight_swapped_after_the_forward_is_refused_by_the_backward(name: str) -> None:
    projection, state, params = make_case(set(), 4, 3, 2, 6, torch.float32)
    y, h, c = projected_recurrence(projection, state, params)
    weight = projection.w_ih if name == "w_ih" else params.w_hh
    weight.data = weight.data.new_zeros(4 * 40, weight.shape[1])  # (a .data swap: no version bump)
    with pytest.raises(RuntimeError, match="changed shape or dtype between the forward and the backward"):
        (y.sum() + h.sum() + c.sum()).backward()
