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
    its own mode, also on error. A submodule created meanwhile (a lazy layer built by a forward pass) gets
    its parent's mode, as if it had been built outside."""
    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        yield
    finally:
        _give_back_modes(model, modes, modes[model])


def _give_back_modes(module: nn.Module, modes: dict[nn.Module, bool], parent: bool) -> None:
    module.training = modes.get(module, parent)
    for child in module.children():
        _give_back_modes(child, modes, module.training)


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


def refuse_masks(model: nn.Module) -> None:
    """Raise ``ValueError`` for a module that makes a mask from the values of its input (Keras's ``Masking``,
    ``Embedding(mask_zero=True)``): the mask turns into sequence lengths through value tests that an
    exported graph does not follow. Recognized by Keras's mask protocol (``compute_mask``) with a
    ``mask_value`` or ``mask_zero=True``: ``lstmkit.export`` sits below the Keras face, so it does not
    import those layers."""
    for name, module in model.named_modules():
        makes_mask = hasattr(module, "mask_value") or getattr(module, "mask_zero", False) is True
        if makes_mask and callable(getattr(module, "compute_mask", None)):
            label = getattr(module, "name", None)
            label = label if isinstance(label, str) else name or type(module).__name__
            raise ValueError(
                f"to_onnx cannot export '{label}' ({type(module).__name__}): its mask turns into sequence "
                f"lengths that depend on the values of the input, which an exported graph does not follow; "
                f"export a model without masking (a network that takes the lengths as a second input, as the "
                f"classify kit's do, exports fine)"
            )
