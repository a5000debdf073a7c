"""Training callbacks: ``from lstmkit.models.callbacks import EarlyStopping, ModelCheckpoint, ...``."""

from lstmkit.models.callbacks.base import Callback, CallbackList, History

__all__ = ["Callback", "CallbackList", "History"]
