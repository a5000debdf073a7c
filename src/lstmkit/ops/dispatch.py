"""Choosing an implementation of the recurrence: an explicit, testable capability check.

Backends:
    ``"torch"``: PyTorch's own kernel (oneDNN on CPU, cuDNN on CUDA); plain LSTMs only.
    ``"native"``: lstmkit's compiled CPU time loop under the fused autograd function.
    ``"fused"``: the same autograd function with the eager PyTorch time loop; any device, every variant.
    ``"reference"``: the readable step function under ordinary autograd; the oracle.
    ``"auto"``: the fastest of these that supports the configuration (:func:`select_backend`).
"""

from __future__ import annotations

import functools
import importlib
import logging
from dataclasses import dataclass

import torch
from torch import Tensor

from lstmkit.ops import reference, scan
from lstmkit.ops.fused import EAGER, fused_recurrence
from lstmkit.ops.types import RecurrenceInputs, RecurrenceKernel, RecurrenceParams

_log = logging.getLogger(__name__)

BACKENDS = ("auto", "torch", "native", "fused", "reference")
NATIVE_DTYPES = (torch.float32, torch.float64)


@dataclass(frozen=True)
class Variant:
    """The options of a layer that decide which backends can run it."""

    peephole: bool = False
    layer_norm: bool = False
    coupled_gates: bool = False
    recurrent_dropout: bool = False
    zoneout: bool = False

    @property
    def plain(self) -> bool:
        """True when the layer is a standard LSTM that ``torch.nn.LSTM`` computes too."""
        return not (
            self.peephole or self.layer_norm or self.coupled_gates or self.recurrent_dropout or self.zoneout
        )


def native_kernel() -> RecurrenceKernel | None:
    """The compiled CPU kernel, or ``None`` when the extension was not built."""
    if not _KERNEL:  # found once (a list, not functools.cache: torch.compile traces this and warns on caches)
        try:
            module = importlib.import_module("lstmkit.ops.native")
        except ImportError:
            _KERNEL.append(None)
        else:
            _KERNEL.append(getattr(module, "KERNEL", None))
    return _KERNEL[0]


_KERNEL: list[RecurrenceKernel | None] = []


def native_status() -> str:
    """One line saying whether the native kernel is active, and if not, why."""
    try:
        module = importlib.import_module("lstmkit.ops.native")
    except ImportError as err:
        return f"unavailable ({err})"
    reason: str | None = getattr(module, "UNAVAILABLE_REASON", None)
    return "active" if reason is None else f"unavailable ({reason})"


@functools.lru_cache(maxsize=512)  # pure in its arguments; per-step callers (streaming) pay once
def select_backend(
    requested: str,
    variant: Variant,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
    tracing: bool = False,
) -> str:
    """Resolve ``requested`` to the backend that will run, or raise if it cannot run this configuration.

    ``"auto"`` takes the native kernel wherever it runs (CPU, float32 or float64, extension built), the
    plain LSTM included: measured with ``benchmarks/speed.py`` (2 threads, medians, ratio to
    ``torch.nn.LSTM`` in the same run) it trains in 0.45-0.89x torch's time and infers in 0.24-1.02x at C1-C3,
    and every variant runs 1.6-2.4x faster than on the fused eager loop. Elsewhere (CUDA, bfloat16, no
    compiler at install) the plain LSTM runs on torch's kernel and variants on the fused loop.

    Under ``torch.jit.trace`` or a ``torch.func`` transform (``tracing``: :func:`recording`), ``"auto"``
    takes what they can record or transform, torch's kernel for the plain LSTM and the reference loop of
    torch operations for variants: the native kernel and the fused loop run outside the operations they
    see (a traced native call replays as the empty buffers it would have filled; ``torch.func.grad`` and
    ``vmap`` refuse the hand-written autograd functions), so asking for either by name there is an error.

    Args:
        requested: one of :data:`BACKENDS`.
        variant: the layer's options.
        device: where the tensors live.
        dtype: their floating-point type.
        tracing: whether the call is recorded or transformed (:func:`recording`).

    Returns:
        ``"torch"``, ``"native"``, ``"fused"`` or ``"reference"``.

    Raises:
        ValueError: unknown name, or a backend that cannot run this configuration.
    """
    if requested not in BACKENDS:
        raise ValueError(f"unknown backend {requested!r}; expected one of {', '.join(map(repr, BACKENDS))}")
    if requested == "torch" and not variant.plain:
        raise ValueError(
            f"backend='torch' runs only the plain LSTM, got {variant}; "
            "use backend='fused' or 'auto' for variants"
        )
    if requested == "native":
        reason = _native_unsupported(device)
        if reason is not None:
            raise ValueError(f"backend='native' is unavailable: {reason}; use backend='fused' or 'auto'")
    if tracing:
        if requested in ("native", "fused"):
            raise ValueError(
                f"backend={requested!r} cannot run under torch.jit.trace or a torch.func transform (both see "
                "only torch operations, and it runs outside them); use backend='auto', which runs torch's "
                "kernel or the reference loop there"
            )
        return ("torch" if variant.plain else "reference") if requested == "auto" else requested
    if requested != "auto":
        return requested
    if _native_unsupported(device) is None and dtype in NATIVE_DTYPES:
        return "native"
    if variant.plain:
        return "torch"
    return "fused"


@functools.lru_cache(maxsize=512)
def select_step_backend(
    requested: str, variant: Variant, device: torch.device, grad: bool, tracing: bool = False
) -> str:
    """Like :func:`select_backend`, for one streaming step (``LSTMCell``, ``LSTM.step``).

    Without autograd, ``"auto"`` takes the native kernel wherever it is built, plain LSTMs included: one
    native call per step beats torch's ``lstm_cell`` at batch 1 (C4 in ``benchmarks/speed.py``: about 16
    against 28-34 us per step). With autograd a plain step runs torch's ``lstm_cell``; otherwise, or where
    native cannot run, it is :func:`select_backend`.
    """
    resolved = select_backend(requested, variant, device, tracing=tracing)
    if requested != "auto" or tracing:
        return resolved
    if not grad and _native_unsupported(device) is None:  # the dtype is checked per call
        return "native"
    return "torch" if variant.plain else resolved  # one step with autograd: torch's lstm_cell


def recording() -> bool:
    """Whether torch operations are being recorded or transformed rather than only run: under
    ``torch.jit.trace`` or a ``torch.func`` transform (``grad``, ``vmap``, ``jacrev``, ...), where only a
    backend made of torch operations can run (:func:`select_backend`). ``False`` while ``torch.compile``
    traces, which runs the native and fused backends outside its graph (``torch.compiler.disable``)."""
    if torch.compiler.is_compiling():
        return False
    return traced()


def traced() -> bool:
    """:func:`recording` for a caller that has ruled out ``torch.compile`` itself (a streaming step, per
    call: ~0.2 us, where ``torch.jit.is_tracing()`` alone took 0.27)."""
    return bool(_is_tracing() or _functorch_active())


_is_tracing = torch._C._is_tracing  # what torch.jit.is_tracing() reads, without its Python frame
_functorch_active = getattr(torch._C, "_are_functorch_transforms_active", lambda: False)


def resolve_backend(requested: str, variant: Variant, device: torch.device, dtype: torch.dtype) -> str:
    """:func:`select_backend` for a module's forward, with :func:`recording` read now; under
    ``torch.compile`` its uncached body (dynamo traces through ``lru_cache`` with a warning, and folds the
    body to a constant anyway)."""
    if torch.compiler.is_compiling():
        return str(select_backend.__wrapped__(requested, variant, device, dtype, False))
    return select_backend(requested, variant, device, dtype, traced())


def is_exporting() -> bool:
    """Whether ``torch.export`` is tracing the current call (``torch.onnx.export``'s default exporter runs
    it): tensors then have symbolic sizes and no values."""
    check = getattr(torch.compiler, "is_exporting", None)  # (absent before torch 2.3)
    return bool(check is not None and check())


def _native_unsupported(device: torch.device) -> str | None:
    if device.type != "cpu":
        return f"it runs on CPU only, got device {device}"
    if native_kernel() is None:
        return native_status()
    return None


def run_recurrence(
    backend: str, inputs: RecurrenceInputs, params: RecurrenceParams, *, coupled_gates: bool
) -> tuple[Tensor, Tensor, Tensor]:
    """Run one layer and direction with a resolved backend (``"native"``, ``"fused"`` or ``"reference"``).

    Under ``torch.export`` (``torch.compiler.is_exporting()``, as in ``torch.onnx.export``'s default
    exporter) the reference loop runs as one ``scan`` over time (:mod:`lstmkit.ops.scan`), which the export
    keeps as a loop over a symbolic number of steps instead of unrolling it, where this PyTorch has it.
    """
    if backend == "reference":
        if scan.AVAILABLE and is_exporting():
            return scan.recurrence(inputs, params, coupled_gates=coupled_gates)
        return reference.recurrence(inputs, params, coupled_gates=coupled_gates)
    kernel: RecurrenceKernel = EAGER
    if backend == "native":
        native = native_kernel()
        assert native is not None, "select_backend() checked availability"
        reason = native.supports(inputs, params)
        if reason is not None:
            _log.debug("native kernel cannot run this call (%s); using the eager loop", reason)
        kernel = native if reason is None else EAGER
    return fused_recurrence(inputs, params, coupled_gates=coupled_gates, kernel=kernel)
