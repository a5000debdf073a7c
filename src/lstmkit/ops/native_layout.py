"""How :mod:`lstmkit.ops.native` lays tensors out for the compiled time loop (``csrc/layout.h``).

Inside the kernel the hidden size ``H`` and the state size ``R`` are padded to ``Hp`` and ``Rp``, multiples
of the vector width in elements (16 float32 lanes with AVX-512); a gate block is ``[4][Hp]`` in PyTorch's
order i, f, g, o; padded entries are zero. The recurrent weights are packed once per call: ``W_hhᵀ``
``[R][4Hp]`` for the forward GEMM and ``W_hh`` ``[4H][Rp]`` for the backward one.
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


def pack_w_hh_t(w_hh: Tensor, hp: int) -> Tensor:
    """``W_hh`` ``(4H, R)`` as ``W_hhᵀ`` ``[R][4][Hp]`` for the forward step GEMM."""
    four_h, r = w_hh.shape
    h = four_h // 4
    out = w_hh.new_zeros(r, 4, hp)
    out[:, :, :h] = w_hh.detach().view(4, h, r).permute(2, 0, 1)
    return out


def pack_w_hr_t(w_hr: Tensor, hp: int, rp: int) -> Tensor:
    """``W_hr`` ``(P, H)`` as ``W_hrᵀ`` ``[Hp][Rp]`` for the forward projection GEMM."""
    out = w_hr.new_zeros(hp, rp)
    out[: w_hr.shape[1], : w_hr.shape[0]] = w_hr.detach().t()
    return out


def pack_w_hr(w_hr: Tensor, hp: int, rp: int) -> Tensor:
    """``W_hr`` ``(P, H)`` as ``[Rp][Hp]`` for the backward projection GEMM."""
    out = w_hr.new_zeros(rp, hp)
    out[: w_hr.shape[0], : w_hr.shape[1]] = w_hr.detach()
    return out


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
