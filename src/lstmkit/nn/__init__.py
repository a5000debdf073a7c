"""PyTorch modules: drop-in supersets of ``torch.nn.LSTM`` and ``torch.nn.LSTMCell``."""

from lstmkit.nn.cell import LSTMCell
from lstmkit.nn.lstm import LSTM
from lstmkit.nn.sequences import last_layer_state

__all__ = ["LSTM", "LSTMCell", "last_layer_state"]
