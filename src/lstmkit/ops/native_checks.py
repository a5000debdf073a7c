"""Checks on what reaches the native kernel: every shape, dtype and device it reads, with clear errors.

The compiled loop trusts the buffers it is handed; a wrong shape there would read past a buffer. These
checks make bad input a ``TypeError``/``ValueError`` naming the argument, what was expected and what was
received, never a crash.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from lstmkit.ops import native_layout as lay
from lstmkit.ops.types import RecurrenceInputs, RecurrenceParams
from lstmkit.utils.validation import is_integer_dtype

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
        if not is_integer_dtype(lengths.dtype) or tuple(lengths.shape) != (batch,):
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


def check_saved(
    saved: tuple[Tensor, ...],
    inputs: RecurrenceInputs,
    params: RecurrenceParams,
    projection: InputProjection | None,
    sizes: tuple[int, int, int, int],
    padding: tuple[int, bool],
    bf16: bool,
) -> None:
    """The 27 tensors a ``needs_grad`` forward saved, against the buffers this backward's sizes and flags
    read (the allocation of ``NativeKernel.forward``, mirrored).

    The native backward reads each buffer by address, with the sizes of the backward call: a tuple from
    another forward (another ``T``, ``B``, size or variant) would be read past its end. ``padding`` is
    ``(lanes, zoneout_const)``: the vector width in elements, and whether zoneout is one row.

    Raises:
        ValueError: names the first saved buffer whose shape, dtype or presence differs.
    """
    steps, batch, hidden, rsize = sizes
    lanes, zoneout_const = padding
    hp, rp, gw = lay.round_up(hidden, lanes), lay.round_up(rsize, lanes), lay.gate_width(hidden, lanes)
    ln = params.layer_norm
    ln_in = ln and projection is not None
    n_in = 0 if projection is None else int(projection.x.shape[-1])
    recompute = n_in <= hidden  # x̂_ih recomputed in the backward (NativeKernel.forward)
    seq, zrows = (steps, batch), ((1, 1) if zoneout_const else (steps, batch))
    dtype = inputs.xg.dtype
    w_ih_t = (((n_in + 1) // 2) * gw * 2,) if bf16 else (n_in * gw,)

    def when(flag: bool, shape: tuple[int, ...]) -> tuple[int, ...] | None:
        return shape if flag else None

    expected: list[tuple[str, tuple[int, ...] | None, torch.dtype]] = [
        ("hs", (steps + 1, batch, rp), dtype),
        ("cs", (steps + 1, batch, hp), dtype),
        ("gates", (steps, batch, 4 * hp), dtype),
        ("th", (steps, batch, hp), dtype),
        ("ctil", when(inputs.zoneout_c is not None, (steps, batch, hp)), dtype),
        ("r", when(params.w_hr is not None, (steps, batch, hp)), dtype),
        ("xhat_hh", when(ln, (steps, batch, gw if ln_in else 4 * hp)), dtype),
        ("rstd_hh", when(ln, seq), dtype),
        ("mean_c", when(ln, seq), dtype),
        ("rstd_c", when(ln, seq), dtype),
        ("x", when(projection is not None, (steps, batch, lay.round_up(n_in + 1, lanes))), dtype),
        ("peephole", when(params.peephole is not None, (3, hp)), dtype),
        ("ln_hh_weight", (1, gw) if ln_in else when(ln, (4, hp)), dtype),
        ("ln_hh_bias", when(ln and not ln_in, (4, hp)), dtype),
        ("ln_c_weight", when(ln, (1, hp)), dtype),
        ("ln_c_bias", when(ln, (1, hp)), dtype),
        ("recurrent_mask", when(inputs.recurrent_mask is not None, (batch, rp)), dtype),
        ("zoneout_h", when(inputs.zoneout_h is not None, (*zrows, rp)), dtype),
        ("zoneout_c", when(inputs.zoneout_c is not None, (*zrows, hp)), dtype),
        ("lengths", when(inputs.lengths is not None, (batch,)), torch.int64),
        ("w_ih_t", when(ln_in, w_ih_t), torch.int16 if bf16 else dtype),
        ("bias", when(ln_in, (1, gw)), dtype),
        ("ln_ih_weight", when(ln_in, (1, gw)), dtype),
        ("ln_ih_bias", None, dtype),
        ("xhat_ih", when(ln_in and not recompute, (steps, batch, gw)), dtype),
        ("rstd_ih", when(ln_in, seq), dtype),
        ("mean_ih", when(ln_in and recompute, seq), dtype),
    ]
    for (name, shape, kind), value in zip(expected, saved, strict=True):
        t = _tensor(f"saved {name}", value)
        absent = t.numel() == 0 and t.data_ptr() == 0  # the shared empty buffer (address 0)
        if shape is None or (name == "gates" and ln_in and absent):  # ln_in may recompute the gates
            if absent:
                continue
            got, want = f"{t.dtype} {tuple(t.shape)}", "absent (the empty buffer)"
        elif tuple(t.shape) == shape and t.dtype == kind and t.is_cpu and t.is_contiguous():
            continue
        else:
            got, want = f"{'' if t.is_cpu else f'{t.device} '}{t.dtype} {tuple(t.shape)}", f"{kind} {shape}"
        raise ValueError(
            f"saved {name}: expected {want} for this backward (T, B, H, R) = {sizes}, got {got}; pass the "
            "saved tuple of the forward run on these inputs and parameters"
        )
