"""The two exporters' writers: a :class:`~lstmkit.export.signature.Signature` to the bytes of an ONNX model.

``torchscript_bytes`` runs ``torch.onnx.export(dynamo=False)`` (ONNX's ``LSTM`` operator for a plain LSTM)
and ``declare_outputs`` names its outputs' shapes; ``dynamo_bytes`` runs ``torch.export`` and the ONNX
translation of its program (``Scan`` for lstmkit's recurrences). :func:`lstmkit.export.to_onnx` chooses
between them and checks what they write.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor
from torch.fx.experimental.symbolic_shapes import GuardOnDataDependentSymNode

from lstmkit.export.check import require
from lstmkit.export.signature import BATCH, STEPS, Axes, Signature


def torchscript_bytes(
    sig: Signature,
    in_names: tuple[str, ...],
    out_names: tuple[str, ...],
    axes: tuple[Axes, ...],
    out_axes: list[Axes],
    opset: int | None,
    *,
    quiet: bool,
) -> bytes:
    named = zip((*in_names, *out_names), (*axes, *out_axes), strict=True)
    dynamic_axes = {name: dict(a) for name, a in named if a}
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # chosen knowingly (it writes ONNX's LSTM operator), so its deprecation notice is not the user's
        warnings.filterwarnings("ignore", message="You are using the legacy TorchScript-based ONNX export")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx")
        # lstmkit compares Python ints taken from shapes, which a trace records as constants, rightly
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning, module=r"lstmkit\.")
        if quiet:  # the check runs the graph at another batch size, which is what this warns about
            warnings.filterwarnings("ignore", message="Exporting a model to ONNX with a batch_size other")
        torch.onnx.export(
            sig.graph,
            sig.args,
            buffer,  # type: ignore[arg-type]  # (the TorchScript exporter writes to file objects too)
            dynamo=False,
            input_names=list(in_names),
            output_names=list(out_names),
            dynamic_axes=dynamic_axes or None,
            opset_version=opset,
        )
    return buffer.getvalue()


def declare_outputs(
    data: bytes, expected: list[Tensor], out_names: tuple[str, ...], out_axes: list[Axes]
) -> bytes:
    """Declare the outputs' shapes as they are: the free axes by name, every other one by its size (the
    TorchScript exporter's shape inference names some fixed axes, such as ``H``, as if they were free)."""
    onnx = require("onnx", "to_onnx")
    model_proto = onnx.load_from_string(data)
    by_name = {value.name: value for value in model_proto.graph.output}
    for name, tensor, free in zip(out_names, expected, out_axes, strict=True):
        dims = by_name[name].type.tensor_type.shape.dim
        if len(dims) != tensor.dim():
            continue  # no shape declared: nothing to correct
        for axis, dim in enumerate(dims):
            if axis in free:
                dim.dim_param = free[axis]
            else:
                dim.dim_value = tensor.shape[axis]
    serialized: bytes = model_proto.SerializeToString()
    return serialized


def dynamo_bytes(
    sig: Signature,
    in_names: tuple[str, ...],
    out_names: tuple[str, ...],
    axes: tuple[Axes, ...],
    opset: int | None,
) -> bytes:
    dims = {BATCH: torch.export.Dim(BATCH), STEPS: torch.export.Dim(STEPS)}
    shapes = tuple({axis: dims[kind] for axis, kind in x_axes.items()} or None for x_axes in axes)
    # torch.export first, then the ONNX translation of its program: torch.onnx.export(module, dynamo=True)
    # runs torch.export under flags of its own that break the translation of some scan bodies (torch 2.13:
    # coupled gates, whose body leaves one gate's slice unused)
    dynamic_shapes = shapes if any(axes) else None
    # scan runs its body through torch.compile, whose cache keeps an entry from the previous export; with
    # torch 2.13 an entry for a fixed number of steps turns into a guard that fails the next export with
    # free steps ("Constraints violated (steps)"), so every export starts from an empty cache
    torch.compiler.reset()
    with warnings.catch_warnings(), _quiet_logs(*EXPORTER_LOGGERS):  # nothing in them a user can change
        # torch's own use of its pytree API
        warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")
        try:
            program = torch.export.export(sig.graph, sig.args, dynamic_shapes=dynamic_shapes, strict=False)
        except torch._dynamo.exc.UserError as err:  # torch.export's constraint violations on a free axis
            text = str(err)
            lines = [line.strip() for line in text.splitlines() if line.strip().startswith("- ")]
            first = lines[0][2:] if lines else text.splitlines()[0]
            name = type(sig.graph).__name__
            if "specialized it to be a constant" in text:
                raise ValueError(
                    f"torch.export fixes the time axis of {name} to the example's number of steps (torch's "
                    f"pooling does: {first}); pass dynamic_steps=False for a graph of that many steps"
                ) from err
            if "Constraints violated" in text:
                raise ValueError(
                    f"torch.export keeps the time axis of {name} free only over a range of lengths, which "
                    f"to_onnx does not declare ({first}); a 'valid' convolution or pooling needs at least "
                    f"its window: pass dynamic_steps=False, or use padding='same' or 'causal'"
                ) from err
            raise
        except GuardOnDataDependentSymNode as err:
            first = str(err).splitlines()[0]
            raise RuntimeError(
                f"torch.export cannot record {type(sig.graph).__name__}: it tests the values of a tensor (a "
                f"range check of token ids, a Python `if` on data), which a graph cannot follow ({first}); "
                f"exporter='torchscript' records such a test as a constant, with dynamic_steps=False where a "
                f"variant's loop is unrolled"
            ) from err
        onnx_program = torch.onnx.export(
            program,
            input_names=list(in_names),
            output_names=list(out_names),
            opset_version=opset,
            dynamo=True,
            verbose=False,
        )
    assert onnx_program is not None, "the dynamo exporter returns its program"
    model_proto = onnx_program.model_proto
    _name_dimensions(model_proto, in_names, axes)
    try:
        data: bytes = model_proto.SerializeToString()
    except ValueError as err:  # protobuf's limit
        raise ValueError(f"to_onnx cannot write a model of more than 2 GB in one ONNX file: {err}") from err
    return data


EXPORTER_LOGGERS = ("torch.onnx", "onnxscript", "onnx_ir")
"""Loggers the dynamo exporter writes its progress to at WARNING and INFO ("torchvision is not installed.
Skipping torchvision::nms", "Skipping constant folding for op Split"): raised to ERROR during an export."""


@contextmanager
def _quiet_logs(*names: str) -> Iterator[None]:
    """Raise the loggers ``names`` to ERROR for the duration, then give each its own level back."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _name_dimensions(model_proto: Any, in_names: tuple[str, ...], axes: tuple[Axes, ...]) -> None:
    """Rename torch.export's symbols (``s35``) to ``batch`` and ``steps`` throughout the graph's shapes."""
    symbols: dict[str, str] = {}
    by_name = {value.name: value for value in model_proto.graph.input}
    for name, x_axes in zip(in_names, axes, strict=True):
        dims = by_name[name].type.tensor_type.shape.dim
        for axis, kind in x_axes.items():
            if dims[axis].dim_param:
                symbols[dims[axis].dim_param] = kind
    graph = model_proto.graph
    for value in (*graph.input, *graph.output, *graph.value_info):
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param in symbols:
                dim.dim_param = symbols[dim.dim_param]
