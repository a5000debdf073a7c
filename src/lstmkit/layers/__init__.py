"""The Keras face's layers: ``from lstmkit.layers import LSTM, Dense, Dropout, ...``.

Every layer is a ``torch.nn.Module`` built lazily from the first input's shape (or from ``input_shape``).
"""

from lstmkit.layers.base import Layer
from lstmkit.layers.core import Dense, Dropout, Input, LayerNormalization, Masking
from lstmkit.layers.gru import GRU, SimpleRNN
from lstmkit.layers.lstm import LSTM

__all__ = [
    "GRU",
    "LSTM",
    "Dense",
    "Dropout",
    "Input",
    "Layer",
    "LayerNormalization",
    "Masking",
    "SimpleRNN",
]

#: class name -> class, for rebuilding saved models
LAYERS: dict[str, type[Layer]] = {
    cls.__name__: cls for cls in (Dense, Dropout, GRU, Input, LSTM, LayerNormalization, Masking, SimpleRNN)
}
