"""Series classifiers: a stacked (bi)LSTM and LSTM-FCN (Karim et al. 2017), both length-aware.

Shape legend: ``B`` batch, ``T`` time, ``C`` channels (input features), ``H`` hidden units, ``D`` directions,
``K`` classes. Every model takes ``x`` of shape ``(B, T, C)`` zero-padded after each series' end and
``lengths`` of shape ``(B,)``, and returns logits ``(B, K)``. Padded steps never reach a prediction.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from lstmkit.nn import LSTM
from lstmkit.nn.sequences import last_layer_state
from lstmkit.ops.lengths import sequence_mask
from lstmkit.utils.validation import check_positive_int


def last_hidden(lstm: nn.Module, x: Tensor, lengths: Tensor) -> Tensor:
    """Run ``lstm`` (batch_first) over padded ``x`` and return the last layer's final state per series.

    The final state of the forward direction is taken at step ``lengths[b] - 1`` and the backward
    direction starts there (``lstmkit.nn.LSTM``'s ``lengths=``), so padding never enters the state.

    Args:
        lstm: a batch-first ``lstmkit.nn.LSTM``.
        x: ``(B, T, C)`` padded input.
        lengths: ``(B,)`` true lengths, each in ``[1, T]``.

    Returns:
        ``(B, D * H)``: forward and (if bidirectional) backward final hidden states, concatenated.
    """
    _, (h_n, _) = lstm(x, lengths=lengths)  # h_n: (L * D, B, H)
    return last_layer_state(h_n, 2 if lstm.bidirectional else 1)  # (B, D * H)


class LSTMClassifier(nn.Module):
    """Stacked (bi)LSTM over the series; the last layer's final state(s) feed a linear softmax layer.

        h_T = LSTM(x_1..x_T)          (forward; backward reads x_T..x_1 when bidirectional)
        p(y | x) = softmax(W [h_T^fwd ; h_1^bwd] + b)

    Args:
        n_channels: input channels ``C``.
        n_classes: classes ``K`` (>= 2).
        hidden_size: LSTM units ``H`` per direction. Default 64.
        num_layers: stacked LSTM layers. Default 2.
        bidirectional: read both directions. Default True.
        dropout: dropout between LSTM layers and before the output layer. Default 0.2.

    Example:
        >>> model = LSTMClassifier(n_channels=3, n_classes=4, hidden_size=8)
        >>> model(torch.zeros(2, 5, 3), torch.tensor([5, 2])).shape
        torch.Size([2, 4])
    """

    def __init__(
        self,
        n_channels: int,
        n_classes: int,
        hidden_size: int = 64,
        num_layers: int = 2,
        bidirectional: bool = True,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self.lstm = LSTM(
            n_channels,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size * (2 if bidirectional else 1), n_classes)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        """Logits ``(B, K)`` for padded ``x`` ``(B, T, C)`` and ``lengths`` ``(B,)``."""
        return self.head(self.dropout(last_hidden(self.lstm, x, lengths)))


class _ConvBlock(nn.Module):
    """Conv1d ("same" length) -> batch norm -> ReLU, with padded steps zeroed after each block."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size)
        self.norm = nn.BatchNorm1d(out_channels)
        left = (kernel_size - 1) // 2
        self.padding = (left, kernel_size - 1 - left)  # "same" output length, also for even kernels

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        x = self.conv(F.pad(x, self.padding))  # (B, F, T)
        return torch.relu(self.norm(x)) * mask[:, None, :]


def _three_positive_ints(name: str, value: object) -> tuple[int, int, int]:
    """``value`` (a sequence or 1-D array) as three positive ints, one per convolution block, else raise."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | np.ndarray):
        raise TypeError(
            f"LSTMFCN {name} must be a sequence of three positive integers, one per convolution block; got "
            f"{type(value).__name__} {value!r}"
        )
    shown = value.tolist() if isinstance(value, np.ndarray) else list(value)
    if (isinstance(value, np.ndarray) and value.ndim != 1) or len(shown) != 3:
        raise ValueError(
            f"LSTMFCN {name} must be three positive integers, one per convolution block; got {shown}"
        )
    first, second, third = (check_positive_int(f"LSTMFCN {name}[{k}]", v) for k, v in enumerate(value))
    return first, second, third


class LSTMFCN(nn.Module):
    """LSTM-FCN (Karim et al. 2017, arXiv:1709.05206): an LSTM branch beside a fully convolutional branch.

        u = Dropout(LSTM(x))                                     (final hidden state, H units)
        v = GAP(ReLU(BN(Conv_3(ReLU(BN(Conv_2(ReLU(BN(Conv_1(x))))))))))  (128/256/128 filters, k = 8/5/3)
        p(y | x) = softmax(W [u ; v] + b)

    Args:
        n_channels: input channels ``C``.
        n_classes: classes ``K``.
        hidden_size: LSTM cells (the paper tries 8, 64, 128). Default 8.
        lstm_dropout: dropout on the LSTM branch's output (0.8 in the paper). Default 0.8.
        filters: the three convolution widths. Default ``(128, 256, 128)``.
        kernel_sizes: the three kernel sizes. Default ``(8, 5, 3)``.
        dimension_shuffle: feed the LSTM the transposed series (``C`` steps of ``T`` features), as the
            paper's best variant does; needs equal-length series of length ``series_length``. Default False.
        series_length: the fixed length ``T``; required when ``dimension_shuffle`` is True.

    Raises:
        TypeError: ``filters`` or ``kernel_sizes`` is not a sequence (or 1-D array) of integers.
        ValueError: ``filters`` or ``kernel_sizes`` does not hold exactly three positive integers, or
            ``dimension_shuffle`` is True without ``series_length``.

    Implementation notes:
        The global average pooling (GAP) averages over each series' valid steps only, and padded steps are
        zeroed after every convolution block, so padding does not leak into the average. Batch-norm
        statistics still count padded positions of a batch (zeros); with equal-length data this is exactly
        the paper's model. Without dimension shuffle the LSTM reads the series step by step with lengths.

    Example:
        >>> model = LSTMFCN(n_channels=2, n_classes=3, filters=(4, 8, 4))
        >>> model(torch.zeros(2, 10, 2), torch.tensor([10, 6])).shape
        torch.Size([2, 3])
    """

    def __init__(
        self,
        n_channels: int,
        n_classes: int,
        hidden_size: int = 8,
        lstm_dropout: float = 0.8,
        filters: tuple[int, int, int] = (128, 256, 128),
        kernel_sizes: tuple[int, int, int] = (8, 5, 3),
        dimension_shuffle: bool = False,
        series_length: int | None = None,
    ) -> None:
        super().__init__()
        filters = _three_positive_ints("filters", filters)
        kernel_sizes = _three_positive_ints("kernel_sizes", kernel_sizes)
        if dimension_shuffle and series_length is None:
            raise ValueError("LSTMFCN dimension_shuffle=True needs series_length (the fixed series length T)")
        self.dimension_shuffle = dimension_shuffle
        self.series_length = series_length
        lstm_input = series_length if dimension_shuffle and series_length is not None else n_channels
        self.lstm = LSTM(lstm_input, hidden_size, batch_first=True)
        self.lstm_dropout = nn.Dropout(lstm_dropout)
        widths = (n_channels, *filters)
        self.blocks = nn.ModuleList(_ConvBlock(widths[k], widths[k + 1], kernel_sizes[k]) for k in range(3))
        self.head = nn.Linear(hidden_size + filters[-1], n_classes)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        """Logits ``(B, K)`` for padded ``x`` ``(B, T, C)`` and ``lengths`` ``(B,)``."""
        batch, steps, _ = x.shape
        if self.dimension_shuffle:
            if steps != self.series_length or bool((lengths != steps).any()):
                raise ValueError(
                    f"LSTMFCN with dimension_shuffle needs every series to have length {self.series_length}, "
                    f"got a batch of length {steps} with lengths {sorted(set(lengths.tolist()))}"
                )
            shuffled = x.transpose(1, 2)  # (B, C, T): C steps of T features
            channels = torch.full((batch,), x.shape[2], dtype=torch.long, device=x.device)
            u = last_hidden(self.lstm, shuffled, channels)
        else:
            u = last_hidden(self.lstm, x, lengths)
        u = self.lstm_dropout(u)  # (B, H)
        mask = sequence_mask(lengths, steps).float()  # (B, T)
        v = x.transpose(1, 2) * mask[:, None, :]  # (B, C, T)
        for block in self.blocks:
            v = block(v, mask)
        v = v.sum(dim=2) / lengths[:, None].to(v.dtype)  # (B, F) masked global average pooling
        return self.head(torch.cat([u, v], dim=1))
