"""Training callbacks: ``from lstmkit.models.callbacks import EarlyStopping, ModelCheckpoint, ...``."""

from lstmkit.models.callbacks.backup import BackupAndRestore
from lstmkit.models.callbacks.base import Callback, CallbackList, History
from lstmkit.models.callbacks.control import (
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from lstmkit.models.callbacks.writers import CSVLogger, ModelCheckpoint, TensorBoard

__all__ = [
    "BackupAndRestore",
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "ReduceLROnPlateau",
    "TensorBoard",
    "TerminateOnNaN",
]
