"""Helpers for padded and packed batches: reversal within lengths, repacking, the last layer's state."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence


def reverse_index(steps: int, batch: int, lengths: Tensor | None, device: torch.device) -> Tensor:
    """Index ``(T, B)`` that reverses each sequence within its own length (padding stays in place)."""
    t = torch.arange(steps, device=device).unsqueeze(1).expand(steps, batch)
    if lengths is None:
        return (steps - 1 - t).contiguous()
    n = lengths.to(device).unsqueeze(0)
    return torch.where(t < n, n - 1 - t, t)


def gather_time(x: Tensor, index: Tensor) -> Tensor:
    """``x[index[t, b], b]`` for ``x`` ``(T, B, F)``."""
    return x.gather(0, index.unsqueeze(-1).expand_as(x))


def repack_like(out: Tensor, lengths: Tensor, like: PackedSequence) -> PackedSequence:
    """Pack ``out`` ``(T, B, F)``, in original batch order with ``lengths`` ``(B,)``, exactly as ``like``."""
    order = like.sorted_indices
    sorted_out = out if order is None else out.index_select(1, order)
    sorted_lengths = lengths if order is None else lengths[order.cpu()]
    data = pack_padded_sequence(sorted_out, sorted_lengths, enforce_sorted=True).data
    return PackedSequence(data, like.batch_sizes, like.sorted_indices, like.unsorted_indices)


def last_layer_state(h_n: Tensor, num_directions: int) -> Tensor:
    """The last layer's final hidden state of every direction, side by side.

    Args:
        h_n: final hidden states ``(L * D, B, R)`` as an LSTM returns them.
        num_directions: ``D`` (2 for a bidirectional LSTM).

    Returns:
        ``(B, D * R)``: forward state, then (if bidirectional) the backward one.

    Example:
        >>> last_layer_state(torch.arange(8.0).view(4, 1, 2), 2).tolist()
        [[4.0, 5.0, 6.0, 7.0]]
    """
    if num_directions not in (1, 2):
        raise ValueError(f"last_layer_state expected num_directions 1 or 2, got {num_directions}")
    if h_n.dim() != 3 or h_n.shape[0] % num_directions:
        raise ValueError(
            f"last_layer_state expected h_n of shape (L * {num_directions}, B, R), got {tuple(h_n.shape)}"
        )
    last = h_n[-num_directions:]  # (D, B, R)
    return last.transpose(0, 1).reshape(h_n.shape[1], -1)
