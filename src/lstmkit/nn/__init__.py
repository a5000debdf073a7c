"""PyTorch modules: drop-in supersets of ``torch.nn.LSTM`` and ``torch.nn.LSTMCell``."""

from lstmkit.nn.cell import LSTMCell
from lstmkit.nn.lstm import LSTM

__all__ = ["LSTM", "LSTMCell"]
