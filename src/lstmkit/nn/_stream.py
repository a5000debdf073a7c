"""Streaming inference for :meth:`lstmkit.nn.LSTM.step`: one native call per layer and step."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from lstmkit.ops.dispatch import NATIVE_DTYPES, select_step_backend
from lstmkit.ops.types import LSTMState

if TYPE_CHECKING:
    from lstmkit.nn.lstm import LSTM


def native_stream_applies(lstm: LSTM, x: Tensor) -> bool:
    """True when a step can skip autograd and masks: no grad, no zoneout, no dropout in training."""
    if torch.is_grad_enabled() or lstm.zoneout or lstm.bidirectional or x.dtype not in NATIVE_DTYPES:
        return False
    if lstm.training and (lstm.recurrent_dropout or lstm.dropout):
        return False
    return select_step_backend(lstm.backend, lstm.variant, x.device, False) == "native"


def native_stream_step(lstm: LSTM, x: Tensor, hx: LSTMState | None) -> tuple[Tensor, LSTMState]:
    """Advance ``x`` ``(B, I)`` one step through every layer of ``lstm`` with the native kernel.

    The per-layer native steps (which hold packed weights) are cached on the module and rebuilt when a
    parameter object is replaced; in-place updates are picked up by the steps themselves.
    """
    from lstmkit.ops.native_stream import NativeCellStep

    cells = [lstm._cell(layer, False) for layer in range(lstm.num_layers)]
    key = tuple(id(p) for cell in cells for p in cell.values())
    cached = lstm.__dict__.get("_native_stream")
    if cached is None or cached[0] != key:
        steps = [NativeCellStep(**cell, coupled_gates=lstm.coupled_gates) for cell in cells]
        lstm.__dict__["_native_stream"] = cached = (key, steps)
    batch = x.shape[0]
    if hx is None:
        h0 = x.new_zeros((lstm.num_layers, batch, lstm.state_size))
        c0 = x.new_zeros((lstm.num_layers, batch, lstm.hidden_size))
    else:
        h0, c0 = hx
    h_n, c_n = [], []
    layer_input = x
    for layer, step in enumerate(cached[1]):
        h, c = step.step_checked(layer_input.contiguous(), h0[layer].contiguous(), c0[layer].contiguous())
        h_n.append(h)
        c_n.append(c)
        layer_input = h
    return layer_input, (torch.stack(h_n), torch.stack(c_n))
