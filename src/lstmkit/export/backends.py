"""Putting a model in the state an exporter can record, for the duration of an export, and back.

An exporter records the torch operations a forward pass runs. lstmkit's ``"native"`` and ``"fused"``
backends run the recurrence outside them (a compiled kernel reached through raw pointers, a hand-written
autograd function), so while a model is exported every ``lstmkit.nn.LSTM`` and ``LSTMCell`` in it runs
on a path made of torch operations (:func:`traceable`), chosen per exporter:

======================================  =====================================  ===========================
module                                  ``"torchscript"`` (``torch.jit.trace``)  ``"dynamo"`` (torch.export)
======================================  =====================================  ===========================
plain ``LSTM``                          ``"torch"``: ONNX's ``LSTM`` operator    ``"reference"``: ``Scan``
``LSTM`` with variants or ``proj_size``  ``"reference"``, unrolled over ``T``   ``"reference"``: ``Scan``
plain ``LSTMCell``                      ``"torch"``                            ``"torch"``
``LSTMCell`` with variants              ``"reference"``                        ``"reference"``
======================================  =====================================  ===========================

(``Scan``: one ONNX ``Scan`` per layer and direction over a free number of steps, from
:mod:`lstmkit.ops.scan`.) The model is also put in eval mode (:func:`eval_mode`): an exported graph is
the inference computation. Both context managers put everything back as it was, also when the export fails.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from torch import nn

from lstmkit.nn import LSTM, LSTMCell


def onnx_lstm_operator_fits(lstm: LSTM) -> bool:
    """Whether PyTorch's TorchScript exporter writes ``lstm`` as ONNX's ``LSTM`` operator: torch's own
    kernel runs it (the plain cell) and there is no projection (which ONNX's operator lacks)."""
    return lstm.variant.plain and lstm.proj_size == 0


def reference_modules(model: nn.Module) -> list[tuple[str, LSTM | LSTMCell]]:
    """The lstmkit LSTM and LSTMCell modules of ``model``, with their names, that run the reference step
    while exported: those torch's own LSTM kernel and cell cannot run (variants, projection)."""
    return [
        (name or type(module).__name__, module)
        for name, module in model.named_modules()
        if isinstance(module, LSTM | LSTMCell) and export_backend(module, "torchscript") == "reference"
    ]


def describe(modules: Sequence[tuple[str, LSTM | LSTMCell]]) -> str:
    """``"lstm (peephole, proj_size)"``: each module's name and the options that make it a variant."""
    described = []
    for name, module in modules:
        options = [k for k in ("peephole", "layer_norm", "coupled_gates") if getattr(module, k)]
        options += [k for k in ("recurrent_dropout", "zoneout", "proj_size") if getattr(module, k, 0)]
        described.append(f"{name} ({', '.join(options)})")
    return ", ".join(described)


def export_backend(module: LSTM | LSTMCell, exporter: str) -> str:
    """The backend ``module`` runs on while ``exporter`` (``"torchscript"`` or ``"dynamo"``) records it."""
    if isinstance(module, LSTMCell):
        return "torch" if module.variant.plain else "reference"
    if exporter == "torchscript" and onnx_lstm_operator_fits(module):
        return "torch"
    return "reference"


@contextmanager
def traceable(model: nn.Module, exporter: str) -> Iterator[None]:
    """Run every lstmkit LSTM and LSTMCell in ``model`` on a backend ``exporter`` can record
    (:func:`export_backend`), without the finiteness check of the input (a value test an exporter cannot
    record), and restore each module's ``backend`` and ``check_finite`` afterwards, also on error."""
    saved: list[tuple[LSTM | LSTMCell, str, bool]] = []
    try:
        for module in model.modules():
            if isinstance(module, LSTM | LSTMCell):
                saved.append((module, module.backend, module.check_finite))
                module.backend = export_backend(module, exporter)
                module.check_finite = False
        yield
    finally:
        for module, backend, check_finite in saved:
            module.backend, module.check_finite = backend, check_finite


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Put ``model`` in eval mode (dropout off, zoneout as its expectation), then give every submodule back
    its own mode, also on error."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


def refuse_stateful(model: nn.Module) -> None:
    """Raise ``ValueError`` for a module holding state between calls (``stateful=True``, as Keras's
    recurrent layers): a graph has no memory of its previous run."""
    for name, module in model.named_modules():
        if getattr(module, "stateful", False) is True:
            raise ValueError(
                f"to_onnx cannot export '{name or type(module).__name__}' ({type(module).__name__}) with "
                f"stateful=True: it carries its state from one call to the next, which an exported graph "
                f"cannot hold; export a copy built with stateful=False and the same weights"
            )
