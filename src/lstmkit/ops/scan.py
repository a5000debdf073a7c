"""The reference recurrence as one ``scan`` over time: what ``torch.export`` records with a symbolic ``T``.

:func:`lstmkit.ops.reference.recurrence` loops over the steps in Python, so ``torch.export`` unrolls it and
fixes ``T`` to the example's length. :func:`recurrence` computes the same thing, step for step with
:func:`lstmkit.ops.reference.lstm_step`, as one call of PyTorch's ``scan`` higher-order operator, which
``torch.export`` keeps as a loop over a symbolic number of steps and the ONNX exporter writes as ONNX's
``Scan``. :func:`lstmkit.ops.dispatch.run_recurrence` takes it for the ``"reference"`` backend while
``torch.compiler.is_exporting()``.

Implementation notes:
    ``scan`` is ``torch._higher_order_ops.scan.scan`` (present in recent PyTorch, not yet a public name);
    :data:`AVAILABLE` says whether this PyTorch has it. The body may not return a tensor that aliases
    another one (a scan rule), so the parameters enter as copies (layer norm's six vectors are views of
    one ``ln_affine``) and the per-step output is a copy of the carried ``h``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from lstmkit.ops.reference import carry, lstm_step
from lstmkit.ops.types import RecurrenceInputs, RecurrenceParams


def _find_scan() -> Callable[..., Any] | None:
    try:
        module = importlib.import_module("torch._higher_order_ops.scan")
    except ImportError:
        return None
    scan: Callable[..., Any] | None = getattr(module, "scan", None)
    return scan


_SCAN = _find_scan()
AVAILABLE = _SCAN is not None
"""Whether this PyTorch has ``scan`` (else an exported recurrence is unrolled over a fixed ``T``)."""


def recurrence(
    inputs: RecurrenceInputs, params: RecurrenceParams, *, coupled_gates: bool = False
) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`lstmkit.ops.reference.recurrence` as one ``scan`` over the time axis (same arguments, same
    results: outputs ``(T, B, R)``, final states ``(B, R)`` and ``(B, H)``).

    Raises:
        RuntimeError: this PyTorch has no ``scan`` (see :data:`AVAILABLE`).

    Example:
        >>> from lstmkit.ops import reference
        >>> xg, h0, c0 = torch.randn(5, 2, 12), torch.zeros(2, 3), torch.zeros(2, 3)
        >>> inputs, params = RecurrenceInputs(xg, h0, c0), RecurrenceParams(torch.randn(12, 3))
        >>> all(torch.allclose(a, b, atol=1e-6) for a, b in zip(
        ...     recurrence(inputs, params), reference.recurrence(inputs, params)))
        True
    """
    if _SCAN is None:
        raise RuntimeError(f"torch {torch.__version__} has no scan operator (torch._higher_order_ops.scan)")
    steps = inputs.xg.shape[0]
    if isinstance(steps, int) and steps == 0:  # scan needs a step; reference.recurrence's empty outputs
        return inputs.xg.new_zeros((0, *inputs.h0.shape)), inputs.h0, inputs.c0
    copies = RecurrenceParams._make(None if p is None else p.clone() for p in params)
    mask = None if inputs.recurrent_mask is None else inputs.recurrent_mask.clone()
    lengths = inputs.lengths

    def step(state: tuple[Tensor, Tensor], xs: tuple[Tensor, ...]) -> tuple[tuple[Tensor, Tensor], Tensor]:
        h, c = state
        xg_t, t, *zoneout_t = xs  # zoneout_t: [z^h_t (B, R), z^c_t (B, H)] or []
        new = lstm_step(xg_t, h, c, copies, coupled_gates=coupled_gates, recurrent_mask=mask)
        z_h, z_c = zoneout_t if zoneout_t else (None, None)
        h_new, c_new, y_t = carry(new, h, c, z_h, z_c, lengths, t)
        return (h_new, c_new), (y_t.clone() if y_t is h_new else y_t)  # outputs may not alias the carry

    times = torch.arange(steps, device=inputs.xg.device)  # (T,)
    zoneout = inputs.zoneout_h, inputs.zoneout_c
    if (zoneout[0] is None) != (zoneout[1] is None):
        raise ValueError("scan recurrence expected both zoneout_h and zoneout_c, or neither")
    xs = (inputs.xg, times, *(z for z in zoneout if z is not None))
    (h, c), y = _SCAN(step, (inputs.h0, inputs.c0), xs)
    return y, h, c
