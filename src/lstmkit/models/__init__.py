"""The Keras face's models: ``from lstmkit.models import Sequential, Model, load_model, load_keras``.

Every model is a ``torch.nn.Module``; ``model.module`` is the network it trains.
"""

from lstmkit.models import callbacks, losses, metrics, optimizers
from lstmkit.models.callbacks.base import Callback, History
from lstmkit.models.file_errors import ModelFileError
from lstmkit.models.keras_import import load_keras
from lstmkit.models.model import Model
from lstmkit.models.saving import load_model
from lstmkit.models.sequential import Sequential

__all__ = [
    "Callback",
    "History",
    "Model",
    "ModelFileError",
    "Sequential",
    "callbacks",
    "load_keras",
    "load_model",
    "losses",
    "metrics",
    "optimizers",
]
