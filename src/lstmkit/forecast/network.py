"""The default forecasting network: a stacked LSTM read out by a dense layer.

h^(1)_{1..T} = LSTM_1(x_{1..T})
h^(l)_{1..T} = LSTM_l(Dropout(h^(l-1)_{1..T}))
ŷ = W Dropout(h^(L)_T) + b                      # (B, H * Q)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class StackedLSTM(nn.Module):
    """A stack of LSTM layers and a dense read-out of the last hidden state.

    Args:
        input_size: features per time step, ``I``.
        outputs: values predicted per window (``horizon * quantiles``).
        units: hidden units of each LSTM layer, bottom first.
        dropout: dropout between layers and before the read-out.

    Example:
        >>> net = StackedLSTM(3, 5, units=(8, 4))
        >>> net(torch.zeros(2, 10, 3)).shape
        torch.Size([2, 5])
    """

    def __init__(
        self, input_size: int, outputs: int, units: Sequence[int] = (64, 32), dropout: float = 0.0
    ) -> None:
        super().__init__()
        sizes = [input_size, *units]
        self.lstms = nn.ModuleList(
            nn.LSTM(sizes[i], sizes[i + 1], batch_first=True) for i in range(len(units))
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(sizes[-1], outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(B, T, I)`` windows to ``(B, outputs)``."""
        h = x
        for index, lstm in enumerate(self.lstms):
            if index:
                h = self.dropout(h)
            h, _ = lstm(h)  # (B, T, H_l)
        return self.head(self.dropout(h[:, -1]))  # (B, outputs)


def default_network(input_size: int, outputs: int, units: Sequence[int], dropout: float) -> nn.Module:
    """Build the default network (see :class:`StackedLSTM`)."""
    return StackedLSTM(input_size, outputs, units=units, dropout=dropout)
