"""The Keras face's layers: ``from lstmkit.layers import LSTM, Dense, Dropout, ...``.

Every layer is a ``torch.nn.Module`` built lazily from the first input's shape (or from ``input_shape``).
"""

from lstmkit.layers.base import Layer
from lstmkit.layers.convolutional import Conv1D
from lstmkit.layers.core import Activation, Dense, Dropout, Input, LayerNormalization, Masking
from lstmkit.layers.embedding import Embedding
from lstmkit.layers.gru import GRU, SimpleRNN
from lstmkit.layers.lstm import LSTM
from lstmkit.layers.normalization import BatchNormalization
from lstmkit.layers.pooling import (
    AveragePooling1D,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    MaxPooling1D,
)
from lstmkit.layers.regularization import GaussianDropout, GaussianNoise, SpatialDropout1D
from lstmkit.layers.reshaping import Flatten, Permute, RepeatVector, Reshape
from lstmkit.layers.wrappers import Bidirectional, TimeDistributed

__all__ = [
    "GRU",
    "LSTM",
    "Activation",
    "AveragePooling1D",
    "BatchNormalization",
    "Bidirectional",
    "Conv1D",
    "Dense",
    "Dropout",
    "Embedding",
    "Flatten",
    "GaussianDropout",
    "GaussianNoise",
    "GlobalAveragePooling1D",
    "GlobalMaxPooling1D",
    "Input",
    "Layer",
    "LayerNormalization",
    "Masking",
    "MaxPooling1D",
    "Permute",
    "RepeatVector",
    "Reshape",
    "SimpleRNN",
    "SpatialDropout1D",
    "TimeDistributed",
]

#: class name -> class, for rebuilding saved models
LAYERS: dict[str, type[Layer]] = {
    cls.__name__: cls
    for cls in (
        Activation,
        AveragePooling1D,
        BatchNormalization,
        Bidirectional,
        Conv1D,
        Dense,
        Dropout,
        Embedding,
        Flatten,
        GRU,
        GaussianDropout,
        GaussianNoise,
        GlobalAveragePooling1D,
        GlobalMaxPooling1D,
        Input,
        LSTM,
        LayerNormalization,
        Masking,
        MaxPooling1D,
        Permute,
        RepeatVector,
        Reshape,
        SimpleRNN,
        SpatialDropout1D,
        TimeDistributed,
    )
}
