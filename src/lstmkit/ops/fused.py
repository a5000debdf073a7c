"""The fused recurrence: one autograd function with a hand-written backward through time.

Autograd sees a single node per layer and direction instead of a dozen per time step. The node calls a
:class:`~lstmkit.ops.types.RecurrenceKernel` for its forward and backward loops; :class:`EagerKernel`
is the pure-PyTorch one (a native kernel plugs in the same way). The equations are those of
:mod:`lstmkit.ops.reference`; the backward below differentiates them by hand.

Implementation notes:
    The input projection ``W_ih x_t`` of all steps is computed outside, as one GEMM, and its gradient
    flows back through ordinary autograd; so does the input-side layer norm. Inside, each step does one
    recurrent GEMM and the gate arithmetic, writing the post-activation gates, states and (for layer norm)
    statistics the backward reads. The backward loop writes the gate gradients of every step into one
    buffer, and the weight gradients are then single large GEMMs and reductions over all steps.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast, overload

import torch
import torch.nn.functional as F
from torch import Tensor

from lstmkit.ops.lengths import sequence_mask
from lstmkit.ops.reference import LAYER_NORM_EPS
from lstmkit.ops.types import RecurrenceGrads, RecurrenceInputs, RecurrenceKernel, RecurrenceParams

_aten = torch.ops.aten


def _valid_steps(inputs: RecurrenceInputs) -> Tensor | None:
    """``(T, B, 1)``: 1 before each sequence's length, 0 after; ``None`` without lengths."""
    if inputs.lengths is None:
        return None
    xg = inputs.xg
    return sequence_mask(inputs.lengths.to(xg.device), xg.shape[0]).t().unsqueeze(-1).to(xg.dtype)


def _keep_weights(inputs: RecurrenceInputs) -> tuple[Tensor | None, Tensor | None]:
    """Per step weights ``(T, B, 1 or R)`` and ``(T, B, 1 or H)`` of the *previous* state in ``h_t``, ``c_t``.

    With zoneout ``z`` and validity ``v`` (1 before a sequence's length, 0 after),
    ``h_t = (1 - k) ⊙ h̃_t + k ⊙ h_{t-1}`` with ``k = 1 - v ⊙ (1 - z)``. ``None`` where ``k = 0`` always.
    """
    valid = _valid_steps(inputs)
    keep: list[Tensor | None] = []
    for zone in (inputs.zoneout_h, inputs.zoneout_c):
        if zone is None and valid is None:
            keep.append(None)
        elif zone is None:
            assert valid is not None
            keep.append(1 - valid)
        elif valid is None:
            keep.append(zone)
        else:
            keep.append(1 - valid * (1 - zone))
    return keep[0], keep[1]


@overload
def _steps(x: Tensor, steps: int) -> tuple[Tensor, ...]: ...
@overload
def _steps(x: None, steps: int) -> None: ...
def _steps(x: Tensor | None, steps: int) -> tuple[Tensor, ...] | None:
    """Views of each of ``steps`` steps of ``x`` ``(T or 1, ...)``; one slot serves every step."""
    if x is None:
        return None
    return x.unbind(0) if x.shape[0] == steps else (x[0],) * steps


def _stat_steps(stats: Tensor | None, steps: int) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...]] | None:
    """Per-step views of layer-norm statistics ``(2, T, B, 1)``: means and reciprocal deviations."""
    return None if stats is None else (_steps(stats[0], steps), _steps(stats[1], steps))


def _gate_steps(x: Tensor, steps: int) -> tuple[tuple[Tensor, ...], ...]:
    """Per-step views of the four gate blocks of ``x`` ``(T, B, 4H)``: i, f, g, o."""
    return tuple(_steps(block, steps) for block in x.chunk(4, dim=-1))


class EagerKernel:
    """The time loop in eager PyTorch: a few ATen calls per step, no autograd bookkeeping.

    Works on every device and dtype and for every variant; it is the ``"fused"`` backend.
    """

    name = "fused"

    def supports(self, inputs: RecurrenceInputs, params: RecurrenceParams) -> str | None:
        return None

    def forward(
        self,
        inputs: RecurrenceInputs,
        params: RecurrenceParams,
        coupled_gates: bool,
        needs_grad: bool,
    ) -> tuple[Tensor, Tensor, Tensor, tuple[Tensor, ...]]:
        xg, mask = inputs.xg, inputs.recurrent_mask
        steps, batch, gates = xg.shape
        hidden = gates // 4
        rec = inputs.h0.shape[-1]
        keep_h, keep_c = _keep_weights(inputs)
        w_hh_t = params.w_hh.t()  # (R, 4H)
        w_hr_t = params.w_hr.t() if params.w_hr is not None else None  # (H, P)
        peep = params.peephole
        layer_norm = params.ln_hh_weight is not None
        ln_c = params.ln_c_weight is not None

        new = xg.new_empty
        # What only the backward reads gets a slot per step when training, one reused slot otherwise.
        slots = steps if needs_grad else min(steps, 1)
        acts = new((slots, batch, gates))  # i, f, g, o after their activations
        h_states = new((steps + 1, batch, rec))  # h_0 .. h_T (after zoneout / length masking)
        c_states = new((steps + 1, batch, hidden))
        h_states[0] = inputs.h0
        c_states[0] = inputs.c0
        c_new = new((slots, batch, hidden)) if keep_c is not None else c_states[1:]  # c̃_t
        tanh_c = new((slots, batch, hidden))
        m_out = new((slots, batch, hidden)) if w_hr_t is not None else None  # o ⊙ tanh(c), before W_hr
        h_new = new((steps, batch, rec)) if keep_h is not None else h_states[1:]  # h̃_t
        a_hh = new((steps, batch, gates)) if layer_norm and needs_grad else None
        ln_hh_stats = new((2, steps, batch, 1)) if layer_norm and needs_grad else None
        ln_c_stats = new((2, steps, batch, 1)) if ln_c and needs_grad else None

        # Per-step views, made once: indexing inside the loop costs a dispatcher call each time.
        X, A, HS, CS = xg.unbind(0), _steps(acts, steps), h_states.unbind(0), c_states.unbind(0)
        GI, GF, GG, GO = _gate_steps(acts, steps)
        CN, TC, HN = _steps(c_new, steps), _steps(tanh_c, steps), h_new.unbind(0)
        MO = _steps(m_out, steps)
        AHH = _steps(a_hh, steps)
        LN_HH, LN_C = _stat_steps(ln_hh_stats, steps), _stat_steps(ln_c_stats, steps)
        KH, KC = _steps(keep_h, steps), _steps(keep_c, steps)
        pre = new((batch, gates))  # gate pre-activations of the current step
        pre_if, pre_g, pre_o = pre[:, : 2 * hidden].view(batch, 2, hidden), *pre[:, 2 * hidden :].chunk(2, 1)

        for t in range(steps):
            h_prev, c_prev = HS[t], CS[t]
            h_in = h_prev if mask is None else h_prev * mask
            if AHH is not None and LN_HH is not None:  # training: keep what the backward reads
                torch.mm(h_in, w_hh_t, out=AHH[t])
                normed, mean, rstd = torch.native_layer_norm(
                    AHH[t], (gates,), params.ln_hh_weight, params.ln_hh_bias, LAYER_NORM_EPS
                )
                LN_HH[0][t].copy_(mean)
                LN_HH[1][t].copy_(rstd)
                torch.add(X[t], normed, out=pre)
            elif layer_norm:
                normed = F.layer_norm(
                    torch.mm(h_in, w_hh_t), (gates,), params.ln_hh_weight, params.ln_hh_bias, LAYER_NORM_EPS
                )
                torch.add(X[t], normed, out=pre)
            else:
                torch.addmm(X[t], h_in, w_hh_t, out=pre)  # a = xg_t + W_hh h_{t-1}
            if peep is not None:
                pre_if.addcmul_(peep[:2], c_prev.unsqueeze(1))  # + p_i ⊙ c_{t-1}, p_f ⊙ c_{t-1}
            torch.sigmoid(pre, out=A[t])  # i, f, o (g is overwritten next)
            torch.tanh(pre_g, out=GG[t])  # candidate cell
            if coupled_gates:
                torch.sub(1, GI[t], out=GF[t])  # f = 1 - i
            c = CN[t]
            torch.mul(GF[t], c_prev, out=c)
            c.addcmul_(GI[t], GG[t])  # c̃ = f ⊙ c_{t-1} + i ⊙ g
            if peep is not None:
                torch.sigmoid(torch.addcmul(pre_o, peep[2], c), out=GO[t])  # o sees c̃
            c_in = c
            if LN_C is not None:
                c_in, mean, rstd = torch.native_layer_norm(
                    c, (hidden,), params.ln_c_weight, params.ln_c_bias, LAYER_NORM_EPS
                )
                LN_C[0][t].copy_(mean)
                LN_C[1][t].copy_(rstd)
            elif ln_c:
                c_in = F.layer_norm(c, (hidden,), params.ln_c_weight, params.ln_c_bias, LAYER_NORM_EPS)
            torch.tanh(c_in, out=TC[t])
            if MO is not None and w_hr_t is not None:
                torch.mul(GO[t], TC[t], out=MO[t])
                torch.mm(MO[t], w_hr_t, out=HN[t])  # h̃ = W_hr (o ⊙ tanh c)
            else:
                torch.mul(GO[t], TC[t], out=HN[t])  # h̃ = o ⊙ tanh c
            if KC is not None:
                torch.lerp(c, c_prev, KC[t], out=CS[t + 1])
            if KH is not None:
                torch.lerp(HN[t], h_prev, KH[t], out=HS[t + 1])

        y = h_states[1:]
        valid = _valid_steps(inputs)
        if valid is not None:  # outputs past a length are zeros
            y = y * valid
        h_T, c_T = h_states[steps].clone(), c_states[steps].clone()
        optional = [m_out, a_hh, ln_hh_stats, ln_c_stats]
        saved = (
            acts,
            h_states,
            c_states,
            c_new,
            tanh_c,
            *(x if x is not None else xg.new_empty(0) for x in optional),
        )
        return y, h_T, c_T, saved if needs_grad else ()

    def backward(
        self,
        saved: tuple[Tensor, ...],
        inputs: RecurrenceInputs,
        params: RecurrenceParams,
        coupled_gates: bool,
        dy: Tensor,
        dh_T: Tensor,
        dc_T: Tensor,
        checked: bool = False,
    ) -> RecurrenceGrads:
        acts, _, c_states, c_new, tanh_c, _, a_hh, ln_hh_stats, ln_c_stats = saved
        steps, _, gates = acts.shape
        hidden = gates // 4
        mask, peep, w_hh, w_hr = inputs.recurrent_mask, params.peephole, params.w_hh, params.w_hr
        layer_norm, ln_c = params.ln_hh_weight is not None, params.ln_c_weight is not None
        keep_h, keep_c = _keep_weights(inputs)
        valid = _valid_steps(inputs)
        if valid is not None:  # outputs past a length are constant zeros
            dy = dy * valid

        if steps == 0:  # nothing ran: the state passes straight through
            zeros = RecurrenceParams(*(torch.zeros_like(p) if p is not None else None for p in params))  # type: ignore[arg-type]
            return RecurrenceGrads(torch.zeros_like(inputs.xg), dh_T, dc_T, zeros)
        d_a = torch.empty_like(acts)  # gate pre-activation gradients, all steps
        d_act = torch.empty_like(acts[0])  # gradients of i, f, g, o after activation, current step
        d_i, d_f, d_g, d_o = d_act.chunk(4, dim=1)
        d_hnew = dy.new_empty((steps, *dy.shape[1:])) if w_hr is not None else None
        d_cnorm = torch.empty_like(c_new) if ln_c else None
        d_ahh = torch.empty_like(acts) if layer_norm else d_a

        A, GI, GF, GG, GO = acts.unbind(0), *_gate_steps(acts, steps)
        DA, DAI, DAF, DAG, DAO = d_a.unbind(0), *_gate_steps(d_a, steps)
        CS, CN, TC, DY, DAHH = (
            c_states.unbind(0),
            c_new.unbind(0),
            tanh_c.unbind(0),
            dy.unbind(0),
            d_ahh.unbind(0),
        )
        DHN, DCN = _steps(d_hnew, steps), _steps(d_cnorm, steps)
        AHH = _steps(a_hh, steps) if layer_norm else None
        LN_HH = _stat_steps(ln_hh_stats, steps) if layer_norm else None
        LN_C = _stat_steps(ln_c_stats, steps) if ln_c else None
        KH, KC = _steps(keep_h, steps), _steps(keep_c, steps)

        dh, dc = dh_T + DY[steps - 1], dc_T  # gradients w.r.t. h_t and c_t (after zoneout / masking)
        for t in range(steps - 1, -1, -1):
            i, f, g, o, c_prev = GI[t], GF[t], GG[t], GO[t], CS[t]
            dh_new = dh if KH is None else dh * (1 - KH[t])  # dh̃
            if DHN is not None and w_hr is not None:
                DHN[t].copy_(dh_new)
                dm = torch.mm(dh_new, w_hr)  # d(o ⊙ tanh c) through the projection
            else:
                dm = dh_new
            torch.mul(dm, TC[t], out=d_o)  # do = dm ⊙ tanh(c)
            d_c = _aten.tanh_backward(dm * o, TC[t])  # d(LN_c(c̃)) = dm ⊙ o ⊙ (1 - tanh²)
            if DCN is not None and LN_C is not None:
                DCN[t].copy_(d_c)
                d_c = _aten.native_layer_norm_backward(
                    d_c, CN[t], (hidden,), LN_C[0][t], LN_C[1][t],
                    params.ln_c_weight, params.ln_c_bias, (True, False, False),
                )[0]  # fmt: skip
            d_c.add_(dc if KC is None else dc * (1 - KC[t]))  # dc̃
            if peep is not None:  # o saw c̃ through its peephole
                _aten.sigmoid_backward(d_o, o, grad_input=DAO[t])
                d_c.addcmul_(DAO[t], peep[2])
            torch.mul(d_c, g, out=d_i)  # di = dc̃ ⊙ g
            torch.mul(d_c, c_prev, out=d_f)  # df = dc̃ ⊙ c_{t-1}
            torch.mul(d_c, i, out=d_g)  # dg = dc̃ ⊙ i
            dc_prev = d_c * f  # dc_{t-1} through the forget gate
            if coupled_gates:  # f = 1 - i: the forget path's gradient reaches i with a minus sign
                d_i.sub_(d_f)
            _aten.sigmoid_backward(d_act, A[t], grad_input=DA[t])  # da = d_act ⊙ σ (1 - σ)
            _aten.tanh_backward(d_g, g, grad_input=DAG[t])  # da_g = dg ⊙ (1 - g²)
            if coupled_gates:
                DAF[t].zero_()
            if peep is not None:
                dc_prev.addcmul_(DAI[t], peep[0]).addcmul_(DAF[t], peep[1])
            if KC is not None:
                dc_prev.addcmul_(dc, KC[t])
            if AHH is not None and LN_HH is not None:
                DAHH[t].copy_(
                    _aten.native_layer_norm_backward(
                        DA[t], AHH[t], (gates,), LN_HH[0][t], LN_HH[1][t],
                        params.ln_hh_weight, params.ln_hh_bias, (True, False, False),
                    )[0]
                )  # fmt: skip
            if mask is None:  # dh_{t-1} = W_hhᵀ da (+ dy_{t-1})
                dh_in = torch.addmm(DY[t - 1], DAHH[t], w_hh) if t > 0 else torch.mm(DAHH[t], w_hh)
            else:
                dh_in = torch.mm(DAHH[t], w_hh).mul_(mask)
                if t > 0:
                    dh_in.add_(DY[t - 1])
            if KH is not None:
                dh_in.addcmul_(dh, KH[t])
            dh, dc = dh_in, dc_prev
        return self._weight_grads(saved, inputs, params, d_a, d_ahh, d_hnew, d_cnorm, dh, dc)

    @staticmethod
    def _weight_grads(
        saved: tuple[Tensor, ...],
        inputs: RecurrenceInputs,
        params: RecurrenceParams,
        d_a: Tensor,
        d_ahh: Tensor,
        d_hnew: Tensor | None,
        d_cnorm: Tensor | None,
        dh0: Tensor,
        dc0: Tensor,
    ) -> RecurrenceGrads:
        """Weight gradients as single GEMMs and reductions over all ``T * B`` rows."""
        acts, h_states, c_states, c_new, _, m_out, a_hh, ln_hh_stats, ln_c_stats = saved
        steps, batch, gates = acts.shape
        hidden = gates // 4
        h_in = h_states[:-1] if inputs.recurrent_mask is None else h_states[:-1] * inputs.recurrent_mask
        rows = steps * batch
        d_w_hh = d_ahh.reshape(rows, gates).t() @ h_in.reshape(rows, h_in.shape[-1])  # (4H, R)
        d_w_hr = None
        if d_hnew is not None:
            d_w_hr = d_hnew.reshape(rows, d_hnew.shape[-1]).t() @ m_out.reshape(rows, hidden)  # (P, H)
        d_peep = None
        if params.peephole is not None:
            d_peep = torch.stack(
                [
                    (d_a[..., :hidden] * c_states[:-1]).sum((0, 1)),
                    (d_a[..., hidden : 2 * hidden] * c_states[:-1]).sum((0, 1)),
                    (d_a[..., 3 * hidden :] * c_new).sum((0, 1)),
                ]
            )
        d_ln_hh_w = d_ln_hh_b = d_ln_c_w = d_ln_c_b = None
        if params.ln_hh_weight is not None:
            normed = (a_hh - ln_hh_stats[0]) * ln_hh_stats[1]  # x̂ of the recurrent layer norm
            d_ln_hh_w = (d_a * normed).sum((0, 1))
            d_ln_hh_b = d_a.sum((0, 1))
        if params.ln_c_weight is not None and d_cnorm is not None:
            normed = (c_new - ln_c_stats[0]) * ln_c_stats[1]
            d_ln_c_w = (d_cnorm * normed).sum((0, 1))
            d_ln_c_b = d_cnorm.sum((0, 1))
        grads = RecurrenceParams(d_w_hh, d_w_hr, d_peep, d_ln_hh_w, d_ln_hh_b, d_ln_c_w, d_ln_c_b)
        return RecurrenceGrads(d_a, dh0, dc0, grads)


SECOND_ORDER_MESSAGE = (
    "lstmkit's native and fused LSTM recurrences have a hand-written backward, which is not differentiated "
    "again: second derivatives (create_graph=True, as in gradient penalties) need backend='reference' "
    "(every variant) or backend='torch' (the plain LSTM)"
)

BackwardFn = TypeVar("BackwardFn", bound=Callable[..., Any])


def first_order(backward: BackwardFn) -> BackwardFn:
    """For an autograd ``Function.backward`` that is not itself differentiable: a clear ``RuntimeError``
    when a second derivative is asked for (the engine runs a backward with grad mode on exactly when
    ``create_graph=True``), where ``once_differentiable`` would go on silently whenever the incoming
    gradients do not require grad, leaving out the terms through the saved inputs."""

    @functools.wraps(backward)
    def wrapper(ctx: Any, *grads: Any) -> Any:
        if torch.is_grad_enabled():
            raise RuntimeError(SECOND_ORDER_MESSAGE)
        return backward(ctx, *grads)

    return cast(BackwardFn, wrapper)


class Recurrence(torch.autograd.Function):
    """One autograd node for the whole time loop of one layer and direction."""

    @staticmethod
    def forward(
        ctx: Any,
        kernel: RecurrenceKernel,
        coupled_gates: bool,
        xg: Tensor,
        h0: Tensor,
        c0: Tensor,
        recurrent_mask: Tensor | None,
        zoneout_h: Tensor | None,
        zoneout_c: Tensor | None,
        lengths: Tensor | None,
        *param_tensors: Tensor | None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        inputs = RecurrenceInputs(xg, h0, c0, recurrent_mask, zoneout_h, zoneout_c, lengths)
        params = RecurrenceParams(*param_tensors)  # type: ignore[arg-type]
        y, h_T, c_T, saved = kernel.forward(inputs, params, coupled_gates, any(ctx.needs_input_grad))
        ctx.kernel, ctx.coupled_gates, ctx.n_saved = kernel, coupled_gates, len(saved)
        ctx.save_for_backward(*saved, *inputs, *params)
        return y, h_T, c_T

    @staticmethod
    @first_order
    def backward(ctx: Any, dy: Tensor, dh_T: Tensor, dc_T: Tensor) -> tuple[Tensor | None, ...]:
        tensors = ctx.saved_tensors
        saved = tuple(tensors[: ctx.n_saved])
        n_inputs = len(RecurrenceInputs._fields)
        inputs = RecurrenceInputs(*tensors[ctx.n_saved : ctx.n_saved + n_inputs])
        params = RecurrenceParams(*tensors[ctx.n_saved + n_inputs :])
        grads = ctx.kernel.backward(saved, inputs, params, ctx.coupled_gates, dy, dh_T, dc_T, checked=True)
        wanted = ctx.needs_input_grad
        param_grads = tuple(g if wanted[9 + k] else None for k, g in enumerate(grads.params))
        return (None, None, grads.xg, grads.h0, grads.c0, None, None, None, None, *param_grads)


def autocast_enabled(device_type: str) -> bool:
    """Whether autocast is on for ``device_type``, asked only of the device types autocast knows
    (``torch.is_autocast_enabled`` raises for ``"meta"``)."""
    return torch.amp.is_autocast_available(device_type) and torch.is_autocast_enabled(device_type)


def fused_recurrence(
    inputs: RecurrenceInputs,
    params: RecurrenceParams,
    *,
    coupled_gates: bool = False,
    kernel: RecurrenceKernel | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Run the recurrence through :class:`Recurrence`, with the contract of ``reference.recurrence``.

    Args:
        inputs: gate inputs ``xg`` ``(T, B, 4H)``, initial state, masks and lengths.
        params: the recurrence parameters.
        coupled_gates: use ``f = 1 - i``.
        kernel: the time loop; :class:`EagerKernel` by default.

    Returns:
        ``(y (T, B, R), h_T (B, R), c_T (B, H))``.
    """
    chosen = kernel if kernel is not None else EAGER
    device = inputs.xg.device.type
    # the loop runs in the weights' dtype under autocast, as the native kernel does
    if autocast_enabled(device):
        dtype = params.w_hh.dtype
        inputs = RecurrenceInputs(
            *(t.to(dtype) if t is not None and t.is_floating_point() else t for t in inputs)  # type: ignore[arg-type]
        )
        with torch.autocast(device, enabled=False):
            return fused_recurrence(inputs, params, coupled_gates=coupled_gates, kernel=chosen)
    if not torch.is_grad_enabled():  # no graph: skip the node, and keep nothing for a backward
        # (inside Function.forward grad mode is always off and needs_input_grad ignores no_grad)
        y, h_T, c_T, _ = chosen.forward(inputs, params, coupled_gates, False)
        return y, h_T, c_T
    y, h_T, c_T = Recurrence.apply(chosen, coupled_gates, *inputs, *params)
    return y, h_T, c_T


EAGER = EagerKernel()
