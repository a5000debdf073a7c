"""Argument and input checks shared by :class:`~lstmkit.nn.LSTM` and :class:`~lstmkit.nn.LSTMCell`."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from lstmkit.ops.dispatch import is_exporting
from lstmkit.ops.fused import autocast_enabled
from lstmkit.utils.validation import (
    check_finite,
    check_positive_int,
    check_probability,
    check_real,
    is_integer_dtype,
)


def check_constructor(
    owner: str,
    input_size: Any,
    hidden_size: Any,
    *,
    dropout: Any = 0.0,
    recurrent_dropout: Any = 0.0,
    zoneout: Any = 0.0,
    proj_size: Any = 0,
    forget_bias: Any = 0.0,
) -> None:
    """Raise ``TypeError``/``ValueError`` naming the constructor argument that is wrong."""
    check_positive_int(f"{owner} input_size", input_size)
    check_positive_int(f"{owner} hidden_size", hidden_size)
    check_probability(f"{owner} dropout", dropout, upper_inclusive=True)
    check_probability(f"{owner} recurrent_dropout", recurrent_dropout)
    check_probability(f"{owner} zoneout", zoneout)
    check_positive_int(f"{owner} proj_size", proj_size, minimum=0)
    if proj_size >= hidden_size:
        raise ValueError(f"{owner} proj_size must be smaller than hidden_size={hidden_size}, got {proj_size}")
    check_real(f"{owner} forget_bias", forget_bias)


def received(value: Any) -> str:
    """What a caller passed, for a message: ``Tensor``, ``a tuple of 1``."""
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    return type(value).__name__


def check_input(owner: str, x: Any, *, name: str, param: Tensor, finite: bool) -> Tensor:
    """Check type, dtype and device of an input tensor against the module's parameters."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{owner} expected {name} to be a torch.Tensor, got {type(x).__name__}")
    if x.dtype != param.dtype and x.is_floating_point() and autocast_enabled(x.device.type):
        x = x.to(param.dtype)  # under autocast (a bfloat16 Linear's output, say) the recurrence runs in
        # the weights' dtype, as torch.nn.LSTM takes such inputs
    if x.dtype != param.dtype:
        raise TypeError(
            f"{owner} expected {name} of dtype {param.dtype} (the parameters' dtype), got {x.dtype}; "
            f"convert the input with .to({param.dtype}) or the module with .to({x.dtype})"
        )
    if not (x.is_cpu and param.is_cpu) and x.device != param.device:  # is_cpu: no device objects made
        raise ValueError(
            f"{owner} expected {name} on device {param.device} (the parameters' device), got {x.device}"
        )
    if finite:
        check_finite(f"{owner} {name}", x)
    return x


def check_lengths(owner: str, lengths: Any, batch: int, steps: int, *, enforce_sorted: bool) -> Tensor:
    """Validate sequence lengths ``(B,)``: integers in ``[1, T]``, descending if ``enforce_sorted``.

    Under ``torch.export`` the values are unknown (symbolic), so only the type and shape are checked.
    """
    if not isinstance(lengths, Tensor):
        try:
            lengths = torch.as_tensor(lengths)
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(
                f"{owner} expected lengths as a 1-D integer tensor or list, got {lengths!r}"
            ) from err
    if not is_integer_dtype(lengths.dtype) or lengths.dim() != 1:
        raise TypeError(
            f"{owner} expected lengths as a 1-D integer tensor of shape ({batch},), "
            f"got dtype {lengths.dtype} and shape {tuple(lengths.shape)}"
        )
    if lengths.numel() != batch:
        raise ValueError(f"{owner} expected {batch} lengths (one per sequence), got {lengths.numel()}")
    if lengths.is_meta:  # no values to check or to run with
        raise ValueError(
            f"{owner} expected lengths with values (a CPU tensor or a list), got a tensor on the meta device"
        )
    lengths = lengths.to(device="cpu", dtype=torch.int64)
    if is_exporting():
        return lengths
    if batch and (int(lengths.min()) < 1 or int(lengths.max()) > steps):
        raise ValueError(
            f"{owner} expected every length in [1, {steps}] (the padded length), "
            f"got min {int(lengths.min())} and max {int(lengths.max())}"
        )
    if enforce_sorted and batch > 1 and bool((lengths[1:] > lengths[:-1]).any()):
        raise ValueError(
            f"{owner} expected lengths sorted in decreasing order with enforce_sorted=True, got "
            f"{lengths.tolist()}; sort the batch or pass enforce_sorted=False"
        )
    return lengths


def check_state(owner: str, state: Any, name: str, expected: tuple[int, ...], param: Tensor) -> Tensor:
    """Check one initial-state tensor's type, shape, dtype and device."""
    if not isinstance(state, Tensor):
        raise TypeError(f"{owner} expected {name} to be a torch.Tensor, got {type(state).__name__}")
    if state.shape != expected:  # torch.Size is a tuple
        raise ValueError(f"{owner} expected {name} of shape {expected}, got {tuple(state.shape)}")
    return check_input(owner, state, name=name, param=param, finite=False)
