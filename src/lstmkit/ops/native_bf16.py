"""bfloat16 GEMMs for the native kernel (``csrc/gemm_bf16.h``): availability, checks, weight packing.

Under ``torch.autocast("cpu", dtype=torch.bfloat16)`` the native loop over float32 data multiplies in
bfloat16 and sums in float32, forward and backward, where the CPU has AVX512-BF16 (``vdpbf16ps``: twice
the multiply-adds of a float32 FMA per instruction); see docs/native.md.

Example:
    >>> import torch
    >>> from lstmkit.ops.native_bf16 import bf16_available, check_bf16
    >>> isinstance(bf16_available(), bool)
    True
    >>> check_bf16(torch.float64)
    Traceback (most recent call last):
    ...
    ValueError: bf16: expected float32 data, got torch.float64; run it outside bfloat16 autocast
"""

from __future__ import annotations

import torch
from torch import Tensor


def bf16_available() -> bool:
    """Whether the native kernel can run its GEMMs in bfloat16: its AVX-512 build, on AVX512-BF16."""
    from lstmkit.ops.native import native_available, native_module  # not at import: native imports this

    return native_available() and bool(native_module().bf16_supported())


def check_bf16(dtype: torch.dtype) -> None:
    """``ValueError`` unless a ``bf16`` call can run: float32 data on a CPU with AVX512-BF16."""
    if dtype != torch.float32:
        raise ValueError(f"bf16: expected float32 data, got {dtype}; run it outside bfloat16 autocast")
    if not bf16_available():
        raise ValueError(
            "bf16: this CPU or instruction set has no AVX512-BF16 (lstmkit check says which); "
            "run it in float32, outside bfloat16 autocast"
        )


def bf16_panels(packed: Tensor, rows: int, width: int) -> Tensor:
    """A float32 matrix of ``rows`` rows packed in panels (:func:`~lstmkit.ops.native_layout.pack`) as the
    bfloat16 pair panels of ``csrc/gemm_bf16.h`` (``int16`` storage, rows ``2k`` and ``2k + 1`` side by
    side, rounded to nearest even)."""
    from lstmkit.ops.native import native_module

    if packed.dtype != torch.float32 or packed.device.type != "cpu" or packed.dim() != 1:
        raise TypeError(
            f"bf16_panels: expected a flat CPU float32 tensor (a packed matrix), got a {packed.device} "
            f"{packed.dtype} tensor of shape {tuple(packed.shape)}"
        )
    if rows < 1 or packed.numel() % rows or width < 1:
        raise ValueError(
            f"bf16_panels: expected rows >= 1 dividing the {packed.numel()} values and width >= 1, "
            f"got rows={rows}, width={width}"
        )
    packed = packed.contiguous()
    cols = packed.numel() // rows
    out = torch.empty(((rows + 1) // 2) * cols * 2, dtype=torch.int16)
    native_module().pack_bf16(packed.data_ptr(), rows, cols, min(width, cols) or 1, out.data_ptr())
    return out
