"""The Keras face's layers: ``from lstmkit.layers import LSTM, Dense, Dropout, ...``.

Every layer is a ``torch.nn.Module`` built lazily from the first input's shape (or from ``input_shape``).
"""

from lstmkit.layers.base import Layer
from lstmkit.layers.core import Dense, Dropout, Input, LayerNormalization, Masking
from lstmkit.layers.embedding import Embedding
from lstmkit.layers.gru import GRU, SimpleRNN
from lstmkit.layers.lstm import LSTM
from lstmkit.layers.wrappers import Bidirectional, TimeDistributed

__all__ = [
    "GRU",
    "LSTM",
    "Bidirectional",
    "Dense",
    "Dropout",
    "Embedding",
    "Input",
    "Layer",
    "LayerNormalization",
    "Masking",
    "SimpleRNN",
    "TimeDistributed",
]

#: class name -> class, for rebuilding saved models
LAYERS: dict[str, type[Layer]] = {
    cls.__name__: cls
    for cls in (
        Bidirectional,
        Dense,
        Dropout,
        Embedding,
        GRU,
        Input,
        LSTM,
        LayerNormalization,
        Masking,
        SimpleRNN,
        TimeDistributed,
    )
}
