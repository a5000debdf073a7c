"""``to_onnx``: write a model holding lstmkit layers to an ONNX file, checked against PyTorch first.

Two PyTorch exporters record the graph (:mod:`lstmkit.export.backends` says what each lstmkit module runs
on meanwhile):

- ``"torchscript"`` (``torch.onnx.export(dynamo=False)``, deprecated by PyTorch but still shipped) writes
  a plain LSTM as ONNX's ``LSTM`` operator, with free batch and time axes, and exports in a fraction of
  a second. It unrolls every other time loop over the example's steps.
- ``"dynamo"`` (``torch.export`` then ``torch.onnx.export``, PyTorch's default) writes each lstmkit
  recurrence as one ONNX ``Scan`` over a free number of steps, every variant and projection included.

``"auto"`` takes ``"torchscript"`` where every lstmkit LSTM and LSTMCell of the model is plain (an LSTM
without variants or projection fits ONNX's ``LSTM`` operator) and the weights are float32 (onnxruntime's
``LSTM`` operator computes in float32 only) and no opset above the TorchScript exporter's 20 is asked,
and ``"dynamo"`` otherwise, so every model gets free batch and time axes.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from lstmkit.export.backends import (
    describe,
    eval_mode,
    onnx_lstm_operator_fits,
    reference_modules,
    refuse_masks,
    refuse_stateful,
    traceable,
)
from lstmkit.export.check import ExportReport, compare, graph_facts, require
from lstmkit.export.signature import (
    BATCH,
    STEPS,
    Axes,
    Signature,
    check_names,
    resize,
    signature,
)
from lstmkit.export.writers import declare_outputs, dynamo_bytes, torchscript_bytes
from lstmkit.nn import LSTM
from lstmkit.ops import scan
from lstmkit.utils.serialization import atomic_write_bytes
from lstmkit.utils.validation import check_bool, check_choice, check_finite

EXPORTERS = ("auto", "torchscript", "dynamo")
MIN_OPSET = 9  # (opsets 7 and 8 lack ConstantOfShape, which every exported LSTM's zero state uses)
#: the TorchScript exporter's highest opset; the dynamo exporter translates from opset 18 and, asked for
#: an opset it cannot convert to, falls back to 18 or writes an invalid file instead of failing
TORCHSCRIPT_MAX_OPSET, DYNAMO_MIN_OPSET = 20, 18


def to_onnx(
    model: nn.Module,
    path: str | os.PathLike[str],
    example_input: Tensor | tuple[Any, ...] | None = None,
    *,
    dynamic_batch: bool = True,
    dynamic_steps: bool = True,
    opset: int | None = None,
    check: bool = True,
    atol: float = 1e-4,
    exporter: str = "auto",
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
) -> ExportReport:
    """Export ``model``'s inference graph to the ONNX file ``path``, checked in onnxruntime first.

    ``model`` is an ``lstmkit.nn.LSTM`` (graph ``input[, h_0, c_0] -> output, h_n, c_n``), an
    ``lstmkit.nn.LSTMCell`` (``input, h_0, c_0 -> h_1, c_1``), or any ``torch.nn.Module`` (a Keras-face
    model's ``model.module``, a kit's network), called with ``example_input`` as its positional arguments.
    Whatever backend its lstmkit layers were built or trained with (``"native"``, ``"fused"``), they run
    on torch operations while it is recorded and get their backend back afterwards; the model runs in
    eval mode and gets its mode back too. It first runs once on the example (eval mode, no gradients), so
    that layers built lazily (a Keras model without ``input_shape``) exist before the exporter is chosen.
    The file is written only once the check passed, atomically.

    Args:
        model: the module to export.
        path: the ``.onnx`` file to write (its folder must exist); an existing file is replaced.
        example_input: one batch of inputs: a tensor, or a tuple with one tensor per positional argument
            (``(x, (h_0, c_0))`` for an LSTM with initial state). Made up (standard normal, batch 2,
            5 steps) for an LSTM or LSTMCell, and read from ``model.example_input_array`` otherwise
            when omitted.
        dynamic_batch: leave the batch axis free (the example then needs a batch of at least 2).
        dynamic_steps: leave the time axis free (the example then needs at least 2 steps).
        opset: ONNX operator set version; ``None`` for the exporter's default.
        check: run the file in onnxruntime on the example, and with dynamic axes on a second input one
            larger in batch and one longer in time, and compare with PyTorch.
        atol: the largest absolute difference ``check`` accepts.
        exporter: ``"auto"``, ``"torchscript"`` or ``"dynamo"`` (see the module docstring).
        input_names: names of the graph's inputs; defaults as above, ``input`` or ``input_0, input_1, ...``
            for other modules.
        output_names: names of the graph's outputs; ``output`` or ``output_0, output_1, ...`` by default.

    Returns:
        An :class:`~lstmkit.export.ExportReport`: file, exporter, opset, names, dynamic axes, operators
        and the largest difference the check measured.

    Raises:
        TypeError: a wrong type of ``model``, ``example_input``, names or flags.
        ValueError: an unknown ``exporter``, a bad ``opset`` (newer than the installed ``onnx`` knows, too),
            a bad ``atol``, an empty or non-finite example, a dynamic axis of size 1, an example the model
            does not take, a stateful module, a layer that masks by value (``Masking``,
            ``Embedding(mask_zero=True)``), float16 or bfloat16 weights or example, a float64
            LSTM/GRU/RNN operator with ``exporter="torchscript"``, ``dynamic_steps=True`` where the chosen
            exporter unrolls a time loop or, under ``"dynamo"``, for torch's own ``nn.GRU``/``RNN``/``LSTM``.
        FileNotFoundError: the folder of ``path`` does not exist.
        ImportError: ``onnx`` (or ``onnxscript`` for ``"dynamo"``, ``onnxruntime`` for ``check``) is not
            installed; ``pip install "lstmkit[onnx]"``.
        OnnxCheckError: onnxruntime's outputs differ from PyTorch's by more than ``atol``.

    Example:
        >>> import tempfile, pathlib
        >>> from lstmkit.nn import LSTM
        >>> lstm = LSTM(3, 8, num_layers=2, batch_first=True)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     report = to_onnx(lstm, pathlib.Path(folder) / "lstm.onnx", torch.randn(4, 10, 3))
        >>> report.exporter, report.operators.count("LSTM"), report.dynamic_axes["input"]
        ('torchscript', 1, {0: 'batch', 1: 'steps'})
        >>> report.max_abs_diff < 1e-5
        True
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"to_onnx expected a torch.nn.Module, got {type(model).__name__}")
    target = _target(path)
    dynamic_batch = check_bool("to_onnx dynamic_batch", dynamic_batch)
    dynamic_steps = check_bool("to_onnx dynamic_steps", dynamic_steps)
    check = check_bool("to_onnx check", check)
    check_choice("exporter", exporter, EXPORTERS)
    if opset is not None and (isinstance(opset, bool) or not isinstance(opset, int) or opset < MIN_OPSET):
        raise ValueError(f"to_onnx expected opset as an integer >= {MIN_OPSET} or None, got {opset!r}")
    if isinstance(atol, bool) or not isinstance(atol, int | float) or not math.isfinite(atol) or atol < 0:
        raise ValueError(f"to_onnx expected atol as a finite number >= 0, got {atol!r}")
    onnx = require("onnx", "to_onnx")
    newest = onnx.defs.onnx_opset_version()
    if opset is not None and opset > newest:  # (the dynamo exporter would write opset 18 instead)
        raise ValueError(
            f"to_onnx got opset={opset}, but the installed onnx {onnx.__version__} knows opsets up to "
            f"{newest}; pass {newest} or less, or opset=None for PyTorch's default"
        )
    if check:
        require("onnxruntime", "check=True (running the exported file in onnxruntime; or pass check=False)")
    refuse_stateful(model)
    refuse_masks(model)
    sig = signature(model, example_input)
    in_names = check_names(input_names, len(sig.args), "input_names") or sig.input_names
    kinds = tuple(kind for kind, on in ((BATCH, dynamic_batch), (STEPS, dynamic_steps)) if on)
    axes = tuple({axis: kind for axis, kind in x_axes.items() if kind in kinds} for x_axes in sig.axes)
    _refuse_half_precision(model, sig.args, in_names)
    _check_example(sig.args, axes, in_names)
    what = type(model).__name__
    built = _build(sig, what)  # also the reference run, unless it created modules
    chosen = _choose_exporter(exporter, model, axes, opset)
    with eval_mode(sig.graph), torch.no_grad():  # (the graph: the model, or an adapter around it)
        expected = built if built is not None else _run(sig.graph, sig.args, what, "example_input")
        out_names = check_names(output_names, len(expected), "output_names") or _output_names(sig, expected)
        if set(out_names) & set(in_names):
            raise ValueError(f"to_onnx needs output names other than the input names, got both {out_names}")
        runs = [(sig.args, expected)]
        if any(axes):
            grown = resize(sig.args, axes, kinds, seed=1)
            runs.append((grown, _run(sig.graph, grown, what, _grown_context(grown, in_names, kinds))))
        with traceable(model, chosen):
            if chosen == "torchscript":
                out_axes = _output_axes(sig, axes, expected, out_names, what)
                data = torchscript_bytes(sig, in_names, out_names, axes, out_axes, opset, quiet=check)
                data = declare_outputs(data, expected, out_names, out_axes)
            else:
                data = dynamo_bytes(sig, in_names, out_names, axes, opset)
    model_proto = onnx.load_from_string(data)
    onnx.checker.check_model(model_proto)
    opset_used, dynamic_axes, operators = graph_facts(model_proto)
    if opset is not None and opset_used != opset:
        raise ValueError(
            f"to_onnx asked the {chosen} exporter for opset {opset} and it wrote opset {opset_used} (torch "
            f"{torch.__version__} cannot write opset {opset}); pass an opset it supports, or opset=None"
        )
    max_abs_diff = compare(data, runs, in_names, out_names, atol, what) if check else None
    atomic_write_bytes(target, data)
    shapes = tuple(tuple(tuple(x.shape) for x in inputs) for inputs, _ in runs) if check else ()
    return ExportReport(
        target, chosen, opset_used, in_names, out_names, dynamic_axes, operators, max_abs_diff, shapes
    )


def _target(path: Any) -> Path:
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"to_onnx expected path as a str or os.PathLike, got {type(path).__name__}")
    target = Path(path)
    if target.is_dir():
        raise ValueError(
            f"to_onnx expected a file path, got the folder '{target}'; add a file name like model.onnx"
        )
    if not target.parent.is_dir():
        raise FileNotFoundError(
            f"to_onnx cannot write '{target}': the folder '{target.parent}' does not exist; create it first"
        )
    return target


def _check_example(args: tuple[Tensor, ...], axes: tuple[Axes, ...], names: tuple[str, ...]) -> None:
    """Every input non-empty (onnxruntime aborts the process on an empty batch, and the exporters fix a
    size-0 axis); every floating input finite; every dynamic axis of size >= 2 (torch.export takes a
    size-1 axis, and the TorchScript exporter may take it, for a constant)."""
    for x, x_axes, name in zip(args, axes, names, strict=True):
        if x.numel() == 0:
            raise ValueError(
                f"to_onnx example_input '{name}' of shape {tuple(x.shape)} is empty; give at least one "
                f"sample and one step"
            )
        check_finite(f"to_onnx example_input '{name}'", x)
        for axis, kind in x_axes.items():
            if x.shape[axis] < 2:
                raise ValueError(
                    f"to_onnx example_input '{name}' of shape {tuple(x.shape)} has {x.shape[axis]} on axis "
                    f"{axis} ({kind}), which dynamic_{kind}=True leaves free: the exporters take a size-1 "
                    f"axis as fixed, so give an example with at least 2 there, or pass dynamic_{kind}=False"
                )


def _refuse_half_precision(model: nn.Module, args: tuple[Tensor, ...], names: tuple[str, ...]) -> None:
    """Refuse float16 and bfloat16 weights and examples: onnxruntime's CPU build cannot run lstmkit's graphs
    in them (a float16 LSTM graph crashes its session; bfloat16 lacks kernels such as MatMul)."""
    tensors: list[tuple[str, Tensor]] = [(f"parameter '{name}'", p) for name, p in model.named_parameters()]
    tensors += [(f"example_input '{name}'", x) for name, x in zip(names, args, strict=True)]
    for what, tensor in tensors:
        if tensor.dtype in (torch.float16, torch.bfloat16):
            raise ValueError(
                f"to_onnx exports float32 and float64 models, got {what} of dtype {tensor.dtype}: "
                f"onnxruntime cannot run a float16 or bfloat16 LSTM graph (float16 crashes its session, "
                f"bfloat16 lacks kernels); call model.float() and pass a float32 example_input"
            )


def _build(sig: Signature, what: str) -> list[Tensor] | None:
    """Run the graph once on the example, in eval mode and without gradients, so that a layer built lazily
    (a Keras model without ``input_shape``) has its modules before the exporter is chosen for them and
    before :func:`eval_mode` saves their modes.

    Returns:
        The outputs, which are the reference the file is checked against, when the run created no module;
        ``None`` when it did: a module created during the run ran in the training mode it was made in.
    """
    modules = set(sig.graph.modules())
    with eval_mode(sig.graph), torch.no_grad():
        outputs = _run(sig.graph, sig.args, what, "example_input")
    return outputs if set(sig.graph.modules()) == modules else None


def _choose_exporter(requested: str, model: nn.Module, axes: tuple[Axes, ...], opset: int | None) -> str:
    variants = reference_modules(model)
    # onnxruntime's LSTM operator computes in float32 only; Scan runs any dtype
    float32 = all(p.dtype == torch.float32 for p in model.parameters() if p.is_floating_point())
    lstm_operator = float32 and not variants and (opset is None or opset <= TORCHSCRIPT_MAX_OPSET)
    chosen = requested if requested != "auto" else ("torchscript" if lstm_operator else "dynamo")
    if chosen == "torchscript":
        supported, fits = (
            f"opsets {MIN_OPSET} to {TORCHSCRIPT_MAX_OPSET}",
            opset is None or opset <= TORCHSCRIPT_MAX_OPSET,
        )
    else:
        supported, fits = f"opset {DYNAMO_MIN_OPSET} or newer", opset is None or opset >= DYNAMO_MIN_OPSET
    why = "" if requested != "auto" else " (which 'auto' takes for this model)"
    if not fits:
        raise ValueError(
            f"to_onnx got opset={opset}, but the {chosen} exporter{why} writes {supported}; pass one of "
            f"those, or opset=None for PyTorch's default"
        )
    layer_norm = [(name, module) for name, module in variants if module.layer_norm]
    if chosen == "torchscript" and layer_norm:
        raise ValueError(
            f"exporter='torchscript' cannot export {describe(layer_norm)}: the TorchScript exporter needs "
            f"layer norm's shape as a constant and records it as a value; use exporter='dynamo' or 'auto'"
        )
    if chosen == "torchscript":
        _refuse_wide_operators(model)
    free_steps = any(STEPS in x_axes.values() for x_axes in axes)
    torch_loops = [
        (name or type(m).__name__, m) for name, m in model.named_modules() if isinstance(m, nn.RNNBase)
    ]
    if chosen == "dynamo" and free_steps and torch_loops:
        fix = (
            "pass exporter='auto' (the torchscript exporter writes them as ONNX operators with a free time "
            "axis), or dynamic_steps=False"
            if lstm_operator
            else "pass dynamic_steps=False for a graph of the example's number of steps, or use plain "
            "float32 lstmkit LSTMs, which 'auto' exports with the torchscript exporter and a free time axis"
        )
        raise ValueError(
            f"the dynamo exporter{why} cannot leave the time axis free for torch's own recurrent "
            f"module(s) {_named_types(torch_loops)}: torch.export fixes their number of steps to the "
            f"example's; {fix}"
        )
    loops = [(name, module) for name, module in variants if isinstance(module, LSTM)]
    if loops and free_steps:
        if chosen == "torchscript":
            raise ValueError(
                f"exporter='torchscript' unrolls the time loop of {describe(loops)} (it writes ONNX's LSTM "
                f"operator for the plain LSTM only) over the example's steps, so the graph would take that "
                f"many steps only; use exporter='dynamo' (or 'auto'), which writes the loop as ONNX Scan, "
                f"or pass dynamic_steps=False"
            )
        if not scan.AVAILABLE:
            raise ValueError(
                f"torch {torch.__version__} has no scan operator, so the time loop of {describe(loops)} is "
                f"unrolled over the example's steps; pass dynamic_steps=False (or use a newer torch)"
            )
    if chosen == "dynamo":
        require("onnxscript", "exporter='dynamo' (torch.onnx's torch.export-based exporter)")
    return chosen


def _refuse_wide_operators(model: nn.Module) -> None:
    """Refuse the TorchScript exporter for a float64 LSTM, GRU or RNN it writes as ONNX's operator of that
    name (a plain lstmkit LSTM, torch's own ``nn.RNNBase``): onnxruntime computes those in float32 only."""
    operators = [
        (name or type(module).__name__, module)
        for name, module in model.named_modules()
        if isinstance(module, nn.RNNBase) or (isinstance(module, LSTM) and onnx_lstm_operator_fits(module))
    ]
    wide = [
        (name, module, p.dtype)
        for name, module in operators
        for p in module.parameters()
        if p.is_floating_point() and p.dtype != torch.float32
    ]
    if wide:
        name, module, dtype = wide[0]
        raise ValueError(
            f"exporter='torchscript' writes {_named_types([(name, module)])} as ONNX's "
            f"{type(module).__name__} operator, which onnxruntime computes in float32 only, and its weights "
            f"are {dtype}; use exporter='dynamo' or 'auto' (ONNX Scan for lstmkit's LSTM, in any dtype), or "
            f"call model.float()"
        )


def _named_types(modules: list[tuple[str, Any]]) -> str:
    """``"layers.0.rnn (GRU), LSTM"``: each module's name, and its type where that is not its name."""
    named = [(name, type(module).__name__) for name, module in modules]
    return ", ".join(name if name == kind else f"{name} ({kind})" for name, kind in named)


def _flatten(value: Any, what: str) -> list[Tensor]:
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, tuple | list):
        return [t for item in value for t in _flatten(item, what)]
    raise TypeError(
        f"to_onnx expected the {what} to return a tensor or a tuple of tensors, got {type(value).__name__}"
    )


def _run(graph: nn.Module, args: tuple[Tensor, ...], what: str, inputs: str) -> list[Tensor]:
    """The graph's flattened outputs for ``args`` in PyTorch, with the model's own backends."""
    try:
        outputs = graph(*args)
    except (ValueError, TypeError, RuntimeError, IndexError) as err:
        raise ValueError(f"to_onnx could not run the {what} on {inputs}: {err}") from err
    return _flatten(outputs, what)


def _grown_context(grown: tuple[Tensor, ...], names: tuple[str, ...], kinds: tuple[str, ...]) -> str:
    shapes = ", ".join(f"{name} {tuple(x.shape)}" for name, x in zip(names, grown, strict=True))
    flags = " and ".join(f"dynamic_{kind}=True" for kind in kinds)
    return (
        f"inputs of other sizes ({shapes}), which {flags} promises the graph takes; pass "
        f"dynamic_steps=False for a model built for a fixed number of steps"
    )


def _output_names(sig: Signature, outputs: list[Tensor]) -> tuple[str, ...]:
    if sig.output_names is not None:
        return sig.output_names
    return ("output",) if len(outputs) == 1 else tuple(f"output_{k}" for k in range(len(outputs)))


def _output_axes(
    sig: Signature, axes: tuple[Axes, ...], expected: list[Tensor], out_names: tuple[str, ...], what: str
) -> list[Axes]:
    """Which output axes follow the batch and time axes of the inputs, found by growing each in PyTorch
    (the TorchScript exporter needs them named; ``torch.export`` finds them itself)."""
    found: list[Axes] = [{} for _ in expected]
    for kind in (BATCH, STEPS):
        if not any(kind in x_axes.values() for x_axes in axes):
            continue
        grown = _run(
            sig.graph, resize(sig.args, axes, (kind,), seed=2), what, f"inputs with a grown {kind} axis"
        )
        for out_axes, before, after, name in zip(found, expected, grown, out_names, strict=True):
            for axis, (old, new) in enumerate(zip(before.shape, after.shape, strict=False)):
                if old != new:
                    out_axes[axis] = kind if axis not in out_axes else f"{name}_dim{axis}"
    return found
