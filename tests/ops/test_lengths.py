"""Masks from lengths, used by the recurrence and every kit that pads batches."""

from __future__ import annotations

import pytest
import torch

from lstmkit.ops.lengths import sequence_mask


def test_sequence_mask_marks_steps_before_each_length() -> None:
    mask = sequence_mask(torch.tensor([3, 1, 0]), 4)
    assert mask.dtype == torch.bool
    assert mask.int().tolist() == [[1, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]]
    with pytest.raises(TypeError, match=r"1-D integer tensor, got dtype torch\.float32"):
        sequence_mask(torch.tensor([1.0, 2.0]), 3)
