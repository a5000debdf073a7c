"""Masks from sequence lengths, shared by the recurrence and every kit that pads batches."""

from __future__ import annotations

import torch
from torch import Tensor

from lstmkit.utils.validation import is_integer_dtype


def sequence_mask(lengths: Tensor, steps: int) -> Tensor:
    """``(B, T)`` boolean mask, True at the steps before each sequence's length.

    Args:
        lengths: ``(B,)`` integer lengths.
        steps: ``T``, the padded length.

    Example:
        >>> sequence_mask(torch.tensor([2, 0, 3]), 3).int().tolist()
        [[1, 1, 0], [0, 0, 0], [1, 1, 1]]
    """
    if lengths.dim() != 1 or not is_integer_dtype(lengths.dtype):
        raise TypeError(
            f"sequence_mask expected lengths as a 1-D integer tensor, got dtype {lengths.dtype} "
            f"and shape {tuple(lengths.shape)}"
        )
    return torch.arange(steps, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)
