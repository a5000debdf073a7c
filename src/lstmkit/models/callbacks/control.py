"""Callbacks that steer training: EarlyStopping, ReduceLROnPlateau, LearningRateScheduler, TerminateOnNaN,
LambdaCallback."""

from __future__ import annotations

import inspect
import logging
import math
import numbers
from collections.abc import Callable
from typing import Any

import torch

from lstmkit.models.callbacks.base import Callback, Logs, monitor_value, resolve_mode
from lstmkit.utils.validation import check_positive_int, check_real

logger = logging.getLogger(__name__)


class _Monitor:
    """Tracks the best value of a logged quantity with ``min_delta`` and ``mode``."""

    def __init__(self, monitor: str, mode: str, min_delta: float, owner: str) -> None:
        self.monitor, self.owner = monitor, owner
        self.mode = resolve_mode(mode, monitor, owner)
        self.min_delta = abs(check_real(f"{owner} min_delta", min_delta))
        self.best = math.inf if self.mode == "min" else -math.inf

    def improved(self, value: float) -> bool:
        return self.beats(value, self.best)

    def beats(self, value: float, reference: float) -> bool:
        """Whether ``value`` is better than ``reference`` by more than ``min_delta``."""
        if self.mode == "min":
            return value < reference - self.min_delta
        return value > reference + self.min_delta

    def read(self, logs: Logs | None) -> float | None:
        value = monitor_value(logs, self.monitor, self.owner)
        if value is None:
            available = ", ".join(logs or {})
            logger.warning(
                "%s monitors %r, which is not in the logs (%s)", self.owner, self.monitor, available
            )
        return value


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs.

    Args:
        monitor: logged quantity, e.g. ``'val_loss'``.
        min_delta: smallest change that counts as an improvement.
        patience: epochs without improvement before stopping.
        mode: ``'min'``, ``'max'`` or ``'auto'`` (max for accuracy-like names).
        baseline: stop if the quantity does not beat this within ``patience`` epochs (an epoch that
            improves on the best so far but not on the baseline does not reset the count).
        restore_best_weights: when training ends (stopped early or not), put back the weights of the
            best monitored epoch, as Keras 3 does.
        start_from_epoch: epochs to wait before monitoring.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        verbose: int = 0,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ) -> None:
        self.tracker = _Monitor(monitor, mode, min_delta, "EarlyStopping")
        self.patience = check_positive_int("EarlyStopping patience", patience, minimum=0)
        self.start_from_epoch = check_positive_int(
            "EarlyStopping start_from_epoch", start_from_epoch, minimum=0
        )
        self.baseline = None if baseline is None else check_real("EarlyStopping baseline", baseline)
        self.restore_best_weights = bool(restore_best_weights)
        self.stopped_epoch = 0
        self.best_epoch = 0

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.tracker.best = math.inf if self.tracker.mode == "min" else -math.inf
        self.wait, self.stopped_epoch, self.best_epoch = 0, 0, 0
        self.best_weights: dict[str, torch.Tensor] | None = None

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        # Keras 3's rule: the best epoch is tracked from the first monitored one whatever the baseline;
        # the baseline only decides whether an improvement resets the patience count
        value = self.tracker.read(logs)
        if value is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self._keep_weights(epoch)
        self.wait += 1
        if self.tracker.improved(value):
            self.tracker.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self._keep_weights(epoch)
            if self.baseline is None or self.tracker.beats(value, float(self.baseline)):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def _keep_weights(self, epoch: int) -> None:
        self.best_epoch = epoch
        self.best_weights = {k: v.detach().clone() for k, v in self.model.module.state_dict().items()}

    def on_train_end(self, logs: Logs | None = None) -> None:
        """With ``restore_best_weights``, put back the best epoch's weights, stopped early or not."""
        if self.restore_best_weights and self.best_weights is not None:
            self.model.module.load_state_dict(self.best_weights)
            logger.info("EarlyStopping restored the weights of epoch %d", self.best_epoch + 1)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` stalls for ``patience`` epochs.

    The learning rate the epoch trained with is added to its logs as ``learning_rate`` (before any
    reduction at its end, as Keras). A rate already at ``min_lr`` is left alone, as Keras 3 leaves it: no
    reduction is logged and no cooldown starts (the epochs without improvement keep counting).
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        verbose: int = 0,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
    ) -> None:
        if not 0 < check_real("ReduceLROnPlateau factor", factor) < 1:
            raise ValueError(f"ReduceLROnPlateau factor must be in (0, 1), got {factor}")
        self.tracker = _Monitor(monitor, mode, min_delta, "ReduceLROnPlateau")
        self.factor = float(factor)
        self.patience = check_positive_int("ReduceLROnPlateau patience", patience, minimum=0)
        self.cooldown = check_positive_int("ReduceLROnPlateau cooldown", cooldown, minimum=0)
        self.min_lr = check_real("ReduceLROnPlateau min_lr", min_lr, minimum=0)
        self.wait = self.cooldown_left = 0

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.wait = self.cooldown_left = 0
        self.tracker.best = math.inf if self.tracker.mode == "min" else -math.inf

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        optimizer = self.model.optimizer
        assert optimizer is not None
        if logs is not None:  # the rate this epoch trained with, before any change (as Keras logs it)
            logs["learning_rate"] = float(optimizer.param_groups[0]["lr"])
        value = self.tracker.read(logs)
        if value is not None:
            if self.cooldown_left > 0:
                self.cooldown_left -= 1
                self.wait = 0
            if self.tracker.improved(value):
                self.tracker.best, self.wait = value, 0
            elif self.cooldown_left == 0:
                self.wait += 1
                # a rate already at min_lr is not reduced, and starts no cooldown (as Keras 3)
                above = [group for group in optimizer.param_groups if group["lr"] > self.min_lr]
                if self.wait >= self.patience and above:
                    for group in above:
                        group["lr"] = max(group["lr"] * self.factor, self.min_lr)
                    logger.info("ReduceLROnPlateau: learning rate now %g", optimizer.param_groups[0]["lr"])
                    self.cooldown_left, self.wait = self.cooldown, 0


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of every epoch from ``schedule(epoch, lr)``, as Keras.

    Args:
        schedule: ``schedule(epoch, lr) -> new lr`` with the 0-based epoch and the current rate, or
            ``schedule(epoch) -> new lr`` (Keras's older form); the rate must be a finite number >= 0.
        verbose: kept for Keras's signature; the new rate is logged at INFO level.

    Raises:
        TypeError: ``schedule`` is not callable, or returns something other than a number.
        ValueError: ``schedule`` returns a negative, NaN or infinite rate.

    The rate each epoch trained with is added to its logs as ``learning_rate``.

    Example:
        >>> halve = LearningRateScheduler(lambda epoch, lr: lr if epoch < 10 else lr * 0.5)
    """

    def __init__(self, schedule: Callable[..., float], verbose: int = 0) -> None:
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler schedule must be a function, got {schedule!r}")
        self.schedule = schedule
        self.takes_rate = _positional_arity(schedule) != 1

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        optimizer = self.model.optimizer
        assert optimizer is not None
        current = float(optimizer.param_groups[0]["lr"])
        rate = self.schedule(epoch, current) if self.takes_rate else self.schedule(epoch)
        if isinstance(rate, torch.Tensor) and rate.numel() == 1:
            rate = rate.item()
        if not isinstance(rate, numbers.Real) or isinstance(rate, bool):
            raise TypeError(
                f"LearningRateScheduler schedule must return a number, got {rate!r} at epoch {epoch}"
            )
        if not math.isfinite(rate) or rate < 0:
            raise ValueError(
                f"LearningRateScheduler schedule must return a finite rate >= 0, got {rate} at epoch {epoch}"
            )
        for group in optimizer.param_groups:
            group["lr"] = float(rate)
        logger.info("LearningRateScheduler: epoch %d learning rate %g", epoch + 1, rate)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        optimizer = self.model.optimizer
        assert optimizer is not None
        if logs is not None:
            logs["learning_rate"] = float(optimizer.param_groups[0]["lr"])


def _positional_arity(function: Callable[..., Any]) -> int:
    """How many positional arguments ``function`` takes (2 when ``*args`` or unknown, as for builtins)."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # a builtin or extension without a signature
        return 2
    kinds = [p.kind for p in parameters]
    if inspect.Parameter.VAR_POSITIONAL in kinds:
        return 2
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(kind in positional for kind in kinds)


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch's loss is NaN or infinite."""

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            logger.warning("TerminateOnNaN: batch %d has loss %s; stopping", batch, loss)
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    def __init__(
        self,
        on_epoch_begin: Callable[[int, Logs | None], Any] | None = None,
        on_epoch_end: Callable[[int, Logs | None], Any] | None = None,
        on_train_batch_begin: Callable[[int, Logs | None], Any] | None = None,
        on_train_batch_end: Callable[[int, Logs | None], Any] | None = None,
        on_train_begin: Callable[[Logs | None], Any] | None = None,
        on_train_end: Callable[[Logs | None], Any] | None = None,
    ) -> None:
        self._epoch_begin, self._epoch_end = on_epoch_begin, on_epoch_end
        self._batch_begin, self._batch_end = on_train_batch_begin, on_train_batch_end
        self._train_begin, self._train_end = on_train_begin, on_train_end

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        if self._epoch_begin:
            self._epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if self._epoch_end:
            self._epoch_end(epoch, logs)

    def on_train_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        if self._batch_begin:
            self._batch_begin(batch, logs)

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        if self._batch_end:
            self._batch_end(batch, logs)

    def on_train_begin(self, logs: Logs | None = None) -> None:
        if self._train_begin:
            self._train_begin(logs)

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self._train_end:
            self._train_end(logs)
