"""How :mod:`lstmkit.ops.native` lays tensors out for the compiled time loop (``csrc/layout.h``).

Inside the kernel the hidden size ``H`` and the state size ``R`` are padded to ``Hp`` and ``Rp``, multiples
of the vector width in elements (16 float32 lanes with AVX-512); a gate block is ``[4][Hp]`` in PyTorch's
order i, f, g, o; padded entries are zero. The recurrent weights are packed once per call: ``W_hhᵀ``
``(R, 4Hp)`` for the forward GEMM and ``W_hh`` ``(4H, Rp)`` for the backward one, each cut into column
panels stored one after another (:func:`pack_panels`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

EMPTY_CACHE: dict[torch.dtype, Tensor] = {}


def round_up(n: int, lanes: int) -> int:
    """``n`` rounded up to a multiple of ``lanes`` (at least one vector)."""
    return max(lanes, -(-n // lanes) * lanes)


def empty(dtype: torch.dtype) -> Tensor:
    """A shared zero-size tensor standing for an absent buffer (address 0, never read)."""
    if dtype not in EMPTY_CACHE:
        with torch.inference_mode(False):  # an inference tensor could not be saved for a later backward
            EMPTY_CACHE[dtype] = torch.empty(0, dtype=dtype)
    return EMPTY_CACHE[dtype]


def pad_last(x: Tensor | None, size: int, dtype: torch.dtype) -> Tensor:
    """``x`` zero-padded on its last dimension to ``size`` and contiguous; the empty buffer for ``None``."""
    if x is None:
        return empty(dtype)
    x = x.detach()
    if x.shape[-1] == size:
        return x.contiguous()
    return F.pad(x, (0, size - x.shape[-1]))


def pack_panels(mat: Tensor, width: int) -> Tensor:
    """A ``(K, N)`` matrix in column panels of ``width`` (the last one narrower), each row-major ``[K][w]``.

    The step GEMM (``csrc/gemm.h``) then walks each panel's ``K`` rows contiguously.
    """
    k, n = mat.shape
    full = n // width * width
    head = mat[:, :full].reshape(k, n // width, width).transpose(0, 1).reshape(-1)
    return torch.cat((head, mat[:, full:].reshape(-1))) if full < n else head.contiguous()


def pack_w_hh_t(
    w_hh: Tensor, hp: int, width: int, w_ih: Tensor | None = None, bias: Tensor | None = None
) -> Tensor:
    """``W_hh`` ``(4H, R)`` as ``W_hhᵀ`` ``(R, 4Hp)`` in panels, for the forward step GEMM.

    With ``w_ih`` ``(4H, I)``: ``[W_ihᵀ; bias; W_hhᵀ]`` ``(I + 1 + R, 4Hp)``, the bias row zero without a
    bias (see ``NativeKernel._pad_input`` in :mod:`lstmkit.ops.native`).
    """
    four_h = w_hh.shape[0]
    h = four_h // 4
    blocks = [w_hh.detach()]
    if w_ih is not None:
        b = bias.detach() if bias is not None else w_hh.new_zeros(four_h)
        blocks = [w_ih.detach(), b.unsqueeze(1), *blocks]
    rows = torch.cat(blocks, dim=1) if len(blocks) > 1 else blocks[0]  # (4H, K)
    k = rows.shape[1]
    out = w_hh.new_zeros(k, 4, hp)
    out[:, :, :h] = rows.view(4, h, k).permute(2, 0, 1)
    return pack_panels(out.view(k, 4 * hp), width)


def pack_w_hh(w_hh: Tensor, rp: int, width: int, w_ih: Tensor | None = None, ip: int = 0) -> Tensor:
    """``W_hh`` ``(4H, R)`` as ``(4H, Rp)`` in panels, for the backward step GEMM.

    With ``w_ih`` ``(4H, I)``: ``[W_hh | W_ih]`` ``(4H, Rp + Ip)``, so the same GEMM gives ``dx_t``.
    """
    w = pad_last(w_hh, rp, w_hh.dtype)
    if w_ih is not None:
        w = torch.cat((w, pad_last(w_ih, ip, w_ih.dtype)), dim=1)
    return pack_panels(w, width)


def pack_w_ih_gates(w_ih: Tensor, hp: int, ip: int, width: int) -> Tensor:
    """``W_ih`` ``(4H, I)`` as ``(4Hp, Ip)`` in panels, its rows in the padded gate layout ``[4][Hp]``.

    The backward's ``dx_t = W_ihᵀ dxg_t`` with layer norm reads ``dxg_t`` in that layout.
    """
    four_h, n_in = w_ih.shape
    rows = F.pad(w_ih.detach().reshape(4, four_h // 4, n_in), (0, ip - n_in, 0, hp - four_h // 4))
    return pack_panels(rows.reshape(4 * hp, ip), width)


def pack_w_hr_t(w_hr: Tensor, rp: int, width: int) -> Tensor:
    """``W_hr`` ``(P, H)`` as ``W_hrᵀ`` ``(H, Rp)`` in panels, for the forward projection GEMM."""
    return pack_panels(pad_last(w_hr.detach().t(), rp, w_hr.dtype), width)


def pack_w_hr(w_hr: Tensor, hp: int, width: int) -> Tensor:
    """``W_hr`` ``(P, H)`` as ``(P, Hp)`` in panels, for the backward projection GEMM."""
    return pack_panels(pad_last(w_hr, hp, w_hr.dtype), width)


def pack_gates(v: Tensor | None, gates: int, hp: int, dtype: torch.dtype) -> Tensor:
    """A per-gate vector ``(G·H,)`` or ``(G, H)`` as ``[G][Hp]``; the empty buffer for ``None``."""
    if v is None:
        return empty(dtype)
    return pad_last(v.detach().reshape(gates, -1), hp, dtype)


def bias_or_zeros(bias: Tensor | None, weight: Tensor | None) -> Tensor | None:
    """A layer norm's bias, zeros when it has a gain but no bias, ``None`` without a layer norm."""
    if bias is not None or weight is None:
        return bias
    return torch.zeros_like(weight)
