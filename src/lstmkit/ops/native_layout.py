"""How :mod:`lstmkit.ops.native` lays tensors out for the compiled time loop (``csrc/layout.h``).

Inside the kernel the hidden size ``H`` and the state size ``R`` are padded to ``Hp`` and ``Rp``, multiples
of the vector width in elements (16 float32 lanes with AVX-512); a gate block is ``[4][Hp]`` in PyTorch's
order i, f, g, o; padded entries are zero. The recurrent weights are packed once per call: ``W_hhᵀ``
``(R, GW)`` for the forward GEMM, its gate columns dense (``GW`` is ``4H`` rounded up to whole vectors;
``(R, 4Hp)`` with layer norm on given gate inputs, see :func:`gate_columns`), and ``W_hh`` ``(4H, Rp)`` for
the backward one, each cut into column panels stored one after another (:func:`pack`, one native call per
packed matrix).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

EMPTY_CACHE: dict[torch.dtype, Tensor] = {}


def round_up(n: int, lanes: int) -> int:
    """``n`` rounded up to a multiple of ``lanes`` (at least one vector)."""
    return max(lanes, -(-n // lanes) * lanes)


def gate_width(hidden: int, lanes: int) -> int:
    """``4H`` rounded up to whole vectors: a dense row of gate pre-activations (csrc/layout.h)."""
    return round_up(4 * hidden, lanes)


def empty(dtype: torch.dtype) -> Tensor:
    """A shared zero-size tensor standing for an absent buffer (address 0, never read)."""
    if dtype not in EMPTY_CACHE:
        with torch.inference_mode(False):  # an inference tensor could not be saved for a later backward
            EMPTY_CACHE[dtype] = torch.empty(0, dtype=dtype)
    return EMPTY_CACHE[dtype]


def readable(t: Tensor) -> Tensor:
    """``t`` as the kernel reads it by address: contiguous, its lazy negation applied.

    A view with the negative bit (``z.conj().imag``) holds the raw values and negates them on access;
    ``.contiguous()`` keeps the bit of an already-contiguous one, so the kernel would read the wrong sign.
    """
    return t.resolve_neg().contiguous() if t.is_neg() else t.contiguous()


def resolved(t: Tensor) -> Tensor:
    """``t`` with its lazy negation applied (itself when it has none), for reads through its strides."""
    return t.resolve_neg() if t.is_neg() else t


def pad_last(
    x: Tensor | None, size: int, dtype: torch.dtype, alloc: Callable[..., Tensor] | None = None
) -> Tensor:
    """``x`` zero-padded on its last dimension to ``size`` and contiguous; the empty buffer for ``None``.

    ``alloc(*shape)``, where given, makes the padded tensor (the native kernel's buffer pool, whose pages
    are warm: a fresh one of a zoneout mask's size faults on every page, several times the copy's cost).
    """
    if x is None:
        return empty(dtype)
    x = x.detach()
    if x.shape[-1] == size:
        return readable(x)
    if alloc is None:
        return F.pad(x, (0, size - x.shape[-1]))
    out = alloc(*x.shape[:-1], size)
    out[..., : x.shape[-1]].copy_(x)
    out[..., x.shape[-1] :].zero_()
    return out


class Block(NamedTuple):
    """A source matrix's place in a packed one (``pack`` in csrc/bindings.cpp).

    Element ``(k, n)`` of group ``g`` is ``src``'s element at ``g·group_src + k·row_stride + n·col_stride``
    (strides in elements) and lands at ``(k0 + g·group_k + k, n0 + g·group_n + n)``. Groups place the
    four gate blocks of a ``(4H, ·)`` weight at the padded offsets ``q·Hp``.
    """

    src: Tensor
    k0: int
    n0: int
    rows: int
    cols: int
    row_stride: int
    col_stride: int
    groups: int = 1
    group_src: int = 0
    group_k: int = 0
    group_n: int = 0


def pack(shape: tuple[int, int], width: int, blocks: list[Block], dtype: torch.dtype) -> Tensor:
    """A ``(K, N)`` matrix of ``blocks`` (added where they overlap, zero elsewhere), flat, in column panels
    of ``width``: the columns ``n..n+w`` of a panel lie at ``n·K`` as a row-major ``[K][w]`` block, the last
    panel narrower, so the step GEMM (``csrc/gemm.h``) walks each panel's ``K`` rows contiguously.
    ``width = N`` gives plain row-major. One native call, in place of a dozen small torch operations.
    """
    for b in blocks:
        _check_source(b, dtype)
    specs = [
        (b.src.data_ptr(), b.row_stride, b.col_stride, b.k0, b.n0, b.rows, b.cols, b.groups, b.group_src,
         b.group_k, b.group_n)
        for b in blocks
    ]  # fmt: skip
    return _pack_specs(shape, width, specs, dtype)


def _pack_specs(
    shape: tuple[int, int], width: int, specs: Sequence[tuple[int, ...]], dtype: torch.dtype
) -> Tensor:
    """:func:`pack` of blocks already checked, as the native packer's tuples (address first)."""
    from lstmkit.ops.native import native_module  # not at import: native imports this module

    out = torch.empty(shape[0] * shape[1], dtype=dtype)
    native_module().pack(
        dtype == torch.float64, out.data_ptr(), shape[0], shape[1], min(width, shape[1]), specs
    )
    return out


def _check_cpu(t: Tensor, dtype: torch.dtype, who: str, what: str) -> None:
    """``TypeError`` naming ``who`` and ``what`` unless ``t`` is a CPU tensor of ``dtype``: the native
    packer reads it by address."""
    if t.dtype != dtype or t.device.type != "cpu":
        raise TypeError(f"{who}: expected a CPU {dtype} {what}, got {t.device} {t.dtype}")


def _check_source(b: Block, dtype: torch.dtype) -> None:
    """The native packer reads ``b.src`` by address: its dtype, device and extent must fit ``b``."""
    src = b.src
    _check_cpu(src, dtype, "pack", "source")
    strides = (b.group_src, b.row_stride, b.col_stride)
    if b.rows < 0 or b.cols < 0 or b.groups < 1 or min(strides) < 0:
        raise ValueError(f"pack: a block needs rows, cols >= 0, groups >= 1 and strides >= 0, got {b[1:]}")
    if b.rows and b.cols:
        last = (b.groups - 1) * b.group_src + (b.rows - 1) * b.row_stride + (b.cols - 1) * b.col_stride
        # within the tensor's own last element (the usual case: a block of the tensor's own geometry) is
        # within its storage; past it, the storage decides
        own = sum((n - 1) * s for n, s in zip(src.shape, src.stride(), strict=True))
        if last > own or src.numel() == 0:
            extent = src.untyped_storage().nbytes() // src.element_size() - src.storage_offset()
            if last >= extent:
                raise ValueError(
                    f"pack: a block reads element {last} of a source with {extent} from its start"
                )


def _transposed_gates(w: Tensor, k0: int, stride: int) -> Block:
    """``w`` ``(4H, C)`` as rows ``k0..k0+C`` of a packed matrix, gate ``q`` from column ``q·stride``."""
    w = resolved(w)  # (the packer reads the raw values through the strides)
    h = w.shape[0] // 4
    return Block(w, k0, 0, w.shape[1], h, w.stride(1), w.stride(0), 4, h * w.stride(0), 0, stride)


def gate_columns(hidden: int, hp: int, lanes: int, dense: bool) -> tuple[int, int]:
    """``(stride, width)`` of a row of gate pre-activations in the forward step GEMM's output: dense,
    gate ``q`` at ``q·H`` in ``4H`` rounded up to whole vectors (csrc/layout.h ``gate_width``), or padded,
    gate ``q`` at ``q·Hp`` in ``4Hp`` (the layout layer norm runs over)."""
    return (hidden, gate_width(hidden, lanes)) if dense else (hp, 4 * hp)


def pack_w_hh_t(
    w_hh: Tensor,
    gates: tuple[int, int],
    width: int,
    w_ih: Tensor | None = None,
    bias: Tensor | None = None,
) -> Tensor:
    """``W_hh`` ``(4H, R)`` as ``W_hhᵀ`` ``(R, N)`` in panels, for the forward step GEMM, its gate columns
    laid out as ``gates = (stride, N)`` says (:func:`gate_columns`).

    With ``w_ih`` ``(4H, I)``: ``[W_ihᵀ; bias; W_hhᵀ]`` ``(I + 1 + R, N)``, the bias row zero without a
    bias (see ``NativeKernel._pad_input`` in :mod:`lstmkit.ops.native`).
    """
    stride, cols = gates
    blocks, k = [], 0
    if w_ih is not None:
        blocks.append(_transposed_gates(w_ih, 0, stride))
        if bias is not None:
            blocks.append(_transposed_gates(bias.unsqueeze(1), w_ih.shape[1], stride))
        k = w_ih.shape[1] + 1
    blocks.append(_transposed_gates(w_hh, k, stride))
    return pack((k + w_hh.shape[1], cols), width, blocks, w_hh.dtype)


def _rows(w: Tensor, n0: int = 0) -> Block:
    """``w`` ``(K, C)`` as it is, at columns ``n0..n0+C``."""
    w = resolved(w)
    return Block(w, 0, n0, w.shape[0], w.shape[1], w.stride(0), w.stride(1))


def pack_w_hh(w_hh: Tensor, rp: int, width: int, w_ih: Tensor | None = None, ip: int = 0) -> Tensor:
    """``W_hh`` ``(4H, R)`` as ``(4H, Rp)`` in panels, for the backward step GEMM.

    With ``w_ih`` ``(4H, I)``: ``[W_hh | W_ih]`` ``(4H, Rp + Ip)``, so the same GEMM gives ``dx_t``.
    """
    blocks = [_rows(w_hh)] if w_ih is None else [_rows(w_hh), _rows(w_ih, rp)]
    return pack((w_hh.shape[0], rp + (ip if w_ih is not None else 0)), width, blocks, w_hh.dtype)


def pack_w_ih_rows(w_ih: Tensor, rows: int, ip: int, width: int) -> Tensor:
    """``W_ih`` ``(4H, I)`` as ``(rows, Ip)`` in panels, zero past its ``4H`` rows and ``I`` columns.

    The backward's ``dx_t = W_ihᵀ dxg_t`` with layer norm reads ``dxg_t`` in dense rows of ``4H``
    rounded up to whole vectors (``rows``).
    """
    return pack((rows, ip), width, [_rows(w_ih)], w_ih.dtype)


def pack_w_hr_t(w_hr: Tensor, rp: int, width: int) -> Tensor:
    """``W_hr`` ``(P, H)`` as ``W_hrᵀ`` ``(H, Rp)`` in panels, for the forward projection GEMM."""
    return pack((w_hr.shape[1], rp), width, [_rows(w_hr.t())], w_hr.dtype)


def pack_w_hr(w_hr: Tensor, hp: int, width: int) -> Tensor:
    """``W_hr`` ``(P, H)`` as ``(P, Hp)`` in panels, for the backward projection GEMM."""
    return pack((w_hr.shape[0], hp), width, [_rows(w_hr)], w_hr.dtype)


def cell_vectors(
    peephole: Tensor | None,
    ln_hh_weight: Tensor | None,
    ln_hh_bias: Tensor | None,
    ln_c_weight: Tensor | None,
    ln_c_bias: Tensor | None,
) -> tuple[list[tuple[Tensor | None, ...] | Tensor | None], list[int]]:
    """The recurrence's per-gate vectors as :func:`pack_vectors` entries and row counts, in the order of
    ``ForwardBuffers`` (csrc/layout.h): peephole ``[3]``, LN_hh gain and bias ``[4]``, LN_c gain and bias
    ``[1]``; a layer norm's bias is zeros where it has a gain but no bias, absent without a layer norm."""
    g_hh, g_c = (4 if ln_hh_weight is not None else 0), (1 if ln_c_weight is not None else 0)
    counts = [3 if peephole is not None else 0, g_hh, g_hh, g_c, g_c]
    return [peephole, ln_hh_weight, ln_hh_bias, ln_c_weight, ln_c_bias], counts


def pack_vectors(
    vectors: list[tuple[Tensor | None, ...] | Tensor | None], counts: list[int], hp: int, dtype: torch.dtype
) -> list[Tensor]:
    """Per-gate vectors in one ``(Σ counts, Hp)`` buffer, one native call: entry ``j`` (a ``(G·H,)`` or
    ``(G, H)`` tensor, or a tuple of them, summed) takes ``counts[j] = G`` rows ``[G][Hp]``, zero for
    ``None``. Returns a view per entry; an entry with no rows is the empty buffer.
    """
    specs, kept, row = [], [], 0
    for entry, count in zip(vectors, counts, strict=True):
        parts = entry if isinstance(entry, tuple) else (entry,)
        for v in parts:
            if v is not None and count:
                _check_cpu(v, dtype, "pack_vectors", "vector")
                n = v.numel()
                if n % count or n // count > hp:
                    raise ValueError(f"pack_vectors: {tuple(v.shape)} is not {count} rows of at most {hp}")
                if not v.is_contiguous() or v.is_neg():
                    v = readable(v)
                    kept.append(v)  # alive until the native call has read it
                h = n // count
                specs.append((v.data_ptr(), h, 1, row, 0, count, h, 1, 0, 0, 0))
        row += count
    if row == 0:
        return [empty(dtype)] * len(vectors)
    out = _pack_specs((row, hp), hp, specs, dtype).view(row, hp)
    views, row = [], 0
    for count in counts:
        views.append(out[row : row + count] if count else empty(dtype))
        row += count
    return views
