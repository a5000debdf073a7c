"""The native loop with the input projection inside it: one autograd node from ``x`` to ``(y, h_T, c_T)``.

Without layer norm, ``xg_t = W_ih x_t + b`` is a linear map of the step input, so the native kernel reads
``x_t`` beside ``h_{t-1}`` in its step GEMM instead of a precomputed ``(T, B, 4H)`` tensor: nothing of
size ``T * B * 4H`` is written or read back in the forward, and the backward's step GEMM returns ``dx_t``
together with ``dh_{t-1}``. ``[dW_ih | db]`` is one weight-gradient GEMM after the loop.

Example:
    >>> import torch
    >>> from lstmkit.ops.native import native_available
    >>> from lstmkit.ops.native_projected import projected_recurrence, InputProjection
    >>> from lstmkit.ops.types import RecurrenceInputs, RecurrenceParams, layer_norm_parts
    >>> x, w_ih, w_hh = torch.randn(5, 2, 3), torch.randn(8, 3), torch.randn(8, 2)
    >>> state = RecurrenceInputs(x.new_empty(5, 2, 0), torch.zeros(2, 2), torch.zeros(2, 2))
    >>> y, h, c = projected_recurrence(InputProjection(x, w_ih, None), state, RecurrenceParams(w_hh))
    >>> tuple(y.shape), tuple(h.shape)
    ((5, 2, 2), (2, 2))
"""

from __future__ import annotations

import logging
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from lstmkit.ops import native
from lstmkit.ops.fused import first_order, fused_recurrence
from lstmkit.ops.native import InputProjection
from lstmkit.ops.native_bf16 import bf16_available
from lstmkit.ops.reference import LAYER_NORM_EPS
from lstmkit.ops.types import RecurrenceInputs, RecurrenceParams, layer_norm_parts

_log = logging.getLogger(__name__)

__all__ = ["InputProjection", "ProjectedRecurrence", "autocast_bf16", "gate_inputs", "projected_recurrence"]


class ProjectedRecurrence(torch.autograd.Function):
    """One autograd node for the input projection and the time loop of one layer and direction.

    With ``ln_affine`` (a cell's packed layer-norm parameter ``(2, 9H)``), the projection's and the
    parameters' layer-norm vectors are detached views of it, and its gradient comes back as one tensor.
    """

    @staticmethod
    def forward(
        ctx: Any,
        coupled_gates: bool,
        bf16: bool,
        ln_affine: Tensor | None,
        x: Tensor,
        w_ih: Tensor,
        bias: Tensor | None,
        ln_weight: Tensor | None,
        ln_bias: Tensor | None,
        h0: Tensor,
        c0: Tensor,
        recurrent_mask: Tensor | None,
        zoneout_h: Tensor | None,
        zoneout_c: Tensor | None,
        lengths: Tensor | None,
        *param_tensors: Tensor | None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        kernel = native.KERNEL
        assert kernel is not None, "projected_recurrence checked availability"
        placeholder = x.new_empty((x.shape[0], x.shape[1], 0))
        inputs = RecurrenceInputs(placeholder, h0, c0, recurrent_mask, zoneout_h, zoneout_c, lengths)
        params = RecurrenceParams(*param_tensors)  # type: ignore[arg-type]
        projection = InputProjection(x, w_ih, bias, ln_weight, ln_bias)
        y, h_T, c_T, saved = kernel.forward(
            inputs, params, coupled_gates, any(ctx.needs_input_grad), projection, bf16=bf16
        )
        ctx.coupled_gates, ctx.bf16, ctx.n_saved = coupled_gates, bf16, len(saved)
        ctx.affine_shape = None if ln_affine is None else ln_affine.shape
        ctx.set_materialize_grads(False)  # an unused output's gradient stays None: no (T, B, R) of zeros
        ctx.save_for_backward(*saved, *projection, *inputs, *params)
        return y, h_T, c_T

    @staticmethod
    @first_order
    def backward(
        ctx: Any, dy: Tensor | None, dh_T: Tensor | None, dc_T: Tensor | None
    ) -> tuple[Tensor | None, ...]:
        kernel = native.KERNEL
        assert kernel is not None
        tensors = ctx.saved_tensors
        n, n_proj, n_inputs = ctx.n_saved, len(InputProjection._fields), len(RecurrenceInputs._fields)
        saved = tuple(tensors[:n])
        projection = InputProjection(*tensors[n : n + n_proj])
        inputs = RecurrenceInputs(*tensors[n + n_proj : n + n_proj + n_inputs])
        params = RecurrenceParams(*tensors[n + n_proj + n_inputs :])
        wanted = ctx.needs_input_grad
        d_affine = None
        if ctx.affine_shape is not None and wanted[2]:
            d_affine = inputs.h0.new_empty(ctx.affine_shape)
        grads, d_projection = kernel.backward_projected(
            saved, inputs, params, ctx.coupled_gates, dy, dh_T, dc_T, projection, wanted[3], checked=True,
            ln_affine_grad=d_affine, bf16=ctx.bf16,
        )  # fmt: skip
        assert d_projection is not None
        first = 3 + len(InputProjection._fields)  # after coupled_gates, bf16, ln_affine and the projection
        first_param = first + n_inputs - 1  # the placeholder xg is not an argument
        param_grads = tuple(g if wanted[first_param + k] else None for k, g in enumerate(grads.params))
        projection_grads = tuple(g if wanted[3 + k] else None for k, g in enumerate(d_projection))
        return (
            None,
            None,
            d_affine,
            *projection_grads,
            grads.h0 if wanted[first] else None,
            grads.c0 if wanted[first + 1] else None,
            None, None, None, None,
            *param_grads,
        )  # fmt: skip


def projected_recurrence(
    projection: InputProjection,
    state: RecurrenceInputs,
    params: RecurrenceParams,
    *,
    coupled_gates: bool = False,
    ln_affine: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """``(y, h_T, c_T)`` of one layer and direction from its raw input, on the native kernel.

    Args:
        projection: the input ``x`` ``(T, B, I)``, ``W_ih`` ``(4H, I)`` and ``b_ih + b_hh`` (or ``None``).
        state: initial state, masks and lengths; its ``xg`` is ignored (pass an empty tensor).
        params: the recurrence parameters (with layer norm, ``projection`` carries ``LN_ih``).
        coupled_gates: use ``f = 1 - i``.
        ln_affine: layer norm as one packed ``(2, 9H)`` tensor (``lstmkit.ops.types.layer_norm_parts``)
            instead of vectors in ``projection`` and ``params``, which then carry none; its gradient is
            one tensor, not six.

    Where the native kernel cannot run (not built, not on CPU, another dtype), the same result comes
    from the input projection as one GEMM (:func:`gate_inputs`) and the fused recurrence.
    """
    kernel = native.KERNEL
    x = projection.x
    probe = state._replace(xg=x.new_empty((x.shape[0], x.shape[1], 0)))
    if ln_affine is not None:
        if projection.ln_weight is not None or params.ln_hh_weight is not None:
            raise ValueError("projected_recurrence takes layer norm as ln_affine or as vectors, not both")
        projection, params = _with_layer_norm(projection, params, ln_affine.detach())
    reason = native.native_unavailable_reason() if kernel is None else kernel.supports(probe, params)
    if kernel is None or reason is not None:
        _log.debug("native kernel cannot run this call (%s); using the fused loop", reason)
        if ln_affine is not None:  # the views again, now recorded by autograd
            projection, params = _with_layer_norm(projection, params, ln_affine)
        inputs = state._replace(xg=gate_inputs(projection))
        return fused_recurrence(inputs, params, coupled_gates=coupled_gates)
    bf16 = autocast_bf16(x)
    if not torch.is_grad_enabled():  # no graph: skip the node, and keep nothing for a backward
        y, h_T, c_T, _ = kernel.forward(probe, params, coupled_gates, False, projection, bf16=bf16)
        return y, h_T, c_T
    y, h_T, c_T = ProjectedRecurrence.apply(coupled_gates, bf16, ln_affine, *projection, *probe[1:], *params)
    return y, h_T, c_T


def autocast_bf16(x: Tensor) -> bool:
    """Whether the native loop over ``x`` runs its GEMMs in bfloat16 (float32 sums and state), forward
    and backward: under ``torch.autocast("cpu", dtype=torch.bfloat16)``, for float32 data, where the CPU
    has AVX512-BF16 (:func:`lstmkit.ops.native_bf16.bf16_available`). Elsewhere the kernel stays float32."""
    return (
        x.dtype == torch.float32
        and torch.is_autocast_enabled("cpu")
        and torch.get_autocast_dtype("cpu") == torch.bfloat16
        and bf16_available()
    )


def _with_layer_norm(
    projection: InputProjection, params: RecurrenceParams, ln_affine: Tensor
) -> tuple[InputProjection, RecurrenceParams]:
    """``projection`` and ``params`` with the layer-norm vectors of ``ln_affine`` (views of it)."""
    ln = layer_norm_parts(ln_affine)
    return projection.with_layer_norm(ln), params.with_layer_norm(ln)


def gate_inputs(projection: InputProjection) -> Tensor:
    """``xg = W_ih x + bias``, or ``LN_ih(W_ih x) + bias`` with a gain, for all steps as one GEMM."""
    if projection.ln_weight is None:
        return F.linear(projection.x, projection.w_ih, projection.bias)
    hidden4 = projection.w_ih.shape[0]
    xg = F.layer_norm(
        F.linear(projection.x, projection.w_ih), (hidden4,), projection.ln_weight, projection.ln_bias,
        LAYER_NORM_EPS,
    )  # fmt: skip
    return xg if projection.bias is None else xg + projection.bias
