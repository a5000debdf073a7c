"""What an exported graph takes and returns: example inputs, their names and their dynamic axes.

Shape legend: ``B`` batch, ``T`` time, ``I`` input features, ``H`` hidden units, ``R`` recurrent state size
(``P`` with a projection, else ``H``), ``D`` directions, ``L`` layers.

An exported graph takes flat tensors and returns flat tensors, so ``lstmkit.nn.LSTM`` and ``LSTMCell`` are
exported through the adapters below, which name their inputs and outputs as PyTorch does (``input``,
``h_0``, ``c_0`` -> ``output``, ``h_n``, ``c_n``). Any other module is exported as it is called, with one
tensor per positional argument.

Which axes may vary (the rule a module without an adapter follows): axis 0 of every input is the batch;
axis 1 is the time axis of a floating input of rank 3 or more ``(B, T, ...)`` and of an integer input of
rank 2 (token ids ``(B, T)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from lstmkit.nn import LSTM, LSTMCell

BATCH, STEPS = "batch", "steps"
Axes = dict[int, str]
"""Dynamic axes of one tensor: axis -> ``"batch"`` or ``"steps"``."""

#: sizes of the example made when none is given, and how much the check's second input grows each axis
DEFAULT_BATCH, DEFAULT_STEPS = 2, 5
GROWTH = {BATCH: 1, STEPS: 1}  # an odd growth: a graph that kept an amount of the example's parity shows


class LSTMGraph(nn.Module):
    """``lstmkit.nn.LSTM`` with flat inputs and outputs: ``(input[, h_0, c_0]) -> (output, h_n, c_n)``.

    ``input`` is ``(B, T, I)`` with ``batch_first``, else ``(T, B, I)``; ``h_0``, ``c_0`` are ``(D*L, B, R)``
    and ``(D*L, B, H)``; the outputs are those of ``LSTM.forward``.
    """

    def __init__(self, lstm: LSTM) -> None:
        super().__init__()
        self.lstm = lstm

    def forward(
        self, input: Tensor, h_0: Tensor | None = None, c_0: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        # named arguments, not ``*state``: torch.export matches each example tensor to one parameter
        state = None if h_0 is None or c_0 is None else (h_0, c_0)
        output, (h_n, c_n) = self.lstm(input, state)
        assert isinstance(output, Tensor), "a tensor input gives a tensor output"
        return output, h_n, c_n


class CellGraph(nn.Module):
    """``lstmkit.nn.LSTMCell`` with flat inputs and outputs: ``(input (B, I), h_0 (B, H), c_0 (B, H)) ->
    (h_1 (B, H), c_1 (B, H))``."""

    def __init__(self, cell: LSTMCell) -> None:
        super().__init__()
        self.cell = cell

    def forward(self, input: Tensor, h_0: Tensor, c_0: Tensor) -> tuple[Tensor, Tensor]:
        h_1, c_1 = self.cell(input, (h_0, c_0))
        return h_1, c_1


@dataclass(frozen=True)
class Signature:
    """The module to export, one example tensor per input, the inputs' names and candidate dynamic axes.

    ``output_names`` is ``None`` where the names follow from the number of outputs (``output`` or
    ``output_0``, ``output_1``, ...).
    """

    graph: nn.Module
    args: tuple[Tensor, ...]
    input_names: tuple[str, ...]
    output_names: tuple[str, ...] | None
    axes: tuple[Axes, ...]


def signature(model: nn.Module, example_input: Any) -> Signature:
    """The graph to export for ``model`` and its example inputs (made up where ``example_input`` is None).

    Raises:
        TypeError: ``example_input`` is not a tensor or a tuple of tensors (as the module is called).
        ValueError: no example given for a module that cannot describe its input; an unbatched example.
    """
    if isinstance(model, LSTM):
        return _lstm_signature(model, example_input)
    if isinstance(model, LSTMCell):
        return _cell_signature(model, example_input)
    if example_input is None:
        example_input = getattr(model, "example_input_array", None)
        if example_input is None:
            raise ValueError(
                f"to_onnx needs example_input for a {type(model).__name__}: one batch of inputs as the "
                f"module is called, e.g. torch.randn(2, T, I) or a tuple (x, lengths); or define "
                f"example_input_array on the module"
            )
    args = _tensors(example_input, "example_input")
    names = ("input",) if len(args) == 1 else tuple(f"input_{k}" for k in range(len(args)))
    return Signature(model, args, names, None, tuple(_generic_axes(x) for x in args))


def _lstm_signature(lstm: LSTM, example_input: Any) -> Signature:
    layout = "(B, T, I) with batch_first=True" if lstm.batch_first else "(T, B, I) with batch_first=False"
    x_axes: Axes = {0: BATCH, 1: STEPS} if lstm.batch_first else {0: STEPS, 1: BATCH}
    state_axes: Axes = {1: BATCH}
    if example_input is None:
        shape = (DEFAULT_BATCH, DEFAULT_STEPS) if lstm.batch_first else (DEFAULT_STEPS, DEFAULT_BATCH)
        example_input = random_like_module(lstm, (*shape, lstm.input_size))
    if isinstance(example_input, Tensor):
        example_input = (example_input,)
    if (
        not isinstance(example_input, tuple | list)
        or len(example_input) not in (1, 2)
        or (len(example_input) == 2 and not _is_pair(example_input[1]))
    ):
        raise TypeError(
            f"to_onnx expected example_input for an LSTM as input, (input,) or (input, (h_0, c_0)), "
            f"got {_describe(example_input)}"
        )
    x = _tensors(example_input[0], "example_input")[0]
    if x.dim() != 3:
        raise ValueError(f"to_onnx expected a batched LSTM example of shape {layout}, got {tuple(x.shape)}")
    if len(example_input) == 1:
        return Signature(LSTMGraph(lstm), (x,), ("input",), ("output", "h_n", "c_n"), (x_axes,))
    h_0, c_0 = _tensors(tuple(example_input[1]), "example_input's (h_0, c_0)")
    return Signature(
        LSTMGraph(lstm),
        (x, h_0, c_0),
        ("input", "h_0", "c_0"),
        ("output", "h_n", "c_n"),
        (x_axes, state_axes, state_axes),
    )


def _cell_signature(cell: LSTMCell, example_input: Any) -> Signature:
    if example_input is None:
        example_input = random_like_module(cell, (DEFAULT_BATCH, cell.input_size))
    if isinstance(example_input, Tensor):  # the state is an input of the graph all the same
        shape = (example_input.shape[0] if example_input.dim() else 0, cell.hidden_size)
        state = random_like_module(cell, shape, seed=1), random_like_module(cell, shape, seed=2)
        example_input = (example_input, state)
    if not (
        isinstance(example_input, tuple | list) and len(example_input) == 2 and _is_pair(example_input[1])
    ):
        raise TypeError(
            f"to_onnx expected example_input for an LSTMCell as input or (input, (h_0, c_0)), "
            f"got {_describe(example_input)}"
        )
    x = _tensors(example_input[0], "example_input")[0]
    if x.dim() != 2:
        raise ValueError(f"to_onnx expected a batched LSTMCell example of shape (B, I), got {tuple(x.shape)}")
    h_0, c_0 = _tensors(tuple(example_input[1]), "example_input's (h_0, c_0)")
    axes: Axes = {0: BATCH}
    return Signature(CellGraph(cell), (x, h_0, c_0), ("input", "h_0", "c_0"), ("h_1", "c_1"), (axes,) * 3)


def _generic_axes(x: Tensor) -> Axes:
    """The rule in the module docstring: batch on axis 0, time on axis 1 of ``(B, T, ...)`` floats and
    ``(B, T)`` integer ids."""
    if x.dim() == 0:
        return {}
    sequence = x.dim() >= 3 if x.is_floating_point() else x.dim() == 2 and x.dtype != torch.bool
    return {0: BATCH, 1: STEPS} if sequence else {0: BATCH}


def _is_pair(value: Any) -> bool:
    return isinstance(value, tuple | list) and len(value) == 2


def _describe(value: Any) -> str:
    if isinstance(value, Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    if isinstance(value, tuple | list):
        return f"a {type(value).__name__} of ({', '.join(_describe(v) for v in value)})"
    return type(value).__name__


def _tensors(value: Any, what: str) -> tuple[Tensor, ...]:
    """``value`` as a tuple of tensors (one tensor, or a flat tuple or list of them)."""
    items = (value,) if isinstance(value, Tensor) else value
    if not isinstance(items, tuple | list) or not items or not all(isinstance(v, Tensor) for v in items):
        raise TypeError(
            f"to_onnx expected {what} as a tensor or a tuple of tensors (one per positional argument of "
            f"the module), got {_describe(value)}"
        )
    return tuple(items)


def random_like_module(module: nn.Module, shape: Sequence[int], seed: int = 0) -> Tensor:
    """Standard normal values of ``shape`` in the dtype and on the device of ``module``'s first floating
    parameter, drawn from a generator of their own (torch's global generator is left as it was)."""
    weight = next((p for p in module.parameters() if p.is_floating_point()), None)
    dtype = weight.dtype if weight is not None else torch.get_default_dtype()
    values = torch.randn(tuple(shape), generator=torch.Generator().manual_seed(seed), dtype=dtype)
    return values.to(weight.device if weight is not None else "cpu")


def resize(
    args: tuple[Tensor, ...], axes: Sequence[Axes], kinds: Sequence[str], seed: int
) -> tuple[Tensor, ...]:
    """Inputs like ``args`` with every axis of a kind in ``kinds`` grown by :data:`GROWTH`.

    Floating inputs get new standard normal values; integer and boolean ones (token ids, lengths) repeat
    their own values cyclically along the grown axes, so they stay valid (ids in range, lengths at most T).
    """
    generator = torch.Generator().manual_seed(seed)
    resized = []
    for x, x_axes in zip(args, axes, strict=True):
        grow = [GROWTH[x_axes[a]] if x_axes.get(a) in kinds else 0 for a in range(x.dim())]
        shape = [size + extra for size, extra in zip(x.shape, grow, strict=True)]
        if x.is_floating_point():
            values = torch.randn(shape, generator=generator, dtype=x.dtype)
            resized.append(values.to(x.device))
            continue
        for axis, size in enumerate(shape):
            if size != x.shape[axis]:
                index = torch.arange(size, device=x.device) % x.shape[axis]
                x = x.index_select(axis, index)
        resized.append(x)
    return tuple(resized)


def check_names(names: Sequence[str] | None, count: int, what: str) -> tuple[str, ...] | None:
    """``names`` as a tuple, checked: ``count`` distinct non-empty strings (``None`` passes through)."""
    if names is None:
        return None
    if isinstance(names, str) or not all(isinstance(n, str) and n for n in names):
        raise TypeError(f"to_onnx expected {what} as a list of non-empty strings, got {names!r}")
    names = tuple(names)
    if len(names) != count or len(set(names)) != count:
        raise ValueError(f"to_onnx expected {count} distinct {what} (one per tensor), got {list(names)}")
    return names
