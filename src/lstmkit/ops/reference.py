"""The LSTM recurrence in plain PyTorch: the oracle for tests and the fallback for every configuration.

The equations (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000), for one step::

    a_t = xg_t + LN_hh(W_hh (m ⊙ h_{t-1}))       # gate pre-activations, rows i, f, g, o
    i_t = σ(a_i + p_i ⊙ c_{t-1})                  # input gate (peephole: Gers & Schmidhuber 2000)
    f_t = σ(a_f + p_f ⊙ c_{t-1})                  # forget gate;  f_t = 1 - i_t with coupled gates
    g_t = tanh(a_g)                               # candidate cell
    c̃_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
    o_t = σ(a_o + p_o ⊙ c̃_t)                      # output gate
    h̃_t = W_hr (o_t ⊙ tanh(LN_c(c̃_t)))           # W_hr only with a projection (Sak et al. 2014)
    c_t = z^c_t ⊙ c_{t-1} + (1 - z^c_t) ⊙ c̃_t     # zoneout (Krueger et al. 2017)
    h_t = z^h_t ⊙ h_{t-1} + (1 - z^h_t) ⊙ h̃_t

``xg_t`` holds ``W_ih x_t + b_ih + b_hh`` (or ``LN_ih(W_ih x_t) + b_ih + b_hh`` with layer norm, Ba et al.
2016), ``m`` is the recurrent dropout mask (Gal & Ghahramani 2016). Terms of variants that are off vanish:
no peephole means ``p = 0``, no layer norm means ``LN = identity``, no zoneout means ``z = 0``.
With ``lengths``, steps at or past a sequence's length keep its state and output zeros.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from lstmkit.ops.types import RecurrenceInputs, RecurrenceParams

LAYER_NORM_EPS = 1e-5


class StepOutput(NamedTuple):
    """Everything one step computes; each of ``i, f, g, o, c, h`` is ``(B, H)`` except ``h`` ``(B, R)``."""

    i: Tensor
    f: Tensor
    g: Tensor
    o: Tensor
    c: Tensor
    h: Tensor


def lstm_step(
    xg_t: Tensor,
    h_prev: Tensor,
    c_prev: Tensor,
    params: RecurrenceParams,
    *,
    coupled_gates: bool = False,
    recurrent_mask: Tensor | None = None,
) -> StepOutput:
    """One LSTM step before zoneout and length masking.

    Args:
        xg_t: input contribution to the gates ``(B, 4H)``.
        h_prev: previous hidden state ``(B, R)``.
        c_prev: previous cell state ``(B, H)``.
        params: the recurrence parameters.
        coupled_gates: use ``f = 1 - i`` (CIFG, Greff et al. 2017).
        recurrent_mask: dropout mask on ``h_prev`` ``(B, R)``, or ``None``.

    Returns:
        The gate activations, the new cell state ``c̃_t`` and hidden state ``h̃_t``.
    """
    hidden = c_prev.shape[-1]
    h_in = h_prev if recurrent_mask is None else h_prev * recurrent_mask
    a_hh = h_in @ params.w_hh.t()  # (B, 4H)
    if params.ln_hh_weight is not None:
        a_hh = F.layer_norm(a_hh, (4 * hidden,), params.ln_hh_weight, params.ln_hh_bias, LAYER_NORM_EPS)
    a_i, a_f, a_g, a_o = (xg_t + a_hh).chunk(4, dim=-1)
    if params.peephole is not None:
        a_i = a_i + params.peephole[0] * c_prev
        a_f = a_f + params.peephole[1] * c_prev
    i = torch.sigmoid(a_i)  # input gate
    f = 1 - i if coupled_gates else torch.sigmoid(a_f)  # forget gate (Gers et al. 2000)
    g = torch.tanh(a_g)  # candidate cell
    c = f * c_prev + i * g
    if params.peephole is not None:
        a_o = a_o + params.peephole[2] * c
    o = torch.sigmoid(a_o)  # output gate
    c_out = c
    if params.ln_c_weight is not None:
        c_out = F.layer_norm(c, (hidden,), params.ln_c_weight, params.ln_c_bias, LAYER_NORM_EPS)
    h = o * torch.tanh(c_out)
    if params.w_hr is not None:
        h = h @ params.w_hr.t()  # (B, P)
    return StepOutput(i, f, g, o, c, h)


def carry(
    step: StepOutput,
    h: Tensor,
    c: Tensor,
    zoneout_h: Tensor | None,
    zoneout_c: Tensor | None,
    lengths: Tensor | None,
    t: int | Tensor,
) -> tuple[Tensor, Tensor, Tensor]:
    """``(h_t, c_t, y_t)``: what step ``t`` carries on and outputs, from ``step`` and the previous state.

    Zoneout keeps each unit's previous value with weight ``z_t`` (``zoneout_h``, ``zoneout_c`` at this
    step); past a sequence's length (``lengths``) the state stays as it was and the output is zero.
    """
    c_new, h_new = step.c, step.h
    if zoneout_c is not None:
        c_new = torch.lerp(c_new, c, zoneout_c)
    if zoneout_h is not None:
        h_new = torch.lerp(h_new, h, zoneout_h)
    if lengths is None:
        return h_new, c_new, h_new
    valid = (lengths > t).unsqueeze(-1).to(h.dtype)  # (B, 1)
    c_new = torch.lerp(c, c_new, valid)
    h_new = torch.lerp(h, h_new, valid)
    return h_new, c_new, h_new * valid


def recurrence(
    inputs: RecurrenceInputs, params: RecurrenceParams, *, coupled_gates: bool = False
) -> tuple[Tensor, Tensor, Tensor]:
    """Run the recurrence over all steps with autograd; the oracle for every other backend.

    Args:
        inputs: gate inputs ``xg`` ``(T, B, 4H)``, initial state, masks and lengths.
        params: the recurrence parameters.
        coupled_gates: use ``f = 1 - i``.

    Returns:
        ``(y, h_T, c_T)``: outputs ``(T, B, R)`` (zero past each length), and the state at each
        sequence's last valid step, ``(B, R)`` and ``(B, H)``.
    """
    h, c = inputs.h0, inputs.c0
    steps = inputs.xg.shape[0]
    outputs = []
    for t in range(steps):
        step = lstm_step(
            inputs.xg[t],
            h,
            c,
            params,
            coupled_gates=coupled_gates,
            recurrent_mask=inputs.recurrent_mask,
        )
        z_h = None if inputs.zoneout_h is None else inputs.zoneout_h[t]
        z_c = None if inputs.zoneout_c is None else inputs.zoneout_c[t]
        h, c, y_t = carry(step, h, c, z_h, z_c, inputs.lengths, t)
        outputs.append(y_t)
    if steps == 0:
        return inputs.xg.new_zeros((0, *h.shape)), h, c
    return torch.stack(outputs), h, c
