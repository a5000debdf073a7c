"""Reading an exported ONNX model back, running it in onnxruntime against PyTorch, and the export report."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from torch import Tensor

INSTALL = 'pip install "lstmkit[onnx]"'


class OnnxCheckError(RuntimeError):
    """The exported graph, run in onnxruntime, does not give PyTorch's outputs (nothing was written)."""


@dataclass(frozen=True)
class ExportReport:
    """What :func:`lstmkit.export.to_onnx` wrote and how it was checked.

    Attributes:
        path: the ONNX file.
        exporter: ``"torchscript"`` or ``"dynamo"`` (the PyTorch exporter that recorded the graph).
        opset: the ONNX operator set version of the file.
        input_names: the graph's inputs, in the order of the module's arguments.
        output_names: the graph's outputs, in the order the module returns them (flattened).
        dynamic_axes: ``{name: {axis: dimension name}}`` of every input and output axis whose size is
            free in the file (read back from it), e.g. ``{"input": {0: "batch", 1: "steps"}}``.
        operators: the ONNX operator types of the top-level graph (``"LSTM"`` where ONNX's LSTM operator
            runs the recurrence, ``"Scan"`` where a loop over time does).
        max_abs_diff: the largest ``|onnxruntime - PyTorch|`` over every output of every checked input;
            ``None`` with ``check=False``.
        checked_shapes: the input shapes the check ran, one tuple of shapes per run (the example, then
            the input with grown dynamic axes).
    """

    path: Path
    exporter: str
    opset: int
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    dynamic_axes: dict[str, dict[int, str]]
    operators: tuple[str, ...]
    max_abs_diff: float | None
    checked_shapes: tuple[tuple[tuple[int, ...], ...], ...]


def require(package: str, purpose: str) -> ModuleType:
    """Import ``package``, or raise ``ImportError`` naming it, what needs it and the install command."""
    try:
        return importlib.import_module(package)
    except ImportError as err:
        raise ImportError(
            f"{purpose} needs the package '{package}', which is not installed; install lstmkit's ONNX "
            f"extra: {INSTALL}"
        ) from err


def graph_facts(model_proto: Any) -> tuple[int, dict[str, dict[int, str]], tuple[str, ...]]:
    """``(opset, dynamic axes, operator types)`` of an ``onnx.ModelProto``."""
    opset = next(entry.version for entry in model_proto.opset_import if entry.domain in ("", "ai.onnx"))
    axes: dict[str, dict[int, str]] = {}
    for value in (*model_proto.graph.input, *model_proto.graph.output):
        dims = value.type.tensor_type.shape.dim
        free = {axis: dim.dim_param for axis, dim in enumerate(dims) if dim.dim_param}
        if free:
            axes[value.name] = free
    return int(opset), axes, tuple(sorted({node.op_type for node in model_proto.graph.node}))


def compare(
    data: bytes,
    runs: list[tuple[tuple[Tensor, ...], list[Tensor]]],
    input_names: tuple[str, ...],
    output_names: tuple[str, ...],
    atol: float,
    what: str,
) -> float:
    """Run the serialized model in onnxruntime on each run's inputs and compare with PyTorch's outputs.

    Args:
        data: the ONNX model.
        runs: ``(inputs, PyTorch's flattened outputs)`` pairs.
        input_names: the graph's input names, in the order of ``inputs``.
        output_names: the graph's output names, in the order of the outputs.
        atol: the largest absolute difference accepted.
        what: the model, for messages.

    Returns:
        The largest absolute difference over every output of every run.

    Raises:
        OnnxCheckError: a difference above ``atol`` where both sides are finite, NaN or infinity at other
            positions than PyTorch's (the same infinity, or NaN, on both sides is no difference), or an output
            of another shape.
    """
    ort = require("onnxruntime", f"check=True (running the exported {what} in onnxruntime)")
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: the session's warnings are about graph rewrites
    worst = 0.0
    for inputs, expected in runs:
        feed = {name: x.detach().cpu().numpy() for name, x in zip(input_names, inputs, strict=True)}
        shapes = ", ".join(f"{name} {tuple(x.shape)}" for name, x in zip(input_names, inputs, strict=True))
        try:
            session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
            got = session.run(list(output_names), feed)
        except Exception as err:  # onnxruntime's own exception types (Fail, RuntimeException, ...)
            raise OnnxCheckError(
                f"onnxruntime could not run the exported {what} on inputs {shapes}: {err}; "
                f"nothing was written"
            ) from err
        for name, value, reference in zip(output_names, got, expected, strict=True):
            want = reference.detach().cpu().numpy()
            if value.shape != want.shape:
                raise OnnxCheckError(
                    f"the exported {what} returned '{name}' of shape {value.shape} for inputs {shapes}, "
                    f"PyTorch {want.shape}; nothing was written"
                )
            diff, mismatched = _difference(value.astype(np.float64), want.astype(np.float64))
            if mismatched.any():
                first = tuple(int(i) for i in np.argwhere(mismatched)[0])
                raise OnnxCheckError(
                    f"the exported {what} does not match PyTorch: the NaN and infinite values of output "
                    f"'{name}' for inputs {shapes} differ from PyTorch's at {int(mismatched.sum())} "
                    f"position(s), the first at {first}: onnxruntime {value[first]:.3g}, PyTorch "
                    f"{want[first]:.3g}; nothing was written"
                )
            if diff > atol:
                raise OnnxCheckError(
                    f"the exported {what} does not match PyTorch: max abs difference {diff:.3g} on output "
                    f"'{name}' for inputs {shapes} exceeds atol={atol:g}; nothing was written"
                )
            worst = max(worst, diff)
    return worst


def _difference(got: np.ndarray, want: np.ndarray) -> tuple[float, np.ndarray]:
    """``(largest |got - want| where both are finite, where their non-finite values differ)``: an infinity
    of the same sign, or NaN, on both sides is no difference (a ``masked_fill(-inf)`` before a softmax)."""
    finite = np.isfinite(got) & np.isfinite(want)
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    gap = np.abs(np.subtract(got, want, out=np.zeros_like(got), where=finite))
    return float(np.max(gap, initial=0.0)), ~(finite | same)
