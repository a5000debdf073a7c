"""Training and inference loops shared by the classification kits (series and text).

Every model here has the signature ``module(x, lengths) -> logits``: ``x`` is a padded batch (``(B, T, C)``
floats for series, ``(B, T)`` token ids for text) and ``lengths`` ``(B,)`` holds the true lengths. Batches
are cut to their own longest member, so short texts are not run over the whole corpus' padding.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset

from lstmkit.models import Callback, Model
from lstmkit.models.optimizers import torch_adam
from lstmkit.ops.lengths import sequence_mask
from lstmkit.utils.validation import check_positive_int, check_real, check_seed

EpochCallback = Callable[[int, dict[str, float]], None]


@dataclass(frozen=True)
class FitConfig:
    """How to train a classifier.

    Attributes:
        epochs: passes over the training set.
        batch_size: examples per step.
        learning_rate: Adam step size.
        weight_decay: L2 penalty (Adam ``weight_decay``).
        patience: with validation data, stop after this many epochs without a better validation accuracy;
            ``None`` trains all epochs.
        reduce_lr_patience: halve the learning rate after this many epochs without a lower monitored loss
            (validation loss if given, else training loss), counted as ``patience`` is (``1``: after each
            such epoch); ``None`` keeps it constant.
        seed: seeds the batch order; ``None`` (default) leaves it to the classifier, which uses its own
            ``seed`` (see :func:`with_batch_seed`). Initialization and dropout follow the global seed.

    Raises:
        TypeError: a setting of the wrong type (``learning_rate="0.1"``, ``epochs=2.0``).
        ValueError: ``epochs``, ``batch_size`` or a patience below 1, a ``seed`` outside
            ``[0, 2**63 - 1]``, a ``learning_rate`` that is not a finite number above 0, or a ``weight_decay``
            that is not a finite number of at least 0.

    Example:
        >>> FitConfig(learning_rate="0.1")
        Traceback (most recent call last):
        ...
        TypeError: learning_rate must be a number, got str '0.1'
    """

    epochs: int = 100
    batch_size: int = 16
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    patience: int | None = None
    reduce_lr_patience: int | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        # frozen: checked values are set back as plain ints and floats, which JSON can save
        checked: dict[str, Any] = {
            "epochs": check_positive_int("epochs", self.epochs),
            "batch_size": check_positive_int("batch_size", self.batch_size),
            "learning_rate": check_real("learning_rate", self.learning_rate, positive=True),
            "weight_decay": check_real("weight_decay", self.weight_decay, minimum=0),
        }
        for name in ("patience", "reduce_lr_patience"):
            if getattr(self, name) is not None:
                checked[name] = check_positive_int(name, getattr(self, name))
        if self.seed is not None:
            checked["seed"] = check_seed("seed", self.seed)
        for name, value in checked.items():
            object.__setattr__(self, name, value)


def with_batch_seed(config: FitConfig, seed: int) -> FitConfig:
    """``config`` with its batch-order seed set to ``seed`` unless the config sets one itself.

    The classifiers' ``seed`` thus drives initialization and batch order alike, while an explicit
    ``FitConfig(seed=...)`` keeps the batch order fixed across classifier seeds.

    Example:
        >>> with_batch_seed(FitConfig(), 3).seed, with_batch_seed(FitConfig(seed=1), 3).seed
        (3, 1)
    """
    return config if config.seed is not None else replace(config, seed=seed)


def _batch(x: Tensor, lengths: Tensor, index: Tensor) -> tuple[Tensor, Tensor]:
    lengths_b = lengths[index]
    longest = int(lengths_b.max())
    return x[index, :longest], lengths_b


class _WithLengths(nn.Module):
    """Adapter for the Keras face's one-tensor ``forward(x)``: unpack the lengths the batch carries.

    Token batches ``(B, T)`` carry them as padding (id 0 only after each text's end, as Keras'
    ``mask_zero``); series batches ``(B, T, C + 1)`` carry a last channel that is 1 at valid steps.
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 2:  # token ids, padding id 0
            return self.module(x, (x != 0).sum(dim=1))
        lengths = x[..., -1].sum(dim=1).round().long()
        return self.module(x[..., :-1], lengths)


class _Batches(Dataset[tuple[Tensor, Tensor]]):
    """Examples ``(x_i, y_i)`` plus a collate function that cuts each batch to its longest member."""

    def __init__(self, x: Tensor, lengths: Tensor, y: Tensor) -> None:
        self.x, self.lengths, self.y = x, lengths, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return torch.tensor(index), self.y[index]

    def collate(self, items: list[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
        index = torch.stack([i for i, _ in items])
        xb, lb = _batch(self.x, self.lengths, index)
        if xb.dim() == 3:  # series: append the validity channel
            mask = sequence_mask(lb, xb.shape[1]).to(xb.dtype)
            xb = torch.cat([xb, mask[..., None]], dim=2)  # (B, T, C + 1)
        return xb, self.y[index]

    def loader(self, batch_size: int, generator: torch.Generator | None) -> DataLoader[Any]:
        # a last batch of one example breaks batch norm in training; drop it (it is seen in other epochs)
        drop_last = generator is not None and len(self) % batch_size == 1 and len(self) > 1
        return DataLoader(
            self,
            batch_size=batch_size,
            shuffle=generator is not None,
            generator=generator,
            collate_fn=self.collate,
            drop_last=drop_last,
        )


class _Selection(Callback):
    """Keep the best weights, halve the learning rate on plateaus, stop early, report each epoch."""

    def __init__(self, config: FitConfig, validated: bool, callback: EpochCallback | None) -> None:
        self.config, self.validated, self.callback = config, validated, callback
        self.best_key: tuple[float, float] = (-math.inf, -math.inf)
        self.best_state: dict[str, Any] = {}
        self.since_best = 0
        self.monitor_best = math.inf
        self.since_monitor = 0
        self.logs: list[dict[str, float]] = []

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        logs = dict(logs or {})
        optimizer = self.model.optimizer
        assert optimizer is not None
        logs["lr"] = optimizer.param_groups[0]["lr"]
        self.logs.append(logs)
        key = (
            (logs["val_accuracy"], -logs["val_loss"]) if self.validated else (-logs["loss"], logs["accuracy"])
        )
        finite = math.isfinite(logs["loss"]) and (not self.validated or math.isfinite(logs["val_loss"]))
        if finite and key > self.best_key:  # a diverged epoch (NaN or infinite loss) is never kept
            self.best_key, self.since_best = key, 0
            self.best_state = copy.deepcopy(self.model.module.state_dict())
        else:
            self.since_best += 1
        monitored = logs["val_loss"] if self.validated else logs["loss"]
        if monitored < self.monitor_best:
            self.monitor_best, self.since_monitor = monitored, 0
        else:
            self.since_monitor += 1
        patience = self.config.reduce_lr_patience
        if patience is not None and self.since_monitor >= patience:
            for group in optimizer.param_groups:
                group["lr"] = max(group["lr"] * 0.5, 1e-5)
            self.since_monitor = 0
        if self.callback is not None:
            self.callback(epoch, logs)
        if self.validated and self.config.patience is not None and self.since_best >= self.config.patience:
            self.model.stop_training = True

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        if not self.best_state:
            which = "training or validation loss" if self.validated else "training loss"
            last = self.logs[-1]["loss"] if self.logs else None
            raise ValueError(
                f"training diverged: the {which} was NaN or infinite in all {len(self.logs)} epoch(s) "
                f"(last training loss {last}); expected a finite loss in at least one epoch; lower "
                f"learning_rate or check the inputs for extreme values"
            )
        self.model.module.load_state_dict(self.best_state)


def _cross_entropy(logits: Tensor, y: Tensor) -> Tensor:
    """Per-example ``-log softmax(logits)_y`` (``compile`` takes per-sample losses)."""
    return F.cross_entropy(logits, y.long(), reduction="none")


def fit_classifier(
    module: nn.Module,
    x: Tensor,
    lengths: Tensor,
    y: Tensor,
    config: FitConfig,
    *,
    validation: tuple[Tensor, Tensor, Tensor] | None = None,
    callback: EpochCallback | None = None,
) -> list[dict[str, float]]:
    """Train ``module`` with cross-entropy and Adam through the Keras face (``lstmkit.models.Model``).

    Model selection: with ``validation`` the weights of the epoch with the best validation accuracy (ties:
    lower validation loss) are kept; without it, those of the lowest training loss (Fawaz et al. 2019).
    The test set is never used here. Gradients are clipped to norm 5. Epochs whose loss (or validation
    loss) is NaN or infinite are never kept.

    Args:
        module: ``module(x, lengths) -> (B, K)`` logits.
        x: ``(N, T, C)`` padded series or ``(N, T)`` token ids (padding id 0).
        lengths: ``(N,)`` int64 lengths.
        y: ``(N,)`` int64 class indices.
        config: the :class:`FitConfig` (its ``seed`` of ``None`` orders the batches with seed 0).
        validation: optional ``(x, lengths, y)`` held-out data.
        callback: called after each epoch with ``(epoch, logs)``; logs hold ``loss``, ``accuracy``, ``lr``
            and, with validation, ``val_loss`` and ``val_accuracy``.

    Returns:
        The per-epoch logs.

    Raises:
        ValueError: inputs of different lengths, no examples, or a loss that is NaN or infinite in every
            epoch (training diverged). ``config`` checks its own settings when it is made.
    """
    if len(x) != len(y) or len(x) != len(lengths):
        raise ValueError(
            f"x, lengths and y must have the same length, got {len(x)}, {len(lengths)}, {len(y)}"
        )
    if len(x) == 0:
        raise ValueError("no training examples; expected at least one")
    model = Model(_WithLengths(module))
    optimizer = torch_adam(module, lr=config.learning_rate, weight_decay=config.weight_decay)
    model.compile(optimizer=optimizer, loss=_cross_entropy, metrics=["accuracy"], clipnorm=5.0)
    generator = torch.Generator().manual_seed(0 if config.seed is None else config.seed)
    train = _Batches(x, lengths, y).loader(config.batch_size, generator)
    held_out = None if validation is None else _Batches(*validation).loader(256, None)
    selection = _Selection(config, validation is not None, callback)
    model.fit(train, epochs=config.epochs, verbose=0, callbacks=[selection], validation_data=held_out)
    module.eval()
    return selection.logs


@torch.no_grad()
def predict_logits(module: nn.Module, x: Tensor, lengths: Tensor, batch_size: int = 256) -> np.ndarray:
    """Logits ``(N, K)`` for padded ``x`` in evaluation mode, batch by batch."""
    module.eval()
    out = []
    for start in range(0, len(x), batch_size):
        index = torch.arange(start, min(start + batch_size, len(x)))
        xb, lb = _batch(x, lengths, index)
        out.append(module(xb, lb).float().cpu().numpy())
    return np.concatenate(out, axis=0)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``(N, K)`` logits, numerically stable."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return np.asarray(e / e.sum(axis=1, keepdims=True))
