"""The default forecasting network: stacked LSTM layers of lstmkit's Keras face, read out by a dense layer.

h^(1)_{1..T} = LSTM_1(x_{1..T})
h^(l)_{1..T} = LSTM_l(Dropout(h^(l-1)_{1..T}))
ŷ = W Dropout(h^(L)_T) + b                      # (B, H * Q)
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from lstmkit.layers import LSTM, Dense, Dropout
from lstmkit.models import Sequential


def stacked_lstm(
    lookback: int, input_size: int, outputs: int, units: Sequence[int], dropout: float
) -> Sequential:
    """Build the default network as a Keras-style ``Sequential``.

    Args:
        lookback: window length ``T``.
        input_size: features per step ``I``.
        outputs: values predicted per window (``horizon * quantiles``).
        units: hidden units of each LSTM layer, bottom first.
        dropout: dropout between layers and before the read-out (0 leaves the Dropout layers out).

    Returns:
        A built ``Sequential`` mapping ``(B, T, I)`` to ``(B, outputs)``.

    Example:
        >>> import torch
        >>> model = stacked_lstm(10, 3, 5, units=(8, 4), dropout=0.1)
        >>> model.module(torch.zeros(2, 10, 3)).shape
        torch.Size([2, 5])
    """
    model = Sequential(name="forecaster")
    for index, size in enumerate(units):
        last = index == len(units) - 1
        shape = {"input_shape": (lookback, input_size)} if index == 0 else {}
        model.add(LSTM(size, return_sequences=not last, **shape))  # type: ignore[arg-type]
        if dropout > 0:
            model.add(Dropout(dropout))
    model.add(Dense(outputs))
    return model


def default_network(
    lookback: int, input_size: int, outputs: int, units: Sequence[int], dropout: float
) -> nn.Module:
    """The trainable ``nn.Module`` of :func:`stacked_lstm` (``model.module``)."""
    return stacked_lstm(lookback, input_size, outputs, units, dropout).module
