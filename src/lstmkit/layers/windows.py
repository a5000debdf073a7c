"""What the 1D convolution and pooling layers share: Keras's spellings of their arguments (``data_format``,
case-insensitive choices, one-int tuples) and the arithmetic of ``"same"`` windows over time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from lstmkit.utils.validation import check_choice, check_positive_int


class TooFewStepsError(ValueError):
    """A ``'valid'`` window longer than the input: the one failure a longer probe of a model declared for
    any length (``lstmkit.models``' build) can avoid."""


DATA_FORMATS = ("channels_last", "channels_first")
"""Keras's ``data_format`` values of the 1D layers: ``(B, T, C)`` and ``(B, C, T)``."""


def check_channels_first(owner: str, data_format: str, input_shape: tuple[int | None, ...] | None) -> None:
    """``ValueError`` for a ``channels_first`` ``input_shape`` ``(C, T)`` whose channels ``C`` are ``None``
    (the base check covers ``channels_last``, whose channels are last)."""
    if data_format == "channels_first" and input_shape is not None and input_shape[0] is None:
        raise ValueError(
            f"{owner} input_shape with data_format='channels_first' is (C, T): C, the channels, must be a "
            f"positive int (None for any number of steps T only), got {input_shape!r}"
        )


def keras_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """``value`` checked against ``choices`` without regard to case, as Keras takes ``"SAME"``."""
    lowered = value.lower() if isinstance(value, str) else value
    return check_choice(name, lowered if lowered in choices else value, choices)


def one_int(name: str, value: Any) -> int:
    """A positive int, given as itself or as Keras's one-int tuple (``kernel_size=(3,)``, ``pool_size=(2,)``:
    the form Keras's saved configs hold)."""
    if isinstance(value, tuple | list):
        if len(value) != 1:
            raise ValueError(f"{name} must be an int or a tuple of one int, got {value!r}")
        value = value[0]
    return check_positive_int(name, value)


def same_padding(steps: int, window: int, strides: int) -> tuple[int, int]:
    """``(before, after)`` zeros of TensorFlow's and Keras 3's ``"same"`` padding for windows spanning
    ``window`` steps: ``ceil(steps / strides)`` windows, the odd padded step after the last. The amounts
    follow ``steps`` unless ``strides`` is 1; they are computed with tensor operations under
    ``torch.jit.trace`` (``steps`` is then a tensor) and symbolically under torch.export, so an exported
    graph pads every length as PyTorch does.

    Example:
        >>> same_padding(5, 2, 1), same_padding(5, 3, 2), same_padding(4, 2, 2)
        ((0, 1), (1, 1), (0, 0))
    """
    windows = (steps + strides - 1) // strides  # ceil, of positive values only: ONNX's Div truncates
    excess = (windows - 1) * strides + window - steps
    # a size is a tensor under torch.jit.trace and symbolic under torch.export, where max() would guard
    total = excess.clamp(min=0) if isinstance(excess, Tensor) else torch.sym_max(excess, 0)
    return total // 2, total - total // 2


def pad_same(x: Tensor, window: int, strides: int, value: float = 0.0) -> Tensor:
    """``x`` ``(..., T)`` padded for ``"same"`` windows of ``window`` steps moved by ``strides``: TensorFlow's
    ``before`` (:func:`same_padding`), and after the last step ``window - 1 - before``, at least
    TensorFlow's, which the ``ceil(T / strides)`` windows never reach. The padded length is then
    ``T + window - 1`` for every ``T``, which torch.export follows without a guard on ``T`` (TensorFlow's
    own ``after`` leaves a window-fits check it cannot prove, and an export with free steps fails)."""
    before, _ = same_padding(x.shape[-1], window, strides)
    return nn.functional.pad(x, (before, window - 1 - before), value=value)
