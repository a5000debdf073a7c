"""Callbacks that write files (on rank 0 only): ModelCheckpoint, CSVLogger, TensorBoard."""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

from lstmkit.models.callbacks.base import Callback, Logs, resolve_mode
from lstmkit.models.callbacks.tfevents import EventFileWriter
from lstmkit.utils.serialization import atomic_write_text

logger = logging.getLogger(__name__)


class ModelCheckpoint(Callback):
    """Save the model after every epoch, or only when ``monitor`` improves.

    Args:
        filepath: file to write; may use ``{epoch}`` (1-based) and logged values, e.g.
            ``"ckpt-{epoch:02d}-{val_loss:.3f}.lstmkit"``.
        monitor: quantity for ``save_best_only``.
        save_best_only: only save when ``monitor`` improves (the file then holds the best model).
        save_weights_only: save the weights without the optimizer state.
        mode: ``'min'``, ``'max'`` or ``'auto'``.
    """

    def __init__(
        self,
        filepath: str | os.PathLike[str],
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: str = "auto",
    ) -> None:
        self.filepath = str(filepath)
        self.monitor, self.save_best_only, self.save_weights_only = monitor, save_best_only, save_weights_only
        self.mode = resolve_mode(mode, monitor, "ModelCheckpoint")
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs or {}
        if self.save_best_only:
            if self.monitor not in logs:
                logger.warning("ModelCheckpoint monitors %r, which is not in the logs", self.monitor)
                return
            value = logs[self.monitor]
            better = value < self.best if self.mode == "min" else value > self.best
            if not better:
                return
            self.best = value
        if not self.model.is_chief:
            return
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except KeyError as err:
            raise ValueError(
                f"ModelCheckpoint filepath {self.filepath!r} names {err}, which is not logged"
            ) from err
        from lstmkit.models.saving import save_model, save_weights

        (save_weights if self.save_weights_only else save_model)(self.model, path)


class CSVLogger(Callback):
    """Write one CSV row of logs per epoch (``epoch`` first), rewriting the file atomically each epoch."""

    def __init__(self, filename: str | os.PathLike[str], separator: str = ",", append: bool = False) -> None:
        self.filename, self.separator, self.append = Path(filename), separator, append

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.lines: list[str] = []
        if self.append and self.filename.is_file():
            self.lines = self.filename.read_text(encoding="utf-8").splitlines()
        self.keys: list[str] | None = None

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if not self.model.is_chief:
            return
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if not self.lines:
                self.lines.append(self.separator.join(["epoch", *self.keys]))
        row = [str(epoch), *(repr(float(logs[k])) if k in logs else "" for k in self.keys)]
        self.lines.append(self.separator.join(row))
        atomic_write_text(self.filename, "\n".join(self.lines) + "\n")


class TensorBoard(Callback):
    """Log each epoch's scalars to TensorBoard event files in ``log_dir/train`` and ``log_dir/validation``.

    Written by lstmkit's own event writer (:mod:`lstmkit.models.callbacks.tfevents`), so no tensorboard
    package is needed to write; view with ``tensorboard --logdir log_dir``.
    """

    def __init__(self, log_dir: str | os.PathLike[str] = "logs") -> None:
        self.log_dir = Path(log_dir)

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.writers: dict[str, EventFileWriter] = {}

    def _writer(self, split: str) -> EventFileWriter:
        if split not in self.writers:
            self.writers[split] = EventFileWriter(self.log_dir / split)
        return self.writers[split]

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if not self.model.is_chief or not logs:
            return
        train = {f"epoch_{k}": v for k, v in logs.items() if not k.startswith("val_")}
        val = {f"epoch_{k[4:]}": v for k, v in logs.items() if k.startswith("val_")}
        self._writer("train").add_scalars(epoch, train)
        if val:
            self._writer("validation").add_scalars(epoch, val)
