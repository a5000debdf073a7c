"""Checks on what reaches the native kernel: every shape, dtype and device it reads, with clear errors.

The compiled loop trusts the buffers it is handed; a wrong shape there would read past a buffer. These
checks make bad input a ``TypeError``/``ValueError`` naming the argument, what was expected and what was
received, never a crash.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from lstmkit.ops.types import RecurrenceInputs, RecurrenceParams

if TYPE_CHECKING:
    from lstmkit.ops.native import InputProjection


def _tensor(name: str, value: object) -> Tensor:
    if not isinstance(value, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    return value


def _shape(name: str, value: Tensor, expected: tuple[int, ...], like: Tensor, like_name: str = "xg") -> None:
    if tuple(value.shape) != expected:
        raise ValueError(f"{name} must have shape {expected}, got {tuple(value.shape)}")
    if value.dtype != like.dtype:
        raise TypeError(f"{name} must have dtype {like.dtype} like {like_name}, got {value.dtype}")
    if value.device != like.device:
        raise ValueError(f"{name} must be on {like.device} like {like_name}, got {value.device}")


def check_recurrence(
    inputs: RecurrenceInputs, params: RecurrenceParams, projection: InputProjection | None = None
) -> tuple[int, int, int, int]:
    """Validate inputs and parameters against each other (and the input projection, if given).

    Returns:
        ``(T, B, H, R)``.

    Raises:
        TypeError: a value is not a tensor, or has the wrong dtype.
        ValueError: a shape or device does not match the others.
    """
    xg = _tensor("xg", inputs.xg)
    w_hh = _tensor("w_hh", params.w_hh)
    if w_hh.dim() != 2 or w_hh.shape[0] % 4 != 0 or w_hh.shape[0] == 0:
        raise ValueError(f"w_hh must have shape (4H, R) with H >= 1, got {tuple(w_hh.shape)}")
    hidden, rsize = w_hh.shape[0] // 4, w_hh.shape[1]
    if projection is not None:
        _check_projection(projection, xg, hidden)
        if params.layer_norm != (projection.ln_weight is not None):
            raise ValueError(
                "the input projection needs an LN_ih gain (ln_weight) exactly when the recurrence has "
                f"layer norm; got layer_norm={params.layer_norm} and ln_weight "
                f"{'given' if projection.ln_weight is not None else 'None'}"
            )
    elif xg.dim() != 3 or xg.shape[2] != 4 * hidden:
        raise ValueError(f"xg must have shape (T, B, 4H) = (T, B, {4 * hidden}), got {tuple(xg.shape)}")
    if xg.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"xg must be float32 or float64 for the native kernel, got {xg.dtype}")
    steps, batch = xg.shape[0], xg.shape[1]
    _shape("w_hh", w_hh, (4 * hidden, rsize), xg)
    if params.w_hr is not None:
        _shape("w_hr", _tensor("w_hr", params.w_hr), (rsize, hidden), xg)
    elif rsize != hidden:
        raise ValueError(
            f"w_hh must have shape (4H, H) = ({4 * hidden}, {hidden}) without a projection, "
            f"got {tuple(w_hh.shape)}"
        )
    _shape("h0", _tensor("h0", inputs.h0), (batch, rsize), xg)
    _shape("c0", _tensor("c0", inputs.c0), (batch, hidden), xg)
    optional = {
        "peephole": (params.peephole, (3, hidden)),
        "ln_hh_weight": (params.ln_hh_weight, (4 * hidden,)),
        "ln_hh_bias": (params.ln_hh_bias, (4 * hidden,)),
        "ln_c_weight": (params.ln_c_weight, (hidden,)),
        "ln_c_bias": (params.ln_c_bias, (hidden,)),
        "recurrent_mask": (inputs.recurrent_mask, (batch, rsize)),
        "zoneout_h": (inputs.zoneout_h, (steps, batch, rsize)),
        "zoneout_c": (inputs.zoneout_c, (steps, batch, hidden)),
    }
    for name, (value, shape) in optional.items():
        if value is not None:
            _shape(name, _tensor(name, value), shape, xg)
    if inputs.lengths is not None:
        lengths = _tensor("lengths", inputs.lengths)
        integer = (
            not lengths.dtype.is_floating_point
            and not lengths.dtype.is_complex
            and lengths.dtype != torch.bool
        )
        if not integer or tuple(lengths.shape) != (batch,):
            received = f"{lengths.dtype} {tuple(lengths.shape)}"
            raise ValueError(f"lengths must be an integer tensor of shape ({batch},), got {received}")
        if lengths.device.type != "cpu":
            raise ValueError(f"lengths must be on the CPU, got {lengths.device}")
    return steps, batch, hidden, rsize


def check_upstream(
    dy: Tensor | None, dh_T: Tensor | None, dc_T: Tensor | None, sizes: tuple[int, int, int, int]
) -> None:
    """The upstream gradients the native backward reads by address: ``dy`` ``(T, B, R)``, ``dh_T``
    ``(B, R)``, ``dc_T`` ``(B, H)`` on the CPU, or ``None`` for zeros (any float dtype: converted)."""
    steps, batch, hidden, rsize = sizes
    expected = {"dy": (steps, batch, rsize), "dh_T": (batch, rsize), "dc_T": (batch, hidden)}
    for (name, shape), g in zip(expected.items(), (dy, dh_T, dc_T), strict=True):
        if g is None:
            continue
        if not isinstance(g, Tensor) or tuple(g.shape) != shape or not g.is_cpu:
            got = f"{tuple(g.shape)} on {g.device}" if isinstance(g, Tensor) else type(g).__name__
            raise ValueError(f"{name} must be a CPU tensor of shape {shape} or None, got {got}")


def _check_projection(projection: InputProjection, xg: Tensor, hidden: int) -> None:
    """``x`` ``(T, B, I)``, ``w_ih`` ``(4H, I)``, ``bias`` ``(4H,)``; ``xg`` the ``(T, B, 0)`` placeholder."""
    x = _tensor("x", projection.x)
    if x.dim() != 3 or x.shape[2] == 0:
        raise ValueError(f"x must have shape (T, B, I) with I >= 1, got {tuple(x.shape)}")
    if xg.dim() != 3 or tuple(xg.shape) != (x.shape[0], x.shape[1], 0):
        raise ValueError(
            f"xg must be an empty (T, B, 0) = {(x.shape[0], x.shape[1], 0)} placeholder with an input "
            f"projection, got {tuple(xg.shape)}"
        )
    _shape("w_ih", _tensor("w_ih", projection.w_ih), (4 * hidden, x.shape[2]), x, "x")
    for name in ("bias", "ln_weight", "ln_bias"):
        value = getattr(projection, name)
        if value is not None:
            _shape(name, _tensor(name, value), (4 * hidden,), x, "x")
