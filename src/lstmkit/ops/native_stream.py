"""Streaming inference with the native kernel: one compiled call per LSTM step.

For a model that consumes one time step at a time (online forecasting, a live sensor feed), the per-call
cost decides the speed: ``torch.nn.LSTMCell`` spends tens of microseconds in dispatch for a step that
is a few microseconds of arithmetic. :class:`NativeCellStep` packs the weights once (again only when they
change) and runs each step, input projection included, in one native call::

    a_t = LN_ih(W_ih x_t) + b_ih + b_hh + LN_hh(W_hh h_{t-1})
    (i, f, g, o, c_t, h_t) as in :mod:`lstmkit.ops.reference` (peephole, layer norm, coupled gates, W_hr)

Steps do not record autograd (they are for inference); train with ``lstmkit.nn.LSTM``.

Example:
    >>> import torch
    >>> from lstmkit.ops.native import native_available
    >>> from lstmkit.ops.native_stream import NativeCellStep, NativeStream
    >>> cell = torch.nn.LSTMCell(8, 16)
    >>> if native_available():
    ...     stream = NativeStream(NativeCellStep.from_module(cell), batch=1)
    ...     h = stream.step(torch.randn(1, 8))
    ...     print(tuple(h.shape))
    ... else:
    ...     print((1, 16))
    (1, 16)
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from lstmkit.ops import native_layout as lay
from lstmkit.ops.native import native_module
from lstmkit.ops.types import LSTMState, layer_norm_parts
from lstmkit.utils.validation import check_positive_int

_FIELDS = (
    "weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr", "weight_peephole",
    "ln_weight_ih", "ln_bias_ih", "ln_weight_hh", "ln_bias_hh", "ln_weight_c", "ln_bias_c",
)  # fmt: skip


def _layer_norm_views(ln_affine: Tensor) -> dict[str, Tensor]:
    """The six layer-norm vectors of a packed ``ln_affine`` by :class:`NativeCellStep`'s names (detached
    views of its memory)."""
    ln = layer_norm_parts(ln_affine.detach())
    return {
        "ln_weight_ih": ln.ih_weight, "ln_bias_ih": ln.ih_bias, "ln_weight_hh": ln.hh_weight,
        "ln_bias_hh": ln.hh_bias, "ln_weight_c": ln.c_weight, "ln_bias_c": ln.c_bias,
    }  # fmt: skip


def plain_cpu(dtype: torch.dtype, x: Any, h: Any, c: Any) -> bool:
    """Whether all three are contiguous CPU tensors of ``dtype``, not subclasses, without a lazy negation
    (``z.conj().imag``): what a step reads as is.

    Plain attribute reads and flag tests only (~1 us for the three): the streaming paths check this before
    their general checks, which name what is wrong.
    """
    if type(x) is not Tensor or type(h) is not Tensor or type(c) is not Tensor:
        return False
    if x.dtype is not dtype or h.dtype is not dtype or c.dtype is not dtype:
        return False
    if not (x.is_cpu and h.is_cpu and c.is_cpu):
        return False
    if x.is_neg() or h.is_neg() or c.is_neg():
        return False
    return x.is_contiguous() and h.is_contiguous() and c.is_contiguous()


class Packing:
    """One packing of a step's weights: the packed buffers, the sizes and dtype they were packed for, and
    the native plans compiled against their addresses (one per batch size).

    A step reads one packing from its checks to its run (a local reference), so a repack in another thread
    installs a new packing without freeing or resizing the buffers a call in flight reads.
    """

    __slots__ = ("buffers", "dim_head", "dtype", "fw_addr", "hidden", "inputs", "module", "plans", "rsize",
                 "sizes", "step_addr", "untracked", "versions")  # fmt: skip

    def __init__(self, module: Any, buffers: list[Tensor], step_buffers: list[Tensor], dim_head: list[int],
                 dtype: torch.dtype, inputs: int, hidden: int, rsize: int) -> None:  # fmt: skip
        self.module, self.buffers = module, [*buffers, *step_buffers]
        self.fw_addr = [b.data_ptr() for b in buffers]
        self.step_addr = [b.data_ptr() for b in step_buffers]
        self.dim_head, self.dtype = dim_head, dtype
        self.inputs, self.hidden, self.rsize = inputs, hidden, rsize
        self.sizes = (dtype, inputs, hidden, rsize)  # what a caller's operands are compared with at once
        self.untracked = False
        self.versions: tuple[tuple[int, int], ...] = ()
        self.plans: dict[int, Any] = {}  # batch -> the compiled StepPlan (on this packing's addresses)

    def accepts(self, x: Any, h: Any, c: Any) -> bool:
        """Whether ``x`` ``(B, I)``, ``h`` ``(B, R)``, ``c`` ``(B, H)`` are read as they are: see
        :meth:`NativeCellStep.accepts`."""
        if not plain_cpu(self.dtype, x, h, c):
            return False
        shape = x.shape
        return (
            len(shape) == 2
            and shape[1] == self.inputs
            and h.shape == (shape[0], self.rsize)
            and c.shape == (shape[0], self.hidden)
        )

    def check(self, x: Tensor, h: Tensor, c: Tensor) -> None:
        """``ValueError`` naming what differs unless ``x`` ``(B, I)``, ``h`` ``(B, R)``, ``c`` ``(B, H)``
        are CPU tensors of the packed dtype and sizes, made readable (``native_layout.readable``)."""
        batch = x.shape[0] if x.dim() == 2 else "B"
        for name, value, size in (("x", x, self.inputs), ("h", h, self.rsize), ("c", c, self.hidden)):
            shape = tuple(value.shape)
            if shape == (batch, size) and value.dtype == self.dtype and value.is_cpu:
                assert value.is_contiguous() and not value.is_neg(), "operands are made readable first"
                continue
            raise ValueError(
                f"{name} must be a CPU {self.dtype} tensor of shape ({batch}, {size}), the sizes of the "
                f"weights as packed (I={self.inputs}, H={self.hidden}, R={self.rsize}), got a "
                f"{value.device} {value.dtype} tensor of shape {shape}; a weight changed shape or dtype "
                "since the module was built (a .data swap?): give it the module's sizes"
            )

    def step(self, x: Tensor, h: Tensor, c: Tensor) -> LSTMState:
        """One step on operands :meth:`accepts` or :meth:`check` passed."""
        # empty_like: ~1.1 us each at batch 1, half of torch.empty with a shape and dtype to parse; slicing
        # one shared buffer into two views costs more
        h_out, c_out = torch.empty_like(h), torch.empty_like(c)
        self.run(x.shape[0], x.data_ptr(), h.data_ptr(), c.data_ptr(), h_out.data_ptr(), c_out.data_ptr())
        return h_out, c_out

    def run(self, batch: int, x: int, h: int, c: int, h_out: int, c_out: int) -> None:
        """One step on raw buffer addresses: contiguous ``x`` ``(B, I)``, ``h`` and ``h_out`` ``(B, R)``,
        ``c`` and ``c_out`` ``(B, H)`` of this packing's dtype and sizes, which the caller has checked
        and keeps alive (``LSTM.step`` lays several layers' states out in one tensor)."""
        plan = self.plans.get(batch)
        if plan is None:  # the sizes and packed weights' addresses, converted once per batch size
            tail = [0, 0, 0, 0, 0, 1, 0, 0, 0, 0]  # no masks or lengths, keep nothing, 1 thread, xg given
            dims = [*self.dim_head[:1], batch, *self.dim_head[2:], *tail]
            w_ih, bias, ln_w, ln_b = self.step_addr
            sp = [0, w_ih, bias, ln_w, ln_b, 0, self.inputs]
            f64 = self.dtype == torch.float64
            plan = self.plans[batch] = self.module.step_plan(f64, dims, self.fw_addr, sp)
        plan.run(x, h, c, h_out, c_out)


class NativeCellStep:
    """``(h_t, c_t) = step(x_t, (h_{t-1}, c_{t-1}))`` in one native call, float32 or float64 on CPU.

    Args:
        weight_ih: input weights ``(4H, I)``; every other tensor takes its dtype.
        weight_hh: recurrent weights ``(4H, R)``.
        bias_ih, bias_hh: biases ``(4H,)`` or ``None``.
        weight_hr: projection ``(R, H)`` or ``None``.
        weight_peephole: peephole weights ``(3, H)`` or ``None``.
        ln_weight_ih, ln_bias_ih, ln_weight_hh, ln_bias_hh, ln_weight_c, ln_bias_c: layer-norm gains and
            biases (all three gains or none).
        ln_affine: instead of those six, lstmkit's packed layer-norm parameter ``(2, 9H)``; the step then
            follows it through dtype changes and replacements of its memory.
        coupled_gates: ``f = 1 - i``.

    Raises:
        RuntimeError: the compiled extension is missing.
        TypeError, ValueError: a tensor of the wrong type, dtype, device or shape.
    """

    def __init__(self, weight_ih: Tensor, weight_hh: Tensor, bias_ih: Tensor | None = None,
                 bias_hh: Tensor | None = None, *, weight_hr: Tensor | None = None,
                 weight_peephole: Tensor | None = None, ln_weight_ih: Tensor | None = None,
                 ln_bias_ih: Tensor | None = None, ln_weight_hh: Tensor | None = None,
                 ln_bias_hh: Tensor | None = None, ln_weight_c: Tensor | None = None,
                 ln_bias_c: Tensor | None = None, ln_affine: Tensor | None = None,
                 coupled_gates: bool = False) -> None:  # fmt: skip
        self._module = native_module()
        self._tensors: dict[str, Tensor | None] = {
            "weight_ih": weight_ih, "weight_hh": weight_hh, "bias_ih": bias_ih, "bias_hh": bias_hh,
            "weight_hr": weight_hr, "weight_peephole": weight_peephole, "ln_weight_ih": ln_weight_ih,
            "ln_bias_ih": ln_bias_ih, "ln_weight_hh": ln_weight_hh, "ln_bias_hh": ln_bias_hh,
            "ln_weight_c": ln_weight_c, "ln_bias_c": ln_bias_c,
        }  # fmt: skip
        self.coupled_gates = bool(coupled_gates)
        self._present = [v for v in self._tensors.values() if v is not None]
        # lstmkit's cells keep the six vectors packed in one parameter: the step follows that parameter
        # (its version and address), whose views are taken again at every repack; views taken once would
        # keep reading the old memory after .double() or a .data swap
        self._ln_affine = ln_affine
        if ln_affine is not None:
            if any(name.startswith("ln_") for name, v in self._tensors.items() if v is not None):
                raise ValueError("NativeCellStep takes ln_affine or the six layer-norm vectors, not both")
            if not isinstance(ln_affine, Tensor):
                raise TypeError(f"ln_affine must be a torch.Tensor, got {type(ln_affine).__name__}")
            self._present.append(ln_affine)
            self._tensors |= _layer_norm_views(ln_affine)
        self._packing = self._pack()

    @classmethod
    def from_module(cls, cell: Any) -> NativeCellStep:
        """Build from an ``LSTMCell`` (torch's or lstmkit's): parameters are read by their names."""
        tensors: dict[str, Any] = {name: getattr(cell, name, None) for name in (*_FIELDS, "ln_affine")}
        return cls(**tensors, coupled_gates=bool(getattr(cell, "coupled_gates", False)))

    @property
    def input_size(self) -> int:
        return self._packing.inputs

    @property
    def hidden_size(self) -> int:
        return self._packing.hidden

    @property
    def state_size(self) -> int:
        return self._packing.rsize

    @property
    def dtype(self) -> torch.dtype:
        return self._packing.dtype

    def _check(self) -> tuple[int, int, int]:
        """The weights' ``(H, I, R)``, or ``TypeError``/``ValueError`` naming the one that is wrong."""
        w_ih, w_hh = self._tensors["weight_ih"], self._tensors["weight_hh"]
        if not isinstance(w_ih, Tensor) or not isinstance(w_hh, Tensor):
            raise TypeError("NativeCellStep needs weight_ih and weight_hh as torch.Tensor")
        if w_ih.dtype not in (torch.float32, torch.float64) or w_ih.device.type != "cpu":
            raise TypeError(f"NativeCellStep runs float32/float64 on CPU, got {w_ih.dtype} on {w_ih.device}")
        if w_ih.dim() != 2 or w_ih.shape[0] % 4 or w_ih.shape[0] == 0 or w_ih.shape[1] == 0:
            raise ValueError(f"weight_ih must have shape (4H, I) with H, I >= 1, got {tuple(w_ih.shape)}")
        hidden, inputs = w_ih.shape[0] // 4, w_ih.shape[1]
        w_hr = self._tensors["weight_hr"]
        rsize = hidden
        if w_hr is not None:
            if not isinstance(w_hr, Tensor) or w_hr.dim() != 2 or w_hr.shape[0] == 0:
                shape = tuple(w_hr.shape) if isinstance(w_hr, Tensor) else type(w_hr).__name__
                raise ValueError(f"weight_hr must have shape (R, {hidden}) with R >= 1, got {shape}")
            rsize = w_hr.shape[0]
        expected = {
            "weight_hh": (4 * hidden, rsize), "bias_ih": (4 * hidden,), "bias_hh": (4 * hidden,),
            "weight_hr": (rsize, hidden), "weight_peephole": (3, hidden), "ln_weight_ih": (4 * hidden,),
            "ln_bias_ih": (4 * hidden,), "ln_weight_hh": (4 * hidden,), "ln_bias_hh": (4 * hidden,),
            "ln_weight_c": (hidden,), "ln_bias_c": (hidden,),
        }  # fmt: skip
        for name, shape in expected.items():
            value = self._tensors[name]
            if value is None:
                continue
            if not isinstance(value, Tensor) or tuple(value.shape) != shape or value.dtype != w_ih.dtype:
                is_tensor = isinstance(value, Tensor)
                got = f"{value.dtype} {tuple(value.shape)}" if is_tensor else type(value).__name__
                raise ValueError(f"{name} must be a {w_ih.dtype} tensor of shape {shape}, got {got}")
        gains = [self._tensors[n] is None for n in ("ln_weight_ih", "ln_weight_hh", "ln_weight_c")]
        if len(set(gains)) != 1:
            raise ValueError("layer norm needs all of ln_weight_ih, ln_weight_hh and ln_weight_c, or none")
        return hidden, inputs, rsize

    def _pack(self) -> Packing:
        """Check the weights and pack them into the kernel's padded layout (again whenever one of them
        changed); installs and returns the new :class:`Packing`."""
        hidden, inputs, rsize = self._check()
        # read before packing: a change made while packing (another thread) is then seen at the next step.
        # Tensors made under torch.inference_mode() (here, or since: cell.double() inside it) have no
        # version counter: their in-place changes are invisible, so such weights are repacked every step
        untracked = any(v.is_inference() for v in self._present)
        versions = () if untracked else self._current_versions()
        t = self._tensors
        w_ih, w_hh = t["weight_ih"], t["weight_hh"]
        assert w_ih is not None and w_hh is not None
        dtype = w_ih.dtype
        lanes = int(self._module.lanes(w_ih.element_size()))
        hp, rp = lay.round_up(hidden, lanes), lay.round_up(rsize, lanes)
        width = int(self._module.panel(w_ih.element_size()))
        with torch.no_grad():
            layer_norm = t["ln_weight_ih"] is not None
            gate_columns = lay.gate_columns(hidden, hp, lanes, dense=not layer_norm)
            entries, counts = lay.cell_vectors(
                t["weight_peephole"], t["ln_weight_hh"], t["ln_bias_hh"], t["ln_weight_c"], t["ln_bias_c"]
            )
            # then the input side step_all adds: b_ih + b_hh (zeros without biases) and LN_ih's gain, bias
            g_ih = 4 if layer_norm else 0
            entries += [(t["bias_ih"], t["bias_hh"]), t["ln_weight_ih"], t["ln_bias_ih"]]
            vectors = lay.pack_vectors(entries, [*counts, 4, g_ih, g_ih], hp, dtype)
            step_buffers = [
                lay.pack_w_hh_t(w_ih, (hp, 4 * hp), width),  # W_ihᵀ (I, 4Hp), padded gates (step_all)
                *vectors[5:],
            ]
            none = lay.empty(dtype)
            fw = [
                none, none, none,  # xg, h0, c0: set per step
                lay.pack_w_hh_t(w_hh, gate_columns, width),
                lay.pack_w_hr_t(t["weight_hr"], rp, width) if t["weight_hr"] is not None else none,
                *vectors[:5],
                *([none] * 23),  # masks, lengths, y (per step), state buffers (kernel scratch), projection
            ]  # fmt: skip
        flags = [t["weight_hr"] is not None, t["weight_peephole"] is not None, layer_norm, self.coupled_gates]
        dim_head = [1, 0, hidden, rsize, hp, rp, *map(int, flags)]
        packing = Packing(self._module, fw, step_buffers, dim_head, dtype, inputs, hidden, rsize)
        packing.untracked, packing.versions = untracked, versions
        self._packing = packing
        return packing

    def _current_versions(self) -> tuple[tuple[int, int], ...]:
        return tuple([(v._version, v.data_ptr()) for v in self._present])

    def __call__(self, x: Tensor, state: LSTMState | None = None) -> LSTMState:
        """One step: ``x`` ``(B, I)``, ``state`` ``(h (B, R), c (B, H))`` or ``None`` for zeros.

        Returns:
            The new ``(h (B, R), c (B, H))``.
        """
        out = self.try_step(x, state)  # refreshes the weights first
        if out is not None:
            return out
        p = self._packing
        if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[1] != p.inputs or x.dtype != p.dtype:
            got = f"{x.dtype} {tuple(x.shape)}" if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"x must be a {p.dtype} tensor of shape (B, {p.inputs}), got {got}")
        batch = x.shape[0]
        if state is None:
            h = x.new_zeros((batch, p.rsize))
            c = x.new_zeros((batch, p.hidden))
        else:
            if not isinstance(state, tuple | list) or len(state) != 2:
                raise TypeError(f"state must be a tuple (h, c) or None, got {type(state).__name__}")
            h, c = state
            for name, value, size in (("h", h, p.rsize), ("c", c, p.hidden)):
                if not isinstance(value, Tensor) or value.shape != (batch, size) or value.dtype != p.dtype:
                    got = f"{value.dtype} {tuple(value.shape)}" if isinstance(value, Tensor) else type(value)
                    raise ValueError(
                        f"{name} must be a {p.dtype} tensor of shape ({batch}, {size}), got {got}"
                    )
        if not (x.is_cpu and h.is_cpu and c.is_cpu):
            raise ValueError("NativeCellStep runs on CPU tensors only")
        return p.step(lay.readable(x), lay.readable(h), lay.readable(c))

    def accepts(self, x: Any, h: Any, c: Any) -> bool:
        """Whether a step can read ``x`` ``(B, I)``, ``h`` ``(B, R)``, ``c`` ``(B, H)`` as they are.

        True for contiguous CPU tensors (not subclasses, no lazy negation) of the packed dtype and sizes;
        callers check anything else on their own general path, which names what is wrong. Call
        :meth:`refresh` first: a module converted to another dtype changes what is accepted.
        """
        return self._packing.accepts(x, h, c)

    def try_step(self, x: Any, state: Any) -> LSTMState | None:
        """The step if :meth:`accepts` the input and ``(h, c)`` (weights refreshed first), else ``None``.

        For modules whose general path checks and converts everything else with their own messages.
        """
        p = self.refresh()
        if type(state) is not tuple or len(state) != 2:
            return None
        h, c = state
        return p.step(x, h, c) if p.accepts(x, h, c) else None

    def step_checked(self, x: Tensor, h: Tensor, c: Tensor) -> LSTMState:
        """One step on CPU tensors the caller has checked against its module: ``x`` ``(B, I)``, ``h``
        ``(B, R)``, ``c`` ``(B, H)``.

        Weights changed since the last call are repacked first; the operands are then made readable
        (contiguous, negation applied) and checked against the packed sizes and dtype, which differ from
        the module's when a weight changed shape or dtype (``ValueError`` naming both).
        """
        p = self.refresh()
        if p.accepts(x, h, c):  # the common case: plain tensors of the packed sizes, read as they are
            return p.step(x, h, c)
        x, h, c = lay.readable(x), lay.readable(h), lay.readable(c)
        p.check(x, h, c)
        return p.step(x, h, c)

    def refresh(self, force: bool = False) -> Packing:
        """Re-check and repack the weights if any changed (in place or replaced) since they were packed;
        returns the current :class:`Packing`.

        Changes are seen through the tensors' version counters and addresses; an in-place edit through
        ``.data`` (``w.data.copy_(...)``) bypasses the version counter, so after one pass ``force=True``
        (or call :func:`repack` on the module).
        """
        p = self._packing
        if force or p.untracked or self._current_versions() != p.versions:
            if self._ln_affine is not None:
                self._tensors |= _layer_norm_views(self._ln_affine)
            p = self._pack()
        return p


class NativeStream:
    """A stateful stream: ``h_t = stream.step(x_t)`` keeps ``(h, c)`` between calls.

    Args:
        cell: the step to run.
        batch: number of parallel streams ``B``.
    """

    def __init__(self, cell: NativeCellStep, batch: int = 1) -> None:
        if not isinstance(cell, NativeCellStep):
            raise TypeError(
                f"NativeStream expects a NativeCellStep, got {type(cell).__name__}; wrap the cell with "
                f"NativeCellStep.from_module(cell)"
            )
        self.cell, self.batch = cell, check_positive_int("NativeStream batch", batch)
        self.state: LSTMState = self._zeros()

    def _zeros(self) -> LSTMState:
        dtype = self.cell.dtype
        return (
            torch.zeros((self.batch, self.cell.state_size), dtype=dtype),
            torch.zeros((self.batch, self.cell.hidden_size), dtype=dtype),
        )

    def reset(self) -> None:
        """Start every stream again from zero state."""
        self.state = self._zeros()

    def step(self, x: Tensor) -> Tensor:
        """Advance every stream by one step with ``x`` ``(B, I)``; returns ``h_t`` ``(B, R)``.

        Raises:
            ValueError: ``x`` is not ``(B, I)`` of the cell's dtype, or the cell's weights changed dtype or
                size since the state was made (call :meth:`reset`).
        """
        state = self.cell.try_step(x, self.state)
        if state is None:  # the general path: name what is wrong, else convert (e.g. a strided x)
            self._check(x)
            state = self.cell(x, self.state)
        self.state = state
        return state[0]

    def _check(self, x: Any) -> None:
        p, (h, c) = self.cell._packing, self.state
        if h.dtype != p.dtype or tuple(h.shape) != (self.batch, p.rsize) or c.shape[1] != p.hidden:
            raise ValueError(
                f"NativeStream state is {h.dtype} with (B, R, H) = ({self.batch}, {h.shape[1]}, "
                f"{c.shape[1]}), but its cell's weights are now {p.dtype} with R={p.rsize}, H={p.hidden} "
                "(converted or replaced since the state was made); call reset() to start from zeros"
            )
        if isinstance(x, Tensor) and x.dim() == 2 and x.shape[0] != self.batch:
            raise ValueError(
                f"NativeStream runs {self.batch} streams: expected x of shape ({self.batch}, {p.inputs}), "
                f"got {tuple(x.shape)}"
            )
