"""A Keras-like per-epoch progress bar on tqdm (``verbose=1``) or one line per epoch (``verbose=2``)."""

from __future__ import annotations

import sys
from typing import IO, Any

from tqdm.auto import tqdm

from lstmkit.models.callbacks.base import Callback, Logs


def format_logs(logs: Logs) -> str:
    return " - ".join(f"{k}: {v:.4g}" for k, v in logs.items())


class ProgbarLogger(Callback):
    """Shows ``Epoch 3/20`` and a bar with ETA and running metrics; written to ``file`` (stderr default).

    Args:
        verbose: 1 for a bar per epoch, 2 for one line per epoch.
        epochs: total epochs (for the ``Epoch k/N`` label).
        steps: batches per epoch (``None`` when unknown: a loader over an ``IterableDataset``).
        file: the stream; only rank 0 writes.
    """

    def __init__(self, verbose: int, epochs: int, steps: int | None, file: IO[str] | None = None) -> None:
        self.verbose, self.epochs, self.steps = verbose, epochs, steps
        self.file = file or sys.stderr
        self.bar: Any = None

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        if not self.model.is_chief:
            return
        label = f"Epoch {epoch + 1}/{self.epochs}"
        if self.verbose == 1:
            self.bar = tqdm(
                total=self.steps, desc=label, unit="batch", file=self.file, leave=True, dynamic_ncols=True
            )
        self.label = label

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(format_logs(logs or {}), refresh=False)
            self.bar.update(1)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if not self.model.is_chief:
            return
        if self.bar is not None:
            self.bar.set_postfix_str(format_logs(logs or {}), refresh=True)
            self.bar.close()
            self.bar = None
        elif self.verbose == 2:
            tqdm.write(f"{self.label} - {format_logs(logs or {})}", file=self.file)


def check_verbose(verbose: Any) -> int:
    """``verbose`` as 0 (silent), 1 (progress bar) or 2 (a line per epoch); ``'auto'`` is 1, as Keras.

    Raises:
        ValueError: anything else.

    Example:
        >>> check_verbose("auto")
        1
    """
    if verbose == "auto":
        return 1
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1, 2 or 'auto', got {verbose!r}")
    return int(verbose)
