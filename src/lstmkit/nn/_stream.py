"""Streaming inference for :meth:`lstmkit.nn.LSTM.step`: one native call per layer and step."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from lstmkit.ops.dispatch import NATIVE_DTYPES, select_step_backend, traced
from lstmkit.ops.native_cache import module_steps
from lstmkit.ops.native_layout import readable
from lstmkit.ops.native_stream import NativeCellStep, plain_cpu
from lstmkit.ops.types import LSTMState

if TYPE_CHECKING:
    from lstmkit.nn.lstm import LSTM


def native_stream_applies(lstm: LSTM, x: Tensor) -> bool:
    """True when a step can skip autograd and masks: no grad, no zoneout, no dropout in training."""
    if torch.is_grad_enabled() or lstm.zoneout or lstm.bidirectional or x.dtype not in NATIVE_DTYPES:
        return False
    if torch.compiler.is_compiling():  # step() then runs forward(), which runs the kernel between graphs
        return False
    if lstm.training and (lstm.recurrent_dropout or lstm.dropout):
        return False
    return select_step_backend(lstm.backend, lstm.variant, x.device, False, traced()) == "native"


def stream_ready(lstm: LSTM, x: Tensor, hx: object) -> bool:
    """True when ``x`` ``(B, I)`` and ``hx`` ``((L, B, R), (L, B, H))`` go to the kernel as they are.

    The one-call path of ``LSTM.step`` (:func:`native_stream_step_plain`): contiguous CPU tensors of the
    weights' dtype and the module's sizes, no lazy negation, no finiteness check asked for; anything else
    takes ``step()``'s checks and conversions.
    """
    if lstm.check_finite or type(hx) is not tuple or len(hx) != 2:
        return False
    h, c = hx
    if not plain_cpu(lstm._weight().dtype, x, h, c):
        return False
    shape = x.shape
    if len(shape) != 2 or shape[1] != lstm.input_size:
        return False
    lead = (lstm.num_layers, shape[0])
    return h.shape == (*lead, lstm.state_size) and c.shape == (*lead, lstm.hidden_size)


def _layer_steps(lstm: LSTM) -> list[NativeCellStep]:
    cells = [lstm._cell(layer, False) for layer in range(lstm.num_layers)]
    return [NativeCellStep(**cell, coupled_gates=lstm.coupled_gates) for cell in cells]


def native_stream_step(lstm: LSTM, x: Tensor, hx: LSTMState | None) -> tuple[Tensor, LSTMState]:
    """:func:`native_stream_step_plain` on any layout: ``x`` ``(B, I)`` and ``hx`` (checked against the
    module) made contiguous, their lazy negations applied."""
    state = None if hx is None else (readable(hx[0]), readable(hx[1]))
    return native_stream_step_plain(lstm, readable(x), state)


def native_stream_step_plain(lstm: LSTM, x: Tensor, hx: LSTMState | None) -> tuple[Tensor, LSTMState]:
    """Advance ``x`` ``(B, I)`` one step through every layer of ``lstm`` with the native kernel.

    ``x`` and ``hx`` ``((L, B, R), (L, B, H))`` are contiguous CPU tensors of the module's sizes and
    dtype without a lazy negation (:func:`stream_ready`). The per-layer native steps (which hold packed
    weights) are cached per module (outside it) and rebuilt when a parameter object is replaced; in-place
    updates are picked up by the steps themselves. Every layer writes straight into its slot of the
    returned ``(L, B, R)`` and ``(L, B, H)`` states, at offsets of the module's sizes: each layer's packed
    sizes and dtype are checked against them (a ``.data`` swap can change a weight's shape or dtype).

    Raises:
        ValueError: a layer's weights no longer have the module's sizes or ``x``'s dtype.
    """
    cached = module_steps(lstm, _layer_steps)
    layers, batch = lstm.num_layers, x.shape[0]
    rsize, hidden = lstm.state_size, lstm.hidden_size
    # an allocation costs ~1-1.5 us at batch 1 (a slice and a view of one shared buffer cost more);
    # empty_like of a contiguous state, which has the outputs' shapes, costs less than new_empty
    if hx is None:  # zeros the kernel only reads, kept for the next call of the same shape
        h_n, c_n = x.new_empty((layers, batch, rsize)), x.new_empty((layers, batch, hidden))
        needed = layers * batch * max(rsize, hidden)  # h and c both read from its start
        zeros = cached.zeros
        if zeros is None or zeros.shape[0] < needed or zeros.dtype != x.dtype:
            zeros = cached.zeros = x.new_zeros(needed)
        h0 = c0 = zeros
    else:
        h0, c0 = hx
        h_n, c_n = torch.empty_like(h0), torch.empty_like(c0)
    size = x.element_size()
    h_in, c_in, h_out, c_out = h0.data_ptr(), c0.data_ptr(), h_n.data_ptr(), c_n.data_ptr()
    layer_input = x.data_ptr()
    dtype = x.dtype
    sizes = (dtype, lstm.input_size, hidden, rsize)  # each layer's Packing.sizes: (dtype, I, H, R)
    for step in cached.steps:
        packing = step.refresh()  # one packing from the check to the run (another thread may repack)
        if packing.sizes != sizes:
            raise _mismatch(cached.steps.index(step), packing.sizes, sizes)
        packing.run(batch, layer_input, h_in, c_in, h_out, c_out)
        sizes = (dtype, rsize, hidden, rsize)
        layer_input = h_out
        h_in, h_out = h_in + batch * rsize * size, h_out + batch * rsize * size
        c_in, c_out = c_in + batch * hidden * size, c_out + batch * hidden * size
    return h_n[-1], (h_n, c_n)


def _mismatch(layer: int, packed: tuple[object, ...], expected: tuple[object, ...]) -> ValueError:
    return ValueError(
        f"LSTM.step: the weights of layer {layer} are {packed[0]} with (I, H, R) = {packed[1:]}, expected "
        f"{expected[0]} with {expected[1:]} (the input's dtype and the module's input_size, hidden_size "
        "and proj_size); a weight changed shape or dtype since the module was built (a .data swap?): give "
        "every layer the module's sizes and one dtype (module.to(dtype))"
    )
