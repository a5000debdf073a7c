"""The native CPU time loop: a :class:`~lstmkit.ops.types.RecurrenceKernel` backed by compiled C++.

The kernel computes the equations of :mod:`lstmkit.ops.reference` (every variant: peephole, layer norm,
coupled gates, projection, recurrent dropout, zoneout, lengths) in ``csrc/`` (no PyTorch headers; built by
``pip install -e .`` into ``lstmkit.ops._native``). Per step it runs one small register-blocked GEMM on
packed recurrent weights and one vectorized pass over the gates, with the instruction set (AVX-512, AVX2,
portable) chosen at run time, denormals flushed inside its threads, and the batch split between up to
``torch.get_num_threads()`` threads. The weight gradients are cache-blocked GEMMs over all steps after
the backward loop, in the same call (``csrc/gemm_tn.h``).

Implementation notes:
    Internal buffers are padded (see :mod:`lstmkit.ops.native_layout`); the saved tuple is opaque to callers.

Example:
    >>> import torch
    >>> from lstmkit.ops.native import KERNEL, native_available, native_unavailable_reason
    >>> from lstmkit.ops.types import RecurrenceInputs, RecurrenceParams
    >>> native_available() == (native_unavailable_reason() is None)
    True
    >>> inputs = RecurrenceInputs(torch.zeros(3, 2, 8), torch.zeros(2, 2), torch.zeros(2, 2))
    >>> params = RecurrenceParams(torch.zeros(8, 2))
    >>> KERNEL is None or KERNEL.forward(inputs, params, False, False)[0].shape == (3, 2, 2)
    True
"""

from __future__ import annotations

import importlib
import math
from types import ModuleType
from typing import NamedTuple

import torch
from torch import Tensor

from lstmkit.ops import native_layout as lay
from lstmkit.ops.native_bf16 import bf16_panels, check_bf16
from lstmkit.ops.native_checks import check_recurrence, check_saved, check_upstream
from lstmkit.ops.native_pool import POOL
from lstmkit.ops.types import LayerNormParts, RecurrenceGrads, RecurrenceInputs, RecurrenceParams


class InputProjection(NamedTuple):
    """The input side of the gates, run inside the native loop: ``xg_t = W_ih x_t + bias``.

    Without layer norm the step GEMM reads ``[x_t, 1, h_{t-1}]`` against ``[W_ihᵀ; bias; W_hhᵀ]``, so the
    ``(T, B, 4H)`` gate inputs are never written to memory, and the backward returns ``dx`` from the same
    per-step GEMM that gives ``dh_{t-1}``. With layer norm, ``xg_t = LN_ih(W_ih x_t) + bias`` from a
    second small GEMM per step, normalized in the loop. The same tuple carries the gradients.

    Attributes:
        x: the layer's input ``(T, B, I)``.
        w_ih: input weights ``(4H, I)``.
        bias: ``b_ih + b_hh`` ``(4H,)``, or ``None``.
        ln_weight: gain of ``LN_ih`` ``(4H,)`` (layer norm only), else ``None``.
        ln_bias: bias of ``LN_ih`` ``(4H,)``, or ``None``.
    """

    x: Tensor
    w_ih: Tensor
    bias: Tensor | None
    ln_weight: Tensor | None = None
    ln_bias: Tensor | None = None

    def with_layer_norm(self, ln: LayerNormParts) -> InputProjection:
        """This projection with the input norm of ``ln``."""
        return self._replace(ln_weight=ln.ih_weight, ln_bias=ln.ih_bias)


KEEP_LN_GATES_BYTES = 8 << 20
"""Layer norm with the input projection inside keeps its gates for the backward up to this many bytes of
them, and above it the backward recomputes them from x̂_hh, x̂_ih, the gains and the bias. Measured in
paired one-thread runs of a forward and backward: keeping them took 7-12% off the backward at C1 (3.3 MB of
gates; the recomputation waits on memory there), and cost 4% at C3 (16 MB) and 0.5% at C2 (26 MB), where
writing and reading them back costs more than the activations."""

MIN_ROWS_PER_THREAD = 4
"""A thread gets at least this many batch rows; smaller slices cost more to start than they save."""


def _load() -> tuple[ModuleType | None, str | None]:
    try:
        return importlib.import_module("lstmkit.ops._native"), None
    except ImportError as err:
        return None, (
            f"the compiled extension lstmkit.ops._native is not built ({err}); "
            "install with a C++ compiler (`pip install -e .`) or run `python setup.py build_ext --inplace`"
        )


_native, _missing_reason = _load()


def native_available() -> bool:
    """Whether the compiled kernel imported."""
    return _native is not None


def native_unavailable_reason() -> str | None:
    """Why the compiled kernel is missing, or ``None`` when it is available."""
    return _missing_reason


def native_module() -> ModuleType:
    """The compiled extension; raises ``RuntimeError`` with the reason when it is missing."""
    if _native is None:
        raise RuntimeError(f"backend='native' is unavailable: {_missing_reason}")
    return _native


def native_isa() -> str | None:
    """The instruction set the kernel runs (``'avx512'``, ``'avx2'``, ``'generic'``), ``None`` if missing."""
    return None if _native is None else str(_native.isa())


def _threads(batch: int) -> int:
    return max(1, min(torch.get_num_threads(), batch // MIN_ROWS_PER_THREAD))


def _with_slack(shape: tuple[int, ...], dtype: torch.dtype, lanes: int, pooled: bool) -> Tensor:
    """An uninitialized tensor of ``shape`` followed by ``lanes`` readable elements (csrc/layout.h:
    the weight-gradient GEMM reads the gate gradients in whole vectors); from the pool if ``pooled``."""
    numel = math.prod(shape)
    flat = POOL.empty((numel + lanes,), dtype) if pooled else torch.empty(numel + lanes, dtype=dtype)
    return flat[:numel].view(shape)


def _zoneout_const(inputs: RecurrenceInputs) -> bool:
    """Whether the zoneout weights are one value broadcast over steps and rows (evaluation: ``z = p``,
    an expanded tensor): the kernel then reads one row of each instead of ``(T, B, ·)`` of copies."""
    present = [z for z in (inputs.zoneout_h, inputs.zoneout_c) if z is not None]
    return bool(present) and all(z.dim() == 3 and not any(z.stride()) for z in present)


def _zoneout_rows(z: Tensor | None, const: bool) -> Tensor | None:
    """``z`` as the kernel reads it: its one row when the weights are constant (see ``_zoneout_const``)."""
    return z[:1, :1] if z is not None and const else z


def _dense(t: Tensor) -> Tensor:
    """A row-major copy of ``t`` with the strides a parameter of its shape has, also along a size-1 axis.

    ``t.contiguous()`` returns a transposed ``(4H, 1)`` as it is (strides ``(1, 4H)``, "contiguous" by
    torch's rule for size-1 axes), and a gradient whose strides differ from its parameter's makes
    ``AccumulateGrad`` copy it again and DDP warn that grad strides do not match its bucket views.
    """
    return t.clone(memory_format=torch.contiguous_format)


def _addresses(tensors: list[Tensor]) -> list[int]:
    return [t.data_ptr() for t in tensors]


class NativeKernel:
    """The compiled time loop for CPU float32 and float64 (see the module docstring)."""

    name = "native"

    def supports(self, inputs: RecurrenceInputs, params: RecurrenceParams) -> str | None:
        """``None`` if the native kernel can run these inputs, else the reason it cannot."""
        if _native is None:
            return _missing_reason
        if inputs.xg.device.type != "cpu":
            return f"the native kernel runs on CPU only, got device {inputs.xg.device}"
        if inputs.xg.dtype not in (torch.float32, torch.float64):
            return f"the native kernel runs float32 and float64 only, got {inputs.xg.dtype}"
        if (params.ln_hh_weight is None) != (params.ln_c_weight is None):
            return "the native kernel normalizes both the recurrent pre-activation and the cell, or neither"
        if (params.ln_hh_bias is not None and params.ln_hh_weight is None) or (
            params.ln_c_bias is not None and params.ln_c_weight is None
        ):
            return "the native kernel needs a layer-norm gain wherever it has a layer-norm bias"
        return None

    def forward(
        self,
        inputs: RecurrenceInputs,
        params: RecurrenceParams,
        coupled_gates: bool,
        needs_grad: bool,
        projection: InputProjection | None = None,
        bf16: bool = False,
    ) -> tuple[Tensor, Tensor, Tensor, tuple[Tensor, ...]]:
        """Run the time loop; returns ``(y (T, B, R), h_T (B, R), c_T (B, H), saved)``.

        With ``projection`` the input projection ``xg_t = W_ih x_t + b`` (layer-normed with layer norm)
        runs inside the loop and ``inputs.xg`` is an empty ``(T, B, 0)`` placeholder (see
        :class:`InputProjection`). ``bf16``: float32 whose GEMMs multiply in bfloat16 and sum in float32,
        where :func:`~lstmkit.ops.native_bf16.bf16_available` (else ``ValueError``); its backward is then
        ``bf16`` too (checked there with layer norm, whose saved ``W_ihᵀ`` is packed in bfloat16).
        """
        module = native_module()
        reason = self.supports(inputs, params)
        if reason is not None:
            raise ValueError(reason)
        if bf16:
            check_bf16(inputs.xg.dtype)
        sizes = check_recurrence(inputs, params, projection)
        steps, batch, hidden, rsize = sizes
        if batch == 0:  # e.g. a data-parallel rank with an empty share of the last batch
            empty = inputs.xg.new_zeros((steps, 0, rsize))
            return (
                empty,
                inputs.h0.detach().clone(),
                inputs.c0.detach().clone(),
                (empty,) if needs_grad else (),
            )
        dtype = inputs.xg.dtype
        lanes = int(module.lanes(inputs.xg.element_size()))
        hp, rp = lay.round_up(hidden, lanes), lay.round_up(rsize, lanes)
        proj, ln = params.w_hr is not None, params.layer_norm
        ln_in = ln and projection is not None  # its norms run over dense rows of gw (csrc/lstm_forward.h)
        gw = lay.gate_width(hidden, lanes)
        zc, zconst = inputs.zoneout_c is not None, _zoneout_const(inputs)
        keep = needs_grad
        slots = steps if keep else 1
        new = inputs.xg.new_empty

        def big(*shape: int) -> Tensor:  # internal buffers: reused across calls (native_pool)
            return POOL.empty(shape, dtype)

        none = lay.empty(dtype)
        hs = big(steps + 1 if keep else 2, batch, rp)
        cs = big(steps + 1 if keep else 2, batch, hp)
        # ln_in writes its gates only for a backward that reads them (KEEP_LN_GATES_BYTES)
        gates_bytes = slots * batch * 4 * hp * inputs.xg.element_size()
        write_gates = not ln_in or (keep and gates_bytes <= KEEP_LN_GATES_BYTES)
        gates = big(slots, batch, 4 * hp) if write_gates else none
        th = big(slots, batch, hp)
        ctil = big(slots, batch, hp) if zc else none
        r = inputs.xg.new_zeros((slots, batch, hp)) if proj else none
        xhat_hh = big(slots, batch, gw if ln_in else 4 * hp) if ln else none
        rstd_hh = new((slots, batch)) if ln else none
        mean_c = new((slots, batch)) if ln else none  # x̂_c is recomputed in the backward
        rstd_c = new((slots, batch)) if ln else none
        y = new((steps, batch, rsize))
        ln_hh = (None, None) if ln_in else (params.ln_hh_weight, params.ln_hh_bias)
        entries, counts = lay.cell_vectors(params.peephole, *ln_hh, params.ln_c_weight, params.ln_c_bias)
        vectors = lay.pack_vectors(entries, counts, hp, dtype)  # one buffer, [G][Hp] each
        if projection is not None and ln_in:  # LN_ih(W_ih x_t) from its own GEMM: b, β_ih and β_hh all
            # added after the norms, as one bias; the gains and that bias dense, [4H] in gw each
            summed: tuple[Tensor | None, ...] = (projection.bias, projection.ln_bias, params.ln_hh_bias)
            gains_and_bias = [params.ln_hh_weight, summed, projection.ln_weight]
            dense = lay.pack_vectors(gains_and_bias, [1, 1, 1], gw, dtype)
            vectors[1] = dense[0]  # LN_hh's gain; β_hh is in the summed bias
        packed = (
            *vectors[:5],
            lay.pad_last(inputs.recurrent_mask, rp, dtype),
            lay.pad_last(_zoneout_rows(inputs.zoneout_h, zconst), rp, dtype, big),
            lay.pad_last(_zoneout_rows(inputs.zoneout_c, zconst), hp, dtype, big),
            none if inputs.lengths is None else lay.readable(inputs.lengths.detach().to(torch.int64)),
        )
        width = int(module.panel(inputs.xg.element_size()))
        inner: tuple[Tensor, ...] = (none,) * 7
        if projection is None:
            w_hh_t = lay.pack_w_hh_t(params.w_hh, lay.gate_columns(hidden, hp, lanes, not ln), width)
            xg, x = lay.readable(inputs.xg.detach()), none
        elif ln_in:
            xg, x = none, self._pad_input(projection.x, lanes)
            columns = lay.gate_columns(hidden, hp, lanes, dense=True)  # the rows the norms run over
            w_hh_t = lay.pack_w_hh_t(params.w_hh, columns, width)
            w_ih_t = lay.pack_w_hh_t(projection.w_ih, columns, width)  # W_ihᵀ (I, gw): W_hhᵀ's layout
            # x̂_ih is recomputed in the backward where a GEMM over I costs less than keeping gw values a row
            recompute = int(projection.x.shape[-1]) <= hidden
            xhat_ih = none if recompute or not keep else big(slots, batch, gw)
            mean_ih = new((slots, batch)) if recompute and keep else none
            inner = (w_ih_t, dense[1], dense[2], none, xhat_ih, new((slots, batch)), mean_ih)
        else:
            xg, x = none, self._pad_input(projection.x, lanes)
            columns = lay.gate_columns(hidden, hp, lanes, dense=True)
            w_hh_t = lay.pack_w_hh_t(params.w_hh, columns, width, projection.w_ih, projection.bias)
        w_hr_t = lay.pack_w_hr_t(params.w_hr, rp, width) if params.w_hr is not None else none
        if bf16:  # the same panels as bfloat16 pairs (csrc/gemm_bf16.h), by their rows
            n_in = 0 if projection is None else int(projection.x.shape[-1])
            rows = rsize + (n_in + 1 if projection is not None and not ln_in else 0)  # [W_ihᵀ; b; W_hhᵀ]
            w_hh_t = bf16_panels(w_hh_t, rows, width)
            if ln_in:
                inner = (bf16_panels(inner[0], n_in, width), *inner[1:])
            if params.w_hr is not None:
                w_hr_t = bf16_panels(w_hr_t, hidden, width)
        h0, c0 = lay.readable(inputs.h0.detach()), lay.readable(inputs.c0.detach())
        state = (hs, cs, gates, th, ctil, r, xhat_hh, rstd_hh, mean_c, rstd_c, x)
        fw = self._forward_buffers(xg, h0, c0, w_hh_t, w_hr_t, packed, y, state, inner)
        padded = (0 if projection is None else int(projection.x.shape[-1]), int(x.shape[-1]))
        dims = self._dims(inputs, params, coupled_gates, sizes, hp, rp, keep, padded, False, _threads(batch))
        if bf16:
            module.forward_bf16(dims, fw)
        else:
            module.forward(dtype == torch.float64, dims, fw)
        last = steps if keep else steps & 1
        # copies: a view would keep the whole (pooled) state buffer alive for as long as the caller does
        h_T = hs[last, :, :rsize].clone(memory_format=torch.contiguous_format)
        c_T = cs[last, :, :hidden].clone(memory_format=torch.contiguous_format)
        saved = (*state, *packed, *inner) if keep else ()
        return y, h_T, c_T, saved

    def backward(
        self,
        saved: tuple[Tensor, ...],
        inputs: RecurrenceInputs,
        params: RecurrenceParams,
        coupled_gates: bool,
        dy: Tensor,
        dh_T: Tensor,
        dc_T: Tensor,
        checked: bool = False,
    ) -> RecurrenceGrads:
        """Gradients of the loss given ``dy (T, B, R)``, ``dh_T (B, R)`` and ``dc_T (B, H)``."""
        return self.backward_projected(
            saved, inputs, params, coupled_gates, dy, dh_T, dc_T, None, False, checked
        )[0]

    def backward_projected(
        self,
        saved: tuple[Tensor, ...],
        inputs: RecurrenceInputs,
        params: RecurrenceParams,
        coupled_gates: bool,
        dy: Tensor | None,
        dh_T: Tensor | None,
        dc_T: Tensor | None,
        projection: InputProjection | None,
        needs_dx: bool,
        checked: bool = False,
        ln_affine_grad: Tensor | None = None,
        bf16: bool = False,
    ) -> tuple[RecurrenceGrads, InputProjection | None]:
        """:meth:`backward` for a forward run with ``projection``, plus its gradients (else ``None``).

        With a projection, the returned ``grads.xg`` is ``dx`` ``(T, B, I)`` when ``needs_dx`` (else an
        empty tensor), and the second value holds the gradients of ``projection``'s tensors (``x`` as
        ``dx`` again; ``None`` for absent ones). An upstream gradient may be ``None`` for zeros (an output
        the loss did not use), which the kernel then skips instead of reading. ``checked``: the caller
        passes the very tensors :meth:`forward` checked (an autograd node's saved tensors, which autograd
        guards against in-place changes), so the saved buffers are not checked again; the parameters
        are (a ``.data`` assignment since the forward is a ``RuntimeError``, never a read past a buffer).
        ``ln_affine_grad``: a contiguous ``(2, 9H)`` tensor that receives the six layer-norm gradients in
        the layout of a packed ``ln_affine`` (``lstmkit.ops.types.layer_norm_parts``); they are then
        ``None`` in the result.
        ``bf16``: the backward of a ``bf16`` forward (its GEMMs in bfloat16, as the forward's were).
        """
        module = native_module()
        if bf16:
            check_bf16(inputs.xg.dtype)
        try:
            sizes = check_recurrence(inputs, params, projection)
        except (TypeError, ValueError) as err:
            if not checked:
                raise
            # an autograd node's saved tensors are guarded against in-place changes, but a parameter
            # replaced through .data is not: the loop would run the new sizes over the forward's buffers
            raise RuntimeError(
                f"a parameter changed shape or dtype between the forward and the backward (a .data "
                f"assignment?), so the saved activations no longer fit it: {err}; run the forward again"
            ) from err
        steps, batch, hidden, rsize = sizes
        if batch == 0:
            if ln_affine_grad is not None:
                ln_affine_grad.zero_()
            return self._empty_grads(inputs, params, projection, rsize, hidden)
        if len(saved) != 27:
            raise ValueError(f"saved: expected the 27 tensors of a needs_grad forward, got {len(saved)}")
        check_upstream(dy, dh_T, dc_T, sizes)
        state, packed, inner = saved[:11], saved[11:20], saved[20:]
        if (inner[0].dtype == torch.int16) != bf16 and inner[0].numel():  # layer norm's packed W_ihᵀ
            raise ValueError(
                f"bf16={bf16}: the forward that saved these tensors ran with bf16={not bf16}; "
                "run the backward in the forward's precision"
            )
        lanes = int(module.lanes(inputs.xg.element_size()))
        if not checked:  # (an autograd node passes the very tuple its forward saved)
            check_saved(saved, inputs, params, projection, sizes, (lanes, _zoneout_const(inputs)), bf16)
        hs, x = state[0], state[10]
        dtype = inputs.xg.dtype
        hp, rp = state[1].shape[2], hs.shape[2]
        none = lay.empty(dtype)
        proj, ln = params.w_hr is not None, params.layer_norm
        new = inputs.xg.new_empty
        gates_shape = (steps, batch, 4 * hidden)
        ln_in = ln and projection is not None  # dxg used inside the loop only, dW_ih summed there
        # dxg is returned without a projection; inside the loop it is scratch, as dhh and dht always are
        dxg = none if ln_in else _with_slack(gates_shape, dtype, lanes, pooled=projection is not None)
        dh0, dc0 = new((batch, rsize)), new((batch, hidden))
        dhh = _with_slack(gates_shape, dtype, lanes, pooled=True) if ln else dxg
        dht = POOL.empty((steps, batch, rp), dtype) if proj else none
        threads = _threads(batch)  # once: the per-thread buffers below and dims must agree
        dparams = inputs.xg.new_zeros((threads, 25 * hp))
        width = int(module.panel(inputs.xg.element_size()))
        needs_dx = needs_dx and projection is not None
        n_in, ip = (0, 0) if projection is None else (int(projection.x.shape[-1]), int(x.shape[-1]))
        w_ih = projection.w_ih if projection is not None and needs_dx else None
        gv = lay.gate_width(hidden, lanes)
        if ln:  # dx_t from its own GEMM (dxg differs from dhh by the two layer norms)
            w_hh = lay.pack_w_hh(params.w_hh, rp, width)
            w_ih_packed = none if w_ih is None else lay.pack_w_ih_rows(w_ih, gv, ip, width)
        else:
            w_hh, w_ih_packed = lay.pack_w_hh(params.w_hh, rp, width, w_ih, ip), none
        w_hr = lay.pack_w_hr(params.w_hr, hp, width) if params.w_hr is not None else none
        if bf16:  # the same panels as bfloat16 pairs, by their rows (csrc/gemm_bf16.h)
            w_hh = bf16_panels(w_hh, 4 * hidden, width)
            if w_ih_packed is not none:
                w_ih_packed = bf16_panels(w_ih_packed, gv, width)
            if params.w_hr is not None:
                w_hr = bf16_panels(w_hr, rsize, width)
        upstream = [none if g is None else lay.readable(g.detach().to(dtype)) for g in (dy, dh_T, dc_T)]
        grads_in = [w_hh, w_hr, *upstream]
        dw_hh_t = new((rsize, gv))  # dW_hhᵀ; [dW_ih | db]ᵀ below (csrc/gemm_tn.h)
        dw_hr = new((rsize, hp)) if proj else none
        dx = new((steps, batch, n_in)) if needs_dx else none
        if projection is None:
            dw_ih_t = none
        elif ln:  # per thread, in dense rows of gv; zeros, as OpenMP may run fewer threads than asked
            dw_ih_t = inputs.xg.new_zeros((threads, n_in, gv))
        else:
            dw_ih_t = new((n_in + 1, gv))
        outs = [dxg, dh0, dc0, dhh, dht, dw_hh_t, dw_hr, dparams, dx, dw_ih_t, w_ih_packed]
        fw = self._forward_buffers(none, none, none, none, none, packed, none, state, inner)
        dims = self._dims(inputs, params, coupled_gates, sizes, hp, rp, True, (n_in, ip), needs_dx, threads)
        if bf16:
            module.backward_bf16(dims, fw, _addresses(grads_in + outs))
        else:
            module.backward(dtype == torch.float64, dims, fw, _addresses(grads_in + outs))

        d_w_hh = _dense(dw_hh_t[:, : 4 * hidden].t())
        d_w_hr = _dense(dw_hr[:, :hidden]) if proj else None
        vector_grads = self._vector_grads(dparams, hp, hidden, params, projection, ln_affine_grad)
        grads = RecurrenceParams(d_w_hh, d_w_hr, *vector_grads[:5])
        if projection is None:
            return RecurrenceGrads(xg=dxg, h0=dh0, c0=dc0, params=grads), None
        if ln:
            d_w_ih = _dense(dw_ih_t.sum(0)[:, : 4 * hidden].t())  # the threads' sums
            d_bias = vector_grads[7]
        else:
            d_w_ih = _dense(dw_ih_t[:n_in, : 4 * hidden].t())
            d_bias = dw_ih_t[n_in, : 4 * hidden].clone()  # the ones lane's row
        projection_grads = InputProjection(
            x=dx,
            w_ih=d_w_ih,
            bias=d_bias if projection.bias is not None else None,
            ln_weight=vector_grads[5],
            ln_bias=vector_grads[6],
        )
        return RecurrenceGrads(xg=dx, h0=dh0, c0=dc0, params=grads), projection_grads

    @staticmethod
    def _vector_grads(
        dparams: Tensor,
        hp: int,
        hidden: int,
        params: RecurrenceParams,
        projection: InputProjection | None,
        ln_affine_grad: Tensor | None = None,
    ) -> list[Tensor | None]:
        """Gradients of the per-gate vectors from the threads' ``dparams`` (csrc/layout.h): peephole,
        LN_hh gain and bias, LN_c gain and bias, LN_ih gain and bias, and (layer norm with the input
        projection inside) the bias; ``None`` where the vector is absent.

        Each gradient is a copy of its own rows, unpadded: it becomes a parameter's ``.grad``, so no two
        share memory, even where two are the same sum. With ``ln_affine_grad`` (contiguous ``(2, 9H)``),
        the six layer-norm gradients are written into it, where a packed ``ln_affine`` holds them, and
        are ``None`` in the list.
        """
        ln_in = params.layer_norm and projection is not None
        # slots of dparams in units of Hp: peephole 0-3, LN_hh gain 3-7 and bias 7-11, LN_c gain 11-12 and
        # bias 12-13, LN_ih gain 13-17 and bias 17-21, Σ da 21-25; with the input projection inside, the
        # two gains and Σ da are dense rows (4H from the slot's start), and b, β_ih and β_hh all add to a
        # after the norms: each gets Σ da
        bias_slot = (21, 25) if ln_in else None
        # (tensor, slot, dense, offset in a packed ln_affine: gains [ih | hh | c], then the biases)
        wanted = [
            (params.peephole, (0, 3), False, -1),
            (params.ln_hh_weight, (3, 7), ln_in, 4 * hidden),
            (params.ln_hh_bias, bias_slot or (7, 11), ln_in, 13 * hidden),
            (params.ln_c_weight, (11, 12), False, 8 * hidden),
            (params.ln_c_bias, (12, 13), False, 17 * hidden),
            (None if projection is None else projection.ln_weight, (13, 17), ln_in, 0),
            (None if projection is None else projection.ln_bias, bias_slot or (17, 21), ln_in, 9 * hidden),
            (projection.bias if ln_in and projection is not None else None, (21, 25), True, -1),
        ]
        if ln_affine_grad is not None and (
            tuple(ln_affine_grad.shape) != (2, 9 * hidden)
            or ln_affine_grad.dtype != dparams.dtype
            or not ln_affine_grad.is_contiguous()
            or any(tensor is None for tensor, *_ in wanted[1:7])
        ):
            raise ValueError(
                f"ln_affine_grad: expected a contiguous {dparams.dtype} (2, {9 * hidden}) tensor and all "
                f"six layer-norm vectors, got {ln_affine_grad.dtype} {tuple(ln_affine_grad.shape)}"
            )
        out: list[Tensor | None] = []
        specs = []
        size = dparams.element_size()
        for tensor, (first, stop), dense, packed_at in wanted:
            if tensor is None:
                out.append(None)
                continue
            rows, width = (1, tensor.numel()) if dense else (stop - first, hidden)
            if rows * width != tensor.numel():  # the native gather writes rows * width values
                shape = tuple(tensor.shape)
                raise ValueError(f"a per-gate vector of shape {shape}: expected {rows} x {width} values")
            if ln_affine_grad is not None and packed_at >= 0:
                assert packed_at + rows * width <= ln_affine_grad.numel(), "a slot past ln_affine's end"
                specs.append((ln_affine_grad.data_ptr() + packed_at * size, first * hp, rows, hp, width))
                out.append(None)
                continue
            grad = dparams.new_empty(tensor.shape)
            specs.append((grad.data_ptr(), first * hp, rows, hp, width))
            out.append(grad)
        if specs:  # the threads' sums, unpadded, one tensor each, in one native call
            threads, stride = dparams.shape
            f64 = dparams.dtype == torch.float64
            native_module().gather_sums(f64, dparams.data_ptr(), threads, stride, specs)
        return out

    @staticmethod
    def _empty_grads(
        inputs: RecurrenceInputs,
        params: RecurrenceParams,
        projection: InputProjection | None,
        rsize: int,
        hidden: int,
    ) -> tuple[RecurrenceGrads, InputProjection | None]:
        """Zero gradients for an empty batch."""

        def zeros(t: Tensor | None) -> Tensor | None:
            return None if t is None else torch.zeros_like(t)

        grads = RecurrenceGrads(
            torch.zeros_like(inputs.xg if projection is None else projection.x),
            inputs.h0.new_zeros((0, rsize)),
            inputs.c0.new_zeros((0, hidden)),
            RecurrenceParams(*(zeros(p) for p in params)),  # type: ignore[arg-type]
        )
        return grads, None if projection is None else InputProjection(*(zeros(t) for t in projection))  # type: ignore[arg-type]

    @staticmethod
    def _pad_input(x: Tensor, lanes: int) -> Tensor:
        """``x`` ``(T, B, I)`` as ``(T, B, Ip)``: ``x`` in lanes ``0..I-1``, 1 in lane ``I``, zeros after.

        The 1 multiplies the bias row of :func:`~lstmkit.ops.native_layout.pack_w_hh_t`'s input block, so
        the step GEMM adds the bias, and row ``I`` of the weight-gradient GEMM's result (``[dW_ih | db]ᵀ``)
        is the bias gradient.
        ``Ip`` is ``I + 1`` rounded up to whole vectors.
        """
        x = lay.resolved(x)  # read through its strides: the raw values of a lazily negated view are wrong
        steps, batch, n_in = x.shape
        out = POOL.empty((steps, batch, lay.round_up(n_in + 1, lanes)), x.dtype)
        sizes, f64 = (steps, batch, n_in), x.dtype == torch.float64
        # x is read through its strides (never negative in torch): a transposed input needs no copy
        native_module().pad_input(f64, x.data_ptr(), sizes, x.stride(), out.shape[-1], out.data_ptr())
        return out

    @staticmethod
    def _forward_buffers(
        xg: Tensor,
        h0: Tensor,
        c0: Tensor,
        w_hh_t: Tensor,
        w_hr_t: Tensor,
        packed: tuple[Tensor, ...],
        y: Tensor,
        state: tuple[Tensor, ...],
        inner: tuple[Tensor, ...],
    ) -> list[int]:
        """Addresses in the order of ``ForwardBuffers`` (csrc/layout.h); ``state`` ends with ``x``,
        ``inner`` is the layer-norm input projection's ``(W_ihᵀ, bias, LN_ih gain, bias, x̂, 1/σ, μ)``."""
        return _addresses([xg, h0, c0, w_hh_t, w_hr_t, *packed, y, *state, *inner])

    @staticmethod
    def _dims(
        inputs: RecurrenceInputs,
        params: RecurrenceParams,
        coupled_gates: bool,
        sizes: tuple[int, int, int, int],
        hp: int,
        rp: int,
        keep: bool,
        inputs_padded: tuple[int, int],
        needs_dx: bool,
        threads: int,
    ) -> list[int]:
        """The integers of ``Dims`` (csrc/layout.h); ``inputs_padded`` is ``(I, Ip)``, ``I = 0`` without
        an input projection in the loop; ``threads``: at most the rows of the per-thread buffers."""
        steps, batch, hidden, rsize = sizes
        flags = (
            params.w_hr is not None,
            params.peephole is not None,
            params.layer_norm,
            coupled_gates,
            inputs.recurrent_mask is not None,
            inputs.zoneout_h is not None,
            inputs.zoneout_c is not None,
            inputs.lengths is not None,
            keep,
        )
        n_in, padded = inputs_padded
        projected = [n_in, padded if n_in else 0, int(needs_dx), int(_zoneout_const(inputs))]
        return [steps, batch, hidden, rsize, hp, rp, *map(int, flags), threads, *projected]


UNAVAILABLE_REASON: str | None = _missing_reason
"""Why the compiled kernel is missing (read by :mod:`lstmkit.ops.dispatch`), ``None`` when it is present."""

KERNEL: NativeKernel | None = NativeKernel() if _native is not None else None
"""The kernel :mod:`lstmkit.ops.dispatch` runs for ``backend="native"``; ``None`` without the extension."""
